"""Epochs for training: the continuous recording through the live filter bank, cut by marker time.

The recording is filtered by the same :class:`~rtdecode.signal.filters.SegmentedFilter` the
live stream reader runs (causal, restarted after every gap or run of bad samples), then epochs are
cut at the stimulus markers' timestamps. Bad epochs are dropped and counted by reason.

Stimuli are the recording's stimulus markers: the project's JSON markers, or plain codes a reader
mapped with ``events=`` (:mod:`rtdecode.io.marker_mapping`). A recording without any ends with one
line naming its codes and the ``--events`` to pass; epochs of fewer than two classes are refused,
so that no one-class model is ever trained.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from rtdecode.config import PipelineConfig
from rtdecode.io.marker_mapping import format_codes, marker_codes, no_stimuli_message
from rtdecode.io.recording import Recording
from rtdecode.signal.filters import SegmentedFilter
from rtdecode.signal.preprocess import epoch_start_index, epoch_start_time, recording_epoch_is_whole

log = logging.getLogger(__name__)


@dataclass
class EpochSet:
    """Filtered (not yet standardized) epochs with their labels.

    Attributes
    ----------
    epochs : np.ndarray, shape (n_epochs, n_samples, n_channels), float32
    labels : np.ndarray, shape (n_epochs,), int
    image_ids : list of str
    blocks : np.ndarray, shape (n_epochs,), int
        Presentation block (run) of each epoch, for block-respecting splits: the markers' own,
        else the recording's pauses between runs, or ``--blocks`` (see :mod:`rtdecode.io.blocks`).
    onsets : np.ndarray, shape (n_epochs,), float64
        Stimulus onset timestamps.
    class_names : list of str
        Name of each label index.
    channel_names : list of str
    dropped : dict
        Number of stimulus markers dropped per reason (``nan``, ``gap``, ``flat``,
        ``saturated``, ``outside``, ``unlabelled``).
    """

    epochs: np.ndarray
    labels: np.ndarray
    image_ids: list[str]
    blocks: np.ndarray
    onsets: np.ndarray
    class_names: list[str]
    channel_names: list[str]
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: np.ndarray) -> EpochSet:
        """The epochs at ``index`` (same class and channel names, no drop counts)."""
        return EpochSet(
            epochs=self.epochs[index],
            labels=self.labels[index],
            image_ids=[self.image_ids[i] for i in index],
            blocks=self.blocks[index],
            onsets=self.onsets[index],
            class_names=self.class_names,
            channel_names=self.channel_names,
        )


def filter_continuous(recording: Recording, config: PipelineConfig) -> np.ndarray:
    """Causally filter a recording exactly as the live reader filters a stream.

    Returns
    -------
    np.ndarray, shape (n_samples, n_channels), float32
        Filtered samples; bad samples (NaN/Inf) are NaN and the filter restarts after them and
        after every gap of the smoothed time base.
    """
    return SegmentedFilter(config, recording.n_channels).process(
        recording.data, recording.smoothed_timestamps
    )


def epochs_from_recording(
    recording: Recording, config: PipelineConfig, class_names: list[str] | None = None
) -> EpochSet:
    """Filter the recording and cut one epoch per stimulus marker.

    Parameters
    ----------
    recording : Recording
        Continuous EEG with JSON stimulus markers (``label``, ``image``); every stimulus gets its
        block from :meth:`~rtdecode.io.recording.Recording.stimulus_events`.
    config : PipelineConfig
        Must match the recording's sampling rate.
    class_names : list of str, optional
        Names of the label indices; by default taken from the markers' ``class`` fields.

    Returns
    -------
    EpochSet

    Raises
    ------
    ValueError
        The rate differs from the config's; no stimulus marker (the message lists the plain codes
        and the ``--events`` to pass); no usable epoch; usable epochs of one class only.
    """
    if abs(recording.sfreq - config.sfreq) > 1e-6:
        raise ValueError(
            f"the recording is sampled at {recording.sfreq} Hz but the config expects {config.sfreq} Hz; "
            f"build the config with PipelineConfig(sfreq={recording.sfreq})"
        )
    where = recording.metadata.get("source_file") or "the recording"
    stimuli = recording.stimulus_events()
    if not stimuli:
        raise ValueError(no_stimuli_message(marker_codes(recording.markers), where))
    filtered = filter_continuous(recording, config)
    n = config.epoch_samples
    dropped: Counter[str] = Counter()
    keep: list[tuple[int, int, str, int, float]] = []
    names: dict[int, str] = {}
    for order, (onset, event) in enumerate(stimuli):
        label = int(event.get("label", -1))
        if label < 0:
            dropped["unlabelled"] += 1
            continue
        names.setdefault(label, str(event.get("class", label)))
        start = epoch_start_index(recording.smoothed_timestamps, onset, config)
        if start < 0 or start + n > recording.n_samples:
            dropped["outside"] += 1
            continue
        reason = _rejection_reason(recording, filtered, start, n, epoch_start_time(onset, config), config)
        if reason:
            dropped[reason] += 1
            continue
        keep.append((start, label, str(event.get("image", order)), int(event["block"]), onset))

    if not keep:
        raise ValueError(f"no usable epochs in the recording (dropped: {dict(dropped)})")
    _check_classes([k[1] for k in keep], names, recording, where, dropped)
    starts = np.array([k[0] for k in keep])
    epochs = filtered[starts[:, None] + np.arange(n)[None, :]]
    onsets = np.array([k[4] for k in keep])
    blocks = np.array([k[3] for k in keep])
    if class_names is None:
        class_names = [names.get(i, str(i)) for i in range(max(names) + 1)]
    if dropped:
        log.info("dropped %d of %d epochs: %s", sum(dropped.values()), len(stimuli), dict(dropped))
    return EpochSet(
        epochs=epochs.astype(np.float32, copy=False),
        labels=np.array([k[1] for k in keep]),
        image_ids=[k[2] for k in keep],
        blocks=blocks,
        onsets=onsets,
        class_names=list(class_names),
        channel_names=list(recording.channel_names),
        dropped=dict(dropped),
    )


def _check_classes(
    labels: list[int], names: dict[int, str], recording: Recording, where: str, dropped: Counter[str]
) -> None:
    """Refuse epochs of a single class: a decoder of one class is right by construction."""
    if len(set(labels)) > 1:
        return
    name = names.get(labels[0], str(labels[0]))
    why = (
        f"the other epochs were dropped ({dict(dropped)})"
        if dropped
        else "its stimulus markers name one class"
    )
    codes = marker_codes(recording.markers)
    has = f"; its marker codes: {format_codes(codes)} (map them with --events)" if codes else ""
    raise ValueError(
        f"every usable epoch of {where} is of one class ({name}: {len(labels)}): {why}; a decoder needs "
        f"two or more classes{has}"
    )


def _rejection_reason(
    recording: Recording, filtered: np.ndarray, start: int, n: int, first: float, config: PipelineConfig
) -> str | None:
    """Why the epoch at ``start`` is unusable, or None."""
    raw = recording.data[start : start + n]
    if not np.all(np.isfinite(raw)):
        return "nan"
    if not recording_epoch_is_whole(recording, start, n, first):
        return "gap"
    window = filtered[start : start + n]
    if not np.all(np.isfinite(window)):
        return "gap"  # the filter restarted inside the window: it straddles a boundary
    if np.any(np.ptp(raw, axis=0) < config.epoch.reject_flat_uv):
        return "flat"
    if np.any(np.abs(window) > config.epoch.reject_max_abs_uv):
        return "saturated"
    return None
