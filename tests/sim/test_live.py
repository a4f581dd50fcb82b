"""The simulated subject streaming live: its own protocol, or following a presenter's markers."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pylsl

from rtdecode.config import PipelineConfig
from rtdecode.io.markers import parse_marker, stimulus_marker
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.live import LiveSimulator
from rtdecode.sim.subject import SimulatedSubject
from rtdecode.streams.lsl_utils import make_outlet, resolve_stream
from rtdecode.streams.reader import MarkerReader, StreamReader

CONFIG = SimulationConfig(n_classes=2, images_per_class=4, n_channels=8, lead_in_s=0.5, break_s=1.0)


def _wait(predicate, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_own_protocol_streams_eeg_and_markers_in_real_time():
    name = f"test-sim-{uuid.uuid4().hex[:8]}"
    sim = LiveSimulator(CONFIG, name=name)
    reader = StreamReader(resolve_stream(name, 10), PipelineConfig()).start()
    markers = MarkerReader(resolve_stream(f"{name}-markers", 10)).start()
    try:
        sim.start()
        assert _wait(lambda: sim.join(timeout=0.1), timeout=20)  # 0.5 + 4 + 1 s protocol
        assert _wait(lambda: reader.buffer.total >= sim.samples_pushed)
        got = []
        while (item := markers.get(timeout=0.5)) is not None:
            got.append(parse_marker(item[1]))
    finally:
        reader.stop()
        markers.stop()
    assert reader.channel_names == SimulatedSubject(CONFIG).channel_names
    assert reader.health.gaps == 0
    assert sum(e["event"] == "stimulus" for e in got) == 8
    assert sim.samples_pushed == SimulatedSubject(CONFIG).session_samples()


def test_following_a_presenter_responds_to_known_images_only():
    name = f"test-follow-{uuid.uuid4().hex[:8]}"
    presenter = make_outlet(f"{name}-presenter", "Markers", 1, 0.0, "string", uuid.uuid4().hex)
    follow = MarkerReader(resolve_stream(f"{name}-presenter", 10)).start()
    sim = LiveSimulator(CONFIG, name=name, follow=follow).start()
    try:
        assert sim.marker_outlet is None  # the presenter owns the markers
        assert _wait(presenter.have_consumers)
        image = SimulatedSubject(CONFIG).image_ids[0]
        presenter.push_sample([stimulus_marker(image, 0, "sorrel")], pylsl.local_clock())
        presenter.push_sample([stimulus_marker("not-an-image", 1, "x")], pylsl.local_clock())
        assert _wait(lambda: sim.presented == 1 and sim.ignored_markers == 1)
        assert np.isfinite(sim.t0)
    finally:
        sim.stop()
        follow.stop()
