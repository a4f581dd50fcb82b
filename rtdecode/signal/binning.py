"""Time bins: averaging consecutive samples of an epoch (the 4 ms steps of the time-domain models).

Here rather than in calibration because served models bin too (the shared-response templates,
:mod:`rtdecode.models.templates`); calibration's baselines and EEGNet's input follow the same
arithmetic (:mod:`calibration.baselines`, :mod:`rtdecode.models.eegnet`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def samples_for(seconds: float, sfreq: float) -> int:
    """A duration in whole samples at ``sfreq`` (at least one)."""
    return max(1, int(round(seconds * sfreq)))


def bin_time(epochs: np.ndarray, width: int) -> np.ndarray:
    """Average consecutive samples in time.

    Parameters
    ----------
    epochs : ndarray, shape (n_epochs, n_samples, n_channels)
    width : int
        Samples per bin; a trailing remainder shorter than one bin is dropped.

    Returns
    -------
    ndarray, shape (n_epochs, n_samples // width, n_channels)
    """
    n, t, c = epochs.shape
    t = (t // width) * width
    return epochs[:, :t].reshape(n, t // width, width, c).mean(axis=2)


def band_power(
    epochs: np.ndarray, sfreq: float, bands: Sequence[tuple[float, float]], width: int
) -> np.ndarray:
    """Power of each frequency band in time bins: the epoch band-limited (its FFT masked), squared, binned.

    The mask acts on each epoch alone, so an epoch's features do not depend on the others (what
    serving one epoch at a time needs); it is zero-phase and rings at the epoch's edges, as any
    filter of a short window does.

    Parameters
    ----------
    epochs : ndarray, shape (n_epochs, n_samples, n_channels)
    sfreq : float
        Sampling rate in Hz.
    bands : sequence of (low, high)
        Band edges in Hz, ``low <= f < high``; a band above the Nyquist frequency is empty (zeros).
    width : int
        Samples per bin.

    Returns
    -------
    ndarray, shape (n_epochs, n_bands * (n_samples // width), n_channels), float32
        The bands one after the other along the second axis, each its time bins in order.
    """
    n_samples = epochs.shape[1]
    if not len(bands):
        return np.zeros((len(epochs), 0, epochs.shape[2]), dtype=np.float32)
    spectrum = np.fft.rfft(epochs, axis=1)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq)
    out = []
    for low, high in bands:
        inside = (freqs >= low) & (freqs < high)
        limited = np.fft.irfft(spectrum * inside[None, :, None], n=n_samples, axis=1)
        out.append(bin_time(np.square(limited), width).astype(np.float32))
    return np.concatenate(out, axis=1)
