"""The one preprocessing path: causal filtering, standardization, epoching by timestamp, TFD.

Calibration runs :func:`filter_recording` over a whole continuous recording; the live decoder
feeds the same :class:`~rtdecode.signal.filters.CausalFilterBank` chunk by chunk. Both then cut
epochs with :func:`epoch_start_index` and compute features with :func:`epoch_features`, so a
model is trained on exactly the features it is served.
"""

from __future__ import annotations

import numpy as np

from rtdecode.config import PipelineConfig
from rtdecode.signal.filters import CausalFilterBank
from rtdecode.signal.standardize import Standardizer
from rtdecode.signal.tfd import compute_tfd


def filter_recording(data: np.ndarray, config: PipelineConfig) -> np.ndarray:
    """Causally filter a whole continuous recording, as one long stream.

    Parameters
    ----------
    data : np.ndarray, shape (n_samples, n_channels)

    Returns
    -------
    np.ndarray, shape (n_samples, n_channels), float64
    """
    data = np.asarray(data)
    return CausalFilterBank(config, data.shape[1]).process(data)


def epoch_start_time(onset: float, config: PipelineConfig) -> float:
    """Smoothed EEG stamp from which the epoch for a stimulus at ``onset`` starts (LSL seconds).

    ``onset + tmin``, later by the stream's acquisition latency (its samples are stamped that
    much after they happened), less half a sample of tolerance. The live decoder and offline
    epoching both cut at the first sample at or after this time.
    """
    return onset + config.epoch.tmin_s + config.acquisition_latency_ms / 1000.0 - 0.5 / config.sfreq


def epoch_start_index(timestamps: np.ndarray, onset: float, config: PipelineConfig) -> int:
    """Index of the first sample of the epoch for a stimulus at ``onset`` (LSL seconds).

    The epoch starts at the first sample whose timestamp is at or after
    :func:`epoch_start_time`, so it is defined by time, not by counting samples from the start
    of the stream.

    Parameters
    ----------
    timestamps : np.ndarray, shape (n_samples,)
        Sorted smoothed LSL timestamps of the buffer or recording
        (:attr:`rtdecode.io.recording.Recording.smoothed_timestamps` offline).
    """
    return int(np.searchsorted(timestamps, epoch_start_time(onset, config), side="left"))


def epoch_is_contiguous(timestamps: np.ndarray, first: float, sfreq: float) -> bool:
    """Whether an epoch's samples run without a gap from the time it should start.

    The smoothed time base steps by more than 1.5 periods only where samples were not delivered
    (or the clock was reset), so that is what is looked for.

    Parameters
    ----------
    timestamps : np.ndarray, shape (epoch_samples,)
        Smoothed stamps of the epoch's samples.
    first : float
        :func:`epoch_start_time` of the epoch.
    sfreq : float
        Nominal rate in Hz.

    Returns
    -------
    bool
        False when the first sample comes more than 1.5 periods after ``first`` (the epoch starts
        inside a gap) or a gap lies between two of its samples.
    """
    limit = 1.5 / sfreq
    return bool(timestamps[0] - first <= limit and np.all(np.diff(timestamps) <= limit))


def recording_epoch_is_whole(recording, start: int, n: int, first: float) -> bool:
    """Offline twin of :func:`epoch_is_contiguous`, judged on the recording's time-base events.

    Parameters
    ----------
    recording : Recording
        With its smoothed time base (``recording.time_base``).
    start, n : int
        First sample and length of the epoch.
    first : float
        :func:`epoch_start_time` of the epoch.

    Returns
    -------
    bool
        False when the epoch starts inside a gap or a true gap or reset lies inside it; a chunk
        that only came late (whose stamps the time base stepped over) does not count.
    """
    stamps = recording.smoothed_timestamps
    return bool(
        stamps[start] - first <= 1.5 / recording.sfreq and not recording.time_base.has_break(start, start + n)
    )


def cut_epochs(
    data: np.ndarray, timestamps: np.ndarray, onsets: np.ndarray, config: PipelineConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Cut fixed-length epochs at stimulus onsets.

    Parameters
    ----------
    data : np.ndarray, shape (n_samples, n_channels)
    timestamps : np.ndarray, shape (n_samples,)
    onsets : np.ndarray, shape (n_onsets,)
        Stimulus onsets in the same clock as ``timestamps``.

    Returns
    -------
    epochs : np.ndarray, shape (n_kept, epoch_samples, n_channels)
    kept : np.ndarray, shape (n_kept,), int
        Indices into ``onsets`` of the epochs that lie fully inside the data.
    """
    n = config.epoch_samples
    starts = np.array(
        [epoch_start_index(timestamps, t, config) for t in np.asarray(onsets, float)], dtype=int
    )
    kept = np.flatnonzero((starts + n <= len(timestamps)) & (starts >= 0))
    if len(kept) == 0:
        return np.empty((0, n, data.shape[1]), dtype=data.dtype), kept
    index = starts[kept, None] + np.arange(n)[None, :]
    return data[index], kept


def epoch_features(epochs: np.ndarray, standardizer: Standardizer, config: PipelineConfig) -> np.ndarray:
    """Standardize filtered epochs and compute their TFD.

    Parameters
    ----------
    epochs : np.ndarray, shape (n_samples, n_channels) or (n_epochs, n_samples, n_channels)
        Causally filtered epochs.

    Returns
    -------
    np.ndarray, float32, shape (n_channels, n_time, n_freqs) or with a leading n_epochs axis
    """
    # The standardizer takes channels on the second-to-last axis (the field's order); the
    # epochs here are (n_samples, n_channels) like the stream they were cut from.
    standardized = np.swapaxes(standardizer.transform(np.swapaxes(epochs, -1, -2)), -1, -2)
    return compute_tfd(standardized, config)
