"""Gap, duplicate and backward-jump detection on synthetic timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.signal.timing import Gap, find_gaps, find_time_anomalies

SFREQ = 250.0


def regular(n: int, t0: float = 100.0) -> np.ndarray:
    return t0 + np.arange(n) / SFREQ


def test_regular_stream_has_no_anomalies() -> None:
    t = regular(1000)
    assert find_gaps(t, SFREQ) == []
    assert find_time_anomalies(t, SFREQ) == {
        "n_samples": 1000,
        "gaps": 0,
        "missing_samples": 0,
        "duplicates": 0,
        "backwards": 0,
        "largest_gap_s": 0.0,
        "largest_backwards_s": 0.0,
    }


def test_jitter_below_tolerance_is_not_a_gap() -> None:
    rng = np.random.default_rng(0)
    t = regular(2000) + rng.uniform(-0.2, 0.2, 2000) / SFREQ  # +-20 % of a period
    assert find_gaps(t, SFREQ) == []


def test_removed_samples_are_found_with_index_times_and_count() -> None:
    full = regular(1000)
    kept = np.delete(full, np.r_[100:105, 500:501, 800:850])
    gaps = find_gaps(kept, SFREQ)
    assert gaps == [
        Gap(100, full[99], full[105], 5),
        Gap(495, full[499], full[501], 1),
        Gap(794, full[799], full[850], 50),
    ]
    assert all(isinstance(g.index, int) and isinstance(g.missing_samples, int) for g in gaps)
    report = find_time_anomalies(kept, SFREQ)
    assert report["gaps"] == 3
    assert report["missing_samples"] == 56
    assert report["largest_gap_s"] == pytest.approx(51 / SFREQ)


def test_tolerance_sets_the_threshold() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.4, 4.4]) / SFREQ  # one step of 1.4 periods
    assert find_gaps(t, SFREQ, tolerance=0.5) == []
    gaps = find_gaps(t, SFREQ, tolerance=0.3)
    assert [(g.index, g.missing_samples) for g in gaps] == [(3, 1)]  # never reported as 0 missing


def test_duplicates_and_backward_jumps_are_counted_not_called_gaps() -> None:
    t = regular(100)
    t[10] = t[9]  # duplicate
    t[50:] -= 2.0  # clock jumped back by 2 s
    report = find_time_anomalies(t, SFREQ)
    assert report["duplicates"] == 1
    assert report["backwards"] == 1
    assert report["largest_backwards_s"] == pytest.approx(2.0 - 1 / SFREQ)
    # the duplicate leaves a 2-period step after it, which is a gap of one sample
    assert report["gaps"] == 1


def test_short_inputs() -> None:
    assert find_gaps(np.array([]), SFREQ) == []
    assert find_gaps(np.array([1.0]), SFREQ) == []
    assert find_time_anomalies(np.array([]), SFREQ)["n_samples"] == 0


@pytest.mark.parametrize(
    ("timestamps", "sfreq", "tolerance", "message"),
    [
        (np.zeros((3, 2)), SFREQ, 0.5, "one-dimensional"),
        (np.array([0.0, np.nan]), SFREQ, 0.5, "NaN"),
        (np.array([0.0, 1.0]), 0.0, 0.5, "sfreq"),
        (np.array([0.0, 1.0]), SFREQ, 0.0, "tolerance"),
    ],
)
def test_bad_arguments_are_refused(
    timestamps: np.ndarray, sfreq: float, tolerance: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        find_gaps(timestamps, sfreq, tolerance)
