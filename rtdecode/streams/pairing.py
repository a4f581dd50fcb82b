"""Which visible streams belong to one source, when names alone cannot tell.

Two outlets may carry the same name: two ``rtdecode replay --name X``, two amplifiers of one make,
a second presenter left running. Taking the first EEG stream and the first marker stream that
match their queries then pairs the EEG of one source with the markers of another about half of
the time, and decoding falls to chance without a word. Here the streams asked for are chosen
together, as the streams of one source:

- a stream *belongs* to an EEG stream's source by its **link** (:func:`link`): same host and LSL
  session, a ``source_id`` that extends the EEG's (``S`` and ``S-markers``, the convention of
  ``rtdecode replay``, ``simulate --live`` and many amplifier connectors), a name that extends it
  (``X`` and ``X-markers``);
- every EEG candidate gets the best-linked candidate of each other query; it is refused when
  that best link is shared by two candidates, or when the stream is linked better to another EEG
  candidate;
- one valid EEG candidate: chosen. Several, whose streams are all different: separate complete
  sources; the most recently started is chosen and the choice logged with every candidate.
  None, or several sharing a stream: :class:`AmbiguousStreamsError`, naming the candidates.

Nothing here talks to LSL: the functions take :class:`StreamIdentity` records, which
:mod:`rtdecode.streams.lsl_utils` makes from ``pylsl.StreamInfo`` and the windows from their
stream lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AmbiguousStreamsError",
    "Pairing",
    "StreamIdentity",
    "link",
    "pair_recording",
    "pair_streams",
    "restrict",
]

# Characters that end a source_id's stem: "amp1-markers" extends "amp1", "amp10" does not.
_SEPARATORS = "-_.:/ @#"


@dataclass(frozen=True)
class StreamIdentity:
    """What tells one LSL stream's source from another's.

    Attributes
    ----------
    name, type, source_id, hostname, session_id : str
        The StreamInfo fields of the same names.
    created_at : float
        When the outlet was created, on its host's LSL clock (compares streams of one host).
    uid : str
        The outlet's unique id (two outlets of one name and source_id still differ here).
    handle : object
        What the record was made from (a ``pylsl.StreamInfo``, a window's list entry); not
        compared.
    """

    name: str
    type: str
    source_id: str
    hostname: str
    session_id: str = "default"
    created_at: float = 0.0
    uid: str = ""
    handle: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, info: Any) -> StreamIdentity:
        """The identity of a ``pylsl.StreamInfo`` (kept as :attr:`handle`)."""
        return cls(
            name=info.name(),
            type=info.type(),
            source_id=info.source_id(),
            hostname=info.hostname(),
            session_id=info.session_id(),
            created_at=info.created_at(),
            uid=info.uid(),
            handle=info,
        )

    @property
    def label(self) -> str:
        """``'X' (source_id 'S', host 'H')``: enough to tell two same-named streams apart."""
        return f"{self.name!r} (source_id {self.source_id!r}, host {self.hostname!r})"


class AmbiguousStreamsError(ValueError):
    """The streams asked for match several sources and nothing tells which belong together.

    The message lists every candidate and how to name one source.
    """


@dataclass(frozen=True)
class Pairing:
    """The streams chosen, one per query, and what to log about the choice.

    Attributes
    ----------
    chosen : tuple of StreamIdentity
        In query order.
    note : str
        One line listing the candidates and the choice; empty when every query matched one stream.
    """

    chosen: tuple[StreamIdentity, ...]
    note: str = ""


def _extends(stem: str, other: str) -> bool:
    """``other`` is ``stem`` or ``stem`` followed by a separator (``S-markers`` extends ``S``)."""
    if not stem or not other.startswith(stem):
        return False
    return len(other) == len(stem) or other[len(stem)] in _SEPARATORS


def link(anchor: StreamIdentity, other: StreamIdentity) -> int:
    """How surely ``other`` comes from the source of ``anchor`` (0: nothing says so .. 4).

    0 on another host or LSL session; otherwise 1, plus 2 when one ``source_id`` extends the
    other, plus 1 when ``other``'s name extends ``anchor``'s (``X-markers`` for ``X``).
    """
    if anchor.hostname != other.hostname or anchor.session_id != other.session_id:
        return 0
    score = 1
    if _extends(anchor.source_id, other.source_id) or _extends(other.source_id, anchor.source_id):
        score += 2
    if other.name != anchor.name and _extends(anchor.name, other.name):
        score += 1
    return score


def restrict(
    candidates: Sequence[Sequence[StreamIdentity]], *, source_id: str | None = None, host: str | None = None
) -> list[list[StreamIdentity]]:
    """Keep the candidates of the source the user named.

    Parameters
    ----------
    candidates : sequence of sequences of StreamIdentity
        Per query, the streams it matches; the first query is the EEG (the source's anchor).
    source_id : str, optional
        The EEG stream's source_id exactly; for the other queries, streams whose source_id is it
        or extends it (``ID-markers``), when there are any.
    host : str, optional
        The host of the EEG stream; for the other queries, streams on it when there are any (a
        presenter on another computer stays a candidate).

    Returns
    -------
    list of lists of StreamIdentity
        The EEG query's list may be empty (that source is not visible, yet); the others are never
        emptied.
    """
    if not candidates:
        return []

    def on_host(s: StreamIdentity) -> bool:
        return host is None or s.hostname == host

    first = [s for s in candidates[0] if on_host(s) and (source_id is None or s.source_id == source_id)]
    out = [first]
    for pool in candidates[1:]:
        kept = [s for s in pool if on_host(s) and (source_id is None or _extends(source_id, s.source_id))]
        out.append(kept or list(pool))
    return out


def pair_streams(candidates: Sequence[Sequence[StreamIdentity]], what: Sequence[str]) -> Pairing:
    """One stream per query, all of one source.

    Parameters
    ----------
    candidates : sequence of sequences of StreamIdentity
        Per query, the visible streams it matches (none empty); the first query is the EEG.
    what : sequence of str
        Per query, how messages name it (``"EEG stream name=X"``).

    Returns
    -------
    Pairing

    Raises
    ------
    AmbiguousStreamsError
        No EEG candidate whose streams can be told apart from the others' (see the module
        docstring); the message lists every candidate and how to choose.
    """
    if len(candidates) != len(what) or any(not pool for pool in candidates):
        raise ValueError("pair_streams needs one non-empty candidate list per query, and one name for each")
    if all(len(pool) == 1 for pool in candidates):
        return Pairing(tuple(pool[0] for pool in candidates))
    anchors = candidates[0]
    combos = [c for c in (_combo(a, anchors, candidates[1:]) for a in anchors) if c is not None]
    if len(combos) > 1 and not _disjoint(combos):
        combos = []  # two EEG streams claim the same marker stream: which one is the subject's?
    if not combos:
        raise AmbiguousStreamsError(
            f"cannot tell which streams belong to one source: {_listing(candidates, what)}; nothing "
            "(host, source_id, name) pairs them one to one. Name the source with --source-id ID or "
            "--host HOST, or each stream exactly (source_id=...), or stop the source that should not run"
        )
    chosen = max(combos, key=lambda combo: combo[0].created_at)
    how = f"the most recently started of {len(combos)} sources" if len(combos) > 1 else "one source"
    note = (
        f"{_listing(candidates, what)}; chose {how}: {' with '.join(s.label for s in chosen)} "
        "(another one: --source-id ID or --host HOST, or source_id= queries)"
    )
    return Pairing(chosen, note)


def pair_recording(eeg: Sequence[StreamIdentity], markers: Sequence[StreamIdentity]) -> Pairing:
    """What a recorder takes by default: one EEG stream and the marker streams that go with it.

    Several EEG streams are separate sources: the most recently started is taken. A marker
    stream linked better to another EEG stream than to that one belongs to the other source and
    is left out; every other marker stream is recorded (a presenter, a photodiode box), except
    that of several marker streams of one name only the one linked best to the EEG stream is
    (refused when two are linked equally well).

    Parameters
    ----------
    eeg : sequence of StreamIdentity
        The visible EEG streams (not empty).
    markers : sequence of StreamIdentity
        The visible marker streams.

    Returns
    -------
    Pairing
        The EEG stream first, then the marker streams in the order given.

    Raises
    ------
    AmbiguousStreamsError
        Two marker streams of one name that nothing tells apart.
    """
    if not eeg:
        raise ValueError("pair_recording needs at least one EEG stream")
    anchor = max(eeg, key=lambda s: s.created_at)
    own = [m for m in markers if not any(link(e, m) > link(anchor, m) for e in eeg if e != anchor)]
    by_name: dict[str, list[StreamIdentity]] = {}
    for m in own:
        by_name.setdefault(m.name, []).append(m)
    kept: list[StreamIdentity] = []
    for name, group in by_name.items():
        best = max(link(anchor, m) for m in group)
        winners = [m for m in group if link(anchor, m) == best]
        if len(winners) > 1:
            raise AmbiguousStreamsError(
                f"cannot tell which of {len(winners)} marker streams named {name!r} goes with EEG stream "
                f"{anchor.label}: {', '.join(m.label for m in winners)}. Name the streams to record "
                "(source_id=...), or stop the source that should not run"
            )
        kept.append(winners[0])
    chosen = (anchor, *(m for m in markers if m in kept))
    if len(eeg) == 1 and len(chosen) - 1 == len(markers):
        return Pairing(chosen)
    left_out = [s for s in (*eeg, *markers) if s not in chosen]
    note = (
        f"{len(eeg)} EEG and {len(markers)} marker streams visible; recording "
        f"{', '.join(s.label for s in chosen)} (the most recently started EEG stream and the marker "
        f"streams of no other source); left out: {', '.join(s.label for s in left_out)}. Name the "
        "streams to record (source_id=...), or choose the source with --source-id ID or --host HOST"
    )
    return Pairing(chosen, note)


def _combo(
    anchor: StreamIdentity, anchors: Sequence[StreamIdentity], others: Sequence[Sequence[StreamIdentity]]
) -> tuple[StreamIdentity, ...] | None:
    """The anchor with the best-linked stream of every other query, or None when that is unclear."""
    combo = [anchor]
    for pool in others:
        scores = [link(anchor, s) for s in pool]
        best = max(scores)
        winners = [s for s, score in zip(pool, scores, strict=True) if score == best]
        if len(winners) != 1:
            return None
        stream = winners[0]
        if any(link(other, stream) > best for other in anchors if other != anchor):
            return None  # it belongs to another EEG candidate's source
        combo.append(stream)
    return tuple(combo)


def _disjoint(combos: Sequence[tuple[StreamIdentity, ...]]) -> bool:
    seen: set[StreamIdentity] = set()
    for combo in combos:
        if seen & set(combo):
            return False
        seen |= set(combo)
    return True


def _listing(candidates: Sequence[Sequence[StreamIdentity]], what: Sequence[str]) -> str:
    parts = []
    for pool, label in zip(candidates, what, strict=True):
        n = len(pool)
        parts.append(f"{label} matches {n} stream{'s' if n != 1 else ''}: {', '.join(s.label for s in pool)}")
    return "; ".join(parts)
