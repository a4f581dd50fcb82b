"""Cross-subject transfer: a base from other subjects, a new subject from few trials (tiny simulations)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from calibration.calibrate import CalibrationConfig
from calibration.train import TrainConfig
from calibration.transfer import load_base, match_channels, pretrain
from calibration.transfer_calibrate import calibrate_with_base, calibration_trials
from rtdecode.decoder import predict_recording
from rtdecode.io.bundle import load_bundle
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session

TRAIN = TrainConfig(max_epochs=3, patience=3, batch_size=32, progress=False)
SMALL = {"train": TRAIN, "student": StudentConfig(widths=(16, 16, 32))}


def _subject(subject: int, **changes):
    config = SimulationConfig(
        n_classes=3, images_per_class=24, n_channels=16, subject=subject, seed=subject, snr=1.5
    )
    return simulate_session(replace(config, **changes))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    return pretrain([_subject(11), _subject(12)], folder, ("templates", "eegnet", "lda"), train=TRAIN)


def test_the_base_records_subjects_classes_channels_and_its_models(base):
    info = json.loads((base.folder / "base.json").read_text())
    assert [s["n_trials"] for s in info["subjects"]] == [72, 72]
    assert len(info["class_names"]) == 3 and len(info["channel_names"]) == 16
    assert set(info["models"]) == {"templates", "eegnet", "lda"}
    # Two subjects leave no held-out source to choose the templates' settings with: it says so.
    assert info["models"]["templates"]["selection"]["how"].startswith("defaults")
    assert load_bundle(base.folder / "templates").model.time_courses_.shape[0] == 3
    reloaded = load_bundle(base.folder / "eegnet")
    assert reloaded.extra["base"] is True and reloaded.architecture == "eegnet"
    x, y, subject = load_base(base.folder).source
    assert x.dtype == np.float16 and len(x) == len(y) == 144 and set(subject.tolist()) == {0, 1}


def test_calibration_trials_are_the_first_n_of_each_class_in_time_order():
    recording = _subject(13)
    from calibration.epochs import epochs_from_recording
    from rtdecode.config import PipelineConfig

    epochs = epochs_from_recording(recording, PipelineConfig(sfreq=recording.sfreq))
    trials = calibration_trials(epochs, 5)
    for c in range(3):
        of_class = np.flatnonzero(epochs.labels == c)
        first = of_class[np.argsort(epochs.onsets[of_class])][:5]
        np.testing.assert_array_equal(np.intersect1d(trials.calibration, of_class), np.sort(first))
        # The last of each class's calibration trials validates; none of them is tested.
        assert first[-1] in trials.val and first[0] in trials.train
    assert len(np.intersect1d(trials.test, trials.calibration)) == 0
    assert len(trials.test) + len(trials.calibration) == len(epochs)
    with pytest.raises(ValueError, match="at least 2"):
        calibration_trials(epochs, 1)


def test_a_new_subject_from_few_trials_compares_three_paths_and_serves_the_best(base, tmp_path):
    recording = _subject(14)
    result = calibrate_with_base(
        recording, base, None, tmp_path, CalibrationConfig(**SMALL, candidates=("eegnet", "lda")), 6
    )
    report = result.report
    paths = {c["path"] for c in report["candidates"]}
    assert paths == {"subject-only", "zero-shot", "fine-tuned"}
    # The templates keep the base's time courses and take this subject's mixing from its trials.
    keys = {c["key"] for c in report["candidates"]}
    assert "fine-tuned: shared-response templates (time domain)" in keys
    best = max(report["candidates"], key=lambda c: c["validation"])
    assert report["selection"]["chosen"] == best["key"]
    assert report["n_train"] + report["n_val"] == 18 and report["n_test"] == 72 - 18
    assert (
        report["seconds_to_bundle"] > 0 and "time to a served model" in (tmp_path / "report.md").read_text()
    )
    bundle = load_bundle(tmp_path / "model")
    assert bundle.extra["transfer"]["path"] == best["path"]
    # Transfer paths serve through the subject's own alignment; subject-only ones can still adapt live.
    assert bundle.standardizer.align == ("track" if best["path"] == "subject-only" else "whiten")
    predictions = predict_recording(bundle, recording)
    assert len(predictions) == 72


def test_channels_are_matched_by_name_and_missing_ones_refused_in_one_line(base):
    recording = _subject(15)
    shuffled = replace(
        recording, data=recording.data[:, ::-1].copy(), channel_names=list(reversed(recording.channel_names))
    )
    matched = match_channels(shuffled, base.channel_names)
    np.testing.assert_array_equal(matched.data, recording.data)
    fewer = replace(recording, data=recording.data[:, 1:], channel_names=recording.channel_names[1:])
    with pytest.raises(
        ValueError, match=f"lacks 1 of the 16 channels of the base: \\['{recording.channel_names[0]}'\\]"
    ):
        match_channels(fewer, base.channel_names)


def test_a_recording_at_another_rate_is_refused(base, tmp_path):
    other = _subject(16, sfreq=500.0)
    with pytest.raises(ValueError, match="500 Hz, the base at 1000 Hz"):
        calibrate_with_base(other, base, None, tmp_path, CalibrationConfig(**SMALL), 4)


def test_pretrain_then_calibrate_with_base_from_the_command_line(tmp_path, capsys):
    from rtdecode.cli import main
    from rtdecode.sim.session import save_simulated_session

    files = []
    for subject in (31, 32, 33):
        config = SimulationConfig(
            n_classes=3, images_per_class=12, n_channels=8, subject=subject, seed=subject
        )
        save_simulated_session(config, tmp_path / f"s{subject}.xdf")
        files.append(tmp_path / f"s{subject}.xdf")
    common = ["--teacher", "none", "--max-epochs", "2"]
    assert (
        main(
            [
                "pretrain",
                str(files[0]),
                str(files[1]),
                "--out",
                str(tmp_path / "base"),
                "--models",
                "templates,eegnet,lda",
                *common,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "base of 2 subjects, 3 classes, 8 channels" in out
    # Two sources leave none to choose with: each trial's own latency within the default reach.
    assert "each trial's latency searched +-6 ms (defaults" in out
    new = ["calibrate", str(files[2]), "--base", str(tmp_path / "base"), "--trials-per-class", "3", "--short"]
    assert main([*new, "--out", str(tmp_path / "new"), *common]) == 0
    out = capsys.readouterr().out
    assert (
        "Calibration report, with a cross-subject base" in out and "zero-shot" in out and "fine-tuned" in out
    )
    assert load_bundle(tmp_path / "new" / "model").extra["transfer"]["trials_per_class"] == 3
    # A short session refits the templates' mixing too (a least-squares solve).
    report = json.loads((tmp_path / "new" / "report.json").read_text())
    assert "fine-tuned: shared-response templates (time domain)" in {c["key"] for c in report["candidates"]}
    # A short session without a base is refused with what to do.
    assert (
        main(["calibrate", str(files[2]), "--trials-per-class", "3", "--out", str(tmp_path / "x"), *common])
        != 0
    )
    assert "--trials-per-class needs --base" in capsys.readouterr().err
