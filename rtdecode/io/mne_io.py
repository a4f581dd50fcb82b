"""Recordings in the formats labs have, through MNE: BrainVision, EDF/BDF, FIF, EEGLAB and BIDS.

A file is read with MNE (``mne.io.read_raw``; a file inside a BIDS dataset with mne-bids, which
also applies its ``events.tsv``) into a :class:`~rtdecode.io.recording.Recording` in microvolts.
Its annotations (or, without any, the events of its stimulus channel) become the project's JSON
markers. Which event codes are stimuli of which class is said with an :class:`EventMapping`
(``--events "S1=house,S2=face"`` on the command line); every other annotation is kept as a
plain-text marker. Files carry no block structure, so trials are grouped into blocks at pauses
(a new block after 2 s without a stimulus), or, with fewer than three such blocks, into
``n_blocks`` runs of consecutive trials, so that evaluation can still split by block.

:func:`to_mne_raw` and :func:`epochs_to_mne` go the other way, for users who analyse further in MNE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.io.markers import OTHER, STIMULUS, parse_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording

log = logging.getLogger(__name__)

# The file names read_mne takes (BIDS datasets hold files of these types too).
MNE_SUFFIXES = (".vhdr", ".edf", ".bdf", ".fif", ".fif.gz", ".set")
# A pause this long between stimuli starts a new block.
BLOCK_PAUSE_S = 2.0
DEFAULT_BLOCKS = 6


def _normalize(code: str) -> str:
    """``"Stimulus/S  1"`` -> ``"S1"``: the last path part of a description without spaces."""
    return str(code).split("/")[-1].replace(" ", "")


@dataclass(frozen=True)
class EventMapping:
    """Which event codes are stimuli, and of which class.

    Attributes
    ----------
    classes : dict
        ``{event code: class name}``. Codes match an annotation's description exactly, or after
        dropping its ``Stimulus/``-style prefix and spaces (``"S1"`` matches ``"Stimulus/S  1"``).
        Class indices follow the order of first appearance of each class name.
    """

    classes: dict[str, str]

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("an event mapping needs at least one CODE=CLASS pair, e.g. 'S1=house,S2=face'")

    @classmethod
    def parse(cls, text: str) -> EventMapping:
        """Parse ``"CODE=CLASS,CODE=CLASS"`` (e.g. ``"1=house,2=face"``)."""
        pairs = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            code, sep, name = item.partition("=")
            if not sep or not code.strip() or not name.strip():
                raise ValueError(
                    f"events must be CODE=CLASS pairs separated by commas, got {item!r} in {text!r}"
                )
            pairs[code.strip()] = name.strip()
        return cls(pairs)

    @property
    def class_names(self) -> list[str]:
        return list(dict.fromkeys(self.classes.values()))

    def label_of(self, description: str) -> tuple[int, str] | None:
        """``(label, class name)`` of an annotation description, or None when it is no stimulus."""
        name = self.classes.get(description)
        if name is None:
            wanted = _normalize(description)
            name = next((v for k, v in self.classes.items() if _normalize(k) == wanted), None)
        return None if name is None else (self.class_names.index(name), name)


def read_mne(
    path: str | Path, *, events: EventMapping | str | None = None, n_blocks: int = DEFAULT_BLOCKS
) -> Recording:
    """Read a BrainVision, EDF/BDF, FIF or EEGLAB file (or one inside a BIDS dataset).

    Parameters
    ----------
    path : str or Path
        ``.vhdr``, ``.edf``, ``.bdf``, ``.fif``, ``.fif.gz`` or ``.set``. A file below a folder
        holding ``dataset_description.json`` is read as BIDS (mne-bids).
    events : EventMapping or str, optional
        Which event codes are stimuli of which class; without it every event stays a
        plain-text marker (enough for ``info``, ``replay`` and ``predict`` without scores).
    n_blocks : int
        Blocks to cut the trials into when pauses do not give at least three.

    Returns
    -------
    Recording
        EEG channels in microvolts, ``(n_samples, n_channels)``; timestamps are seconds from the
        file's first sample; ``metadata`` names the source format.
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"recording {path} does not exist; check the path")
    if isinstance(events, str):
        events = EventMapping.parse(events)
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
    descriptions = _events_of(raw)
    markers = _markers(descriptions, events, n_blocks)
    metadata: dict[str, Any] = {"source": source, "file": path.name}
    if events is not None:
        metadata["class_names"] = events.class_names
        n_stimuli = sum(1 for m in markers if parse_marker(m.text).get("event") == STIMULUS)
        if n_stimuli == 0:
            codes = sorted({d for _, d in descriptions})[:20]
            raise ValueError(
                f"none of the event codes {sorted(events.classes)} occurs in {path}; its events are {codes}. "
                "Map those: --events CODE=CLASS,..."
            )
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


def _markers(
    descriptions: list[tuple[float, str]], events: EventMapping | None, n_blocks: int
) -> list[Marker]:
    stimuli = [] if events is None else [(t, d, events.label_of(d)) for t, d in descriptions]
    stimuli = [(t, d, found) for t, d, found in stimuli if found is not None]
    blocks = _blocks(np.array([t for t, _, _ in stimuli]), n_blocks)
    markers = [
        Marker(t, stimulus_marker(f"{_normalize(d)}-{i:05d}", label, name, int(block)))
        for i, ((t, d, (label, name)), block) in enumerate(zip(stimuli, blocks, strict=True))
    ]
    taken = {(t, d) for t, d, _ in stimuli}
    markers += [Marker(t, d) for t, d in descriptions if (t, d) not in taken]
    return markers


def _blocks(onsets: np.ndarray, n_blocks: int) -> np.ndarray:
    """Block of each stimulus: at pauses, else ``n_blocks`` runs of consecutive trials."""
    if len(onsets) == 0:
        return np.zeros(0, dtype=int)
    by_pause = np.cumsum(np.diff(onsets, prepend=onsets[0]) > BLOCK_PAUSE_S)
    if by_pause.max() + 1 >= 3:
        return by_pause
    return (np.arange(len(onsets)) * max(1, n_blocks) // len(onsets)).astype(int)


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
