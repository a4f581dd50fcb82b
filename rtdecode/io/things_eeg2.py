"""Importer for THINGS-EEG2 raw sessions (Gifford et al. 2022) as continuous recordings.

File format reference
---------------------
Sources: Gifford, Dwivedi, Roig, Cichy, "A large and rich EEG dataset for modeling human visual object
recognition", NeuroImage 264 (2022); the data on OSF, https://osf.io/3jk45/; the authors' code in
https://github.com/gifale95/eeg_encoding (``01_eeg_preprocessing/source_to_raw.py`` writes the raw
files, ``preprocessing_utils.py`` reads them).

Protocol: 10 subjects x 4 sessions, 64-channel EEG at 1 kHz, rapid serial visual presentation of THINGS
images: 1654 training concepts x 10 images = 16,540 training image conditions (each shown 4 times
over the sessions) and 200 test concepts x 1 image = 200 test conditions (each shown 80 times).
Subjects pressed a button on target images (Buzz Lightyear); those are the catch trials.

Raw files: ``raw_data/sub-XX/ses-YY/raw_eeg_training.npy`` and ``raw_eeg_test.npy``, each an ``np.save``'d
dict (so a pickle inside a 0-d object array; the authors read it with
``np.load(path, allow_pickle=True).item()``)::

    {
        "raw_eeg_data": ndarray (64, n_samples), float64,  # 63 EEG rows + the stimulus row last
        "ch_names": [str] * 64,                            # 10-10 labels, the last one 'stim'
        "ch_types": ["eeg"] * 63 + ["stim"],
        "sfreq": 1000,
        "highpass": 0.01, "lowpass": 100,                  # hardware filter of the recording
    }

``raw_eeg_data`` comes from MNE's ``Raw.get_data()``, so the EEG rows are in **volts**; this importer
converts them to microvolts (the project's unit) unless told otherwise. The training file is the five
recording parts of the session appended along time, with no marker at the joins. The stimulus row is
zero except at each image onset sample, where it holds the image condition number (training
1..16540, test 1..200) or 99999 for target (catch) trials; the authors find the events with
``mne.find_events(raw, stim_channel='stim')`` and delete the 99999 ones.

Image metadata: ``image_metadata.npy``, an ``np.save``'d dict with ``train_img_concepts`` (e.g.
``"00001_aardvark"``), ``train_img_files`` (e.g. ``"aardvark_01b.jpg"``), ``test_img_concepts`` and
``test_img_files`` (some releases add ``*_THINGS`` variants); condition ``c`` of a partition is entry
``c - 1`` of that partition's lists.

Safety: ``allow_pickle=True`` would run whatever the pickle asks for. This module refuses to read such
a file unless the caller passes ``trust_file=True``, and even then it does not call ``np.load``: it
parses the ``.npy`` header itself and unpickles the payload with an unpickler that can only build
numpy arrays, dtypes and numpy scalars (plus the pickle's own dicts, lists, strings and numbers).
Any other global is refused with a :class:`ValueError`, so nothing in the file is executed.
"""

from __future__ import annotations

import codecs
import collections
import json
import logging
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric

from rtdecode.io.markers import stimulus_marker
from rtdecode.io.recording import Marker, Recording

log = logging.getLogger(__name__)

CATCH_CONDITION = 99999
STIM_CHANNEL = "stim"
PARTITIONS = ("training", "test")
# The release's raw session files, and where they lie below a session, subject or raw_data folder.
SESSION_FILES = tuple(f"raw_eeg_{p}.npy" for p in PARTITIONS)
_SESSION_PATTERNS = ("raw_eeg_*.npy", "ses-*/raw_eeg_*.npy", "sub-*/ses-*/raw_eeg_*.npy")
# Raw EEG amplitudes in volts stay far below this; microvolt data far above. Used only when the
# caller does not say which unit the file holds.
_VOLT_THRESHOLD = 1e-2

