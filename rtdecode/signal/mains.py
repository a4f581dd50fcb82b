"""Mains (line-noise) frequency from a recording's own spectrum: 50 Hz or 60 Hz.

The notch must sit on the local mains frequency: a 49-51 Hz notch leaves a North-American
recording's 60 Hz in the band. Mains is a narrow peak standing far above the neighbouring
spectrum on nearly every channel, so it is found by comparing the power at 50 and 60 Hz with
the power a few hertz either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

MAINS_CANDIDATES_HZ = (50.0, 60.0)
# A peak counts as mains when it stands this far above its neighbourhood (median over channels).
MIN_PROMINENCE_DB = 6.0
# At most this much data is analysed: a few minutes pin the peak down.
_MAX_SECONDS = 300.0
# Peak search half-width (mains drifts by a fraction of a hertz) and the neighbourhood used as
# the background level on each side of it.
_PEAK_HALF_WIDTH_HZ = 1.0
_SIDE_HZ = (2.0, 5.0)


@dataclass(frozen=True)
class MainsEstimate:
    """What :func:`detect_mains` found.

    Attributes
    ----------
    frequency_hz : float or None
        50.0 or 60.0, or None when neither stands out (clean or already notched data).
    prominence_db : dict
        ``{candidate Hz: peak power over neighbourhood power, dB}`` (median over channels);
        candidates above Nyquist are absent.
    """

    frequency_hz: float | None
    prominence_db: dict[float, float]

    def to_dict(self) -> dict[str, object]:
        return {
            "frequency_hz": self.frequency_hz,
            "prominence_db": {str(k): round(v, 2) for k, v in self.prominence_db.items()},
        }


def detect_mains(data: np.ndarray, sfreq: float) -> MainsEstimate:
    """Find the mains frequency of a recording.

    Parameters
    ----------
    data : np.ndarray, shape (n_samples, n_channels)
        Raw EEG; rows holding NaN or Inf are left out.
    sfreq : float
        Sampling rate in Hz.

    Returns
    -------
    MainsEstimate
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be (n_samples, n_channels), got shape {data.shape}")
    # Only the first _MAX_SECONDS of finite rows become float64: a whole 40-class session
    # (128 channels, 1 kHz, ~24 min) converted first took 1.5 GB and most of this function's time.
    finite = np.flatnonzero(np.all(np.isfinite(data), axis=1))[: int(_MAX_SECONDS * sfreq)]
    x = np.asarray(data[finite], dtype=np.float64)
    nperseg = int(2 * sfreq)  # 0.5 Hz resolution
    prominence: dict[float, float] = {}
    if len(x) < nperseg:
        return MainsEstimate(None, prominence)
    freqs, psd = signal.welch(x - x.mean(axis=0), fs=sfreq, nperseg=nperseg, axis=0)
    psd = np.maximum(psd, np.finfo(float).tiny)
    for f0 in MAINS_CANDIDATES_HZ:
        if f0 + _SIDE_HZ[1] >= sfreq / 2:
            continue
        peak = psd[np.abs(freqs - f0) <= _PEAK_HALF_WIDTH_HZ].max(axis=0)
        offset = np.abs(freqs - f0)
        side = psd[(offset >= _SIDE_HZ[0]) & (offset <= _SIDE_HZ[1])]
        ratio_db = 10 * np.log10(peak / np.median(side, axis=0))
        prominence[f0] = float(np.median(ratio_db))
    best = max(prominence, key=prominence.get, default=None)
    if best is None or prominence[best] < MIN_PROMINENCE_DB:
        return MainsEstimate(None, prominence)
    return MainsEstimate(best, prominence)
