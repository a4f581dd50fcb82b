"""The calibration presenter against the simulated subject, which follows its markers: present,
mark, record, train, and end with a bundle on disk; or record another program's markers."""

from __future__ import annotations

import re

import pytest

from calibration.calibrate import CalibrationConfig
from calibration.train import TrainConfig
from gui.presenter import PresenterWindow
from gui.presenter_session import TrainingOptions
from gui.protocol import ProtocolConfig
from rtdecode.io.bundle import load_bundle
from rtdecode.io.xdf import read_xdf
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.live import LiveSimulator
from rtdecode.sim.subject import SimulatedSubject
from tests.gui.conftest import unique

WAIT_MS = 60_000
# 2 classes x 6 images in blocks of 4: three blocks, the fewest a block-respecting split takes.
SUBJECT = SimulationConfig(n_classes=2, images_per_class=6, n_channels=16, snr=1.0)
FAST = ProtocolConfig(image_s=0.1, block_s=0.4, break_s=0.2, lead_in_s=0.5, tail_s=0.6)
TINY_TRAINING = CalibrationConfig(
    train=TrainConfig(max_epochs=1, patience=1, batch_size=8, progress=False, alpha=1.0),
    student=StudentConfig(widths=(8, 8)),
    baselines=(),
)


@pytest.fixture
def presenter(qtbot, tmp_path):
    def make(**kwargs) -> PresenterWindow:
        w = PresenterWindow(out_dir=tmp_path / "session", calibration=TINY_TRAINING, **kwargs)
        qtbot.addWidget(w)
        w.show()
        return w

    return make


def test_presents_marks_records_and_trains_a_bundle(qtbot, presenter, tmp_path):
    w = presenter(simulate=SUBJECT, protocol=FAST, training=TrainingOptions(teacher="none"))
    w.start_button.click()
    qtbot.waitUntil(lambda: w.state == "presenting", timeout=WAIT_MS)
    schedule = w.session.schedule
    assert schedule.n_blocks == 3 and len(schedule.trials) == 12
    qtbot.waitUntil(lambda: w.state in ("training", "done", "failed"), timeout=WAIT_MS)
    timing = w.session.timing_summary()
    qtbot.waitUntil(lambda: w.state in ("done", "failed"), timeout=WAIT_MS)
    assert w.state == "done", w.banner.text

    # Every onset was marked; markers carry the push time, close to the schedule (generous bound:
    # a shared CI machine; the measured numbers are in the report of the issue).
    assert timing["n"] == 12
    assert abs(timing["mean_ms"]) < 50 and timing["max_abs_ms"] < 250
    recording = read_xdf(w.session.recording_path)
    stimuli = recording.stimulus_events()
    assert sorted(e["image"] for _, e in stimuli) == sorted(t.stimulus.image_id for t in schedule.trials)
    assert [e["block"] for _, e in stimuli] == [t.block for t in schedule.trials]
    events = [e["event"] for _, e in recording.events()]
    assert events.count("block_start") == 3 and events.count("block_end") == 3
    pushed = sorted(t[2] for t in w.session.timing)
    assert [t for t, _ in stimuli] == pytest.approx(pushed, abs=1e-3)
    assert recording.n_channels == SUBJECT.n_channels
    assert (w.session.out_dir / "timing.tsv").is_file()

    bundle = load_bundle(w.bundle_path)
    assert bundle.class_names == SimulatedSubject(SUBJECT).class_names
    assert bundle.channel_names == recording.channel_names
    assert "top-1" in w.result_label.text() and w.open_live_button.isVisible()
    chosen = re.search(r"<b>(.*?)</b>", w.result_label.text()).group(1)
    assert chosen and "_" not in chosen  # the chosen model in words, not its code name
    assert "calibration finished" in w.log_view.toPlainText()


def test_records_an_external_marker_stream_and_trains(qtbot, presenter):
    # Another program presents: here the simulated subject running its own protocol.
    config = SimulationConfig(
        n_classes=2, images_per_class=6, n_channels=16, image_s=0.1, block_s=0.4, break_s=0.2, lead_in_s=0.5
    )
    name = unique("gui-external")
    sim = LiveSimulator(config, name=name)  # outlets exist now; the protocol starts below
    try:
        w = presenter(eeg=name, external_markers=f"{name}-markers", training=TrainingOptions(teacher="none"))
        w.start_button.click()
        qtbot.waitUntil(lambda: w.state == "recording", timeout=WAIT_MS)
        assert w.finish_button.isEnabled()
        sim.start()
        qtbot.waitUntil(lambda: w._external_count == 12, timeout=WAIT_MS)
        qtbot.wait(700)  # the last epoch's samples
        w.finish_button.click()
        qtbot.waitUntil(lambda: w.state in ("done", "failed"), timeout=WAIT_MS)
        assert w.state == "done", w.banner.text
        assert load_bundle(w.bundle_path).class_names == SimulatedSubject(config).class_names
        assert len(read_xdf(w.session.recording_path).stimulus_events()) == 12
    finally:
        sim.stop()


def test_a_bad_stimulus_folder_is_named_and_the_window_recovers(qtbot, presenter, tmp_path):
    w = presenter(stimuli_dir=tmp_path / "nothing-here", eeg="name=whatever")
    w.start_button.click()
    qtbot.waitUntil(lambda: w.state == "failed", timeout=WAIT_MS)
    assert w.banner.level == "error" and "nothing-here" in w.banner.text and "images.tsv" in w.banner.text
    assert w.start_button.isEnabled()


def test_abort_keeps_the_partial_recording(qtbot, presenter):
    w = presenter(
        simulate=SUBJECT, protocol=ProtocolConfig(image_s=0.5, block_s=2.0, break_s=5.0, lead_in_s=0.2)
    )
    w.start_button.click()
    qtbot.waitUntil(lambda: len(w.session.timing if w.session else []) >= 2, timeout=WAIT_MS)
    w.abort_button.click()
    qtbot.waitUntil(lambda: w.state == "idle", timeout=WAIT_MS)
    assert w.banner.level == "warning" and "partial recording" in w.banner.text
    assert len(read_xdf(w.session.recording_path).stimulus_events()) >= 2
    assert w.start_button.isEnabled() and w.result is None