# (module, name) pairs the restricted unpickler may resolve: numpy array/dtype/scalar rebuilders only.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles spell bytes
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array, dtype and scalar rebuilders; refuses the rest."""

    def find_class(self, module: str, name: str) -> Any:
        # Files written by numpy 1.x name the module numpy.core; numpy 2 moved it to numpy._core.
        canonical = "numpy._core" + module[len("numpy.core") :] if module.startswith("numpy.core") else module
        try:
            return _ALLOWED_GLOBALS[(canonical, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def _read_npy_header(fp: BinaryIO, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fp)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fp)
        raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as exc:
        raise ValueError(f"{str(path)!r} is not a readable .npy file ({exc}); check the path") from None


def load_pickled_npy(path: str | Path, trust_file: bool = False) -> Any:
    """Read an ``np.save``'d Python object (e.g. a dict) without executing arbitrary pickle code.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file holding a 0-d object array.
    trust_file : bool
        Must be True: the caller states that the file comes from a source they trust.

    Returns
    -------
    object
        The stored object (``np.load(path, allow_pickle=True).item()`` for a 0-d array).

    Raises
    ------
    ValueError
        Without ``trust_file=True``; if the file is not such a ``.npy``; if its pickle asks for
        anything but numpy arrays, dtypes and scalars.
    """
    path = Path(path)
    if not trust_file:
        raise ValueError(
            f"{str(path)!r} stores a pickled Python object (np.load would need allow_pickle=True), and "
            "unpickling an untrusted file can execute arbitrary code. If the file comes from the "
            "THINGS-EEG2 release (https://osf.io/3jk45/) or another source you trust, pass "
            "trust_file=True; it is then read with a restricted unpickler that only builds numpy arrays."
        )
    if not path.is_file():
        raise ValueError(f"{str(path)!r} does not exist or is not a file; check the path")
    with path.open("rb") as fp:
        shape, fortran_order, dtype = _read_npy_header(fp, path)
        if not dtype.hasobject:
            # A plain array needs no pickle at all.
            fp.seek(0)
            return np.load(fp, allow_pickle=False)
        try:
            array = _NumpyOnlyUnpickler(fp).load()
        except pickle.UnpicklingError as exc:
            raise ValueError(
                f"refusing to load {str(path)!r}: its pickle asks for something other than numpy arrays "
                f"({exc}); it may have been tampered with. Convert it in an isolated environment you "
                "trust (np.load(..., allow_pickle=True)) into plain arrays saved with np.savez."
            ) from None
        except (EOFError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"cannot read the pickled object in {str(path)!r} ({type(exc).__name__}: {exc}); the file "
                "may be truncated: download it again"
            ) from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{str(path)!r}: expected a pickled numpy array, got {type(array).__name__}")
    return array.item() if array.shape == () else array


def _partition_from_name(path: Path) -> str:
    stem = path.stem.lower()
    found = [p for p in PARTITIONS if p in stem]
    if len(found) != 1:
        raise ValueError(
            f"cannot tell from the file name {path.name!r} whether it is the training or test partition; "
            "pass partition='training' or partition='test'"
        )
    return found[0]


def _sub_ses(path: Path) -> tuple[int | None, int | None]:
    text = path.as_posix()
    sub = re.search(r"sub-(\d+)", text)
    ses = re.search(r"ses-(\d+)", text)
    return (int(sub.group(1)) if sub else None, int(ses.group(1)) if ses else None)


def _session_files(folder: Path) -> list[Path]:
    """The raw session files in ``folder``: a session, a subject or the ``raw_data`` folder."""
    # Three fixed depths, not a recursive search: a folder named by mistake (a home directory)
    # must not be walked through.
    found = (p for pattern in _SESSION_PATTERNS for p in folder.glob(pattern))
    return sorted(p for p in found if p.name in SESSION_FILES and p.is_file())


def is_things_eeg2(path: str | Path) -> bool:
    """True for a THINGS-EEG2 raw session file, or a folder holding some at the release's layout.

    That is ``raw_eeg_training.npy`` / ``raw_eeg_test.npy`` itself, or a folder with such files
    directly in it (``ses-YY``), in ``ses-*/`` (``sub-XX``) or in ``sub-*/ses-*/`` (``raw_data``).
    """
    path = Path(path)
    if path.is_dir():
        return bool(_session_files(path))
    return path.name in SESSION_FILES


def _session_file(folder: Path, subject: int | None, session: int | None, partition: str) -> Path:
    """The one session file of ``folder`` that ``subject``, ``session`` and ``partition`` name."""
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
    files = [p for p in _session_files(folder) if p.name == f"raw_eeg_{partition}.npy"]
    found = [p for p in files if subject in (None, _sub_ses(p)[0]) and session in (None, _sub_ses(p)[1])]
    if len(found) == 1:
        return found[0]
    held = ", ".join(f"sub-{s}/ses-{t}" for s, t in sorted({_sub_ses(p) for p in files}, key=str)) or "none"
    if not found:
        asked = ", ".join(
            f"{k}={v}" for k, v in (("subject", subject), ("session", session)) if v is not None
        )
        raise ValueError(
            f"{folder} holds no THINGS-EEG2 {partition} session{' for ' + asked if asked else ''}; "
            f"its {partition} sessions: {held}"
        )
    choose = [
        f"{name}=N"
        for name, index in (("subject", 0), ("session", 1))
        if len({_sub_ses(p)[index] for p in found}) > 1
    ]
    raise ValueError(
        f"{folder} holds {len(found)} THINGS-EEG2 {partition} sessions ({held}); "
        f"choose one with {' and '.join(choose)}"
    )


def _agree(name: str, given: int | None, from_path: int | None, path: Path) -> int | None:
    """``given`` or the path's number; refused when both exist and differ."""
    if given is not None and from_path is not None and int(given) != from_path:
        raise ValueError(f"{name}={given} but {path} is {name} {from_path}; leave {name} out for a file")
    return from_path if given is None else int(given)


