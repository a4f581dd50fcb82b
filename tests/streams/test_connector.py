"""The engine on a stream stamped like a real amplifier connector's: push-time stamps, drift, losses.

The player's :class:`DriverEmulation` wakes every 10-30 ms, takes what the device delivered
1-8 ms before and pushes it without timestamps (liblsl stamps at push time, here at real time or
at a virtual push time for faster-than-real-time tests); the device clock is off by up to
+-100 ppm. Everything the engine computes must come out as on the exactly stamped source file.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from calibration.epochs import epochs_from_recording
from rtdecode.decoder import predict_recording
from rtdecode.io.summary import summarize_recording
from rtdecode.io.xdf import read_xdf, write_xdf
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session
from rtdecode.streams.player import DriverEmulation
from rtdecode.streams.recorder import Recorder
from tests.live_replay import decode_replay
from tests.test_decoder import _bundle


@pytest.fixture(scope="module")
def session():
    # 40 stimuli of 4 classes, 16 channels: about 31 s of EEG.
    return simulate_session(
        SimulationConfig(n_classes=4, images_per_class=10, n_channels=16, seed=11, lead_in_s=1.0)
    )


def test_live_decoding_of_push_stamped_stream_matches_predict_on_the_source(session):
    bundle = _bundle(session, 4)
    offline = {p.marker["image"]: p for p in predict_recording(bundle, session, device="cpu")}
    assert len(offline) == 40
    live, reader, decoder, player = decode_replay(
        session, bundle, speed=3.0, driver=DriverEmulation(seed=1, clock_ppm=-100)
    )
    assert reader.buffer.total == player.progress().samples_pushed == session.n_samples  # nothing dropped
    assert reader.health.gaps == 0 and reader.health.missing_samples == 0 and reader.health.resets == 0
    assert len(live) == len(offline), f"skipped: {decoder.skipped}"  # a prediction for every stimulus
    same = sum(p.label == offline[p.marker["image"]].label for p in live)
    assert same >= 0.95 * len(live)
    assert 0.5 < reader.health.jitter_ms < 5  # the stamps really were jittered
    assert abs(reader.health.effective_rate_hz / session.sfreq - 1 + 100e-6) < 20e-6


def test_true_losses_are_the_only_gaps_and_decoding_goes_on(session):
    bundle = _bundle(session, 4)
    offline = {p.marker["image"]: p for p in predict_recording(bundle, session, device="cpu")}
    driver = DriverEmulation(seed=2, clock_ppm=80, losses=((6.0, 100), (12.0, 2000)))
    live, reader, decoder, player = decode_replay(session, bundle, speed=3.0, driver=driver)
    assert reader.buffer.total == session.n_samples - 2100
    assert reader.health.gaps == 2
    sizes = sorted(int(e.detail.split()[0]) for e in reader.drain_events() if e.kind == "gap")
    assert abs(sizes[0] - 100) <= 2 and abs(sizes[1] - 2000) <= 2
    # only the stimuli whose epoch overlaps a loss are skipped; the others decode as offline
    t0 = player.t0
    onsets = {p.marker["image"]: p.onset - t0 for p in live}
    assert 33 <= len(live) <= 36 and decoder.skipped.get("gap", 0) == 40 - len(live)
    assert sum(t > 14.5 for t in onsets.values()) >= 10  # decoding went on after the outage
    same = sum(p.label == offline[p.marker["image"]].label for p in live)
    assert same >= 0.95 * len(live)


LABRECORDER_SCRIPT = """
import sys, time
import labrecorder, pylsl
from rtdecode.io.xdf import read_xdf
from rtdecode.streams.player import DriverEmulation, Player, marker_stream_name

source, path, name, ready = sys.argv[1:5]
player = Player(read_xdf(source), name, speed=1.0, source_id=name, driver=DriverEmulation(seed=4, clock_ppm=60))
found = pylsl.resolve_byprop("source_id", name, 1, 5.0) + pylsl.resolve_byprop("source_id", name + "-markers", 1, 5.0)
assert len(found) == 2, found
recording = labrecorder.Recording(path, found)
deadline = time.monotonic() + 20
while time.monotonic() < deadline and not (player.have_consumers() and open(ready).read().strip() == "go"):
    time.sleep(0.05)
time.sleep(0.5)
player.start()
player.join()
time.sleep(1.0)
recording.stop()
del recording
player.close()
"""


def test_recordings_of_a_push_stamped_stream_have_no_gaps_and_keep_every_epoch(tmp_path: Path):
    pytest.importorskip("labrecorder")
    short = simulate_session(
        SimulationConfig(n_classes=2, images_per_class=8, n_channels=8, seed=5, lead_in_s=1.0)
    )
    source = tmp_path / "source.xdf"
    write_xdf(source, short)
    reference = epochs_from_recording(short, _bundle(short, 2).pipeline)
    name = f"test-labrec-{uuid.uuid4().hex[:8]}"
    ready = tmp_path / "ready"
    ready.write_text("wait")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LABRECORDER_SCRIPT,
            str(source),
            str(tmp_path / "labrecorder.xdf"),
            name,
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    ours = tmp_path / "rtdecode.xdf"
    recorder = Recorder(ours, [f"source_id={name}", f"source_id={name}-markers"], resolve_timeout=15.0)
    try:
        recorder.start()
        ready.write_text("go")
        out, err = child.communicate(timeout=120)
    finally:
        recorder.stop()
    assert child.returncode == 0, out.decode()[-2000:] + err.decode()[-3000:]
    for path in (ours, tmp_path / "labrecorder.xdf"):
        recording = read_xdf(path)
        np.testing.assert_array_equal(recording.data, short.data)  # every sample, once, in order
        assert np.std(np.diff(recording.timestamps)) > 1e-4  # the file keeps the jittered raw stamps
        summary = summarize_recording(recording)
        assert "gaps: none" in summary, summary
        epochs = epochs_from_recording(recording, _bundle(short, 2).pipeline)
        assert epochs.dropped == {} and len(epochs.labels) == len(reference.labels) == 16
