"""Leave-one-block-out calibration: intervals per model, selection, a bundle refitted on all blocks."""

from __future__ import annotations

import json

import numpy as np

from calibration.calibrate import CalibrationConfig, calibrate
from calibration.train import TrainConfig
from rtdecode.io.bundle import load_bundle
from rtdecode.models.student import StudentConfig
from rtdecode.streams.simulate import SimulationConfig, simulate_session


def test_few_blocks_are_cross_validated_and_the_bundle_is_refitted_on_all(tmp_path):
    config = SimulationConfig(
        n_classes=2,
        images_per_class=60,
        snr=1.0,
        n_channels=4,
        sfreq=256.0,
        block_s=15.0,
        break_s=3.0,
        seed=7,
        class_information="evoked_low",
    )
    recording = simulate_session(config)  # 120 images in 15 s blocks: 4 blocks
    calibration = CalibrationConfig(
        train=TrainConfig(max_epochs=2, patience=2, batch_size=32, progress=False),
        student=StudentConfig(widths=(8, 8)),
        baselines=("logreg_averaged",),
        candidates=("erp_lda",),
    )
    result = calibrate(recording, None, tmp_path, calibration)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["evaluation"] == "lobo"
    folds = report["split"]["folds"]
    assert sorted(b for f in folds for b in f["test_blocks"]) == [0, 1, 2, 3]
    lda = report["results"]["erp_lda_windowed"]["top1"]
    per_fold = [f["top1"]["erp_lda_windowed"] for f in folds]
    assert lda["mean"] == np.mean(per_fold) and lda["ci_low"] <= lda["mean"] <= lda["ci_high"]
    assert lda["n_folds"] == 4
    assert "mean [95 % interval]" in (tmp_path / "report.md").read_text()
    assert report["selection"]["chosen"] == "erp_lda_windowed"
    bundle = load_bundle(tmp_path / "model")
    # Refitted on all blocks: nothing is held out any more, and the bundle says so.
    assert bundle.extra["test_blocks"] == [] and bundle.extra["evaluation"] == "lobo"
    assert bundle.architecture == "lda_windowed" and result.bundle.extra["model"] == "erp_lda_windowed"
