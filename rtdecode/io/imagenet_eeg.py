"""Importer for the ImageNet-EEG dataset (Spampinato et al. 2017), loaded without executing pickle.

File format reference
---------------------
Sources: Spampinato, Palazzo, Kavasidis, Giordano, Souly, Shah, "Deep Learning Human Mind for
Automated Visual Classification", CVPR 2017 (the recording protocol); Kavasidis et al. (same data);
the authors' loader in https://github.com/perceivelab/eeg_visual_classification
(``eeg_signal_classification.py``: classes ``EEGDataset`` and ``Splitter``), which the later
literature, Ferrante et al. included, reuses.

Protocol: 6 subjects, 128-channel EEG (actiCAP, Brainvision amplifier) at 1 kHz, 40 ImageNet classes x
50 images = 2000 images, each shown for 500 ms in a **block design**: the 50 images of one class in one
block of 25 s, a 10 s pause between blocks. 11,466 trials survive the authors' quality control.

The data file (released as ``eeg_5_95_std.pth``, ``eeg_14_70_std.pth``, ``eeg_55_95_std.pth`` (band-pass
then standardized) and ``eeg_signals_raw_with_mean_std.pth``) is a ``torch.save``'d dict::

    {
        "dataset": [                      # one entry per trial
            {"eeg": Tensor(128, T),       # channels x samples, float; T ~ 440-1530 at 1 kHz
             "label": int,                # 0-39, index into "labels"
             "image": int,                # 0-1995, index into "images"
             "subject": int},             # 1-6
            ...
        ],
        "labels": [str] * 40,             # WordNet ids, e.g. "n02389026"
        "images": [str] * 1996,           # image names "<wnid>_<number>", e.g. "n02389026_3045"
    }

A split file (``block_splits_by_image_all.pth``, ``block_splits_by_image_single.pth``) is a
``torch.save``'d ``{"splits": [{"train": [int], "val": [int], "test": [int]}, ...]}``; the reference loader
always uses split 0. The indices point into ``"dataset"``. Caveat: the reference loader indexes the
*subject-filtered* trial list with them when a subject is selected, so the ``*_single`` splits may be
positions within one subject's trials; pass ``splits_relative_to_subject=True`` for that reading.

What the reference loader does with a trial, for reproducing published numbers (not done here,
so the importer keeps everything): ``eeg = d["eeg"].float().t()[20:460]`` (samples 20-460, i.e.
20-460 ms after onset, the window Ferrante et al. use as well) and its ``Splitter`` drops trials
with fewer than 450 or more than 600 samples. :meth:`ImagenetEEG.epochs` does the crop.

The file stores no channel names and no channel order description. The actiCAP 128 labels exist but
the order in which the dataset stores the rows is not documented, so the channels are named
``"EEG001"`` .. ``"EEG128"`` here rather than guessing a montage.

Safety: the file is a pickle. It is read with ``torch.load(path, weights_only=True)``, whose
unpickler only builds tensors, dicts, lists, tuples, strings and numbers and refuses every other
global; with torch 2.14 it accepts the structure above (zip and legacy serialization alike).
A file that needs anything else is refused with a :class:`ValueError` naming what it asked for;
nothing in it is executed.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.classes import class_table
from rtdecode.io.markers import block_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording

log = logging.getLogger(__name__)

N_CHANNELS = 128
SFREQ = 1000.0
SPLIT_NAMES = ("train", "val", "test")
# The paper's (and the reference loader's) window in samples after onset at 1 kHz.
PAPER_CROP = (20, 460)

_CONVERT_HINT = (
    "If you trust the file and its origin, convert it once to plain types in a separate, isolated "
    "Python process, e.g.\n"
    "  import torch; d = torch.load(SRC, weights_only=False)\n"
    "  torch.save({'dataset': [{'eeg': t['eeg'].float(), 'label': int(t['label']), "
    "'image': int(t['image']), 'subject': int(t['subject'])} for t in d['dataset']], "
    "'labels': [str(x) for x in d['labels']], 'images': [str(x) for x in d['images']]}, DST)\n"
    "and load DST here."
)


def channel_names() -> list[str]:
    """The 128 channel names used for ImageNet-EEG: ``"EEG001"`` .. ``"EEG128"`` (see module doc)."""
    return [f"EEG{i:03d}" for i in range(1, N_CHANNELS + 1)]


@dataclass
class ImagenetEEG:
    """ImageNet-EEG trials of one or all subjects, in file order.

    Attributes
    ----------
    trials : list of np.ndarray, each shape (n_samples_i, n_channels), float32
        One array per trial, samples as rows; ``n_samples_i`` varies between trials.
    labels : np.ndarray, shape (n_trials,), int64
        Class index 0-39 of each trial (index into ``wnids`` / ``class_names``).
    images : list of str
        Image name of each trial, e.g. ``"n02389026_3045"``.
    subjects : np.ndarray, shape (n_trials,), int64
        Subject number 1-6 of each trial.
    dataset_indices : np.ndarray, shape (n_trials,), int64
        Position of each trial in the file's ``"dataset"`` list (what split files refer to).
    wnids : list of str
        The 40 WordNet ids in label order.
    class_names : list of str
        Human-readable name of each class, in label order.
    splits : dict of str to np.ndarray, or None
        ``"train"``, ``"val"``, ``"test"`` positions into ``trials`` (already mapped from file
        indices and restricted to the loaded subject), or None when no split file was given.
    source : str
        Path of the data file.
    """

    trials: list[np.ndarray]
    labels: np.ndarray
    images: list[str]
    subjects: np.ndarray
    dataset_indices: np.ndarray
    wnids: list[str]
    class_names: list[str]
    splits: dict[str, np.ndarray] | None = None
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.trials)

    @property
    def n_channels(self) -> int:
        return int(self.trials[0].shape[1]) if self.trials else N_CHANNELS

    def subject_ids(self) -> list[int]:
        """Sorted subject numbers present."""
        return sorted({int(s) for s in self.subjects})

    def epochs(self, start: int = PAPER_CROP[0], stop: int = PAPER_CROP[1]) -> np.ndarray:
        """All trials cropped to samples ``start:stop`` (the paper's 20-460 ms by default).

        Returns
        -------
        np.ndarray, shape (n_trials, stop - start, n_channels), float32

        Raises
        ------
        ValueError
            If a trial has fewer than ``stop`` samples.
        """
        if not 0 <= start < stop:
            raise ValueError(f"need 0 <= start < stop, got start={start}, stop={stop}")
        short = [i for i, t in enumerate(self.trials) if t.shape[0] < stop]
        if short:
            raise ValueError(
                f"{len(short)} trial(s) have fewer than stop={stop} samples (first: trial {short[0]} with "
                f"{self.trials[short[0]].shape[0]}); lower stop or drop those trials"
            )
        out = np.empty((len(self.trials), stop - start, self.n_channels), dtype=np.float32)
        for i, t in enumerate(self.trials):
            out[i] = t[start:stop]
        return out

    def to_recording(self, subject: int, *, sfreq: float = SFREQ, gap_s: float = 0.0) -> Recording:
        """Lay one subject's trials end to end as a continuous recording with stimulus markers.

        The trials are concatenated in file order, taken as presentation order (the file does not
        store presentation times; with the block design, consecutive trials of one class form a block).
        Each trial's first sample is taken as the stimulus onset, which is what the reference loader's
        20-460 sample crop assumes. The joins between trials are discontinuities of the original
        data; filters run over the recording will ring briefly at each join.

        Markers: a stimulus marker at each onset (``image`` = image name, ``label``, ``class`` = human
        name, ``block``, plus ``trial`` = index in the file's ``"dataset"``), and block_start/block_end
        markers around each run of consecutive same-label trials (inferred blocks).

        Parameters
        ----------
        subject : int
            Subject number to lay out (1-6).
        sfreq : float
            Sampling rate in Hz (the dataset is 1 kHz).
        gap_s : float
            Seconds of zeros inserted between trials (the ``_std`` files are standardized, so zero is
            the channel mean). 0 packs the trials back to back.

        Returns
        -------
        Recording
            ``data`` of shape (n_samples, n_channels) float32, timestamps from 0 s at ``1/sfreq`` spacing,
            channels ``"EEG001"`` .. ``"EEG128"``, metadata with source, subject and trial indices.
        """
        if sfreq <= 0:
            raise ValueError(f"sfreq must be positive, got {sfreq}")
        if gap_s < 0:
            raise ValueError(f"gap_s must be >= 0, got {gap_s}")
        rows = np.flatnonzero(self.subjects == int(subject))
        if rows.size == 0:
            raise ValueError(
                f"subject={subject} is not in this dataset; subjects present: {self.subject_ids()}"
            )
        n_channels = self.n_channels
        gap = int(round(gap_s * sfreq))
        lengths = np.asarray([self.trials[i].shape[0] for i in rows], dtype=np.int64)
        onsets = np.concatenate([[0], np.cumsum(lengths + gap)[:-1]]).astype(np.int64)
        n_samples = int(onsets[-1] + lengths[-1])
        data = np.zeros((n_samples, n_channels), dtype=np.float32)
        for i, onset, length in zip(rows.tolist(), onsets.tolist(), lengths.tolist(), strict=True):
            data[onset : onset + length] = self.trials[i]
        timestamps = np.arange(n_samples, dtype=np.float64) / sfreq

        markers: list[Marker] = []
        block = -1
        previous_label: int | None = None
        for k, (i, onset) in enumerate(zip(rows.tolist(), onsets.tolist(), strict=True)):
            label = int(self.labels[i])
            if label != previous_label:
                if previous_label is not None:
                    markers.append(
                        Marker(
                            timestamps[onsets[k - 1] + lengths[k - 1] - 1], block_marker("block_end", block)
                        )
                    )
                block += 1
                markers.append(Marker(timestamps[onset], block_marker("block_start", block)))
                previous_label = label
            event = json.loads(stimulus_marker(self.images[i], label, self.class_names[label], block=block))
            event["trial"] = int(self.dataset_indices[i])
            markers.append(Marker(timestamps[onset], json.dumps(event)))
        markers.append(Marker(timestamps[n_samples - 1], block_marker("block_end", block)))

        names = (
            channel_names() if n_channels == N_CHANNELS else [f"EEG{i:03d}" for i in range(1, n_channels + 1)]
        )
        return Recording(
            data=data,
            timestamps=timestamps,
            sfreq=float(sfreq),
            channel_names=names,
            markers=markers,
            metadata={
                "source": "ImageNet-EEG",
                "path": self.source,
                "subject": int(subject),
                "trial_indices": [int(self.dataset_indices[i]) for i in rows],
                "trial_onsets": onsets.tolist(),
                "gap_s": float(gap_s),
                "class_names": list(self.class_names),
                "wnids": list(self.wnids),
                "channel_names_note": "the dataset stores no channel names; EEG001..EEG128 in file row order",
                "blocks_note": "blocks are inferred as runs of consecutive same-label trials",
            },
        )


def _torch_load_safely(path: Path, what: str) -> Any:
    """``torch.load(weights_only=True)`` with the refusals turned into clear ValueErrors."""
    import torch

    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} does not exist or is not a file; check the path")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe: list[str] = []
        try:
            # Static disassembly only (zip format); tells the user exactly what the file asked for.
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # legacy (non-zip) files cannot be disassembled; torch's own line is shown instead
            pass
        detail = f" It asks for: {', '.join(sorted(unsafe))}." if unsafe else ""
        # torch's message is long; the line naming the refused GLOBAL is the one worth showing.
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = next(
            (ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln), lines[0] if lines else ""
        )
        raise ValueError(
            f"refusing to load {what} {str(path)!r}: it contains pickled objects other than tensors and "
            f"plain Python containers, and unpickling them could execute arbitrary code.{detail} "
            f"(torch: {reason}) " + _CONVERT_HINT
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(
            f"cannot read {what} {str(path)!r} as a torch.save file ({exc}); the file may be truncated or "
            "not the ImageNet-EEG .pth: download it again"
        ) from None


def _as_int(value: Any, name: str, index: int) -> int:
    try:
        return int(value)  # plain ints, 0-d tensors and numpy scalars alike
    except (TypeError, ValueError):
        raise ValueError(f"trial {index}: {name!r} must be an integer, got {value!r}") from None


def _check_top_level(obj: Any, path: Path) -> None:
    if not isinstance(obj, dict):
        raise ValueError(
            f"{str(path)!r}: expected a dict with 'dataset', 'labels', 'images', got {type(obj)}"
        )
    missing = [k for k in ("dataset", "labels", "images") if k not in obj]
    if missing:
        raise ValueError(
            f"{str(path)!r} lacks the key(s) {missing}; is this the ImageNet-EEG data file (eeg_*.pth) "
            "and not a split file?"
        )


def _load_splits(
    splits_path: Path,
    split_index: int,
    keep: np.ndarray,
    n_dataset: int,
    relative_to_subject: bool,
) -> dict[str, np.ndarray]:
    obj = _torch_load_safely(splits_path, "split file")
    if not isinstance(obj, dict) or "splits" not in obj:
        raise ValueError(f"split file {str(splits_path)!r} must hold a dict with a 'splits' list")
    all_splits = obj["splits"]
    if not 0 <= split_index < len(all_splits):
        raise ValueError(
            f"split_index={split_index} out of range: {str(splits_path)!r} has {len(all_splits)} split(s)"
        )
    chosen = all_splits[split_index]
    # keep[i] is the dataset index of loaded trial i; invert it to map file indices to positions.
    reference_size = len(keep) if relative_to_subject else n_dataset
    position = np.full(reference_size, -1, dtype=np.int64)
    if relative_to_subject:
        position[:] = np.arange(len(keep))
    else:
        position[keep] = np.arange(len(keep))
    out: dict[str, np.ndarray] = {}
    for name in SPLIT_NAMES:
        if name not in chosen:
            raise ValueError(f"split {split_index} of {str(splits_path)!r} has no {name!r} list")
        idx = np.asarray([int(i) for i in chosen[name]], dtype=np.int64)
        bad = idx[(idx < 0) | (idx >= reference_size)]
        if bad.size:
            hint = (
                "these may be indices into the whole dataset: use splits_relative_to_subject=False"
                if relative_to_subject
                else "is the split file meant for this data file?"
            )
            raise ValueError(
                f"split {name!r} has indices outside 0..{reference_size - 1} (e.g. {int(bad[0])}); {hint}"
            )
        pos = position[idx]
        out[name] = pos[pos >= 0]
    return out


def load_imagenet_eeg(
    path: str | Path,
    subject: int | None = None,
    splits_path: str | Path | None = None,
    split_index: int = 0,
    *,
    splits_relative_to_subject: bool = False,
) -> ImagenetEEG:
    """Load an ImageNet-EEG ``.pth`` file (and optionally a split file) without executing pickle.

    Parameters
    ----------
    path : str or Path
        The data file, e.g. ``eeg_5_95_std.pth`` (format in the module docstring).
    subject : int, optional
        Keep only this subject's trials (1-6); all subjects when None.
    splits_path : str or Path, optional
        A split file such as ``block_splits_by_image_all.pth``.
    split_index : int
        Which entry of the split file's ``"splits"`` list to use (the reference loader uses 0).
    splits_relative_to_subject : bool
        Read split indices as positions among the selected subject's trials instead of indices
        into the whole ``"dataset"`` list (see the caveat in the module docstring).

    Returns
    -------
    ImagenetEEG
        Trials as ``(n_samples_i, 128)`` float32 arrays in file order, with labels, image names,
        subjects, the 40 WordNet ids, their human-readable names and the split positions.

    Raises
    ------
    ValueError
        If the file is missing, is not this format, needs code execution to unpickle, or the
        subject or split does not exist.
    """
    path = Path(path)
    obj = _torch_load_safely(path, "ImageNet-EEG file")
    _check_top_level(obj, path)
    dataset = obj["dataset"]
    wnids = [str(w) for w in obj["labels"]]
    image_names = [str(n) for n in obj["images"]]

    bad = next((i for i, d in enumerate(dataset) if not isinstance(d, dict)), None)
    if bad is not None:
        raise ValueError(
            f"{str(path)!r}: 'dataset' entry {bad} is a {type(dataset[bad]).__name__}, expected a dict with "
            "'eeg', 'label', 'image', 'subject'"
        )
    all_subjects = np.asarray(
        [_as_int(d.get("subject"), "subject", i) for i, d in enumerate(dataset)], dtype=np.int64
    )
    if subject is None:
        keep = np.arange(len(dataset), dtype=np.int64)
    else:
        keep = np.flatnonzero(all_subjects == int(subject)).astype(np.int64)
        if keep.size == 0:
            raise ValueError(
                f"subject={subject} has no trials in {str(path)!r}; subjects present: "
                f"{sorted(set(all_subjects.tolist()))}"
            )

    trials: list[np.ndarray] = []
    labels = np.empty(keep.size, dtype=np.int64)
    images: list[str] = []
    n_channels: int | None = None
    for pos, i in enumerate(keep.tolist()):
        entry = dataset[i]
        if "eeg" not in entry:
            raise ValueError(f"trial {i} of {str(path)!r} has no 'eeg' tensor")
        eeg = np.asarray(
            entry["eeg"].detach().cpu().numpy() if hasattr(entry["eeg"], "detach") else entry["eeg"]
        )
        if eeg.ndim != 2:
            raise ValueError(f"trial {i}: 'eeg' must be (channels, samples), got shape {eeg.shape}")
        if n_channels is None:
            n_channels = eeg.shape[0]
            if n_channels != N_CHANNELS:
                log.warning("ImageNet-EEG trial %d has %d channels, expected %d", i, n_channels, N_CHANNELS)
        elif eeg.shape[0] != n_channels:
            raise ValueError(f"trial {i} has {eeg.shape[0]} channels, earlier trials have {n_channels}")
        # The file is channels x samples; the project is samples-as-rows (LSL order).
        trials.append(np.ascontiguousarray(eeg.T, dtype=np.float32))
        label = _as_int(entry.get("label"), "label", i)
        if not 0 <= label < len(wnids):
            raise ValueError(f"trial {i}: label {label} outside 0..{len(wnids) - 1}")
        labels[pos] = label
        image = _as_int(entry.get("image"), "image", i)
        if not 0 <= image < len(image_names):
            raise ValueError(f"trial {i}: image index {image} outside 0..{len(image_names) - 1}")
        images.append(image_names[image])

    # Map names by wnid, not by row, so a file with another label order still gets the right names.
    by_wnid = {wnid: name for _, wnid, name in class_table()}
    unknown = [w for w in wnids if w not in by_wnid]
    if unknown:
        log.warning("no human-readable name for WordNet id(s) %s; using the id as the name", unknown)
    class_names = [by_wnid.get(w, w) for w in wnids]

    splits = None
    if splits_path is not None:
        splits = _load_splits(Path(splits_path), split_index, keep, len(dataset), splits_relative_to_subject)

    return ImagenetEEG(
        trials=trials,
        labels=labels,
        images=images,
        subjects=all_subjects[keep],
        dataset_indices=keep,
        wnids=wnids,
        class_names=class_names,
        splits=splits,
        source=str(path),
        metadata={
            "splits_path": str(splits_path) if splits_path is not None else None,
            "split_index": split_index,
        },
    )


def read_imagenet_eeg(path: str | Path, *, subject: int, gap_s: float = 0.0) -> Recording:
    """Read one subject of an ImageNet-EEG ``.pth`` file as a continuous recording.

    The reader :func:`rtdecode.io.read_recording` calls for ``.pth`` files: :func:`load_imagenet_eeg`
    of that subject, laid out with :meth:`ImagenetEEG.to_recording`.

    Parameters
    ----------
    path : str or Path
        The data file, e.g. ``eeg_5_95_std.pth``.
    subject : int
        The subject to read (1-6); the file holds all six.
    gap_s : float
        Seconds of zeros between trials (0: back to back).

    Returns
    -------
    Recording
        ``data`` (n_samples, n_channels) float32 with stimulus and block markers.
    """
    return load_imagenet_eeg(path, subject=subject).to_recording(subject, gap_s=gap_s)