def event_onsets(stim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset samples and values of the events on a stimulus channel.

    An event starts wherever the channel becomes non-zero or changes to another non-zero value,
    like ``mne.find_events`` with its defaults (the THINGS-EEG2 stimulus channel holds one-sample
    pulses, so each non-zero sample is one event).

    Parameters
    ----------
    stim : np.ndarray, shape (n_samples,)

    Returns
    -------
    onsets : np.ndarray, shape (n_events,), int64
    values : np.ndarray, shape (n_events,), int64
    """
    stim = np.rint(np.asarray(stim, dtype=np.float64)).astype(np.int64)
    previous = np.concatenate([[0], stim[:-1]])
    onsets = np.flatnonzero((stim != 0) & (stim != previous))
    return onsets.astype(np.int64), stim[onsets]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _concept_name(concept: str) -> str:
    # "00001_aardvark" -> "aardvark"; "00042_ice_cream" -> "ice cream" (a name for prompts and plots).
    return re.sub(r"^\d+_", "", concept).replace("_", " ")


def _label_lookup(
    labels: Mapping[str, int] | np.ndarray | None,
    conditions: np.ndarray,
    image_ids: list[str],
) -> np.ndarray:
    if labels is None:
        return np.full(len(conditions), -1, dtype=np.int64)
    if isinstance(labels, Mapping):
        out = np.empty(len(conditions), dtype=np.int64)
        missing: list[str] = []
        for i, (cond, image) in enumerate(zip(conditions.tolist(), image_ids, strict=True)):
            key = image if image in labels else str(cond)
            if key not in labels:
                missing.append(image)
                continue
            out[i] = int(labels[key])
        if missing:
            raise ValueError(
                f"labels has no entry for {len(set(missing))} image(s), e.g. {missing[0]!r}; key the dict by "
                "image file name (with metadata_path) or by condition number as a string"
            )
        return out
    array = np.asarray(labels)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"labels must be a 1-D integer array indexed by condition - 1, got {array.dtype} {array.shape}"
        )
    if len(conditions) and conditions.max() > array.size:
        raise ValueError(
            f"labels has {array.size} entries but the session has condition {int(conditions.max())}; "
            "pass one label per image condition of this partition (index = condition - 1)"
        )
    return array[conditions - 1].astype(np.int64)


def read_things_eeg2(
    path: str | Path,
    *,
    subject: int | None = None,
    session: int | None = None,
    partition: str | None = None,
    metadata_path: str | Path | None = None,
    labels: Mapping[str, int] | np.ndarray | None = None,
    unit_scale: float | None = None,
    trust_file: bool = False,
) -> Recording:
    """Read one THINGS-EEG2 raw session as a continuous :class:`Recording` with stimulus markers.

    Parameters
    ----------
    path : str or Path
        A session file ``sub-XX/ses-YY/raw_eeg_training.npy`` or ``raw_eeg_test.npy``, or a folder
        holding such files: a session folder ``ses-YY``, a subject folder ``sub-XX`` or the
        dataset's ``raw_data`` folder (see :func:`is_things_eeg2`).
    subject, session : int, optional
        Which subject and session of a folder to read; needed only where the folder holds
        several. With a file they must agree with its ``sub-XX/ses-YY`` path, and fill in the
        metadata where the path does not say.
    metadata_path : str or Path, optional
        ``image_metadata.npy``; gives the image file name and concept of each condition.
    labels : mapping or np.ndarray, optional
        Class (e.g. K-means pseudo-label) of each image. A mapping is keyed by image file name (or by
        the condition number as a string); an array, shape (n_conditions,), is indexed by
        ``condition - 1`` within this file's partition. Without labels every marker gets label -1.
    trust_file : bool
        The files are pickles; pass True to state that they come from a source you trust (they
        are still read with a numpy-only unpickler, see the module docstring).
    partition : {"training", "test"}, optional
        Which image set the conditions refer to: inferred from the file name when None; of a
        folder, the file read (``"training"`` by default).
    unit_scale : float, optional
        Factor from the file's unit to microvolts. None decides from the amplitudes: volt-sized
        data (the release) is multiplied by 1e6, anything else is taken as microvolts already.

    Returns
    -------
    Recording
        ``data`` of shape (n_samples, 63) float32 in microvolts (the stimulus row removed),
        timestamps ``sample / sfreq`` in seconds from 0, one stimulus marker per non-catch event
        (``image`` = image file name, or the condition number without metadata; ``label`` as given
        or -1; ``class`` = ``"cluster k"`` with labels, else the concept name; plus ``condition``),
        metadata with subject, session, partition and the number of catch trials dropped.

    Raises
    ------
    ValueError
        Without ``trust_file=True``; for a file that is not this format, a pickle asking for
        non-numpy objects, a partition that cannot be inferred, labels that miss a condition, a
        folder without the session asked for (or with several and no ``subject``/``session`` to
        choose), or a ``subject``/``session`` that contradicts the file's path.
    """
    path = Path(path)
    if path.is_dir():
        path = _session_file(path, subject, session, partition or "training")
    path_subject, path_session = _sub_ses(path)
    subject = _agree("subject", subject, path_subject, path)
    session = _agree("session", session, path_session, path)
    raw = load_pickled_npy(path, trust_file=trust_file)
    if not isinstance(raw, dict) or "raw_eeg_data" not in raw:
        raise ValueError(
            f"{str(path)!r} is not a THINGS-EEG2 raw file: expected a dict with 'raw_eeg_data', 'ch_names', "
            f"'sfreq', got {type(raw).__name__}"
            + (f" with keys {sorted(raw)}" if isinstance(raw, dict) else "")
        )
    matrix = np.asarray(raw["raw_eeg_data"])
    ch_names = [str(c) for c in raw.get("ch_names", [])]
    ch_types = [str(t) for t in raw.get("ch_types", [])]
    if matrix.ndim != 2 or len(ch_names) != matrix.shape[0]:
        raise ValueError(
            f"{str(path)!r}: raw_eeg_data must be (n_channels, n_samples) with one name per row, got shape "
            f"{matrix.shape} and {len(ch_names)} channel names"
        )
    sfreq = float(raw.get("sfreq", 0))
    if sfreq <= 0:
        raise ValueError(f"{str(path)!r}: sfreq must be positive, got {raw.get('sfreq')!r}")
    if len(ch_types) == len(ch_names) and "stim" in ch_types:
        stim_rows = [i for i, t in enumerate(ch_types) if t == "stim"]
    else:
        stim_rows = [i for i, c in enumerate(ch_names) if c.lower() == STIM_CHANNEL]
    if len(stim_rows) != 1:
        raise ValueError(
            f"{str(path)!r}: expected exactly one stimulus channel ('stim'), found {len(stim_rows)}; "
            "is this a raw (not preprocessed) THINGS-EEG2 file?"
        )
    stim_row = stim_rows[0]
    eeg_rows = [i for i in range(matrix.shape[0]) if i != stim_row]

    partition = partition or _partition_from_name(path)
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")

    onsets, values = event_onsets(matrix[stim_row])
    catch = values == CATCH_CONDITION
    onsets, conditions = onsets[~catch], values[~catch]
    if np.any(conditions < 1):
        raise ValueError(
            f"{str(path)!r}: stimulus channel holds condition(s) < 1, e.g. {int(conditions.min())}"
        )

    if unit_scale is None:
        step = max(1, matrix.shape[1] // 100_000)
        sample = np.abs(matrix[eeg_rows, ::step])
        unit_scale = 1e6 if sample.size and float(np.percentile(sample, 99)) < _VOLT_THRESHOLD else 1.0
    # Filled one channel at a time: a session is ~1e6-4e6 samples, and a whole-matrix transpose
    # plus cast would hold three copies of it at once.
    data = np.empty((matrix.shape[1], len(eeg_rows)), dtype=np.float32)
    for j, i in enumerate(eeg_rows):
        data[:, j] = matrix[i] * unit_scale

    key = "train" if partition == "training" else "test"
    if metadata_path is not None:
        meta = load_pickled_npy(metadata_path, trust_file=trust_file)
        try:
            files = [str(f) for f in meta[f"{key}_img_files"]]
            concepts = [str(c) for c in meta[f"{key}_img_concepts"]]
        except (KeyError, TypeError):
            raise ValueError(
                f"{str(metadata_path)!r} is not THINGS-EEG2 image_metadata.npy: it needs '{key}_img_files' "
                f"and '{key}_img_concepts'"
            ) from None
        if len(conditions) and int(conditions.max()) > len(files):
            raise ValueError(
                f"condition {int(conditions.max())} in {str(path)!r} but the metadata lists {len(files)} "
                f"{partition} images; is the partition ({partition!r}) right?"
            )
        image_ids = [files[c - 1] for c in conditions.tolist()]
        concept_names = [_concept_name(concepts[c - 1]) for c in conditions.tolist()]
    else:
        image_ids = [str(c) for c in conditions.tolist()]
        concept_names = [f"condition {c}" for c in conditions.tolist()]

    marker_labels = _label_lookup(labels, conditions, image_ids)
    timestamps = np.arange(data.shape[0], dtype=np.float64) / sfreq
    markers: list[Marker] = []
    for onset, cond, image, label, concept in zip(
        onsets.tolist(), conditions.tolist(), image_ids, marker_labels.tolist(), concept_names, strict=True
    ):
        class_name = f"cluster {label}" if labels is not None else concept
        event = json.loads(stimulus_marker(image, label, class_name))
        event["condition"] = int(cond)
        markers.append(Marker(timestamps[onset], json.dumps(event)))

    n_catch = int(catch.sum())
    log.info("THINGS-EEG2 %s: %d events, %d catch trials excluded", path, len(conditions), n_catch)
    return Recording(
        data=data,
        timestamps=timestamps,
        sfreq=sfreq,
        channel_names=[ch_names[i] for i in eeg_rows],
        markers=markers,
        metadata={
            "source": "THINGS-EEG2",
            "path": str(path),
            "subject": subject,
            "session": session,
            "partition": partition,
            "n_events": int(len(conditions)),
            "n_catch_trials": n_catch,
            "highpass": _optional_float(raw.get("highpass")),
            "lowpass": _optional_float(raw.get("lowpass")),
            "unit_scale": float(unit_scale),
            "units": "uV",
            "labels": "given" if labels is not None else "none",
            "metadata_path": str(metadata_path) if metadata_path is not None else None,
        },
    )
