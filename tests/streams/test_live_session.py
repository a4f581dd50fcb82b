"""LiveSession: resolves a source's streams, runs reader + marker reader + decoder, stops them all."""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest
import torch

from rtdecode.config import PipelineConfig
from rtdecode.decoder import StreamMismatch, predict_recording
from rtdecode.io.bundle import ModelBundle
from rtdecode.models.student import StudentCNN, StudentConfig
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session
from rtdecode.streams.live_session import LiveSession
from rtdecode.streams.player import Player, marker_stream_name


@pytest.fixture(scope="module")
def recording():
    # 12 stimuli of 3 classes, 8 channels: about 8 s of EEG.
    return simulate_session(
        SimulationConfig(n_classes=3, images_per_class=4, n_channels=8, seed=5, lead_in_s=1.0)
    )


def _bundle(recording, channel_names=None) -> ModelBundle:
    """A random-weight student over the recording's classes (named as its markers name them)."""
    torch.manual_seed(0)
    events = [event for _, event in recording.stimulus_events()]
    class_names = [name for _, name in sorted({(e["label"], e["class"]) for e in events})]
    config = StudentConfig(n_channels=recording.n_channels, n_classes=len(class_names), widths=(8, 8))
    n = recording.n_channels
    return ModelBundle(
        StudentCNN(config).eval(),
        config,
        PipelineConfig(sfreq=recording.sfreq),
        Standardizer.from_dict({"mean": np.zeros(n), "std": np.full(n, 5.0)}),
        class_names,
        list(channel_names or recording.channel_names),
        recording.sfreq,
    )


def _player(recording) -> Player:
    """The recording's EEG and marker outlets under a unique name (visible at once, pushing on start)."""
    name = f"test-session-{uuid.uuid4().hex[:8]}"
    return Player(recording, name, source_id=uuid.uuid4().hex, wait_for_consumers=15.0)


