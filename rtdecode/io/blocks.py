"""Blocks (runs) of a recording's stimuli: from its markers, from the pauses between runs, or as told.

Calibration splits by block (never by random trials of one block), and ``predict`` and ``figure``
score the held-out blocks, so every stimulus needs a block. Where it comes from, in this order:

1. ``--blocks`` (a :class:`BlockRule`), when given: it overrides whatever the markers say.
2. The stimulus markers' own ``block`` (the project's presenter and simulator write it, with
   ``block_start`` / ``block_end`` markers), when every stimulus has one.
3. The pauses between runs: a stretch of at least :data:`~rtdecode.signal.timing.PAUSE_S`
   seconds without samples (the time base's ``pause`` events: the stream stopped and resumed, or a
   ``block_end`` marker announced it), or without stimuli while the recorder ran on (at least as
   long, and :data:`STIMULUS_PAUSE_FACTOR` times the usual interval between stimuli, so that a
   slow design's long intervals are not runs). This is how a PsychoPy + LabRecorder session
   without block markers is split into its runs.

``--blocks`` takes one of::

    pauses            the pauses between runs, at least 5 s (the default rule)
    pauses:SECONDS    ... at least SECONDS long
    markers:CODE[,CODE...]
                      a marker with one of these codes (a plain marker's text, e.g. a presenter's
                      "run_start"; a JSON marker's event name) starts a block
    times:T[,T...]    blocks start at these times, in seconds from the recording's first sample

Blocks are numbered 0, 1, ... in time order, counting only blocks that hold a stimulus.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rtdecode.io.markers import OTHER, parse_marker
from rtdecode.signal.timing import PAUSE_S

__all__ = ["BLOCKS_SYNTAX", "BlockRule", "stimulus_blocks"]

# A stretch without stimuli marks a run only when it is this many times the median interval
# between stimuli (besides being at least pause_s long).
STIMULUS_PAUSE_FACTOR = 3.0
BLOCKS_SYNTAX = "pauses[:SECONDS], markers:CODE[,CODE...] or times:SECONDS[,SECONDS...]"
# Marker codes listed when none of the codes asked for is found.
_MAX_LISTED_CODES = 10


@dataclass(frozen=True)
class BlockRule:
    """How a recording's stimuli are grouped into blocks (the ``--blocks`` option).

    Attributes
    ----------
    kind : {"pauses", "markers", "times"}
        At pauses between runs; at markers with given texts; at given times.
    pause_s : float
        ``pauses``: the shortest pause between runs, seconds.
    codes : tuple of str
        ``markers``: the marker codes that start a block (a plain marker's text, a JSON
        marker's event name).
    times : tuple of float
        ``times``: block starts, seconds from the recording's first sample.
    """

    kind: str = "pauses"
    pause_s: float = PAUSE_S
    codes: tuple[str, ...] = ()
    times: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("pauses", "markers", "times"):
            raise ValueError(f"blocks must be {BLOCKS_SYNTAX}; got the kind {self.kind!r}")
        if not (math.isfinite(self.pause_s) and self.pause_s > 0):
            raise ValueError(f"blocks: a pause between runs must last > 0 s, got {self.pause_s!r}")
        if self.kind == "markers" and not self.codes:
            raise ValueError("blocks: markers: needs at least one marker code, e.g. markers:run_start")
        if self.kind == "times" and not self.times:
            raise ValueError("blocks: times: needs at least one time in seconds, e.g. times:0,130,260")
        if any(not (math.isfinite(t) and t >= 0) for t in self.times):
            raise ValueError(
                f"blocks: times must be seconds >= 0 from the first sample, got {list(self.times)}"
            )

    @classmethod
    def parse(cls, text: str) -> BlockRule:
        """``"pauses"``, ``"pauses:8"``, ``"markers:S10,S11"`` or ``"times:0,130.5,260"``."""
        kind, _, rest = str(text).strip().partition(":")
        kind, items = kind.strip().lower(), [item.strip() for item in rest.split(",") if item.strip()]
        if kind == "pauses":
            if len(items) > 1:
                raise ValueError(f"blocks must be {BLOCKS_SYNTAX}, got {text!r}")
            return cls("pauses", pause_s=_seconds(items[0], text) if items else PAUSE_S)
        if kind == "markers":
            return cls("markers", codes=tuple(items))
        if kind == "times":
            return cls("times", times=tuple(sorted(_seconds(item, text) for item in items)))
        raise ValueError(f"blocks must be {BLOCKS_SYNTAX}, got {text!r}")

    def describe(self) -> str:
        """Where the blocks come from, for summaries and logs."""
        if self.kind == "pauses":
            return f"pauses between runs of at least {self.pause_s:g} s"
        if self.kind == "markers":
            return f"markers {', '.join(self.codes)}"
        return f"times {', '.join(f'{t:g}' for t in self.times)} s"


def stimulus_blocks(
    onsets: np.ndarray,
    given: Sequence[int | None],
    rule: BlockRule | None,
    *,
    markers: Sequence[tuple[float, str]],
    pauses: Callable[[], Sequence[tuple[float, float]]],
    span: tuple[float, float],
) -> tuple[np.ndarray, str]:
    """Block of every stimulus, and where the blocks come from.

    Parameters
    ----------
    onsets : np.ndarray, shape (n_stimuli,)
        Stimulus onset stamps, increasing.
    given : sequence of int or None, length n_stimuli
        The block each stimulus marker names (None where it names none).
    rule : BlockRule or None
        ``--blocks``; None: the markers' blocks when every stimulus has one, else the pauses.
    markers : sequence of (float, str)
        Every marker's stamp and text (for ``markers:``).
    pauses : callable
        ``pauses()``: start and end stamps of the stream's pauses between runs (the time base's,
        found with ``rule.pause_s`` for a ``pauses`` rule); called only where needed.
    span : (float, float)
        Stamps of the recording's first and last sample.

    Returns
    -------
    blocks : np.ndarray, shape (n_stimuli,), int
        Numbered 0, 1, ... in time order.
    source : str
        ``"block markers"`` or the rule's :meth:`BlockRule.describe`.

    Raises
    ------
    ValueError
        A ``markers:`` rule none of whose codes is in the recording (the codes found are listed),
        or a ``times:`` rule past the recording's end.
    """
    onsets = np.asarray(onsets, dtype=np.float64)
    if rule is None and len(onsets) and all(b is not None for b in given):
        return np.asarray(given, dtype=int), "block markers"
    rule = rule or BlockRule()
    if rule.kind == "markers":
        starts = [t for t, text in markers if _code(text) in rule.codes]
        if not starts:
            raise ValueError(
                f"--blocks markers:{','.join(rule.codes)}: no marker of the recording has that code; "
                f"its marker codes: {_codes(markers)}"
            )
    elif rule.kind == "times":
        duration = span[1] - span[0]
        late = [t for t in rule.times if t > duration]
        if late:
            raise ValueError(
                f"--blocks times: {', '.join(f'{t:g}' for t in late)} s lie past the recording's end "
                f"({duration:.1f} s after its first sample); give times from its first sample"
            )
        starts = [span[0] + t for t in rule.times]
    else:
        starts = [(start + end) / 2 for start, end in pauses()] + _stimulus_pauses(onsets, rule.pause_s)
    raw = np.searchsorted(np.sort(np.asarray(starts, dtype=np.float64)), onsets, side="right")
    return np.unique(raw, return_inverse=True)[1].astype(int).reshape(-1), rule.describe()


def _stimulus_pauses(onsets: np.ndarray, pause_s: float) -> list[float]:
    """Midpoints of the long stretches without stimuli (the recorder ran on between runs)."""
    if len(onsets) < 2:
        return []
    intervals = np.diff(onsets)
    threshold = max(pause_s, STIMULUS_PAUSE_FACTOR * float(np.median(intervals)))
    long = np.flatnonzero(intervals >= threshold)
    return ((onsets[long] + onsets[long + 1]) / 2).tolist()


def _seconds(item: str, text: str) -> float:
    try:
        return float(item)
    except ValueError:
        raise ValueError(
            f"blocks must be {BLOCKS_SYNTAX}; {item!r} in {text!r} is no number of seconds"
        ) from None


def _code(text: str) -> str:
    """A marker's code: its text for a plain marker, its event name for a JSON one."""
    event = parse_marker(text)
    return text.strip() if event["event"] == OTHER else str(event["event"])


def _codes(markers: Sequence[tuple[float, str]]) -> str:
    counts: Counter[str] = Counter(_code(text) for _, text in markers)
    if not counts:
        return "none (the recording has no markers)"
    listed = [f"{code!r} ({n})" for code, n in counts.most_common(_MAX_LISTED_CODES)]
    more = len(counts) - len(listed)
    return ", ".join(listed) + (f" and {more} more" if more > 0 else "")
