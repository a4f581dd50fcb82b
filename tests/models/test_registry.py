"""Every model of the registry, braindecode-style: each servable kind builds for a small input,
serves, and survives a bundle round trip; names, older names and fit hooks are consistent."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from calibration.classical import classical_model
from calibration.fitting import FIT_HOOKS, candidate_names, preset_name
from calibration.networks import build_network
from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import ModelBundle, load_bundle, save_bundle
from rtdecode.models import registry
from rtdecode.models.serving import model_input, serve
from rtdecode.signal.standardize import Standardizer

SERVABLE = [spec.name for spec in registry.servable()]
N_CHANNELS, N_CLASSES, SFREQ = 4, 3, 256.0
PIPELINE = PipelineConfig(sfreq=SFREQ)


def _epochs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Filtered epochs ``(n, n_samples, n_channels)`` in microvolts with a class-dependent bump."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    x = rng.normal(0, 5.0, size=(n, PIPELINE.epoch_samples, N_CHANNELS))
    x[:, 30:60, 0] += 4.0 * y[:, None]
    return x, y


def _bundle(name: str) -> ModelBundle:
    """A small model of kind ``name``: random weights for a network, fitted for a classical model."""
    spec = registry.get(name)
    epochs, y = _epochs(60)
    standardizer = Standardizer().fit(np.swapaxes(epochs, 1, 2))
    x = model_input(spec.input, epochs, standardizer, PIPELINE)
    torch.manual_seed(0)
    if spec.weights == "tensors":
        model = build_network(spec, x.shape[1:], N_CLASSES).eval()
        config = model.config
    else:
        model, config = classical_model(spec.classical_class(), y, N_CLASSES, SFREQ).fit(x, y), None
    return ModelBundle(
        model,
        config,
        PIPELINE,
        standardizer,
        ["a", "b", "c"],
        [f"E{i}" for i in range(N_CHANNELS)],
        SFREQ,
    )


@pytest.mark.parametrize("name", SERVABLE)
def test_every_servable_model_builds_serves_and_round_trips_a_bundle(name, tmp_path):
    bundle = _bundle(name)
    assert bundle.architecture == name and registry.spec_of(bundle.model).name == name
    epochs, _ = _epochs(5, seed=1)
    served = serve(bundle, device="cpu")
    features = served.features(epochs)
    layout = registry.get(name).view.layout
    assert features.dtype == np.float32 and features.ndim == 1 + len(layout)
    proba = served.probabilities(features)
    assert proba.shape == (5, N_CLASSES) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(bundle.predict_proba(features[0]), proba[0], rtol=1e-5, atol=1e-6)

    folder = save_bundle(bundle, tmp_path / name)
    meta = json.loads((folder / "bundle.json").read_text())
    assert meta["format"] == 4 and meta["architecture"] == name
    loaded = load_bundle(folder)
    assert loaded.architecture == name and loaded.model_config == bundle.model_config
    again = serve(loaded, device="cpu")
    np.testing.assert_array_equal(again.features(epochs), features)
    np.testing.assert_allclose(again.probabilities(features), proba, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", SERVABLE)
def test_bundles_with_older_names_and_formats_still_load(name, tmp_path):
    folder = save_bundle(_bundle(name), tmp_path / name)
    meta = json.loads((folder / "bundle.json").read_text())
    epochs, _ = _epochs(4, seed=2)
    expected = serve(load_bundle(folder), device="cpu")
    expected = expected.probabilities(expected.features(epochs))
    for alias in registry.get(name).aliases:
        old = {**meta, "format": 2, "architecture": alias, "student_config": meta["model_config"]}
        del old["model_config"]
        (folder / "bundle.json").write_text(json.dumps(old))
        loaded = load_bundle(folder)
        assert loaded.architecture == name
        served = serve(loaded, device="cpu")
        np.testing.assert_allclose(served.probabilities(served.features(epochs)), expected, rtol=1e-6)


def test_a_format_1_student_bundle_without_an_architecture_loads(tmp_path):
    folder = save_bundle(_bundle("student"), tmp_path / "old")
    meta = json.loads((folder / "bundle.json").read_text())
    old = {k: v for k, v in meta.items() if k not in ("architecture", "model_config")}
    (folder / "bundle.json").write_text(
        json.dumps({**old, "format": 1, "student_config": meta["model_config"]})
    )
    assert load_bundle(folder).architecture == "student"


def test_an_unknown_architecture_is_refused_naming_the_known_ones(tmp_path):
    folder = save_bundle(_bundle("lda"), tmp_path / "m")
    meta = json.loads((folder / "bundle.json").read_text())
    for unknown in ("pickle_model", "cnn1d"):  # cnn1d is registered, but never served
        (folder / "bundle.json").write_text(json.dumps({**meta, "architecture": unknown}))
        with pytest.raises(ValueError, match="unknown model architecture") as error:
            load_bundle(folder)
        assert all(name in str(error.value) for name in SERVABLE)


def test_every_spec_resolves_and_has_a_calibration_fit_hook():
    assert set(FIT_HOOKS) == set(registry.FIT_HOOKS)
    for spec in registry.MODELS.values():
        assert spec.fit in FIT_HOOKS and spec.input in registry.VIEWS and " " in spec.readable
        if spec.network:
            assert spec.network_class().__name__ and spec.config_class().__name__
        if spec.classical:
            assert spec.classical_class().__name__
    assert registry.spec_of(_bundle("eegnet").model).name == "eegnet"
    with pytest.raises(ValueError, match="not a registered servable model"):
        registry.spec_of(object())


def test_names_are_unique_and_older_names_resolve():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.ModelSpec("lda", "again", "erp", "classical", classical="x:Y"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.ModelSpec("new", "new model", "raw", "logreg", aliases=("EEGNet",)))
    for old, new in {
        "StudentCNN": "student",
        "paper": "student",
        "stft_cnn": "student",
        "EEGNet": "eegnet",
        "xdawn_ts_lr": "xdawn",
        "erp_xdawn": "xdawn",
        "lda_windowed": "lda",
        "erp_lda": "lda",
        "wavelet_cnn": "cnn2d_wavelet",
    }.items():
        assert registry.get(old).name == new
    with pytest.raises(ValueError, match="known models: student, eegnet"):
        registry.get("resnet")
    assert preset_name("paper") == "student" and preset_name("auto") == "auto"
    assert candidate_names(["erp_xdawn", "eegnet", "shallow_convnet"]) == (
        "xdawn",
        "eegnet",
        "shallow_convnet",
    )
    assert registry.candidates(default_only=True) == ("eegnet", "xdawn", "lda")
    assert registry.display_name("lstm+kd") == "distilled LSTM (raw EEG)"


def test_the_preset_option_lists_and_accepts_old_and_new_names(capsys):
    from calibration.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    for given, stored in {
        "paper": "student",
        "erp_xdawn": "xdawn",
        "erp_lda": "lda",
        "eegnet": "eegnet",
    }.items():
        args = parser.parse_args(["calibrate", "s.xdf", "--out", "o", "--preset", given])
        assert args.preset == stored
    assert parser.parse_args(["calibrate", "s.xdf", "--out", "o"]).candidates == "eegnet,xdawn,lda"
    with pytest.raises(SystemExit):
        parser.parse_args(["calibrate", "s.xdf", "--out", "o", "--preset", "best"])
    assert "invalid choice: 'best'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["calibrate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{auto,student,eegnet,shallow_convnet,xdawn,lda}" in text
    assert all(old in text for old in ("paper", "erp_xdawn", "erp_lda"))