def test_a_replay_decoded_through_a_live_session_matches_predict(recording):
    bundle = _bundle(recording)
    offline = predict_recording(bundle, recording, device="cpu")
    assert len(offline) == 12
    player = _player(recording)
    seen = []
    before = set(threading.enumerate())
    session = LiveSession(
        bundle,
        stream=f"source_id={player.source_id}",
        markers=marker_stream_name(player.name),
        device="cpu",
        timeout=10,
        on_prediction=seen.append,
    )
    try:
        with session:
            started = set(threading.enumerate()) - before
            assert session.mode == "marker" and session.reader.name == player.name
            player.start()
            player.join(timeout=60)
            deadline = time.monotonic() + 10
            while (
                session.reader.buffer.total < player.progress().samples_pushed and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            time.sleep(0.5)  # the last epochs' decoding
    finally:
        player.close()
    assert len(started) == 3  # EEG acquisition, marker acquisition, decode worker
    assert not any(thread.is_alive() for thread in started)
    assert [p.marker for p in seen] == [p.marker for p in offline]
    for live, file in zip(seen, offline, strict=True):
        np.testing.assert_allclose(live.proba, file.proba, rtol=1e-3, atol=1e-4)
    # Every marker names a class of the model: all are scored, none left out.
    hits = sum(p.label == p.marker["class"] for p in offline)
    assert (session.tally.known, session.tally.hits, dict(session.tally.unknown)) == (12, hits, {})
    assert session.decoder.skipped == {}


def test_a_live_session_stops_its_threads_when_the_body_raises(recording):
    player = _player(recording)
    before = set(threading.enumerate())
    try:
        with pytest.raises(RuntimeError, match="the body failed"):
            with LiveSession(
                _bundle(recording), stream=player.name, markers=player.marker_name, device="cpu", timeout=10
            ):
                started = set(threading.enumerate()) - before
                raise RuntimeError("the body failed")
    finally:
        player.close()
    assert len(started) == 3
    assert not any(thread.is_alive() for thread in started)


def test_a_stream_that_does_not_fit_the_model_is_refused_and_its_readers_stopped(recording):
    player = _player(recording)
    bundle = _bundle(recording, channel_names=[f"X{i}" for i in range(recording.n_channels)])
    before = set(threading.enumerate())
    try:
        with pytest.raises(StreamMismatch, match="channel names"):
            with LiveSession(bundle, stream=player.name, markers=None, device="cpu", timeout=10):
                pytest.fail("the body of a refused session must not run")
    finally:
        player.close()
    assert not any(thread.is_alive() for thread in set(threading.enumerate()) - before)


def test_options_are_keyword_only_and_checked_before_anything_starts(recording):
    bundle = _bundle(recording)
    with pytest.raises(TypeError):
        LiveSession(bundle, "type=EEG")
    with pytest.raises(ValueError, match="marker-locked decoding needs a marker stream"):
        LiveSession(bundle, markers=None, mode="marker")
    with pytest.raises(ValueError, match="mode must be 'marker' or 'sliding'"):
        LiveSession(bundle, mode="both")
    with pytest.raises(ValueError, match="cannot read stream query"):
        LiveSession(bundle, stream="kind=EEG")
    assert LiveSession(bundle, markers=None).mode == "sliding"
    assert LiveSession(bundle).mode == "marker"
    assert LiveSession(bundle, mode="sliding").markers is None  # not resolved, not read
    stopped = LiveSession(bundle)
    stopped.stop()
    with pytest.raises(RuntimeError, match="runs once"):
        stopped.start()


# -- markers as labs send them: plain codes over LSL -----------------------------------------------


def _plain_session(seed: int, runs: int = 3):
    """A PsychoPy-style session (plain "1" / "2" markers, no block markers, pauses between runs),
    the same markers mapped, and the mapping."""
    from rtdecode.io.marker_mapping import MarkerMapping, map_markers
    from rtdecode.io.recording import Recording
    from tests.recording_files import LAB_EVENTS, lab_session

    plain, _, stimulus_runs = lab_session(seed=seed)
    if runs < 3:
        last = plain.markers[stimulus_runs.index(runs)].timestamp - 1.5
        keep = plain.timestamps < last
        markers = [m for m in plain.markers if m.timestamp < last]
        plain = Recording(plain.data[keep], plain.timestamps[keep], plain.sfreq, plain.channel_names, markers)
    markers, mapping = map_markers(plain.markers, MarkerMapping.parse(LAB_EVENTS), "session")
    mapped = Recording(plain.data, plain.timestamps, plain.sfreq, plain.channel_names, markers)
    return plain, mapped, mapping


def test_plain_string_markers_are_decoded_with_the_mapping_the_bundle_remembers():
    from tests.live_replay import decode_replay

    plain, mapped, mapping = _plain_session(seed=1)
    bundle = _bundle(mapped)
    bundle.extra["marker_mapping"] = mapping.to_dict()
    offline = predict_recording(bundle, mapped, device="cpu")
    assert len(offline) == 36
    # The outlet sends "1" and "2" as a presenter does; the session is given no mapping.
    run = decode_replay(plain, bundle, speed=4.0)
    assert [p.marker["code"] for p in run.predictions] == [p.marker["code"] for p in offline]
    assert [p.marker["class"] for p in run.predictions] == [p.marker["class"] for p in offline]
    assert [p.label for p in run.predictions] == [p.label for p in offline]
    assert not run.decoder.unmatched


def test_live_without_a_mapping_ends_with_one_line_naming_the_codes(tmp_path, capsys):
    from rtdecode.cli import main
    from rtdecode.io.bundle import save_bundle

    plain, mapped, _ = _plain_session(seed=2, runs=1)
    model = save_bundle(_bundle(mapped), tmp_path / "model")  # calibrated without --events
    player = _player(plain)
    try:
        player.start()
        code = main(
            ["live", "--model", str(model), "--stream", player.name, "--markers", marker_stream_name(player.name),
             "--duration", "9", "--device", "cpu", "--jsonl"]
        )  # fmt: skip
    finally:
        player.close()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(lines) == 1, err
    assert "1 (" in lines[0] and "2 (" in lines[0] and "--events 1=CLASS,2=CLASS" in lines[0]


def test_a_numeric_marker_stream_gives_the_codes_files_give():
    import pylsl

    from rtdecode.streams.reader import MarkerReader

    name = f"test-int-markers-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "Markers", 1, 0, "int32", uuid.uuid4().hex)
    outlet = pylsl.StreamOutlet(info)
    found = pylsl.resolve_byprop("name", name, timeout=5)
    reader = MarkerReader(found[0]).start(open_timeout=5)
    try:
        deadline = time.monotonic() + 5
        while not outlet.have_consumers() and time.monotonic() < deadline:
            time.sleep(0.05)
        outlet.push_sample([2])
        item = reader.get(timeout=5)
    finally:
        reader.stop()
    assert item is not None and item[1] == "2"
