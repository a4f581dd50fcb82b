"""The simulator's ground truth applied to a recording: which subject made it, and how well the
oracle classifies it (:meth:`~rtdecode.sim.subject.SimulatedSubject.oracle_scores` explains the
oracle)."""

from __future__ import annotations

import numpy as np

from rtdecode.config import PipelineConfig
from rtdecode.io.recording import Recording
from rtdecode.signal.filters import SegmentedFilter, design_filter_bank
from rtdecode.sim.config import SimulationConfig, to_samples
from rtdecode.sim.subject import SimulatedSubject


def subject_from_recording(recording: Recording) -> SimulatedSubject:
    """Rebuild the subject that generated a simulated recording (from its metadata)."""
    config = recording.metadata.get("simulator")
    if not isinstance(config, dict):
        raise ValueError(
            "this recording has no 'simulator' metadata; only recordings made by "
            "simulate_session (or a simulator stream) have a ground truth"
        )
    return SimulatedSubject(SimulationConfig.from_dict(config))


def oracle_accuracy(recording: Recording, pipeline: PipelineConfig | None = None) -> float:
    """Oracle top-1 accuracy on a simulated recording.

    Filters the recording with the pipeline's own causal filter bank (default
    :class:`PipelineConfig`), cuts its epoch window after every stimulus marker and applies
    :meth:`SimulatedSubject.oracle_predict`. No standardization: templates are in microvolts.
    """
    subject = subject_from_recording(recording)
    pipeline = pipeline if pipeline is not None else PipelineConfig(sfreq=recording.sfreq)
    sos = design_filter_bank(pipeline)
    stamps = recording.smoothed_timestamps
    filtered = SegmentedFilter(pipeline, recording.n_channels).process(recording.data, stamps)
    start = to_samples(pipeline.epoch.tmin_s, recording.sfreq)
    length = pipeline.epoch_samples
    epochs, ids = [], []
    for timestamp, event in recording.stimulus_events():
        onset = int(np.searchsorted(stamps, timestamp - 0.5 / recording.sfreq))
        if onset + start + length <= recording.n_samples:
            epochs.append(filtered[onset + start : onset + start + length])
            ids.append(event["image"])
    if not epochs:
        raise ValueError("the recording has no complete epoch after a stimulus marker")
    return subject.oracle_accuracy(np.stack(epochs), ids, pipeline.epoch.tmin_s, sos)
