"""A short session that is all calibration (the presenter's --trials-per-class with a base): no test
trial, the model chosen and reported on its validation trials, which the report says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.calibrate import CalibrationConfig
from calibration.epochs import epochs_from_recording
from calibration.train import TrainConfig
from calibration.transfer import pretrain
from calibration.transfer_calibrate import calibrate_with_base, calibration_trials
from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import load_bundle
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session

TRAIN = TrainConfig(max_epochs=2, patience=2, batch_size=32, progress=False)
PER_CLASS = 5


def _subject(subject: int, images_per_class: int):
    return simulate_session(
        SimulationConfig(
            n_classes=3,
            images_per_class=images_per_class,
            n_channels=16,
            subject=subject,
            seed=subject,
            block_s=5.0,
            break_s=1.0,
        )
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    subjects = [_subject(s, 12) for s in (21, 22)]
    return pretrain(subjects, tmp_path_factory.mktemp("base"), ("eegnet", "lda"), train=TRAIN)


@pytest.fixture(scope="module")
def short_recording():
    """Exactly PER_CLASS trials of each class: the whole session is calibration."""
    return _subject(23, PER_CLASS)


def test_a_whole_session_of_calibration_trials_leaves_an_empty_test_only_when_allowed(short_recording):
    epochs = epochs_from_recording(short_recording, PipelineConfig(sfreq=short_recording.sfreq))
    with pytest.raises(ValueError, match="no trial is left to test on"):
        calibration_trials(epochs, PER_CLASS)
    trials = calibration_trials(epochs, PER_CLASS, require_test=False)
    assert len(trials.test) == 0
    np.testing.assert_array_equal(trials.calibration, np.arange(len(epochs)))
    # Each class still validates on its last trial and trains on the others.
    assert len(trials.val) == 3 and len(trials.train) == 3 * (PER_CLASS - 1)
    assert "none is left to test on" in trials.description


def test_a_short_session_is_calibrated_and_reported_on_validation_trials(base, short_recording, tmp_path):
    config = CalibrationConfig(train=TRAIN, candidates=("lda",), baselines=())
    result = calibrate_with_base(
        short_recording,
        base,
        None,
        tmp_path,
        config,
        trials_per_class=PER_CLASS,
        require_test=False,
        subject_student=False,
        fine_tune=("eegnet",),
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n_test"] == 0 and report["scored_on"] == "validation"
    assert report["n_train"] + report["n_val"] == 3 * PER_CLASS
    # The short path's knobs: no subject-only student, only the base's EEGNet fine-tuned.
    assert sorted((c["path"], c["model"]) for c in report["candidates"]) == [
        ("fine-tuned", "eegnet"),
        ("subject-only", "lda"),
        ("zero-shot", "eegnet"),
        ("zero-shot", "lda"),
    ]
    assert all(c["test_top1"] is None for c in report["candidates"])
    for c in report["candidates"]:
        # The table's scores are the validation trials' that chose the model.
        assert report["results"][c["key"]]["balanced_accuracy"] == pytest.approx(c["validation"])
        assert report["results"][c["key"]]["n"] == report["n_val"]
    markdown = (tmp_path / "report.md").read_text()
    assert "test: none" in markdown and "overestimate" in markdown
    assert not (tmp_path / "confusion.png").exists()  # nothing was tested to plot
    bundle = load_bundle(tmp_path / "model")
    chosen = report["selection"]["chosen"]
    assert bundle.metrics["scored_on"] == "validation" and chosen == result.report["selection"]["chosen"]
    assert bundle.class_names == base.class_names
