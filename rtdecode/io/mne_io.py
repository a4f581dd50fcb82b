"""Recordings in the formats labs have, through MNE: BrainVision, EDF/BDF, FIF, EEGLAB and BIDS.

A file is read with MNE (``mne.io.read_raw``; a file inside a BIDS dataset with mne-bids, which
also applies its ``events.tsv``) into a :class:`~rtdecode.io.recording.Recording` in microvolts.
Its annotations (or, without any, the events of its stimulus channel) are its markers, as plain
codes. Which codes are stimuli of which class is said with a
:class:`~rtdecode.io.marker_mapping.MarkerMapping` (``--events "S1=house,S2=face"`` on the command
line), applied by :func:`~rtdecode.io.marker_mapping.map_markers` as for every other format;
every other annotation is kept as a plain-text marker. The files carry no block markers; the
blocks (runs) of their stimuli come from the one rule of every format, :mod:`rtdecode.io.blocks`
(the breaks between runs, else runs of consecutive trials, or ``--blocks``).

:func:`to_mne_raw` and :func:`epochs_to_mne` go the other way, for users who analyse further in MNE.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.io.marker_mapping import MarkerMapping, map_markers
from rtdecode.io.markers import OTHER, STIMULUS, parse_marker
from rtdecode.io.recording import Marker, Recording

log = logging.getLogger(__name__)

# The file names read_mne takes (BIDS datasets hold files of these types too).
MNE_SUFFIXES = (".vhdr", ".edf", ".bdf", ".fif", ".fif.gz", ".set")


def read_mne(path: str | Path, *, events: MarkerMapping | str | None = None) -> Recording:
    """Read a BrainVision, EDF/BDF, FIF or EEGLAB file (or one inside a BIDS dataset).

    Parameters
    ----------
    path : str or Path
        ``.vhdr``, ``.edf``, ``.bdf``, ``.fif``, ``.fif.gz`` or ``.set``. A file below a folder
        holding ``dataset_description.json`` is read as BIDS (mne-bids).
    events : MarkerMapping or str, optional
        Which event codes are stimuli of which class (an ``--events`` value: pairs, a mapping
        file or a pattern); without it every event stays a plain-text marker (enough for
        ``info`` and ``replay``).

    Returns
    -------
    Recording
        EEG channels in microvolts, ``(n_samples, n_channels)``; timestamps are seconds from the
        file's first sample; ``metadata`` names the source format and, with ``events``, holds the
        mapping (``marker_mapping``, :meth:`~rtdecode.io.marker_mapping.MarkerMapping.to_dict`).

    Raises
    ------
    ValueError
        A file MNE cannot read or without EEG channels; a mapping that does not fit the file's
        codes (the message lists them).
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"recording {path} does not exist; check the path")
    if isinstance(events, str):
        events = MarkerMapping.parse(events)
    bids_root = _bids_root(path)
    try:
        if bids_root is not None:
            import mne_bids

            raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(path), verbose="error")
            source = "bids"
        else:
            raw = mne.io.read_raw(path, preload=False, verbose="error")
            source = path.suffix.lower().lstrip(".")
    except (ValueError, OSError, RuntimeError, KeyError, IndexError) as error:
        raise ValueError(
            f"cannot read {path} with MNE ({type(error).__name__}: {error}); check that the file is complete "
            "and, for BrainVision, that its .eeg and .vmrk files lie beside it"
        ) from error
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if len(picks) == 0:
        picks = mne.pick_types(raw.info, eeg=True, seeg=True, ecog=True, misc=True, exclude=[])
    if len(picks) == 0:
        raise ValueError(
            f"{path} has no EEG channels (channel types: {sorted(set(raw.get_channel_types()))})"
        )
    data = raw.get_data(picks=picks).T * 1e6  # volts -> microvolts, samples as rows
    sfreq = float(raw.info["sfreq"])
    timestamps = np.arange(data.shape[0]) / sfreq
    markers, mapping = map_markers([Marker(t, d) for t, d in _events_of(raw)], events, str(path))
    metadata: dict[str, Any] = {"source": source, "file": path.name}
    if mapping is not None:
        metadata["marker_mapping"] = mapping.to_dict()
    return Recording(
        data=data,
        timestamps=timestamps,
        sfreq=sfreq,
        channel_names=[raw.ch_names[i] for i in picks],
        markers=markers,
        metadata=metadata,
    )


def _bids_root(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / "dataset_description.json").exists():
            return parent
    return None


def _events_of(raw: Any) -> list[tuple[float, str]]:
    """``(seconds from the first sample, description)`` of every annotation or stimulus-channel event."""
    import mne

    if len(raw.annotations):
        first = raw.first_time if raw.annotations.orig_time is not None else 0.0
        return [(float(a["onset"] - first), str(a["description"])) for a in raw.annotations]
    stim = mne.pick_types(raw.info, stim=True)
    if len(stim) == 0:
        return []
    found = mne.find_events(raw, shortest_event=1, verbose="error")
    return [(float((sample - raw.first_samp) / raw.info["sfreq"]), str(code)) for sample, _, code in found]


def to_mne_raw(recording: Recording) -> Any:
    """The recording as an ``mne.io.RawArray`` (volts) with its markers as annotations.

    Stimulus markers are annotated with their class name (``stimulus/<class>``), other JSON
    markers with their event name, plain-text markers with their text.
    """
    import mne

    info = mne.create_info(list(recording.channel_names), recording.sfreq, ch_types="eeg")
    raw = mne.io.RawArray(recording.data.T.astype(np.float64) * 1e-6, info, verbose="error")
    t0 = recording.timestamps[0] if recording.n_samples else 0.0
    onsets, names = [], []
    for timestamp, text in recording.markers:
        event = parse_marker(text)
        onsets.append(max(0.0, timestamp - t0))
        names.append(_annotation_text(event))
    raw.set_annotations(mne.Annotations(onsets, [0.0] * len(onsets), names))
    return raw


def _annotation_text(event: dict[str, Any]) -> str:
    kind = event.get("event")
    if kind == STIMULUS:
        return f"stimulus/{event.get('class', event.get('label'))}"
    if kind == OTHER:
        return str(event.get("text", kind))
    return str(kind)


def epochs_to_mne(
    epochs: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    channel_names: list[str],
    sfreq: float,
    tmin: float,
) -> Any:
    """Epochs as an ``mne.EpochsArray`` (volts), with one event id per class.

    Parameters
    ----------
    epochs : np.ndarray, shape (n_epochs, n_samples, n_channels)
        In microvolts, samples as rows (the project's order).
    labels : np.ndarray, shape (n_epochs,), int
    tmin : float
        Start of the epoch relative to the stimulus, in seconds.
    """
    import mne

    info = mne.create_info(list(channel_names), sfreq, ch_types="eeg")
    events = np.column_stack(
        [np.arange(len(labels)), np.zeros(len(labels), int), np.asarray(labels, int) + 1]
    )
    present = sorted(set(np.asarray(labels).tolist()))
    event_id = {class_names[k]: k + 1 for k in present}
    data = np.transpose(np.asarray(epochs, dtype=np.float64), (0, 2, 1)) * 1e-6
    return mne.EpochsArray(data, info, events=events, tmin=tmin, event_id=event_id, verbose="error")
