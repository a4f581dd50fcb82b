"""Blocks (runs) of a recording's stimuli: from its markers, from the pauses between runs, or as told.

Calibration splits by block (never by random trials of one block), and ``predict`` and ``figure``
score the held-out blocks, so every stimulus needs a block. This module is the one rule, for every
file format (XDF, the MNE formats, the datasets) alike. Where the blocks come from, in this order:

1. ``--blocks`` (a :class:`BlockRule`), when given: it overrides whatever the markers say.
2. The stimulus markers' own ``block`` (the project's presenter and simulator write it, with
   ``block_start`` / ``block_end`` markers), when every stimulus has one.
3. The pauses between runs: a stretch of at least :data:`~rtdecode.signal.timing.PAUSE_S`
   seconds without samples (the time base's ``pause`` events: the stream stopped and resumed, or a
   ``block_end`` marker announced it), or a break in the stimuli while the recording ran on (or
   where a file stores the runs back to back): at least :data:`RUN_BREAK_S` seconds and
   :data:`STIMULUS_PAUSE_FACTOR` times the usual interval between stimuli, so that a slow
   design's long intervals are not runs. This is how a PsychoPy + LabRecorder session without
   block markers is split into its runs.
4. When the pauses give fewer than :data:`MIN_BLOCKS` blocks (one continuous run: an EDF of a
   design without breaks), :data:`DEFAULT_RUNS` runs of consecutive stimuli, equal in number
   (``runs:6``), so that a block split still holds out whole stretches of time; the source says so.

``--blocks`` takes one of::

    pauses            the pauses between runs (the default rule, without step 4)
    pauses:SECONDS    ... at least SECONDS long, without samples or without stimuli
    markers:CODE[,CODE...]
                      a marker with one of these codes (a plain marker's text, e.g. a presenter's
                      "run_start"; a JSON marker's event name) starts a block
    times:T[,T...]    blocks start at these times, in seconds from the recording's first sample
    runs:N            N runs of consecutive stimuli, equal in number (a recording without breaks)

Blocks are numbered 0, 1, ... in time order, counting only blocks that hold a stimulus. A model
bundle remembers the rule it was calibrated with (:meth:`BlockRule.to_dict`), so that ``predict``
and ``figure`` number the blocks of its recording as calibration did.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtdecode.io.markers import OTHER, parse_marker
from rtdecode.signal.timing import PAUSE_S

__all__ = ["BLOCKS_SYNTAX", "DEFAULT_RUNS", "MIN_BLOCKS", "BlockRule", "stimulus_blocks"]

# A break in the stimuli marks a run only when it is this many times the median interval
# between stimuli (besides being at least RUN_BREAK_S, or the rule's pause_s, long).
STIMULUS_PAUSE_FACTOR = 3.0
# The shortest break in the stimuli that ends a run by default. Shorter than a pause without
# samples (PAUSE_S): an amplifier's own file (EDF, BrainVision) stores the runs back to back, so
# only the second or two recorded around each run is left between them.
RUN_BREAK_S = 2.0
# A block split needs a training, a validation and a test block; the default rule gives
# DEFAULT_RUNS runs of consecutive stimuli when the pauses give fewer.
MIN_BLOCKS = 3
DEFAULT_RUNS = 6
BLOCKS_SYNTAX = "pauses[:SECONDS], markers:CODE[,CODE...], times:SECONDS[,SECONDS...] or runs:N"
KINDS = ("pauses", "markers", "times", "runs")
# Marker codes listed when none of the codes asked for is found.
_MAX_LISTED_CODES = 10


@dataclass(frozen=True)
class BlockRule:
    """How a recording's stimuli are grouped into blocks (the ``--blocks`` option).

    Attributes
    ----------
    kind : {"pauses", "markers", "times", "runs"}
        At pauses between runs; at markers with given texts; at given times; in equal runs.
    pause_s : float or None
        ``pauses``: the shortest pause between runs, seconds, without samples or without
        stimuli; None: the default (:data:`~rtdecode.signal.timing.PAUSE_S` without samples,
        :data:`RUN_BREAK_S` without stimuli).
    codes : tuple of str
        ``markers``: the marker codes that start a block (a plain marker's text, a JSON
        marker's event name).
    times : tuple of float
        ``times``: block starts, seconds from the recording's first sample.
    runs : int
        ``runs``: how many runs of consecutive stimuli, equal in number.
    """

    kind: str = "pauses"
    pause_s: float | None = None
    codes: tuple[str, ...] = ()
    times: tuple[float, ...] = ()
    runs: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"blocks must be {BLOCKS_SYNTAX}; got the kind {self.kind!r}")
        if self.pause_s is not None and not (math.isfinite(self.pause_s) and self.pause_s > 0):
            raise ValueError(f"blocks: a pause between runs must last > 0 s, got {self.pause_s!r}")
        if self.kind == "markers" and not self.codes:
            raise ValueError("blocks: markers: needs at least one marker code, e.g. markers:run_start")
        if self.kind == "times" and not self.times:
            raise ValueError("blocks: times: needs at least one time in seconds, e.g. times:0,130,260")
        if any(not (math.isfinite(t) and t >= 0) for t in self.times):
            raise ValueError(
                f"blocks: times must be seconds >= 0 from the first sample, got {list(self.times)}"
            )
        if self.kind == "runs" and self.runs < 1:
            raise ValueError(f"blocks: runs: needs a number of runs >= 1, e.g. runs:{DEFAULT_RUNS}")

    @classmethod
    def parse(cls, text: str) -> BlockRule:
        """``"pauses"``, ``"pauses:8"``, ``"markers:S10,S11"``, ``"times:0,130.5,260"`` or ``"runs:6"``."""
        kind, _, rest = str(text).strip().partition(":")
        kind, items = kind.strip().lower(), [item.strip() for item in rest.split(",") if item.strip()]
        if kind == "pauses":
            if len(items) > 1:
                raise ValueError(f"blocks must be {BLOCKS_SYNTAX}, got {text!r}")
            return cls("pauses", pause_s=_seconds(items[0], text) if items else None)
        if kind == "markers":
            return cls("markers", codes=tuple(items))
        if kind == "times":
            return cls("times", times=tuple(sorted(_seconds(item, text) for item in items)))
        if kind == "runs":
            if len(items) != 1 or not items[0].isdigit():
                raise ValueError(
                    f"blocks: runs: needs one whole number of runs, e.g. runs:{DEFAULT_RUNS}; got {text!r}"
                )
            return cls("runs", runs=int(items[0]))
        raise ValueError(f"blocks must be {BLOCKS_SYNTAX}, got {text!r}")

    @property
    def spec(self) -> str:
        """The rule as ``--blocks`` takes it (:meth:`parse` reads it back)."""
        if self.kind == "pauses":
            return "pauses" if self.pause_s is None else f"pauses:{self.pause_s:g}"
        if self.kind == "markers":
            return "markers:" + ",".join(self.codes)
        if self.kind == "times":
            return "times:" + ",".join(f"{t:g}" for t in self.times)
        return f"runs:{self.runs}"

    @property
    def sample_pause_s(self) -> float:
        """The shortest stretch without samples that the time base counts as a pause between runs."""
        return PAUSE_S if self.kind != "pauses" or self.pause_s is None else self.pause_s

    def describe(self) -> str:
        """Where the blocks come from, for summaries and logs."""
        if self.kind == "pauses":
            if self.pause_s is None:
                return (
                    f"pauses between runs: at least {PAUSE_S:g} s without samples or "
                    f"{RUN_BREAK_S:g} s without stimuli"
                )
            return f"pauses between runs of at least {self.pause_s:g} s"
        if self.kind == "markers":
            return f"markers {', '.join(self.codes)}"
        if self.kind == "times":
            return f"times {', '.join(f'{t:g}' for t in self.times)} s"
        return f"{self.runs} run{'' if self.runs == 1 else 's'} of consecutive stimuli"

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON (what a model bundle stores); :meth:`from_dict` reads it back."""
        return {
            "kind": self.kind,
            "pause_s": self.pause_s,
            "codes": list(self.codes),
            "times": list(self.times),
            "runs": self.runs,
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> BlockRule:
        """A rule stored by :meth:`to_dict`.

        Raises
        ------
        ValueError
            ``stored`` is no stored rule (an edited bundle).
        """
        try:
            pause_s = stored.get("pause_s")
            return cls(
                kind=str(stored["kind"]),
                pause_s=None if pause_s is None else float(pause_s),
                codes=tuple(str(c) for c in stored.get("codes", ())),
                times=tuple(float(t) for t in stored.get("times", ())),
                runs=int(stored.get("runs", 0)),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a stored block rule: {stored!r} ({error})") from None


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
        ``--blocks``; None: the markers' blocks when every stimulus has one, else the pauses, or
        :data:`DEFAULT_RUNS` equal runs when the pauses give fewer than :data:`MIN_BLOCKS` blocks.
    markers : sequence of (float, str)
        Every marker's stamp and text (for ``markers:``).
    pauses : callable
        ``pauses()``: start and end stamps of the stream's pauses between runs (the time base's,
        found with :attr:`BlockRule.sample_pause_s`); called only where needed.
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
    chosen = rule or BlockRule()
    if chosen.kind == "runs":
        return _equal_runs(len(onsets), chosen.runs), chosen.describe()
    if chosen.kind == "markers":
        starts = [t for t, text in markers if _code(text) in chosen.codes]
        if not starts:
            raise ValueError(
                f"--blocks markers:{','.join(chosen.codes)}: no marker of the recording has that code; "
                f"its marker codes: {_codes(markers)}"
            )
    elif chosen.kind == "times":
        duration = span[1] - span[0]
        late = [t for t in chosen.times if t > duration]
        if late:
            raise ValueError(
                f"--blocks times: {', '.join(f'{t:g}' for t in late)} s lie past the recording's end "
                f"({duration:.1f} s after its first sample); give times from its first sample"
            )
        starts = [span[0] + t for t in chosen.times]
    else:
        breaks = _stimulus_pauses(onsets, RUN_BREAK_S if chosen.pause_s is None else chosen.pause_s)
        starts = [(start + end) / 2 for start, end in pauses()] + breaks
    raw = np.searchsorted(np.sort(np.asarray(starts, dtype=np.float64)), onsets, side="right")
    blocks = np.unique(raw, return_inverse=True)[1].astype(int).reshape(-1)
    found = len(np.unique(blocks))
    if rule is None and 0 < found < MIN_BLOCKS:
        # One continuous run: equal runs of consecutive stimuli still hold out whole stretches of time.
        fallback = BlockRule("runs", runs=DEFAULT_RUNS)
        plural = "" if found == 1 else "s"
        return _equal_runs(len(onsets), DEFAULT_RUNS), (
            f"{fallback.describe()}: the pauses between runs give {found} block{plural}"
        )
    return blocks, chosen.describe()


def _equal_runs(n_stimuli: int, runs: int) -> np.ndarray:
    """Block of each of ``n_stimuli`` stimuli in time order: ``runs`` runs, equal in number."""
    raw = np.arange(n_stimuli) * runs // max(n_stimuli, 1)
    return np.unique(raw, return_inverse=True)[1].astype(int).reshape(-1)


def _stimulus_pauses(onsets: np.ndarray, pause_s: float) -> list[float]:
    """Midpoints of the long breaks in the stimuli (the recording ran on, or its runs are back to back)."""
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
