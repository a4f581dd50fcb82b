"""The in-memory recording: continuous EEG with LSL timestamps and a marker list."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from rtdecode.io.blocks import BlockRule, stimulus_blocks
from rtdecode.io.markers import BLOCK_END, STIMULUS, parse_marker
from rtdecode.signal.timing import PAUSE_S, SmoothedTime, smooth_timestamps


class Marker(NamedTuple):
    """One event: its LSL timestamp (seconds, local clock) and its text (usually JSON)."""

    timestamp: float
    text: str


@dataclass
class Recording:
    """Continuous EEG plus markers, all on one LSL clock.

    Attributes
    ----------
    data : np.ndarray, shape (n_samples, n_channels), float32
        EEG samples in microvolts, samples as rows (LSL order).
    timestamps : np.ndarray, shape (n_samples,), float64
        LSL timestamp of every sample, in seconds, as recorded: the raw stamps (a file keeps
        them). Epochs are cut on :attr:`smoothed_timestamps`.
    sfreq : float
        Nominal sampling rate in Hz.
    channel_names : list of str
        One label per column of ``data``.
    markers : list of Marker
        Events sorted by timestamp.
    metadata : dict
        Free JSON-compatible information (subject, session, simulator seed, image folder...).
    block_rule : BlockRule or None
        How stimuli are grouped into blocks (``--blocks``); None: the markers' own blocks, else
        the pauses between runs (see :mod:`rtdecode.io.blocks`).
    """

    data: np.ndarray
    timestamps: np.ndarray
    sfreq: float
    channel_names: list[str]
    markers: list[Marker] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    block_rule: BlockRule | None = None
    _time: tuple[Any, SmoothedTime] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, dtype=np.float32)
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64)
        if self.data.ndim != 2:
            raise ValueError(f"data must be (n_samples, n_channels), got shape {self.data.shape}")
        if self.timestamps.shape != (self.data.shape[0],):
            raise ValueError(
                f"timestamps must have one entry per sample: {self.timestamps.shape} "
                f"vs {self.data.shape[0]} samples"
            )
        if len(self.channel_names) != self.data.shape[1]:
            raise ValueError(f"{len(self.channel_names)} channel names for {self.data.shape[1]} channels")
        self.channel_names = [str(c) for c in self.channel_names]
        self.markers = sorted((Marker(float(t), str(s)) for t, s in self.markers), key=lambda m: m.timestamp)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        """Time spanned by the samples (last minus first timestamp plus one period)."""
        if self.n_samples == 0:
            return 0.0
        return float(self.timestamps[-1] - self.timestamps[0]) + 1.0 / self.sfreq

    @property
    def time_base(self) -> SmoothedTime:
        """The smoothed time base of ``timestamps`` (dejittered, gaps found), computed on first use.

        The same rule as the live reader's (:class:`rtdecode.signal.timing.TimeBase`): the
        ``block_end`` markers announce pauses between runs, and a ``pauses:SECONDS`` block rule
        sets how long a stretch without samples makes one.
        """
        pause_s = PAUSE_S if self.block_rule is None else self.block_rule.sample_pause_s
        key = (id(self.timestamps), self.n_samples, self.sfreq, pause_s, id(self.markers), len(self.markers))
        if self._time is None or self._time[0] != key:
            announced = [m.timestamp for m in self.markers if parse_marker(m.text)["event"] == BLOCK_END]
            time = smooth_timestamps(self.timestamps, self.sfreq, pause_s=pause_s, announced_pauses=announced)
            self._time = (key, time)
        return self._time[1]

    @property
    def smoothed_timestamps(self) -> np.ndarray:
        """Smoothed stamps ``(n_samples,)``: where epochs are cut and filters restart."""
        return self.time_base.timestamps

    def events(self) -> list[tuple[float, dict[str, Any]]]:
        """All markers parsed: ``(timestamp, event dict)`` pairs."""
        return [(m.timestamp, parse_marker(m.text)) for m in self.markers]

    def stimulus_events(self) -> list[tuple[float, dict[str, Any]]]:
        """Only the stimulus-onset markers, parsed, each with its ``block`` (see :meth:`blocks`)."""
        stimuli = [(t, e) for t, e in self.events() if e.get("event") == STIMULUS]
        blocks, _ = self.blocks(stimuli)
        return [(t, {**e, "block": int(b)}) for (t, e), b in zip(stimuli, blocks, strict=True)]

    def markers_with_blocks(self) -> list[Marker]:
        """The markers, each stimulus marker's JSON naming its block (:meth:`blocks`).

        What ``replay --blocks`` serves, so that a consumer (or a recording of the replay) sees
        the blocks the rule gave. Plain codes that are no stimulus stay as they are.
        """
        blocks = iter(int(event["block"]) for _, event in self.stimulus_events())
        out: list[Marker] = []
        for marker in self.markers:
            event = parse_marker(marker.text)
            if event.get("event") == STIMULUS:
                marker = Marker(marker.timestamp, json.dumps({**event, "block": next(blocks)}))
            out.append(marker)
        return out

    def blocks(self, stimuli: list[tuple[float, dict[str, Any]]] | None = None) -> tuple[np.ndarray, str]:
        """The block of every stimulus and where the blocks come from (:mod:`rtdecode.io.blocks`).

        Parameters
        ----------
        stimuli : list of (float, dict), optional
            The parsed stimulus markers; by default read from :attr:`markers`.

        Returns
        -------
        blocks : np.ndarray, shape (n_stimuli,), int
        source : str
            ``"block markers"``, or the rule that found them (e.g. the pauses between runs).
        """
        if stimuli is None:
            stimuli = [(t, e) for t, e in self.events() if e.get("event") == STIMULUS]
        span = (float(self.timestamps[0]), float(self.timestamps[-1])) if self.n_samples else (0.0, 0.0)
        # A negative block is what a writer puts for "none" (the old epoching's convention too).
        named = [e.get("block") for _, e in stimuli]
        given = [None if b is None or int(b) < 0 else int(b) for b in named]
        return stimulus_blocks(
            np.array([t for t, _ in stimuli]),
            given,
            self.block_rule,
            markers=[(m.timestamp, m.text) for m in self.markers],
            pauses=lambda: [(e.start_time, e.end_time) for e in self.time_base.pauses],
            span=span,
        )
