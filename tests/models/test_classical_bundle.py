"""Classical decoders: identical to the fitted pyriemann / scikit-learn pipelines, stored without
pickle, served through the decoder like the student, and refused when corrupt."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pyriemann.estimation import XdawnCovariances
from pyriemann.tangentspace import TangentSpace
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from calibration.classical import classical_model
from rtdecode.config import PipelineConfig
from rtdecode.decoder import predict_recording
from rtdecode.io.bundle import ModelBundle, load_bundle, save_bundle
from rtdecode.models.classical import (
    ClassicalModel,
    WindowedMeansLDA,
    XdawnTangentSpaceLR,
    lda_windows,
    xdawn_filters,
)
from rtdecode.models.eegnet import EEGNet, EEGNetConfig
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session


def _data(n_classes: int, seed: int = 0):
    """Epochs (n, n_channels, n_times) with class-dependent evoked responses on two channels."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), 40)
    x = rng.standard_normal((len(y), 4, 60))
    x[:, 0, 20:30] += 0.7 * y[:, None]
    x[:, 2, 30:40] -= 0.5 * y[:, None]
    return x, y


def _pyriemann(y: np.ndarray):
    """The field's ERP pipeline the xDAWN model must equal."""
    return make_pipeline(
        XdawnCovariances(nfilter=xdawn_filters(int(y.max()) + 1), estimator="oas"),
        TangentSpace(metric="riemann"),
        LogisticRegression(max_iter=1000),
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_xdawn_tangent_space_equals_pyriemann(n_classes):
    x, y = _data(n_classes)
    model = XdawnTangentSpaceLR(n_classes=n_classes)
    assert model.fit(x, y) is model
    reference = _pyriemann(y).fit(x, y)
    x_new, _ = _data(n_classes, seed=1)
    np.testing.assert_allclose(model.predict_proba(x_new), reference.predict_proba(x_new), atol=1e-9)
    np.testing.assert_array_equal(model.predict(x_new), reference.predict(x_new))


@pytest.mark.parametrize("n_classes, width", [(2, 16), (4, 16), (12, 24)])
def test_xdawn_covariance_stays_small_with_many_classes(n_classes, width):
    # 4 filters per class at 40 classes made a 320 x 320 covariance (a fit of > 6 min); the width
    # now stays near two classes' 16, with at least one filter per class.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), 20)
    x = rng.standard_normal((len(y), 16, 60))
    x[:, :, 20:40] += 0.5 * rng.standard_normal((n_classes, 16, 1))[y]
    model = XdawnTangentSpaceLR(n_classes=n_classes).fit(x, y)
    assert model.reference_.shape == (width, width)
    reference = _pyriemann(y).fit(x, y)
    np.testing.assert_allclose(model.predict_proba(x), reference.predict_proba(x), atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_windowed_lda_equals_scikit_learn(n_classes):
    x, y = _data(n_classes)
    model = WindowedMeansLDA(n_classes=n_classes, sfreq=100.0).fit(x, y)
    windows = lda_windows(60, 100.0)
    assert windows.tolist() == [[i, i + 5] for i in range(0, 60, 5)]
    np.testing.assert_array_equal(model.windows_, windows)
    features = WindowedMeansLDA.window_means(x, windows)
    assert features.shape == (len(x), len(windows) * 4)
    lda = LinearDiscriminantAnalysis(
        solver="lsqr", shrinkage="auto", priors=np.full(n_classes, 1 / n_classes)
    )
    x_new, _ = _data(n_classes, seed=1)
    np.testing.assert_allclose(
        model.predict_proba(x_new),
        lda.fit(features, y).predict_proba(WindowedMeansLDA.window_means(x_new, windows)),
        atol=1e-9,
    )


def test_windowed_lda_equals_scikit_learn_with_more_features_than_trials_per_class():
    # The paper's protocol: 2304 features (18 windows x 128 channels), ~35 trials per class.
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(6), 8)
    x = rng.standard_normal((len(y), 8, 60))
    x[:, 1, 10:30] += 0.4 * y[:, None]
    model = WindowedMeansLDA(n_classes=6, sfreq=100.0).fit(x, y)
    features = WindowedMeansLDA.window_means(x, model.windows_)
    assert features.shape[1] > 8
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=np.full(6, 1 / 6)).fit(
        features, y
    )
    np.testing.assert_allclose(model.coef_, lda.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.intercept_, lda.intercept_, rtol=1e-7, atol=1e-9)
    x_new = rng.standard_normal((10, 8, 60))
    np.testing.assert_allclose(
        model.predict_proba(x_new),
        lda.predict_proba(WindowedMeansLDA.window_means(x_new, model.windows_)),
        atol=1e-9,
    )


