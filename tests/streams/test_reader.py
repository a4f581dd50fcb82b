"""The stream reader on real loopback LSL streams: counters, gaps, NaN, loss and return."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pylsl
import pytest

from rtdecode.config import PipelineConfig
from rtdecode.signal.filters import SegmentedFilter
from rtdecode.streams.lsl_utils import StreamNotFoundError, resolve_stream
from rtdecode.streams.reader import StreamReader

SFREQ = 500.0
N_CH = 4


def _outlet(name: str, source_id: str) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, "EEG", N_CH, SFREQ, "float32", source_id)
    chans = info.desc().append_child("channels")
    for i in range(N_CH):
        chans.append_child("channel").append_child_value("label", f"C{i}")
    return pylsl.StreamOutlet(info, chunk_size=0, max_buffered=60)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def stream():
    name, source = f"test-reader-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    outlet = _outlet(name, source)
    reader = StreamReader(resolve_stream(name, timeout=10), PipelineConfig(sfreq=SFREQ), buffer_s=30)
    reader.start()
    assert _wait(outlet.have_consumers)
    yield outlet, reader, name, source
    reader.stop()


def _push(outlet, counter_start, n, t0, step=1 / SFREQ):
    data = np.zeros((n, N_CH), dtype=np.float32)
    data[:, 0] = np.arange(counter_start, counter_start + n)
    data[:, 1:] = np.random.default_rng(counter_start).normal(scale=10, size=(n, N_CH - 1))
    ts = t0 + np.arange(n) * step
    outlet.push_chunk(data, ts)
    return data, ts


def test_odd_chunks_arrive_complete_in_order_and_filtered_like_offline(stream):
    outlet, reader, _, _ = stream
    t0, counter, sent, stamps = pylsl.local_clock(), 0, [], []
    for size in [1, 7, 33, 250, 3, 499, 64, 1, 120, 22] * 3:
        data, ts = _push(outlet, counter, size, t0 + counter / SFREQ)
        sent.append(data)
        stamps.append(ts)
        counter += size
        time.sleep(0.005)
    assert _wait(lambda: reader.buffer.total >= counter)
    window = reader.read(0)
    np.testing.assert_array_equal(window.raw[:, 0], np.arange(counter))
    sent, stamps = np.concatenate(sent), np.concatenate(stamps)
    np.testing.assert_allclose(window.timestamps, stamps, atol=1e-3)  # clock sync on one machine
    expected = SegmentedFilter(PipelineConfig(sfreq=SFREQ), N_CH).process(sent, window.timestamps)
    np.testing.assert_allclose(window.filtered, expected, rtol=1e-5, atol=1e-4)
    assert reader.health.gaps == 0 and reader.health.resets == 0
    assert reader.channel_names == [f"C{i}" for i in range(N_CH)]


def test_true_gaps_nan_and_repeated_stamps_are_reported_and_every_sample_is_kept(stream):
    outlet, reader, _, _ = stream
    t0 = pylsl.local_clock()
    _push(outlet, 0, 200, t0)
    _push(outlet, 250, 400, t0 + 250 / SFREQ)  # 50 samples never delivered
    bad, ts = _push(outlet, 650, 100, t0 + 650 / SFREQ)
    bad[10:15, 2] = np.nan
    outlet.push_chunk(bad, ts + 100 / SFREQ)
    outlet.push_chunk(bad[:5], ts[:5] + 100 / SFREQ)  # stamps that go back: a reset, samples kept
    assert _wait(lambda: reader.buffer.total >= 805 and reader.health.gaps >= 1 and reader.health.resets >= 1)
    kinds = {e.kind for e in reader.drain_events()}
    assert {"gap", "nan", "reset"} <= kinds
    assert reader.health.gaps == 1 and abs(reader.health.missing_samples - 50) <= 2
    window = reader.read(0)
    assert len(window.timestamps) == 805  # no sample is dropped for its timestamp
    assert np.all(np.diff(window.timestamps) > 0)  # the smoothed time base always increases
    np.testing.assert_allclose(
        window.raw_timestamps[-5:], ts[:5] + 100 / SFREQ, atol=1e-3
    )  # raw, clock-synced


def test_lost_stream_is_reported_and_reconnects():
    name, source = f"test-lost-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    outlets = [_outlet(name, source)]
    reader = StreamReader(resolve_stream(name, timeout=10), PipelineConfig(sfreq=SFREQ))
    reader.start()
    try:
        assert _wait(outlets[0].have_consumers)
        _push(outlets[0], 0, 100, pylsl.local_clock())
        assert _wait(lambda: reader.buffer.total >= 100)
        outlets.clear()  # the only reference: the source goes away
        gone = time.monotonic()
        assert _wait(lambda: not reader.health.connected, timeout=5)
        assert time.monotonic() - gone < 3  # reported within about a second
        assert any(e.kind == "lost" for e in reader.drain_events())
        outlets.append(_outlet(name, source))  # same source_id: LSL recovers the inlet
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not reader.health.connected:
            _push(outlets[0], 1000, 20, pylsl.local_clock())
            time.sleep(0.1)
        assert reader.health.connected
        assert any(e.kind == "reconnected" for e in reader.drain_events())
        # The outage is a gap, reported once half a second of data after it has measured its size.
        counter = 1020
        while time.monotonic() < deadline and reader.health.gaps == 0:
            _push(outlets[0], counter, 20, pylsl.local_clock())
            counter += 20
            time.sleep(0.02)
        assert reader.health.gaps == 1 and reader.health.missing_samples > 0
    finally:
        reader.stop()


def test_unknown_stream_lists_what_is_visible():
    name = f"test-visible-{uuid.uuid4().hex[:8]}"
    outlet = _outlet(name, uuid.uuid4().hex)  # noqa: F841 (kept alive so it is visible)
    with pytest.raises(StreamNotFoundError, match=name):
        resolve_stream("no-such-stream-" + uuid.uuid4().hex[:6], timeout=0.5)
