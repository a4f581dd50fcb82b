"""Timestamp checks: gaps, duplicates and backward jumps in an LSL sample clock.

Epochs are cut by timestamp, so a lost chunk or a clock jump must be found and reported rather
than silently glued over. These functions look only at the timestamps of a regularly sampled
stream; they never modify them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Gap(NamedTuple):
    """A stretch of missing samples in a regularly sampled stream.

    Attributes
    ----------
    index : int
        Index of the first sample *after* the gap.
    start_time : float
        Timestamp of the last sample before the gap, in seconds.
    end_time : float
        Timestamp of the first sample after the gap, in seconds.
    missing_samples : int
        Estimated number of samples lost in the gap (at least 1).
    """

    index: int
    start_time: float
    end_time: float
    missing_samples: int


def find_gaps(timestamps: np.ndarray, sfreq: float, tolerance: float = 0.5) -> list[Gap]:
    """Find places where consecutive samples are further apart than one sampling period.

    Parameters
    ----------
    timestamps : np.ndarray, shape (n_samples,)
        Sample timestamps in seconds, in acquisition order.
    sfreq : float
        Nominal sampling rate in Hz.
    tolerance : float
        Fraction of a period of extra spacing accepted as jitter: a step counts as a gap when it
        exceeds ``(1 + tolerance) / sfreq``.

    Returns
    -------
    list of Gap
        One entry per gap, in order of ``index``.
    """
    t = _check_timestamps(timestamps)
    _check_rate(sfreq, tolerance)
    if t.size < 2:
        return []
    dt = np.diff(t)
    after = np.flatnonzero(dt > (1.0 + tolerance) / sfreq)
    # A step of k periods means k - 1 samples are missing; at least one, since it is a gap.
    missing = np.maximum(np.rint(dt[after] * sfreq).astype(np.int64) - 1, 1)
    return [
        Gap(int(i) + 1, float(t[i]), float(t[i + 1]), int(m)) for i, m in zip(after, missing, strict=True)
    ]


def find_time_anomalies(timestamps: np.ndarray, sfreq: float, tolerance: float = 0.5) -> dict[str, float]:
    """Count every kind of irregularity in a stream's timestamps.

    Parameters
    ----------
    timestamps : np.ndarray, shape (n_samples,)
        Sample timestamps in seconds, in acquisition order.
    sfreq : float
        Nominal sampling rate in Hz.
    tolerance : float
        As in :func:`find_gaps`.

    Returns
    -------
    dict
        ``n_samples``: number of timestamps;
        ``gaps``: number of forward steps longer than ``(1 + tolerance) / sfreq``;
        ``missing_samples``: estimated samples lost in those gaps;
        ``duplicates``: steps of exactly zero;
        ``backwards``: negative steps (the clock jumped back, or samples were reordered);
        ``largest_gap_s``: longest forward gap in seconds (0.0 when there is none);
        ``largest_backwards_s``: size of the largest backward jump in seconds (0.0 when none).
        Counts are ``int``, durations ``float``.
    """
    t = _check_timestamps(timestamps)
    gaps = find_gaps(t, sfreq, tolerance)
    dt = np.diff(t) if t.size > 1 else np.zeros(0)
    back = dt[dt < 0]
    return {
        "n_samples": int(t.size),
        "gaps": len(gaps),
        "missing_samples": sum(g.missing_samples for g in gaps),
        "duplicates": int(np.count_nonzero(dt == 0)),
        "backwards": int(back.size),
        "largest_gap_s": max((g.end_time - g.start_time for g in gaps), default=0.0),
        "largest_backwards_s": float(-back.min()) if back.size else 0.0,
    }


def _check_timestamps(timestamps: np.ndarray) -> np.ndarray:
    t = np.asarray(timestamps, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"timestamps must be one-dimensional (n_samples,), got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        bad = int(np.count_nonzero(~np.isfinite(t)))
        raise ValueError(f"timestamps contain {bad} NaN or infinite values; drop those samples first")
    return t


def _check_rate(sfreq: float, tolerance: float) -> None:
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise ValueError(f"sfreq must be a positive number of Hz, got {sfreq!r}")
    if not (np.isfinite(tolerance) and tolerance > 0):
        raise ValueError(f"tolerance must be a positive fraction of a period (e.g. 0.5), got {tolerance!r}")
