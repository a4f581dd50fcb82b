"""Replay of a Recording as LSL outlets: no loss, original spacing, markers, loop, stop."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from rtdecode import cli  # noqa: E402
from rtdecode.cli import main  # noqa: E402
from rtdecode.io.recording import Marker, Recording  # noqa: E402
from rtdecode.io.xdf import write_xdf  # noqa: E402
from rtdecode.streams.player import Player, marker_stream_name  # noqa: E402

SFREQ = 500.0


def make_recording(seconds: float = 4.0, n_channels: int = 8, t_first: float = 1000.0) -> Recording:
    """Counter in channel 0, noise elsewhere, a stimulus marker every 0.7 s from 0.25 s."""
    n = int(seconds * SFREQ)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, n_channels)).astype(np.float32)
    data[:, 0] = np.arange(n)
    stamps = t_first + np.arange(n) / SFREQ
    markers = [
        Marker(t_first + 0.25 + 0.7 * k, json.dumps({"event": "stimulus", "label": k, "class": f"c{k}"}))
        for k in range(int((seconds - 0.25) / 0.7) + 1)
    ]
    return Recording(data, stamps, SFREQ, [f"E{i}" for i in range(n_channels)], markers)


def unique_name() -> str:
    return f"test-replay-{uuid.uuid4().hex[:12]}"


def connect(source_id: str) -> pylsl.StreamInlet:
    infos = pylsl.resolve_byprop("source_id", source_id, 1, 10.0)
    assert infos, f"stream {source_id} not visible"
    inlet = pylsl.StreamInlet(infos[0], max_buflen=60)
    inlet.open_stream(timeout=10.0)  # subscribed before the first push: nothing is missed
    return inlet


def receive(
    eeg: pylsl.StreamInlet, markers: pylsl.StreamInlet, n_samples: int, timeout: float = 20.0
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Pull until n_samples EEG samples arrived; returns data, stamps, marker texts, stamps, arrivals."""
    data, stamps, texts, mstamps, arrivals = [], [], [], [], []
    deadline = time.monotonic() + timeout
    got = 0
    while got < n_samples and time.monotonic() < deadline:
        chunk, ts = eeg.pull_chunk(timeout=0.02, max_samples=4096, as_numpy=True)
        if len(ts):
            data.append(chunk.copy())
            stamps.append(ts)
            got += len(ts)
        m, mts = markers.pull_chunk(timeout=0.0, max_samples=100)
        now = pylsl.local_clock()
        texts += [row[0] for row in m]
        mstamps += list(mts)
        arrivals += [now] * len(mts)
    m, mts = markers.pull_chunk(timeout=0.5, max_samples=100)  # markers after the last sample
    texts += [row[0] for row in m]
    mstamps += list(mts)
    arrivals += [pylsl.local_clock()] * len(mts)
    assert got >= n_samples, f"received {got} of {n_samples} samples within {timeout} s"
    return (
        np.concatenate(data),
        np.concatenate(stamps),
        texts,
        np.asarray(mstamps, dtype=np.float64),
        np.asarray(arrivals, dtype=np.float64),
    )


def test_outlets_describe_the_recording() -> None:
    rec = make_recording(seconds=0.5)
    player = Player(rec, unique_name())
    try:
        eeg = connect(player.source_id).info(timeout=10.0)
        assert (eeg.name(), eeg.type(), eeg.channel_count()) == (player.name, "EEG", 8)
        assert eeg.nominal_srate() == SFREQ and eeg.channel_format() == pylsl.cf_float32
        assert eeg.get_channel_labels() == rec.channel_names
        assert eeg.get_channel_units() == ["microvolts"] * 8
        marks = connect(f"{player.source_id}-markers").info(timeout=10.0)
        assert marks.name() == marker_stream_name(player.name) == f"{player.name}-markers"
        assert (marks.type(), marks.channel_count(), marks.channel_format()) == (
            "Markers",
            1,
            pylsl.cf_string,
        )
        assert marks.nominal_srate() == pylsl.IRREGULAR_RATE
    finally:
        player.close()


@pytest.mark.parametrize("speed", [4.0, 0.0])
def test_replay_delivers_every_sample_with_original_spacing(speed: float) -> None:
    rec = make_recording()
    player = Player(rec, unique_name(), speed=speed)
    try:
        eeg, markers = connect(player.source_id), connect(f"{player.source_id}-markers")
        started = pylsl.local_clock()
        player.start()
        data, stamps, texts, mstamps, arrivals = receive(eeg, markers, rec.n_samples)
        assert player.join(timeout=10.0)
    finally:
        player.close()

    # every sample, in order, values intact
    np.testing.assert_array_equal(data[:, 0], np.arange(rec.n_samples))
    np.testing.assert_array_equal(data, rec.data)
    # re-based onto the local clock at start, spacing of the recording kept at any speed
    assert player.t0 is not None and started <= player.t0 < started + 5.0
    assert stamps[0] == pytest.approx(player.t0, abs=1e-9)
    np.testing.assert_allclose(stamps - stamps[0], rec.timestamps - rec.timestamps[0], atol=1e-6)
    # markers: all of them, in order, on the same re-based clock
    assert texts == [m.text for m in rec.markers]
    expected = np.array([m.timestamp for m in rec.markers]) - rec.timestamps[0]
    np.testing.assert_allclose(mstamps - stamps[0], expected, atol=1e-6)
    if math.isfinite(player.speed):
        # paced: a marker cannot arrive before the (speed-compressed) moment it is due;
        # the late bound is generous, the machine may be busy
        due = player.t0 + expected / speed
        assert np.all(arrivals >= due - 0.05), arrivals - due
        assert np.all(arrivals <= due + 3.0), arrivals - due
        assert player.progress().samples_pushed == rec.n_samples


