"""Tiny recordings in the on-disk formats read_recording takes, for the io and format tests.

ImageNet-EEG (``torch.save``'d dict), THINGS-EEG2 (``np.save``'d dict in the release's folder
layout) and an MNE Raw with annotations for MNE's own writers (BrainVision, EDF, EEGLAB, FIF).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# ---------------------------------------------------------------- ImageNet-EEG

# Dataset order interleaves the two subjects; each subject sees two blocks of three trials.
SUBJECTS = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
LABELS = [3, 10, 3, 10, 3, 10, 7, 0, 7, 0, 7, 0]
N_IMAGES = 30


def imagenet_dict(seed: int = 0) -> dict:
    """The dataset dict of an ImageNet-EEG ``.pth`` file: 12 trials of 128 channels, 2 subjects."""
    import torch

    from rtdecode.io.imagenet_eeg import class_table

    rng = np.random.default_rng(seed)
    wnids = [w for _, w, _ in class_table()]
    images = [f"{wnids[i % 40]}_{1000 + i}" for i in range(N_IMAGES)]
    dataset = []
    for i, (subject, label) in enumerate(zip(SUBJECTS, LABELS, strict=True)):
        n = int(rng.integers(470, 560))
        dataset.append(
            {
                "eeg": torch.from_numpy(rng.standard_normal((128, n)).astype(np.float32)),
                "label": label,
                "image": (7 * i) % N_IMAGES,
                "subject": subject,
            }
        )
    return {"dataset": dataset, "labels": wnids, "images": images}


def write_imagenet_file(path: Path, *, zip_format: bool = True) -> dict:
    """Write :func:`imagenet_dict` with ``torch.save`` (zip or legacy serialization); returns it."""
    import torch

    raw = imagenet_dict()
    torch.save(raw, path, _use_new_zipfile_serialization=zip_format)
    return raw


# ---------------------------------------------------------------- THINGS-EEG2

N_SAMPLES = 4000
EVENTS = [(150, 3), (700, 1), (1200, 99999), (1900, 6), (2600, 2), (3300, 3)]
GOOD = [(s, c) for s, c in EVENTS if c != 99999]
EEG_NAMES = [f"E{i:02d}" for i in range(63)]
TRAIN_CONCEPTS = [
    "00001_aardvark",
    "00001_aardvark",
    "00002_ice_cream",
    "00002_ice_cream",
    "00003_zebra",
    "00003_zebra",
]
TRAIN_FILES = [
    "aardvark_01b.jpg",
    "aardvark_02s.jpg",
    "ice_cream_01b.jpg",
    "ice_cream_03s.jpg",
    "zebra_01b.jpg",
    "zebra_02n.jpg",
]


def things_raw(seed: int = 0) -> dict:
    """The dict of a THINGS-EEG2 raw session file: 63 EEG rows in volts + the stimulus row."""
    rng = np.random.default_rng(seed)
    eeg = rng.standard_normal((63, N_SAMPLES)) * 20e-6  # volts, as MNE's get_data() gives
    stim = np.zeros((1, N_SAMPLES))
    for sample, cond in EVENTS:
        stim[0, sample] = cond
    return {
        "raw_eeg_data": np.concatenate([eeg, stim], axis=0),
        "ch_names": EEG_NAMES + ["stim"],
        "ch_types": ["eeg"] * 63 + ["stim"],
        "sfreq": 1000,
        "highpass": 0.01,
        "lowpass": 100,
    }


def write_things_session(root: Path, subject: int = 3, session: int = 2) -> tuple[Path, Path, dict]:
    """``root/raw_data/sub-XX/ses-YY/raw_eeg_training.npy`` and ``root/image_metadata.npy``.

    Returns
    -------
    (session file, metadata file, the raw dict saved)
    """
    folder = root / "raw_data" / f"sub-{subject:02d}" / f"ses-{session:02d}"
    folder.mkdir(parents=True)
    raw = things_raw()
    np.save(folder / "raw_eeg_training.npy", raw)
    meta = root / "image_metadata.npy"
    if not meta.exists():
        np.save(
            meta,
            {
                "train_img_concepts": TRAIN_CONCEPTS,
                "train_img_files": TRAIN_FILES,
                "test_img_concepts": ["00001_test_thing", "00002_other"],
                "test_img_files": ["test_thing_01b.jpg", "other_01b.jpg"],
            },
        )
    return folder / "raw_eeg_training.npy", meta, raw


# ---------------------------------------------------------------- MNE formats

MNE_SFREQ = 250.0
# Stimulus onsets in seconds: three runs separated by pauses of 5 s, so three blocks.
MNE_ONSETS = np.concatenate(
    [np.arange(2.0, 20.0, 0.6), np.arange(25.0, 43.0, 0.6), np.arange(48.0, 58.0, 0.6)]
)


def mne_raw_with_annotations() -> tuple[Any, np.ndarray, list[str]]:
    """An ``mne.io.RawArray`` (3 EEG channels, 60 s) with stimulus codes 1/2 and one response 99.

    Returns
    -------
    (raw, stimulus onsets in seconds, their codes)
    """
    import mne

    rng = np.random.default_rng(0)
    n = int(60 * MNE_SFREQ)
    data = rng.standard_normal((3, n)) * 10e-6  # volts
    info = mne.create_info(["Oz", "Pz", "Cz"], MNE_SFREQ, ch_types="eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    # The stimuli, plus a response code that is no stimulus.
    onsets = MNE_ONSETS
    codes = ["1" if i % 2 else "2" for i in range(len(onsets))]
    onsets = np.append(onsets, 21.0)
    codes.append("99")
    raw.set_annotations(mne.Annotations(onsets, np.zeros(len(onsets)), codes))
    return raw, onsets[:-1], codes[:-1]


def write_mne_file(path: Path) -> tuple[Any, np.ndarray, list[str]]:
    """:func:`mne_raw_with_annotations` written by MNE's writer for ``path``'s suffix."""
    raw, onsets, codes = mne_raw_with_annotations()
    if path.name.endswith(".fif"):
        raw.save(path, verbose="error")
    else:
        import mne

        mne.export.export_raw(path, raw, verbose="error")
    return raw, onsets, codes


# ---------------------------------------------------------------- a PsychoPy + LabRecorder session

# The code a presenter sends for each class label, and the --events that maps them back.
LAB_CODES = {0: "1", 1: "2"}
LAB_CLASSES = {0: "house", 1: "face"}
LAB_EVENTS = "1=house,2=face"
LAB_RUNS = 3
LAB_TRIALS = 36


def lab_session(seed: int = 0, n_channels: int = 8) -> tuple[Any, list[int], list[int]]:
    """A simulated two-class session as a PsychoPy experiment + LabRecorder record it.

    Three runs of 12 images (0.5 s each); the presenter sends the plain code ``"1"`` or ``"2"``
    at each image onset and nothing else (no block markers, no JSON); the recorder was stopped
    between runs, so the EEG has no samples during the pauses (about 6 s each).

    Returns
    -------
    (Recording at 250 Hz with the plain markers, label of each stimulus in time order, run of
    each stimulus)
    """
    from rtdecode.io.recording import Marker, Recording
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.session import simulate_session

    sim = simulate_session(
        SimulationConfig(
            n_classes=2,
            images_per_class=LAB_TRIALS // 2,
            n_channels=n_channels,
            sfreq=250.0,
            block_s=6.0,
            break_s=8.0,
            lead_in_s=1.0,
            seed=seed,
        )
    )
    events = sim.events()
    starts = [t for t, e in events if e["event"] == "block_start"]
    ends = [t for t, e in events if e["event"] == "block_end"]
    # Each run recorded from 1 s before its first image to 1 s after its last.
    keep = np.zeros(sim.n_samples, dtype=bool)
    for start, end in zip(starts, ends, strict=True):
        keep |= (sim.timestamps >= start - 1.0) & (sim.timestamps <= end + 1.0)
    stimuli = sim.stimulus_events()
    recording = Recording(
        data=sim.data[keep],
        timestamps=sim.timestamps[keep],
        sfreq=sim.sfreq,
        channel_names=sim.channel_names,
        markers=[Marker(t, LAB_CODES[e["label"]]) for t, e in stimuli],
    )
    return recording, [e["label"] for _, e in stimuli], [e["block"] for _, e in stimuli]


def write_labrecorder_xdf(path: Path, recording: Any, *, marker_format: str = "string") -> Path:
    """Write EEG and the markers as LabRecorder does: an amplifier's EEG stream with channel labels,
    the presenter's one-channel marker stream (``string``, or ``int32`` codes), clock offsets, no
    project metadata."""
    from rtdecode.io.xdf import XdfWriter

    stamps = recording.timestamps
    with XdfWriter(path) as writer:
        eeg = writer.add_stream(
            "BrainAmp", "EEG", recording.n_channels, recording.sfreq, "float32",
            source_id="amp-1234", channel_names=recording.channel_names,
        )  # fmt: skip
        markers = writer.add_stream("PsychoPy", "Markers", 1, 0.0, marker_format, source_id="psychopy")
        for stream in (eeg, markers):
            writer.write_clock_offset(stream, float(stamps[0]), 0.0)
        texts = [m.text for m in recording.markers]
        values = texts if marker_format == "string" else np.array([[int(t)] for t in texts])
        writer.write_samples(markers, values, [m.timestamp for m in recording.markers])
        for start in range(0, recording.n_samples, 250):
            writer.write_samples(eeg, recording.data[start : start + 250], stamps[start : start + 250])
    return path


def write_lab_mne_file(path: Path, recording: Any) -> Path:
    """The session as an amplifier's own file (EDF, BrainVision...): the runs back to back, each
    marker an annotation with its plain code; in BrainVision a trigger box's ``Stimulus/S  1``."""
    import mne

    info = mne.create_info(list(recording.channel_names), recording.sfreq, ch_types="eeg")
    raw = mne.io.RawArray(recording.data.T.astype(np.float64) * 1e-6, info, verbose="error")
    # Runs back to back as the file stores them: the onset is the marker's sample in the file.
    onsets = [np.searchsorted(recording.timestamps, m.timestamp) / recording.sfreq for m in recording.markers]
    texts = [m.text for m in recording.markers]
    if path.suffix == ".vhdr":
        texts = [f"Stimulus/S{int(t):>3d}" for t in texts]
    raw.set_annotations(mne.Annotations(onsets, [0.0] * len(onsets), texts))
    mne.export.export_raw(path, raw, verbose="error")
    return path
