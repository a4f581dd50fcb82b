"""Baselines at any rate and channel count, metrics against scikit-learn, loud notes, failures kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.utils.class_weight import compute_class_weight

from calibration import baselines as baselines_module
from calibration.baselines import feature_sliding, feature_standardized, fit_logreg, samples_for
from calibration.calibrate import CalibrationConfig, calibrate
from calibration.metrics import class_weights, evaluate_predictions, model_warnings
from calibration.train import TrainConfig
from rtdecode.io.bundle import load_bundle
from rtdecode.models.registry import display_name
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session


def test_logreg_pca_clips_its_components_to_the_data():
    # Four channels at 256 Hz over 440 ms: 4 x 11 = 44 features, fewer than the 64 components.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 113, 4)).astype(np.float32)
    y = np.repeat([0, 1], 60)
    x[y == 1, 30:60, 0] += 1.0
    proba = fit_logreg("logreg_pca", x, y, sfreq=256.0)(x)
    assert proba.shape == (120, 2) and np.allclose(proba.sum(1), 1)
    assert feature_standardized(x, 256.0).shape[1] == 4 * (113 // 3)


def test_feature_windows_are_durations_converted_at_the_rate():
    # The same 440 ms epoch at 256 Hz and 1 kHz gives the same 50 ms / 25 ms windows.
    for sfreq in (256.0, 1000.0):
        n = int(round(0.44 * sfreq))
        ramp = np.tile(np.arange(n, dtype=float)[None, :, None], (1, 1, 2))
        windows = feature_sliding(ramp, sfreq)[0, ::2]
        assert abs(len(windows) - 16) <= 1  # 195 ms / 98 ms windows at 256 Hz would give 4
        # Window k starts k * 25 ms in and lasts 50 ms: its mean sits 25 ms after its start.
        starts_s = (windows - (samples_for(0.05, sfreq) - 1) / 2) / sfreq
        assert np.allclose(np.diff(starts_s), 0.025, atol=1.0 / sfreq)
    assert samples_for(0.004, 256.0) == 1 and samples_for(0.004, 1000.0) == 4


def test_metrics_match_scikit_learn_and_expose_a_majority_model():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.84).astype(int)  # an oddball: 84 % of class 1
    score = np.clip(0.6 * y + 0.5 * rng.standard_normal(300), -3, 3)
    proba = np.column_stack([1 - 1 / (1 + np.exp(-score)), 1 / (1 + np.exp(-score))])
    m = evaluate_predictions(y, proba, 2)
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, proba.argmax(1)))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]))
    assert m["majority_rate"] == pytest.approx(np.mean(y == 1))

    always_one = np.tile([0.1, 0.9], (300, 1))
    majority = evaluate_predictions(y, always_one, 2)
    assert majority["top1"] == pytest.approx(majority["majority_rate"]) and majority["top1"] > 0.8
    assert majority["balanced_accuracy"] == pytest.approx(0.5)
    assert majority["n_predicted_classes"] == 1
    assert any("one class for every" in note for note in model_warnings("m", majority))
    history = {"best_epoch": 0, "val_acc": [0.5, 0.5, 0.5]}
    assert any("first training epoch" in note for note in model_warnings("m", m, history))
    assert model_warnings("m", m, {"best_epoch": 2, "val_acc": [0.5, 0.6, 0.7]}) == []
    assert "roc_auc" not in evaluate_predictions(np.array([0, 1, 2]), np.eye(3), 3)


def test_class_weights_are_scikit_learns_balanced_weights_only_when_imbalanced():
    y = np.array([0] * 80 + [1] * 20)
    assert np.allclose(class_weights(y, 2), compute_class_weight("balanced", classes=np.arange(2), y=y))
    assert class_weights(np.array([0] * 50 + [1] * 48), 2) is None
    assert class_weights(np.array([0] * 10 + [2] * 40), 3)[1] == 0


@pytest.fixture(scope="module")
def small_session():
    # Nothing of the paper's setting: 4 channels, 256 Hz, 2 classes, 3 blocks.
    config = SimulationConfig(
        n_classes=2,
        images_per_class=60,
        snr=1.5,
        n_channels=4,
        sfreq=256.0,
        block_s=20.0,
        break_s=3.0,
        seed=5,
    )
    return simulate_session(config)


def test_a_failing_baseline_is_reported_and_the_run_still_writes_everything(
    small_session, tmp_path, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setitem(baselines_module.RAW_NETWORKS, "cnn1d", broken)
    config = CalibrationConfig(
        train=TrainConfig(max_epochs=2, patience=2, batch_size=32, progress=False),
        student=StudentConfig(widths=(8, 8)),
        baselines=("logreg_pca", "logreg_sliding", "cnn1d"),
        evaluation="split",
    )
    result = calibrate(small_session, None, tmp_path, config)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["results"]["cnn1d"] == {"failed": "RuntimeError: simulated failure"}
    assert 0.0 <= report["results"]["logreg_pca"]["top1"] <= 1.0
    assert "failed: RuntimeError" in (tmp_path / "report.md").read_text()
    assert any(f"{display_name('cnn1d')} FAILED" in note for note in report["notes"])  # words in prose
    assert load_bundle(tmp_path / "model").class_names == result.bundle.class_names
