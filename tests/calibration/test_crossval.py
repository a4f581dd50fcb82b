"""Leave-one-block-out calibration: intervals per model, selection, a bundle refitted on all blocks."""

from __future__ import annotations

import json

import numpy as np

from calibration.calibrate import CalibrationConfig, calibrate
from calibration.train import TrainConfig
from rtdecode.io.bundle import load_bundle
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session


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
    lda = report["results"]["lda"]["top1"]
    per_fold = [f["top1"]["lda"] for f in folds]
    assert lda["mean"] == np.mean(per_fold) and lda["ci_low"] <= lda["mean"] <= lda["ci_high"]
    assert lda["n_folds"] == 4
    assert "mean [95 % interval]" in (tmp_path / "report.md").read_text()
    assert report["selection"]["chosen"] == "lda"
    bundle = load_bundle(tmp_path / "model")
    # Refitted on all blocks: nothing is held out any more, and the bundle says so.
    assert bundle.extra["test_blocks"] == [] and bundle.extra["evaluation"] == "lobo"
    assert bundle.architecture == "lda" and result.bundle.extra["model"] == "lda"


def test_erp_view_trains_without_artifact_epochs_but_tests_on_all():
    from calibration.epochs import EpochSet
    from calibration.fitting import View
    from rtdecode.config import PipelineConfig

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 50, 3)).astype(np.float32) * 5
    x[[1, 2, 30], 10, 0] += 300.0  # two blinks in training, one in the test block
    blocks = np.repeat([0, 1, 2, 3], 10)
    epochs = EpochSet(
        x, np.tile([0, 1], 20), [str(i) for i in range(40)], blocks, np.arange(40.0), ["a", "b"], ["c"] * 3
    )
    view = View.of(PipelineConfig(), epochs, [0, 1], [2], [3], train_reject_ptp_uv=100.0)
    assert view.rejected == 2 and 1 not in view.train and 2 not in view.train and len(view.train) == 18
    assert 30 in view.test and len(view.val) == 10
    # The classical models' final fit: training + validation blocks, artifacts still left out, no test block.
    final = view.train_and_val()
    assert len(final) == 28 and not set(final) & set(view.test) and set(view.val) <= set(final)
    x[:, 10, 0] += 300.0  # every epoch "bad": at most 20 % of the training epochs go
    assert View.of(PipelineConfig(), epochs, [0, 1], [2], [3], train_reject_ptp_uv=100.0).rejected <= 4
