"""Which streams belong to one source, without a network: the table of cases a lab meets."""

from __future__ import annotations

import pytest

from rtdecode.streams.pairing import (
    AmbiguousStreamsError,
    StreamIdentity,
    link,
    pair_recording,
    pair_streams,
    restrict,
)


def stream(name: str, source_id: str, host: str = "lab-pc", created: float = 0.0, kind: str = "EEG"):
    return StreamIdentity(
        name, kind, source_id, host, created_at=created, uid=f"{name}|{source_id}|{created}"
    )


def markers(name: str, source_id: str, host: str = "lab-pc", created: float = 0.0):
    return stream(name, source_id, host, created, kind="Markers")


# Two `rtdecode replay --name X` (different source_ids), the second started later.
A, A_M = stream("X", "replay-a", created=1.0), markers("X-markers", "replay-a-markers", created=1.0)
B, B_M = stream("X", "replay-b", created=2.0), markers("X-markers", "replay-b-markers", created=2.0)
# The same command twice with the default source_id: nothing tells the copies apart.
C1, C1_M = stream("X", "replay-X", created=1.0), markers("X-markers", "replay-X-markers", created=1.0)
C2, C2_M = stream("X", "replay-X", created=2.0), markers("X-markers", "replay-X-markers", created=2.0)
# An amplifier on the acquisition PC, a presenter (and a stale copy of it) on the stimulus PC.
AMP = stream("BrainAmp", "amp-serial-1", host="acq")
AMP2 = stream("BrainAmp", "amp-serial-2", host="acq", created=5.0)
AMP_TRIGGERS = markers("BrainAmp-Markers", "amp-serial-1-markers", host="acq")
PRESENTER = markers("psychopy", "presenter-1", host="stim")
PRESENTER_STALE = markers("psychopy", "presenter-0", host="stim")


@pytest.mark.parametrize(
    ("eeg", "marker", "chosen", "note"),
    [
        # one of each, on two computers: the usual lab, nothing to pair
        ([AMP], [PRESENTER], (AMP, PRESENTER), ""),
        # two same-named sources: each EEG with its own markers; the newer source, said so
        ([A, B], [A_M, B_M], (B, B_M), "most recently started of 2 sources"),
        ([B, A], [B_M, A_M], (B, B_M), "most recently started of 2 sources"),
        # the newer EEG has no markers of its own: the older source is the only complete one
        ([A, B], [A_M], (A, A_M), "chose one source"),
        # the amplifier's own trigger stream is preferred to a marker stream on another computer
        ([AMP], [PRESENTER, AMP_TRIGGERS], (AMP, AMP_TRIGGERS), "chose one source"),
        # sliding mode: one query, two same-named sources: the newer
        ([A, B], None, (B,), "most recently started of 2 sources"),
    ],
)
def test_the_streams_of_one_source_are_paired(eeg, marker, chosen, note):
    pools = [eeg] if marker is None else [eeg, marker]
    what = ["EEG stream name=X", "marker stream name=X-markers"][: len(pools)]
    pairing = pair_streams(pools, what)
    assert pairing.chosen == chosen
    assert (note in pairing.note) if note else pairing.note == ""
    if note:  # every candidate is listed
        assert all(s.label in pairing.note for pool in pools for s in pool)


@pytest.mark.parametrize(
    ("eeg", "marker", "why"),
    [
        ([C1, C2], [C1_M, C2_M], "copies with one source_id"),
        ([AMP], [PRESENTER, PRESENTER_STALE], "two presenters, nothing links either to the amplifier"),
        ([AMP, AMP2], [PRESENTER], "two amplifiers of one make claim the one presenter"),
    ],
)
def test_streams_that_nothing_pairs_are_refused_with_the_candidates(eeg, marker, why):
    with pytest.raises(AmbiguousStreamsError) as caught:
        pair_streams([eeg, marker], ["EEG stream name=X", "marker stream type=Markers"])
    message = str(caught.value)
    assert "cannot tell which streams belong to one source" in message, why
    assert all(s.label in message for s in (*eeg, *marker)), why
    assert "--source-id" in message and "--host" in message
    assert "\n" not in message  # one line


def test_links_need_one_host_and_a_source_id_or_name_that_extends():
    assert link(A, A_M) == 4  # host + source_id + name
    assert link(A, B_M) == 2  # host + name: another source of the same name
    assert link(AMP, PRESENTER) == 0  # another computer
    assert link(stream("amp1", "amp1"), markers("m", "amp10-markers")) == 1  # amp10 does not extend amp1
    assert link(stream("X", "s"), StreamIdentity("X-markers", "Markers", "s-markers", "lab-pc", "other")) == 0


def test_the_named_source_restricts_the_candidates():
    assert restrict([[A, B], [A_M, B_M]], source_id="replay-a") == [[A], [A_M]]
    # the EEG's source_id exactly: "replay-a" is not "replay-a2"
    a2 = stream("X", "replay-a2")
    assert restrict([[A, a2], [A_M]], source_id="replay-a")[0] == [A]
    # a presenter on another computer stays a candidate when the source's host has none
    assert restrict([[AMP, A], [PRESENTER]], host="acq") == [[AMP], [PRESENTER]]
    # a source that is not there: no EEG candidate (the caller keeps waiting, then says so)
    assert restrict([[A, B], [A_M]], source_id="nope") == [[], [A_M]]


def test_a_recorder_takes_one_source_and_the_markers_of_no_other():
    pairing = pair_recording([A, B], [A_M, B_M, PRESENTER])
    assert pairing.chosen == (B, B_M, PRESENTER)
    assert "left out" in pairing.note and A.label in pairing.note and A_M.label in pairing.note
    everything = pair_recording([AMP], [PRESENTER, AMP_TRIGGERS])  # one source: all of it, as before
    assert everything.chosen == (AMP, PRESENTER, AMP_TRIGGERS) and everything.note == ""
    with pytest.raises(AmbiguousStreamsError, match="2 marker streams named 'psychopy'"):
        pair_recording([AMP], [PRESENTER, PRESENTER_STALE])