def test_a_sure_binary_decision_gives_probabilities_without_overflow(recwarn):
    x, y = _data(2)
    model = WindowedMeansLDA(n_classes=2, sfreq=100.0).fit(x, y)
    far = 1e3 * x[:4]  # decisions of thousands: exp(-decision) overflows float64
    proba = model.predict_proba(far)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=[0.5, 0.5])
    lda.fit(WindowedMeansLDA.window_means(x, model.windows_), y)
    np.testing.assert_allclose(proba, lda.predict_proba(WindowedMeansLDA.window_means(far, model.windows_)))
    assert np.all(np.isfinite(proba)) and set(np.unique(proba.round(6))) <= {0.0, 1.0}
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_a_class_missing_from_training_gets_probability_zero():
    x, y = _data(3)
    model = WindowedMeansLDA(n_classes=3, sfreq=100.0).fit(x[y != 1], np.where(y[y != 1] == 2, 2, 0))
    proba = model.predict_proba(x)
    assert proba.shape == (120, 3) and np.all(proba[:, 1] == 0) and np.allclose(proba.sum(1), 1)
    assert model.classes_.tolist() == [0, 1, 2] and model.fitted_classes_.tolist() == [0, 2]


@pytest.mark.parametrize("model_class", [XdawnTangentSpaceLR, WindowedMeansLDA])
def test_classical_models_work_in_scikit_learn_tools(model_class):
    # The estimators follow scikit-learn: cloned by cross_val_score, chained in a Pipeline behind
    # the standardizer, any labels (not only class indices) when n_classes is None.
    x, y = _data(2)
    x = 3.0 * x + 1.0
    estimator = model_class(**({"sfreq": 100.0} if model_class is WindowedMeansLDA else {}))
    pipeline = make_pipeline(Standardizer(), estimator)
    labels = np.array(["house", "face"])[y]
    scores = cross_val_score(pipeline, x, labels, cv=4)
    assert scores.mean() > 0.65  # chance: 0.5
    fitted = pipeline.fit(x, labels)
    assert fitted[-1].classes_.tolist() == ["face", "house"]
    assert set(fitted.predict(x)) <= {"face", "house"}
    assert fitted.get_params()[f"{type(estimator).__name__.lower()}__n_classes"] is None


def test_calibration_weighs_xdawn_classes_only_when_imbalanced():
    balanced = classical_model(XdawnTangentSpaceLR, np.repeat([0, 1], 10), 2, 256.0)
    imbalanced = classical_model(XdawnTangentSpaceLR, np.array([0] * 16 + [1] * 4), 2, 256.0)
    assert balanced.class_weight is None and imbalanced.class_weight == "balanced"
    lda = classical_model(WindowedMeansLDA, np.repeat([0, 1], 10), 2, 256.0)
    assert lda.get_params() == {"n_classes": 2, "sfreq": 256.0, "window_s": 0.05}
    with pytest.raises(ValueError, match="no calibration settings for the classical model ClassicalModel"):
        classical_model(ClassicalModel, np.zeros(4, int), 2, 256.0)


@pytest.fixture(scope="module")
def session():
    config = SimulationConfig(
        n_classes=2,
        images_per_class=30,
        snr=2.0,
        n_channels=4,
        sfreq=256.0,
        block_s=15.0,
        break_s=2.0,
        seed=4,
    )
    return simulate_session(config)


def _bundle(model, recording, pipeline, config=None):
    return ModelBundle(
        model=model,
        model_config=config,
        pipeline=pipeline,
        standardizer=Standardizer.from_dict({"mean": np.zeros(4), "std": np.full(4, 5.0)}),
        class_names=["a", "b"],
        channel_names=list(recording.channel_names),
        sfreq=recording.sfreq,
        extra={"model": "test"},
    )


