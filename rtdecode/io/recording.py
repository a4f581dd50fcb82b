"""The in-memory recording: continuous EEG with LSL timestamps and a marker list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from rtdecode.io.markers import STIMULUS, parse_marker
from rtdecode.signal.timing import SmoothedTime, smooth_timestamps


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
    """

    data: np.ndarray
    timestamps: np.ndarray
    sfreq: float
    channel_names: list[str]
    markers: list[Marker] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
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

        The same rule as the live reader's (:class:`rtdecode.signal.timing.TimeBase`).
        """
        key = (id(self.timestamps), self.n_samples, self.sfreq)
        if self._time is None or self._time[0] != key:
            self._time = (key, smooth_timestamps(self.timestamps, self.sfreq))
        return self._time[1]

    @property
    def smoothed_timestamps(self) -> np.ndarray:
        """Smoothed stamps ``(n_samples,)``: where epochs are cut and filters restart."""
        return self.time_base.timestamps

    def events(self) -> list[tuple[float, dict[str, Any]]]:
        """All markers parsed: ``(timestamp, event dict)`` pairs."""
        return [(m.timestamp, parse_marker(m.text)) for m in self.markers]

    def stimulus_events(self) -> list[tuple[float, dict[str, Any]]]:
        """Only the stimulus-onset markers, parsed."""
        return [(t, e) for t, e in self.events() if e.get("event") == STIMULUS]
