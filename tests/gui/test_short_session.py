"""A short session in the presenter: with a cross-subject base and N images per class it shows N of
each class, calibrates on all of them with the base and ends ready to decode, with a bundle."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from calibration.calibrate import CalibrationConfig
from calibration.train import TrainConfig
from calibration.transfer import pretrain
from gui.presenter import PresenterWindow
from gui.presenter_session import PresenterSession, PresenterSettings, TrainingOptions
from gui.protocol import ProtocolConfig, build_schedule, load_stimuli
from rtdecode.cli import build_parser
from rtdecode.io.bundle import load_bundle
from rtdecode.io.xdf import read_xdf
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session
from rtdecode.sim.subject import SimulatedSubject

WAIT_MS = 120_000
PER_CLASS = 3
# 4 classes x 6 images in the folder; the short session shows 3 of each: 12 images, blocks of 4.
SUBJECT = SimulationConfig(n_classes=4, images_per_class=6, n_channels=32, subject=5, seed=5)
FAST = ProtocolConfig(
    image_s=0.1, block_s=0.4, break_s=0.2, lead_in_s=0.5, tail_s=0.6, trials_per_class=PER_CLASS
)
TINY = CalibrationConfig(
    train=TrainConfig(max_epochs=1, patience=1, batch_size=16, progress=False, alpha=1.0),
    student=StudentConfig(widths=(8, 8)),
    baselines=(),
    candidates=("lda",),
)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A base of two tiny simulated subjects of the presenter's 4 classes and 32 channels."""
    recordings = [
        simulate_session(SimulationConfig(n_classes=4, images_per_class=30, n_channels=32, subject=s, seed=s))
        for s in (1, 2)
    ]
    return pretrain(recordings, tmp_path_factory.mktemp("base"), ("eegnet", "lda"), train=TINY.train)


@pytest.fixture(scope="module")
def stimuli_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stimuli")
    SimulatedSubject(SUBJECT).write_images(folder)
    return folder


def test_a_short_session_shows_n_images_of_each_class(stimuli_dir):
    stimuli = load_stimuli(stimuli_dir)
    schedule = build_schedule(stimuli, FAST)
    shown = [t.stimulus for t in schedule.trials]
    assert Counter(s.class_name for s in shown) == {
        name: PER_CLASS for name in SimulatedSubject(SUBJECT).class_names
    }
    assert len({s.image_id for s in shown}) == len(shown) == 4 * PER_CLASS
    # Another seed draws other images of each class.
    other = build_schedule(
        stimuli, ProtocolConfig(block_s=0.4, image_s=0.1, trials_per_class=PER_CLASS, seed=3)
    )
    assert {t.stimulus.image_id for t in other.trials} != {s.image_id for s in shown}
    with pytest.raises(ValueError, match="4 classes have fewer than 7 images"):
        build_schedule(stimuli, ProtocolConfig(trials_per_class=7))


def test_a_short_session_needs_a_base_of_the_images_classes(tmp_path, base):
    with pytest.raises(ValueError, match="needs a cross-subject base"):
        PresenterSettings(out_dir=tmp_path, protocol=FAST)
    with pytest.raises(ValueError, match="at least 2 images per class"):
        PresenterSettings(out_dir=tmp_path, protocol=ProtocolConfig(trials_per_class=1), base=base.folder)
    other = tmp_path / "three-classes"
    SimulatedSubject(SimulationConfig(n_classes=3, images_per_class=3)).write_images(other)
    settings = PresenterSettings(
        out_dir=tmp_path / "out", stimuli_dir=other, eeg="name=unused", protocol=FAST, base=base.folder
    )
    with pytest.raises(ValueError, match="not of the base's 4 classes") as refused:
        PresenterSession(settings).prepare()  # refused before any stream is looked for
    assert "\n" not in str(refused.value) and base.class_names[3] in str(refused.value)
    with pytest.raises(ValueError, match="is not a base"):
        PresenterSession(
            PresenterSettings(out_dir=tmp_path / "o2", stimuli_dir=other, eeg="name=unused", base=tmp_path)
        ).prepare()