def test_the_end_of_a_run_and_markers_in_the_pause_go_out_before_the_next_run() -> None:
    rec = make_recording(seconds=2.0)
    hole = 503  # not on a chunk boundary: the run's last samples must not wait for the next run
    stamps = rec.timestamps.copy()
    stamps[hole:] += 3.0  # the stream stops for 3 s between two runs
    # block_end on the run's last sample (as the N170 files have it), and a marker in the pause
    markers = [
        Marker(stamps[hole - 1], '{"event": "block_end", "block": 0}'),
        Marker(stamps[hole - 1] + 0.5, '{"event": "note"}'),
    ]
    rec = Recording(rec.data, stamps, SFREQ, rec.channel_names, markers)
    player = Player(rec, unique_name(), speed=2.0)
    try:
        eeg, inlet = connect(player.source_id), connect(f"{player.source_id}-markers")
        player.start()
        _, got, texts, mstamps, arrivals = receive(eeg, inlet, rec.n_samples)
        assert player.join(timeout=10.0)
    finally:
        player.close()
    assert texts == [m.text for m in markers]
    np.testing.assert_allclose(mstamps - got[0], [m.timestamp - stamps[0] for m in markers], atol=1e-6)
    due = player.t0 + (np.array([m.timestamp for m in markers]) - stamps[0]) / 2.0
    resumed = player.t0 + (stamps[hole] - stamps[0]) / 2.0
    # each at its (speed-compressed) time, before the next run, not with its first chunk
    assert np.all(arrivals >= due - 0.05) and np.all(arrivals < resumed - 0.5), (
        arrivals - due,
        resumed - due,
    )


def test_as_fast_replay_waits_for_a_consumer() -> None:
    rec = make_recording(seconds=1.0)
    with Player(rec, unique_name(), speed=0.0, wait_for_consumers=20.0) as player:
        time.sleep(0.2)  # started before anyone listens: nothing may be pushed into the void
        assert player.progress().samples_pushed == 0
        eeg, markers = connect(player.source_id), connect(f"{player.source_id}-markers")
        data, _, texts, _, _ = receive(eeg, markers, rec.n_samples)
        assert player.join(timeout=10.0)
    np.testing.assert_array_equal(data[:, 0], np.arange(rec.n_samples))
    assert texts == [m.text for m in rec.markers]  # it waited for the marker consumer too


def test_loop_continues_timestamps_monotonically_and_stop_is_prompt() -> None:
    rec = make_recording(seconds=0.5)  # 250 samples, one marker at 0.25 s
    player = Player(rec, unique_name(), speed=8.0, loop=True)
    try:
        eeg, markers = connect(player.source_id), connect(f"{player.source_id}-markers")
        player.start()
        n = 3 * rec.n_samples + 10
        data, stamps, texts, mstamps, _ = receive(eeg, markers, n)
        asked = time.monotonic()
        player.stop()
        assert player.join(timeout=5.0)
        assert time.monotonic() - asked < 5.0
        assert not player.running
    finally:
        player.close()

    passes = len(data) // rec.n_samples
    np.testing.assert_array_equal(data[:, 0], np.tile(np.arange(rec.n_samples), passes + 1)[: len(data)])
    steps = np.diff(stamps)
    assert np.all(steps > 0)
    # the joint between passes is one regular sample period too
    np.testing.assert_allclose(steps, 1.0 / SFREQ, atol=1e-6)
    assert len(texts) >= 3 and set(texts) == {rec.markers[0].text}
    np.testing.assert_allclose(np.diff(mstamps[:3]), rec.duration_s, atol=1e-6)


def test_stop_during_real_time_replay_ends_promptly() -> None:
    rec = make_recording(seconds=4.0)
    with Player(rec, unique_name(), speed=1.0) as player:
        time.sleep(0.3)
        asked = time.monotonic()
        player.stop()
        assert player.join(timeout=5.0)
        assert time.monotonic() - asked < 5.0
        assert player.progress().samples_pushed < rec.n_samples


def test_invalid_arguments_are_refused() -> None:
    rec = make_recording(seconds=0.1)
    with pytest.raises(ValueError, match="speed"):
        Player(rec, unique_name(), speed=-1.0)
    with pytest.raises(ValueError, match="finite speed"):
        Player(rec, unique_name(), speed=0.0, loop=True)
    with pytest.raises(ValueError, match="chunk_samples"):
        Player(rec, unique_name(), chunk_samples=0)
    empty = Recording(np.zeros((0, 2)), np.zeros(0), SFREQ, ["a", "b"])
    with pytest.raises(ValueError, match="no samples"):
        Player(empty, unique_name())


def test_cli_replay_serves_a_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # other packages' subcommands (calibration imports torch) are not under test here
    monkeypatch.setattr(cli, "_add_plugin_commands", lambda sub: None)
    rec = make_recording(seconds=0.5, n_channels=3)
    path = tmp_path / "session.xdf"
    write_xdf(path, rec)
    name = unique_name()
    with caplog.at_level(logging.INFO):
        assert main(["replay", str(path), "--speed", "0", "--wait-for-consumer", "0.2", "--name", name]) == 0
    text = caplog.text
    assert f"serving EEG stream {name!r} (3 channels, 500 Hz" in text
    assert f"{name}-markers" in text and "replay finished: 250 samples" in text
