"""ImageNet-EEG and THINGS-EEG2 importers on tiny files written in the datasets' exact on-disk formats."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from rtdecode.classes import class_table
from rtdecode.io.imagenet_eeg import channel_names, load_imagenet_eeg, to_recording
from rtdecode.io.things_eeg2 import event_onsets, load_pickled_npy, load_things_eeg2_session

# ---------------------------------------------------------------- ImageNet-EEG

# Dataset order interleaves the two subjects; each subject sees two blocks of three trials.
SUBJECTS = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
LABELS = [3, 10, 3, 10, 3, 10, 7, 0, 7, 0, 7, 0]
N_IMAGES = 30


class _Evil:
    """Pickles to a call of os.system; loading it must never run the command."""

    def __init__(self, sentinel: str) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def _imagenet_dict(seed: int = 0) -> dict:
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


@pytest.fixture(params=[True, False], ids=["zip", "legacy"])
def imagenet_file(tmp_path, request):
    raw = _imagenet_dict()
    path = tmp_path / "eeg_5_95_std.pth"
    torch.save(raw, path, _use_new_zipfile_serialization=request.param)
    return path, raw


@pytest.fixture
def splits_file(tmp_path):
    path = tmp_path / "block_splits_by_image_all.pth"
    torch.save({"splits": [{"train": [0, 1, 2, 3, 4, 5, 6, 7], "val": [8, 9], "test": [10, 11]}]}, path)
    return path


def test_imagenet_loads_all_trials_samples_as_rows_in_file_order(imagenet_file):
    path, raw = imagenet_file
    ds = load_imagenet_eeg(path)
    assert len(ds) == 12 and ds.n_channels == 128
    for i, entry in enumerate(raw["dataset"]):
        eeg = entry["eeg"].numpy()
        assert ds.trials[i].shape == (eeg.shape[1], 128) and ds.trials[i].dtype == np.float32
        np.testing.assert_array_equal(ds.trials[i], eeg.T)
    assert ds.labels.tolist() == LABELS and ds.subjects.tolist() == SUBJECTS
    assert ds.images == [raw["images"][e["image"]] for e in raw["dataset"]]
    assert ds.dataset_indices.tolist() == list(range(12))
    assert ds.wnids[0] == "n02389026" and len(ds.class_names) == 40
    assert ds.class_names[3] == "anemone fish" and ds.class_names[39] == "Egyptian cat"
    assert ds.splits is None


def test_imagenet_subject_selection_and_splits(imagenet_file, splits_file):
    path, _ = imagenet_file
    ds = load_imagenet_eeg(path, subject=1, splits_path=splits_file)
    assert ds.subjects.tolist() == [1] * 6
    assert ds.dataset_indices.tolist() == [0, 2, 4, 6, 8, 10]
    assert ds.labels.tolist() == [3, 3, 3, 7, 7, 7]
    # File indices 0..7 -> subject 1's trials 0, 2, 4, 6 -> positions 0..3, and so on.
    assert {k: v.tolist() for k, v in ds.splits.items()} == {"train": [0, 1, 2, 3], "val": [4], "test": [5]}
    full = load_imagenet_eeg(path, splits_path=splits_file)
    assert full.splits["train"].tolist() == list(range(8)) and full.splits["test"].tolist() == [10, 11]


def test_imagenet_splits_relative_to_subject(imagenet_file, tmp_path):
    path, _ = imagenet_file
    single = tmp_path / "block_splits_by_image_single.pth"
    torch.save({"splits": [{"train": [0, 1, 2], "val": [3], "test": [4, 5]}]}, single)
    ds = load_imagenet_eeg(path, subject=2, splits_path=single, splits_relative_to_subject=True)
    assert ds.splits["test"].tolist() == [4, 5]
    with pytest.raises(ValueError, match="split_index"):
        load_imagenet_eeg(path, splits_path=single, split_index=1)


def test_imagenet_epochs_crop_paper_window(imagenet_file):
    path, raw = imagenet_file
    ds = load_imagenet_eeg(path, subject=2)
    x = ds.epochs()
    assert x.shape == (6, 440, 128)
    np.testing.assert_array_equal(x[0], raw["dataset"][1]["eeg"].numpy().T[20:460])
    with pytest.raises(ValueError, match="fewer than stop"):
        ds.epochs(0, 5000)


@pytest.mark.parametrize("gap_s", [0.0, 0.25])
def test_imagenet_to_recording_lays_trials_end_to_end(imagenet_file, gap_s):
    path, raw = imagenet_file
    ds = load_imagenet_eeg(path)
    rec = to_recording(ds, subject=1, gap_s=gap_s)
    trials = [raw["dataset"][i]["eeg"].numpy().T for i in (0, 2, 4, 6, 8, 10)]
    gap = int(round(gap_s * 1000))
    onsets = np.concatenate([[0], np.cumsum([len(t) + gap for t in trials])[:-1]])
    assert rec.data.shape == (onsets[-1] + len(trials[-1]), 128)
    assert rec.channel_names == channel_names() and rec.channel_names[0] == "EEG001"
    assert rec.sfreq == 1000.0
    np.testing.assert_allclose(np.diff(rec.timestamps), 1e-3)
    for onset, trial in zip(onsets, trials, strict=True):
        np.testing.assert_array_equal(rec.data[onset : onset + len(trial)], trial)
    if gap:
        assert not rec.data[len(trials[0]) : len(trials[0]) + gap].any()

    stim = rec.stimulus_events()
    assert [t for t, _ in stim] == pytest.approx(list(onsets / 1000.0))
    assert [e["label"] for _, e in stim] == [3, 3, 3, 7, 7, 7]
    assert [e["class"] for _, e in stim] == ["anemone fish"] * 3 + ["revolver"] * 3
    assert [e["image"] for _, e in stim] == [
        raw["images"][raw["dataset"][i]["image"]] for i in (0, 2, 4, 6, 8, 10)
    ]
    assert [e["block"] for _, e in stim] == [0, 0, 0, 1, 1, 1]
    assert [e["trial"] for _, e in stim] == [0, 2, 4, 6, 8, 10]
    kinds = [e["event"] for _, e in rec.events()]
    assert kinds.count("block_start") == 2 and kinds.count("block_end") == 2
    assert kinds[0] == "block_start" and kinds[-1] == "block_end"
    assert rec.metadata["subject"] == 1 and rec.metadata["trial_indices"] == [0, 2, 4, 6, 8, 10]
    assert rec.metadata["source"] == "ImageNet-EEG"


def test_imagenet_bad_subject_and_missing_file(imagenet_file, tmp_path):
    path, _ = imagenet_file
    with pytest.raises(ValueError, match="subjects present"):
        load_imagenet_eeg(path, subject=5)
    with pytest.raises(ValueError, match="subjects present"):
        to_recording(load_imagenet_eeg(path, subject=1), subject=2)
    with pytest.raises(ValueError, match="does not exist"):
        load_imagenet_eeg(tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="split file.*does not exist"):
        load_imagenet_eeg(path, splits_path=tmp_path / "missing_splits.pth")


def test_imagenet_split_file_passed_as_data_file(splits_file):
    with pytest.raises(ValueError, match="lacks the key"):
        load_imagenet_eeg(splits_file)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_imagenet_refuses_malicious_pickle_without_running_it(tmp_path, writer):
    sentinel = tmp_path / "PWNED"
    path = tmp_path / "eeg_evil.pth"
    payload = {"dataset": [_Evil(str(sentinel))], "labels": [], "images": []}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with path.open("wb") as f:
            pickle.dump(payload, f)
    with pytest.raises(ValueError, match=r"refusing|cannot read"):
        load_imagenet_eeg(path)
    assert not sentinel.exists()


def test_imagenet_refusal_names_the_global(tmp_path):
    sentinel = tmp_path / "PWNED"
    path = tmp_path / "eeg_evil.pth"
    torch.save({"dataset": [_Evil(str(sentinel))]}, path)
    with pytest.raises(ValueError, match=r"(?s)refusing.*system.*weights_only=False") as info:
        load_imagenet_eeg(path)
    assert "arbitrary code" in str(info.value)
    assert not sentinel.exists()


# ---------------------------------------------------------------- THINGS-EEG2

SFREQ = 1000.0
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


def _things_raw(seed: int = 0) -> dict:
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


@pytest.fixture
def things_files(tmp_path):
    session = tmp_path / "raw_data" / "sub-03" / "ses-02"
    session.mkdir(parents=True)
    raw = _things_raw()
    np.save(session / "raw_eeg_training.npy", raw)
    meta = {
        "train_img_concepts": TRAIN_CONCEPTS,
        "train_img_files": TRAIN_FILES,
        "test_img_concepts": ["00001_test_thing", "00002_other"],
        "test_img_files": ["test_thing_01b.jpg", "other_01b.jpg"],
    }
    np.save(tmp_path / "image_metadata.npy", meta)
    return session / "raw_eeg_training.npy", tmp_path / "image_metadata.npy", raw


def test_things_refuses_without_trust_file(things_files):
    path, meta, _ = things_files
    with pytest.raises(ValueError, match="trust_file=True") as info:
        load_things_eeg2_session(path)
    assert "arbitrary code" in str(info.value)
    with pytest.raises(ValueError, match="trust_file=True"):
        load_pickled_npy(meta)


def test_things_loads_session_as_recording(things_files):
    path, _, raw = things_files
    rec = load_things_eeg2_session(path, trust_file=True)
    assert rec.data.shape == (N_SAMPLES, 63) and rec.data.dtype == np.float32
    assert rec.channel_names == EEG_NAMES and rec.sfreq == SFREQ
    np.testing.assert_allclose(rec.data, raw["raw_eeg_data"][:63].T * 1e6, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(rec.timestamps, np.arange(N_SAMPLES) / SFREQ)
    stim = rec.stimulus_events()
    assert [t for t, _ in stim] == pytest.approx([s / SFREQ for s, _ in GOOD])
    assert [e["condition"] for _, e in stim] == [c for _, c in GOOD]
    assert [e["image"] for _, e in stim] == [str(c) for _, c in GOOD]
    assert all(e["label"] == -1 for _, e in stim)
    assert rec.metadata["n_catch_trials"] == 1 and rec.metadata["n_events"] == 5
    assert (rec.metadata["subject"], rec.metadata["session"], rec.metadata["partition"]) == (3, 2, "training")
    assert rec.metadata["unit_scale"] == 1e6 and rec.metadata["highpass"] == 0.01


def test_things_metadata_gives_image_files_and_concepts(things_files):
    path, meta, _ = things_files
    rec = load_things_eeg2_session(path, metadata_path=meta, trust_file=True)
    stim = [e for _, e in rec.stimulus_events()]
    assert [e["image"] for e in stim] == [TRAIN_FILES[c - 1] for _, c in GOOD]
    assert [e["class"] for e in stim] == ["ice cream", "aardvark", "zebra", "aardvark", "ice cream"]


def test_things_pseudo_labels_from_array_and_dict(things_files):
    path, meta, _ = things_files
    by_condition = np.array([5, 1, 0, 2, 7, 4])  # index = condition - 1
    rec = load_things_eeg2_session(path, metadata_path=meta, labels=by_condition, trust_file=True)
    stim = [e for _, e in rec.stimulus_events()]
    assert [e["label"] for e in stim] == [by_condition[c - 1] for _, c in GOOD]
    assert [e["class"] for e in stim] == [f"cluster {by_condition[c - 1]}" for _, c in GOOD]
    by_file = {f: int(k) for f, k in zip(TRAIN_FILES, by_condition, strict=True)}
    rec2 = load_things_eeg2_session(path, metadata_path=meta, labels=by_file, trust_file=True)
    assert rec2.events() == rec.events()
    with pytest.raises(ValueError, match="labels has no entry"):
        load_things_eeg2_session(path, metadata_path=meta, labels={"x.jpg": 1}, trust_file=True)
    with pytest.raises(ValueError, match="condition - 1"):
        load_things_eeg2_session(path, labels=np.array([0, 1]), trust_file=True)


def test_things_test_partition_and_name_inference(things_files, tmp_path):
    _, meta, raw = things_files
    raw = dict(raw)
    stim = np.zeros(N_SAMPLES)
    stim[[100, 900, 1700]] = [2, 99999, 1]
    raw["raw_eeg_data"] = np.concatenate([raw["raw_eeg_data"][:63], stim[None]], axis=0)
    test_path = tmp_path / "raw_eeg_test.npy"
    np.save(test_path, raw)
    rec = load_things_eeg2_session(test_path, metadata_path=meta, trust_file=True)
    assert [e["image"] for _, e in rec.stimulus_events()] == ["other_01b.jpg", "test_thing_01b.jpg"]
    assert rec.metadata["partition"] == "test" and rec.metadata["n_catch_trials"] == 1
    odd = tmp_path / "session.npy"
    np.save(odd, raw)
    with pytest.raises(ValueError, match="partition="):
        load_things_eeg2_session(odd, trust_file=True)
    assert load_things_eeg2_session(odd, trust_file=True, partition="test").metadata["partition"] == "test"


def test_things_microvolt_file_is_not_rescaled(things_files, tmp_path):
    _, _, raw = things_files
    raw = dict(raw)
    scaled = raw["raw_eeg_data"].copy()
    scaled[:63] *= 1e6
    raw["raw_eeg_data"] = scaled
    path = tmp_path / "raw_eeg_training.npy"
    np.save(path, raw)
    rec = load_things_eeg2_session(path, trust_file=True)
    assert rec.metadata["unit_scale"] == 1.0
    np.testing.assert_allclose(rec.data, scaled[:63].T, rtol=1e-5)


def test_things_refuses_malicious_pickle_even_when_trusted(tmp_path):
    sentinel = tmp_path / "PWNED"
    path = tmp_path / "raw_eeg_training.npy"
    np.save(path, {"raw_eeg_data": _Evil(str(sentinel))}, allow_pickle=True)
    with pytest.raises(ValueError, match=r"refusing.*system"):
        load_things_eeg2_session(path, trust_file=True)
    assert not sentinel.exists()


def test_things_reads_numpy1_module_names(tmp_path):
    # numpy 1.x (which wrote the release) names the rebuilder numpy.core.multiarray._reconstruct.
    # Protocol 3 spells globals as text lines, so the module name can be swapped in place.
    arr = np.empty((), dtype=object)
    arr[()] = _things_raw()
    path = tmp_path / "raw_eeg_training.npy"
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(arr))
        pickle.dump(arr, f, protocol=3)
    blob = path.read_bytes()
    assert b"cnumpy._core.multiarray\n" in blob
    path.write_bytes(blob.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    rec = load_things_eeg2_session(path, trust_file=True)
    assert rec.data.shape == (N_SAMPLES, 63) and len(rec.stimulus_events()) == 5


def test_things_not_a_raw_file(tmp_path):
    path = tmp_path / "raw_eeg_training.npy"
    np.save(path, {"preprocessed_eeg_data": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="not a THINGS-EEG2 raw file"):
        load_things_eeg2_session(path, trust_file=True)
    plain = tmp_path / "plain.npy"
    np.save(plain, np.arange(3))
    np.testing.assert_array_equal(load_pickled_npy(plain, trust_file=True), np.arange(3))


def test_event_onsets_like_find_events():
    stim = np.array([0, 0, 5, 0, 0, 7, 7, 0, 3, 4, 0], dtype=float)
    onsets, values = event_onsets(stim)
    assert onsets.tolist() == [2, 5, 8, 9] and values.tolist() == [5, 7, 3, 4]
