"""Two live sources whose outlets share a name: the streams of one source are taken together,
the choice is logged, a source that nothing tells apart is refused, and a missing stream is
reported within the time asked for."""

from __future__ import annotations

import logging
import time
import uuid

import pylsl
import pytest

from rtdecode.streams.lsl_utils import (
    AmbiguousStreamsError,
    StreamNotFoundError,
    make_outlet,
    outlet_source_id,
    resolve_queries,
)
from rtdecode.streams.recorder import Recorder
from tests.bundles import make_bundle

SFREQ = 250.0


def _source(name: str, source_id: str) -> tuple[pylsl.StreamOutlet, pylsl.StreamOutlet]:
    """An EEG outlet ``name`` and its marker outlet ``name-markers``, as `rtdecode replay` makes them."""
    eeg = make_outlet(name, "EEG", 2, SFREQ, "float32", source_id, channel_names=["Cz", "Pz"])
    markers = make_outlet(f"{name}-markers", "Markers", 1, 0.0, "string", f"{source_id}-markers")
    return eeg, markers


@pytest.fixture
def two_sources():
    """Two sources of one (unique) name, the second started after the first."""
    name = f"test-same-{uuid.uuid4().hex[:8]}"
    first_id, second_id = f"first-{uuid.uuid4().hex[:8]}", f"second-{uuid.uuid4().hex[:8]}"
    first = _source(name, first_id)
    time.sleep(0.05)  # distinct creation times: "the most recently started" is the second
    second = _source(name, second_id)
    yield name, first_id, second_id
    del first, second


def test_same_named_sources_are_paired_by_source_and_the_choice_is_logged(two_sources, caplog):
    name, first_id, second_id = two_sources
    queries = [f"name={name}", f"name={name}-markers"]
    for _ in range(4):  # liblsl lists the streams in no fixed order: the pair must not depend on it
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rtdecode.streams.lsl_utils"):
            eeg, markers = resolve_queries(queries, timeout=10)
        assert (eeg.source_id(), markers.source_id()) == (second_id, f"{second_id}-markers")
        note = caplog.text
        assert first_id in note and second_id in note and "most recently started of 2 sources" in note
    # --source-id names the other source: its own marker stream comes with it
    eeg, markers = resolve_queries(queries, timeout=10, source_id=first_id)
    assert (eeg.source_id(), markers.source_id()) == (first_id, f"{first_id}-markers")


def test_a_live_session_takes_the_eeg_and_markers_of_one_source(two_sources, tmp_path):
    from rtdecode.io.bundle import load_bundle
    from rtdecode.streams.live_session import LiveSession

    name, first_id, second_id = two_sources
    bundle = load_bundle(make_bundle(tmp_path / "model", ["Cz", "Pz"], ["a", "b"], sfreq=SFREQ))
    for source_id, expected in ((None, second_id), (first_id, first_id)):
        session = LiveSession(
            bundle, stream=name, markers=f"{name}-markers", device="cpu", timeout=10, source_id=source_id
        )
        try:
            session.connect()
            assert session.reader.info.source_id() == expected
            assert session.marker_reader.info.source_id() == f"{expected}-markers"
        finally:
            session.stop()


def test_copies_with_one_source_id_are_refused_with_the_candidates():
    name = f"test-copies-{uuid.uuid4().hex[:8]}"
    source_id = f"copy-{uuid.uuid4().hex[:8]}"
    copies = [_source(name, source_id), _source(name, source_id)]  # noqa: F841 (kept alive: visible)
    with pytest.raises(AmbiguousStreamsError) as caught:
        resolve_queries([name, f"{name}-markers"], timeout=10)
    message = str(caught.value)
    assert "cannot tell which streams belong to one source" in message
    assert message.count(f"source_id {source_id!r}") == 2 and "--source-id" in message


def test_a_recorder_records_one_sources_streams(two_sources, tmp_path):
    name, first_id, second_id = two_sources
    path = tmp_path / "paired.xdf"
    recorder = Recorder(path, [name, f"{name}-markers"], resolve_timeout=10).start()
    stats = recorder.stop()
    assert [s.source_id for s in stats] == [second_id, f"{second_id}-markers"]
    # no stream named: the named source's EEG and its markers, not the other source's
    path = tmp_path / "default.xdf"
    recorder = Recorder(path, None, resolve_timeout=10, source_id=first_id).start()
    stats = recorder.stop()
    assert [s.source_id for s in stats] == [first_id, f"{first_id}-markers"]


def test_a_second_outlet_of_a_name_is_warned_about_and_gets_its_own_source_id(two_sources, caplog):
    name, first_id, _ = two_sources
    with caplog.at_level(logging.WARNING, logger="rtdecode.streams.lsl_utils"):
        assert outlet_source_id([name], None, first_id, what="replay") != first_id
        assert outlet_source_id([name], "mine", first_id, what="replay") == "mine"  # the user's is kept
    assert f"replay: a stream named {name!r} is already on the network" in caplog.text
    caplog.clear()
    fresh = f"test-fresh-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.WARNING, logger="rtdecode.streams.lsl_utils"):
        assert outlet_source_id([fresh], None, "default-id", what="replay") == "default-id"
    assert caplog.text == ""


@pytest.mark.parametrize("timeout", [0.5, 1.0])
def test_a_missing_stream_is_reported_within_the_timeout(timeout):
    missing = f"test-missing-{uuid.uuid4().hex[:8]}"
    start = time.monotonic()
    with pytest.raises(StreamNotFoundError, match=f"within {timeout:g} s"):
        resolve_queries([missing, f"{missing}-markers"], timeout=timeout)
    # liblsl's one-shot resolve overran such timeouts by 5 s (10 s for two streams)
    assert time.monotonic() - start < timeout + 2.5