@pytest.mark.parametrize(
    ("stream", "refusal"),
    [
        (dict(n_channels=16), r"lacks \d+ of the 32 channels of the base"),
        (dict(n_channels=32, sfreq=500.0), "sampled at 500 Hz, the base at 1000 Hz"),
    ],
)
def test_an_eeg_stream_the_base_cannot_calibrate_is_refused_before_the_first_image(
    tmp_path, base, stimuli_dir, stream, refusal
):
    subject = SimulationConfig(n_classes=4, images_per_class=6, subject=5, seed=5, **stream)
    settings = PresenterSettings(
        out_dir=tmp_path, stimuli_dir=stimuli_dir, simulate=subject, protocol=FAST, base=base.folder
    )
    session = PresenterSession(settings)
    with pytest.raises(ValueError, match=refusal) as refused:
        session.prepare()
    assert "\n" not in str(refused.value) and "EEG stream" in str(refused.value)
    # Nothing was recorded and the simulated stream is gone (prepare cleans up on error).
    assert not session.recording_path.exists() and session.simulator is None


def test_the_command_explains_and_checks_the_short_session_options():
    parser = build_parser()
    help_text = parser._subparsers._group_actions[0].choices["calibrate-gui"].format_help()
    assert "--base" in help_text and "--trials-per-class" in help_text and "validation scores" in help_text
    args = parser.parse_args(["calibrate-gui", "--trials-per-class", "10"])
    with pytest.raises(SystemExit, match="--trials-per-class needs --base"):
        args.handler(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["calibrate-gui", "--base", "b", "--trials-per-class", "1"])


def test_the_presenter_calibrates_a_short_session_with_a_base_and_is_ready_to_decode(qtbot, tmp_path, base):
    w = PresenterWindow(
        out_dir=tmp_path / "session",
        simulate=SUBJECT,
        protocol=FAST,
        training=TrainingOptions(teacher="none"),
        calibration=TINY,
        base=base.folder,
    )
    qtbot.addWidget(w)
    w.show()
    assert w.training_box.trials_per_class() == PER_CLASS and w.training_box.base() == base.folder
    w.start_button.click()
    qtbot.waitUntil(lambda: w.state in ("presenting", "failed"), timeout=WAIT_MS)
    assert w.state == "presenting", w.banner.text
    assert len(w.session.schedule.trials) == 4 * PER_CLASS and w.session.base is not None
    qtbot.waitUntil(lambda: w.state in ("done", "failed"), timeout=WAIT_MS)
    assert w.state == "done", w.banner.text

    recorded = Counter(e["class"] for _, e in read_xdf(w.session.recording_path).stimulus_events())
    assert set(recorded.values()) == {PER_CLASS}
    report = json.loads((w.bundle_path.parent / "report.json").read_text())
    # Every recorded trial calibrated; nothing was left to test, and the window says so.
    assert report["n_train"] + report["n_val"] == 4 * PER_CLASS and report["n_test"] == 0
    assert report["trials_per_class"] == PER_CLASS and report["scored_on"] == "validation"
    bundle = load_bundle(w.bundle_path)
    assert bundle.extra["transfer"]["base"] == str(base.folder) and bundle.class_names == base.class_names
    assert (
        report["selection"]["chosen"] in w.result_label.text()
        and "validation epochs" in w.result_label.text()
    )
    # The time to the model counts from the last image: the report's and the window's agree.
    ready = [line for line in w.log_view.toPlainText().splitlines() if line.startswith("ready to decode")]
    assert len(ready) == 1 and "after the last image" in ready[0]
    ready_s = float(ready[0].split()[3])
    assert 0 < report["seconds_to_bundle"] <= ready_s + 0.05  # the log line has one decimal
