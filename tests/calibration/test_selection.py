"""The pipeline is chosen by the data: ERP decoders where the class information is evoked and slow,
the paper's STFT student where it lives in the 14-70 Hz band; the choice is what the bundle serves."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.calibrate import CalibrationConfig, calibrate
from calibration.train import TrainConfig
from rtdecode.decoder import predict_recording
from rtdecode.io.bundle import load_bundle
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session

FAST = CalibrationConfig(
    train=TrainConfig(max_epochs=12, patience=5, batch_size=32, progress=False),
    student=StudentConfig(widths=(16, 16, 32)),
    baselines=(),
    evaluation="split",
)


def _session(class_information: str):
    config = SimulationConfig(
        n_classes=2,
        images_per_class=75,
        snr=1.0,
        n_channels=8,
        sfreq=256.0,
        block_s=25.0,
        break_s=3.0,
        seed=7,
        class_information=class_information,
    )
    return simulate_session(config)


def test_information_below_14_hz_picks_the_erp_pipeline_and_the_bundle_serves_it(tmp_path):
    recording = _session("evoked_low")
    result = calibrate(recording, None, tmp_path, FAST)
    selection = result.report["selection"]
    assert selection["chosen"] in ("xdawn", "lda")
    # The paper's 14-70 Hz band removes it: its student is at chance on the test blocks.
    assert result.report["results"]["student"]["balanced_accuracy"] < 0.65
    assert result.report["results"][selection["chosen"]]["balanced_accuracy"] > 0.85
    bundle = load_bundle(tmp_path / "model")
    assert bundle.extra["model"] == selection["chosen"] and bundle.extra["pipeline_name"] == "erp"
    assert bundle.pipeline.filter.band_low_hz == 0.5 and bundle.pipeline.epoch.tmin_s == pytest.approx(-0.1)
    # predict serves exactly the chosen model: on the held-out blocks it scores what the report says.
    predictions = predict_recording(bundle, recording, device="cpu")
    held_out = [p for p in predictions if p.marker["block"] in bundle.extra["test_blocks"]]
    top1 = np.mean([p.index == p.marker["label"] for p in held_out])
    assert top1 == pytest.approx(result.report["results"][selection["chosen"]]["top1"], abs=1e-9)


def test_information_in_the_gamma_band_keeps_the_papers_student(tmp_path):
    result = calibrate(_session("mixed"), None, tmp_path, FAST)
    assert result.report["selection"]["chosen"] == "student"
    assert load_bundle(tmp_path / "model").architecture == "student"


def test_the_paper_preset_keeps_the_student_whatever_the_scores(tmp_path):
    # The former names (preset "paper", candidate "erp_lda") still work and become the registry's.
    config = CalibrationConfig(**{**FAST.__dict__, "preset": "paper", "candidates": ("erp_lda",)})
    assert config.preset == "student" and config.candidates == ("lda",)
    result = calibrate(_session("evoked_low"), None, tmp_path, config)
    assert result.report["selection"]["chosen"] == "student"
    assert "preset 'student'" in result.report["selection"]["reason"]
    with pytest.raises(ValueError, match="preset must be one of"):
        CalibrationConfig(preset="best")
    with pytest.raises(ValueError, match="unknown candidates"):
        CalibrationConfig(candidates=("student",))
