"""Time bins: averaging consecutive samples of an epoch (the 4 ms steps of the time-domain models).

Here rather than in calibration because served models bin too (the shared-response templates,
:mod:`rtdecode.models.templates`); calibration's baselines and EEGNet's input follow the same
arithmetic (:mod:`calibration.baselines`, :mod:`rtdecode.models.eegnet`).
"""

from __future__ import annotations

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
