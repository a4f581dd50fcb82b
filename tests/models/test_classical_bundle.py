"""Classical decoders: identical to the fitted pyriemann / scikit-learn pipelines, stored without
pickle, served through the decoder like the student, and refused when corrupt."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from calibration.classical import fit_lda_windowed, fit_xdawn_ts_lr, lda_windows, xdawn_pipeline
from rtdecode.config import PipelineConfig
from rtdecode.decoder import predict_recording
from rtdecode.io.bundle import ModelBundle, load_bundle, save_bundle
from rtdecode.models.classical import WindowedMeansLDA
from rtdecode.models.eegnet import EEGNet, EEGNetConfig
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session


def _data(n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), 40)
    x = rng.standard_normal((len(y), 60, 4))
    x[:, 20:30, 0] += 0.7 * y[:, None]
    x[:, 30:40, 2] -= 0.5 * y[:, None]
    return x, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_xdawn_tangent_space_equals_pyriemann(n_classes):
    x, y = _data(n_classes)
    model = fit_xdawn_ts_lr(x, y, n_classes)
    reference = xdawn_pipeline(y).fit(np.swapaxes(x, 1, 2), y)
    x_new, _ = _data(n_classes, seed=1)
    np.testing.assert_allclose(
        model.predict_proba(x_new), reference.predict_proba(np.swapaxes(x_new, 1, 2)), atol=1e-9
    )


@pytest.mark.parametrize("n_classes, width", [(2, 16), (4, 16), (12, 24)])
def test_xdawn_covariance_stays_small_with_many_classes(n_classes, width):
    # 4 filters per class at 40 classes made a 320 x 320 covariance (a fit of > 6 min); the width
    # now stays near two classes' 16, with at least one filter per class.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), 20)
    x = rng.standard_normal((len(y), 60, 16))
    x[:, 20:40, :] += 0.5 * rng.standard_normal((n_classes, 1, 16))[y]
    model = fit_xdawn_ts_lr(x, y, n_classes)
    assert model.arrays["reference"].shape == (width, width)
    reference = xdawn_pipeline(y).fit(np.swapaxes(x, 1, 2), y)
    np.testing.assert_allclose(
        model.predict_proba(x), reference.predict_proba(np.swapaxes(x, 1, 2)), atol=1e-9
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_windowed_lda_equals_scikit_learn(n_classes):
    x, y = _data(n_classes)
    model = fit_lda_windowed(x, y, n_classes, sfreq=100.0)
    windows = lda_windows(60, 100.0)
    assert windows.tolist() == [[i, i + 5] for i in range(0, 60, 5)]
    features = WindowedMeansLDA.window_means(x, windows)
    lda = LinearDiscriminantAnalysis(
        solver="lsqr", shrinkage="auto", priors=np.full(n_classes, 1 / n_classes)
    )
    x_new, _ = _data(n_classes, seed=1)
    np.testing.assert_allclose(
        model.predict_proba(x_new),
        lda.fit(features, y).predict_proba(WindowedMeansLDA.window_means(x_new, windows)),
        atol=1e-9,
    )


def test_a_class_missing_from_training_gets_probability_zero():
    x, y = _data(3)
    model = fit_lda_windowed(x[y != 1], np.where(y[y != 1] == 2, 2, 0), 3, sfreq=100.0)
    proba = model.predict_proba(x)
    assert proba.shape == (120, 3) and np.all(proba[:, 1] == 0) and np.allclose(proba.sum(1), 1)


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
        standardizer=Standardizer(mean=np.zeros(4), std=np.full(4, 5.0)),
        class_names=["a", "b"],
        channel_names=list(recording.channel_names),
        sfreq=recording.sfreq,
        extra={"model": "test"},
    )


def _fitted(kind, recording, pipeline):
    from calibration.epochs import epochs_from_recording

    epochs = epochs_from_recording(recording, pipeline)
    x = epochs.epochs / 5.0
    if kind == "xdawn":
        return fit_xdawn_ts_lr(x, epochs.labels, 2)
    return fit_lda_windowed(x, epochs.labels, 2, recording.sfreq)


ERP = {"filter": {"band_low_hz": 0.5, "band_high_hz": 30.0, "drift_highpass_hz": 0.0}}


@pytest.mark.parametrize("kind", ["xdawn", "lda"])
def test_classical_bundle_round_trip_decodes_identically(kind, session, tmp_path):
    pipeline = PipelineConfig(sfreq=256.0).with_overrides(**ERP, epoch={"tmin_s": -0.1, "tmax_s": 0.6})
    bundle = _bundle(_fitted(kind, session, pipeline), session, pipeline)
    save_bundle(bundle, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "bundle.json").read_text())
    assert meta["format"] == 3 and meta["architecture"] == bundle.architecture == kind
    loaded = load_bundle(tmp_path / "m")
    assert loaded.architecture == bundle.architecture and loaded.pipeline == pipeline
    before = predict_recording(bundle, session, device="cpu")
    after = predict_recording(loaded, session, device="cpu")
    assert len(after) == len(session.stimulus_events())
    np.testing.assert_allclose([p.proba for p in after], [p.proba for p in before], atol=1e-6)
    assert np.mean([p.index == p.marker["label"] for p in after]) > 0.6  # it decodes, not just runs


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
