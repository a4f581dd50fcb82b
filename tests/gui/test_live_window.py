"""The live window against the simulated subject streaming live: decode, show, record, lose the
stream and get it back, refuse a model that does not fit, name a stream that is not there."""

from __future__ import annotations

import uuid

import pytest

from gui.live_window import LiveWindow
from rtdecode.io.xdf import read_xdf
from rtdecode.sim.live import LiveSimulator
from tests.gui.conftest import SIM, make_bundle, unique

WAIT_MS = 20_000


@pytest.fixture
def window(qtbot, tmp_path):
    def make(**kwargs) -> LiveWindow:
        w = LiveWindow(record_dir=tmp_path / "recordings", device="cpu", **kwargs)
        qtbot.addWidget(w)  # closed (and the session stopped) at teardown
        w.show()
        return w

    return make


def _listed(qtbot, w: LiveWindow, name: str) -> None:
    """Wait until a refresh lists ``name`` (the first listing may predate the stream)."""

    def seen() -> bool:
        if any(c.name == name for c in w.picker.choices):
            return True
        if not w.picker.discoverer.busy:
            w.picker.refresh()
        return False

    qtbot.waitUntil(seen, timeout=WAIT_MS)


def test_decodes_shows_images_records_and_survives_a_lost_stream(qtbot, window, bundle_dir, subject):
    name, source_id = unique("gui-live"), uuid.uuid4().hex
    sims = [LiveSimulator(SIM, name=name, source_id=source_id, loop=True).start()]
    try:
        w = window(model=bundle_dir, eeg=name, markers=f"{name}-markers")
        _listed(qtbot, w, name)
        assert w.picker.eeg_query() == f"source_id={source_id}"
        assert w.picker.marker_query() == f"source_id={source_id}-markers"
        w.start_button.click()
        qtbot.waitUntil(lambda: w.state == "running", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: w.n_predictions >= 2 and w.n_images >= 1, timeout=WAIT_MS)
        assert w.prediction_view.label.text() in subject.class_names
        assert w.image_panel.current_source == "exemplar"  # no weights: the stimuli next to the bundle
        assert "shown:" in w.prediction_view.truth.text()  # marker-locked: the marker's class
        assert w.eeg_view.selected_channels  # occipito-parietal channels of the 16
        assert w.frame_rate > 10, f"the window redraws at {w.frame_rate:.1f} fps while decoding"
        assert "decoder on CPU" in w.device_label.text() and "latency" in w.latency_label.text()
        assert w.adapt_label.isHidden()  # the model has no adaptation setting and none was asked for

        w.record_button.click()
        qtbot.waitUntil(lambda: w.recording_path is not None, timeout=WAIT_MS)
        path = w.recording_path
        qtbot.wait(1500)
        w.record_button.click()
        qtbot.waitUntil(lambda: w.recording_path is None and w.record_button.isEnabled(), timeout=WAIT_MS)
        recording = read_xdf(path)
        assert recording.n_channels == SIM.n_channels and recording.n_samples > 500

        sims.pop().stop()  # the amplifier goes away...
        qtbot.waitUntil(lambda: w.banner.level == "warning" and "lost" in w.banner.text, timeout=WAIT_MS)
        assert "LOST" in w.health_label.text() and w.state == "running"
        before = w.n_predictions
        sims.append(
            LiveSimulator(SIM, name=name, source_id=source_id, loop=True).start()
        )  # ...and comes back
        qtbot.waitUntil(lambda: "is back" in w.banner.text, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: w.n_predictions > before, timeout=WAIT_MS)
        assert "lost 1" in w.health_label.text()

        w.stop_button.click()
        qtbot.waitUntil(lambda: w.state == "idle", timeout=WAIT_MS)
        assert w.start_button.isEnabled() and not w.record_button.isEnabled()
    finally:
        for sim in sims:
            sim.stop()


def test_refusals_show_a_message_and_the_window_recovers(qtbot, window, bundle_dir, tmp_path, subject):
    name = unique("gui-errors")
    sim = LiveSimulator(SIM, name=name, loop=True).start()
    try:
        # A model made for other channels: the StreamMismatch message, nothing started.
        other = make_bundle(tmp_path / "other", subject.channel_names[:8], subject.class_names)
        w = window(model=other, eeg=name, markers=f"{name}-markers")
        _listed(qtbot, w, name)
        w.start_button.click()
        qtbot.waitUntil(lambda: w.banner.level == "error", timeout=WAIT_MS)
        assert "does not fit" in w.banner.text and "channel count: stream 16, model 8" in w.banner.text
        assert w.state == "idle" and w.start_button.isEnabled()

        # A stream nobody serves: named in the message with what is visible instead.
        w.picker.eeg.setEditText("name=no-such-amplifier")
        w.model_edit.setText(str(bundle_dir))
        w.start_button.click()
        qtbot.waitUntil(lambda: "Stream not found" in w.banner.text, timeout=WAIT_MS)
        assert "no-such-amplifier" in w.banner.text and w.state == "idle"

        # Diffusion weights that are not there: a warning, and the session runs on exemplars.
        w.picker.eeg.setEditText(f"name={name}")
        w.pipeline_edit.setText(str(tmp_path / "no-such-weights"))
        w.start_button.click()
        qtbot.waitUntil(lambda: w.state == "running", timeout=WAIT_MS)
        assert w.banner.level == "warning" and "diffusion" in w.banner.text.lower()
        qtbot.waitUntil(lambda: w.n_images >= 1, timeout=WAIT_MS)
        assert w.image_panel.current_source == "exemplar"
    finally:
        sim.stop()


def test_the_status_bar_shows_the_alignment_adapting(qtbot, window, bundle_dir, tmp_path, subject):
    name = unique("gui-adapt")
    sim = LiveSimulator(SIM, name=name, loop=True).start()
    try:
        # A model from before live adaptation: refused with what to do.
        w = window(model=bundle_dir, eeg=name, markers=f"{name}-markers", adaptation=0.05)
        _listed(qtbot, w, name)
        w.start_button.click()
        qtbot.waitUntil(lambda: w.banner.level == "error", timeout=WAIT_MS)
        assert "recalibrate" in w.banner.text and w.state == "idle" and w.adapt_label.isHidden()

        model = make_bundle(tmp_path / "aligned", subject.channel_names, subject.class_names, align=True)
        w.model_edit.setText(str(model))
        w.start_button.click()
        qtbot.waitUntil(lambda: w.state == "running", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: w.n_predictions >= 2, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: "0.05, 0 epochs" not in w.adapt_label.text(), timeout=WAIT_MS)
        assert (
            w.adapt_label.text().startswith("alignment adapting (f=0.05, ") and not w.adapt_label.isHidden()
        )
        w.stop_button.click()
        qtbot.waitUntil(lambda: w.state == "idle", timeout=WAIT_MS)
        assert w.adapt_label.isHidden()
    finally:
        sim.stop()