def _fitted(kind, recording, pipeline):
    from calibration.epochs import epochs_from_recording

    epochs = epochs_from_recording(recording, pipeline)
    x = np.swapaxes(epochs.epochs, 1, 2) / 5.0
    if kind == "xdawn":
        return XdawnTangentSpaceLR(n_classes=2).fit(x, epochs.labels)
    return WindowedMeansLDA(n_classes=2, sfreq=recording.sfreq).fit(x, epochs.labels)


ERP = {"filter": {"band_low_hz": 0.5, "band_high_hz": 30.0, "drift_highpass_hz": 0.0}}


@pytest.mark.parametrize("kind", ["xdawn", "lda"])
def test_classical_bundle_round_trip_decodes_identically(kind, session, tmp_path):
    pipeline = PipelineConfig(sfreq=256.0).with_overrides(**ERP, epoch={"tmin_s": -0.1, "tmax_s": 0.6})
    bundle = _bundle(_fitted(kind, session, pipeline), session, pipeline)
    save_bundle(bundle, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "bundle.json").read_text())
    assert meta["format"] == 4 and meta["architecture"] == bundle.architecture == kind
    loaded = load_bundle(tmp_path / "m")
    assert loaded.architecture == bundle.architecture and loaded.pipeline == pipeline
    before = predict_recording(bundle, session, device="cpu")
    after = predict_recording(loaded, session, device="cpu")
    assert len(after) == len(session.stimulus_events())
    np.testing.assert_allclose([p.proba for p in after], [p.proba for p in before], atol=1e-6)
    assert np.mean([p.index == p.marker["label"] for p in after]) > 0.6  # it decodes, not just runs
    assert loaded.model.get_params() == bundle.model.get_params()

    # Bundles written before the models were estimators store only the class count.
    (tmp_path / "m" / "bundle.json").write_text(json.dumps({**meta, "student_config": {"n_classes": 2}}))
    old = load_bundle(tmp_path / "m")
    assert old.model.n_classes == 2 and old.model.classes_.tolist() == [0, 1]
    old_after = predict_recording(old, session, device="cpu")
    np.testing.assert_array_equal([p.proba for p in old_after], [p.proba for p in after])


def test_eegnet_bundle_round_trip(session, tmp_path):
    pipeline = PipelineConfig(sfreq=256.0)
    torch.manual_seed(0)
    config = EEGNetConfig(n_channels=4, n_classes=2, n_samples=pipeline.epoch_samples)
    bundle = _bundle(EEGNet(config).eval(), session, pipeline, config)
    save_bundle(bundle, tmp_path / "m")
    loaded = load_bundle(tmp_path / "m")
    assert loaded.architecture == "eegnet" and loaded.model_config == config
    x = np.random.default_rng(0).standard_normal((3, pipeline.epoch_samples, 4)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_proba(x), bundle.predict_proba(x), rtol=1e-5)
    assert len(predict_recording(loaded, session, device="cpu")) == len(session.stimulus_events())


def test_a_corrupt_bundle_is_refused_with_a_clear_message(session, tmp_path):
    pipeline = PipelineConfig(sfreq=256.0).with_overrides(**ERP)
    bundle = _bundle(_fitted("lda", session, pipeline), session, pipeline)
    folder = save_bundle(bundle, tmp_path / "m")
    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(ValueError, match="corrupt lda model"):
        load_bundle(folder)

    import safetensors.numpy

    arrays = dict(bundle.model.arrays)
    arrays["coef"] = arrays["coef"][:, :-1]  # width no longer matches the windows
    safetensors.numpy.save_file(arrays, str(weights))
    with pytest.raises(ValueError, match="corrupt"):
        load_bundle(folder)
    arrays = {k: v for k, v in bundle.model.arrays.items() if k != "intercept"}
    safetensors.numpy.save_file(arrays, str(weights))
    with pytest.raises(ValueError, match="lacks arrays"):
        load_bundle(folder)

    weights.write_bytes(good)
    meta = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({**meta, "architecture": "pickle_model"}))
    with pytest.raises(ValueError, match="unknown model architecture"):
        load_bundle(folder)
    (folder / "bundle.json").write_text("{not json")
    with pytest.raises(ValueError, match="is corrupt"):
        load_bundle(folder)
