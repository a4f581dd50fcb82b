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
