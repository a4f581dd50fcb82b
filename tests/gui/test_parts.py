"""The GUI's pure parts: protocol schedule, channel groups, EEG decimation, exemplar images, CLI."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pytest

from gui.channel_groups import channels_to_show, select_channels
from gui.eeg_view import minmax_decimate
from gui.image_source import ExemplarImageService, find_exemplar_dir
from gui.protocol import ProtocolConfig, build_schedule, load_stimuli


@pytest.fixture(scope="module")
def stimuli_dir(tmp_path_factory, subject):
    folder = tmp_path_factory.mktemp("stimuli")
    subject.write_images(folder)
    return folder


def test_schedule_has_the_papers_layout_and_a_seeded_order(stimuli_dir, subject):
    stimuli = load_stimuli(stimuli_dir)
    assert len(stimuli) == len(subject.image_ids)  # 3 classes x 4 images
    config = ProtocolConfig(image_s=0.5, block_s=2.0, break_s=10.0, lead_in_s=2.0, tail_s=1.0)
    schedule = build_schedule(stimuli, config)
    assert config.images_per_block == 4 and schedule.n_blocks == 3
    onsets = np.array([t.onset_s for t in schedule.trials])
    blocks = np.array([t.block for t in schedule.trials])
    # 0.5 s apart inside a block, a 10 s break between blocks, first onset after the lead-in.
    np.testing.assert_allclose(onsets[:4], [2.0, 2.5, 3.0, 3.5])
    np.testing.assert_allclose(onsets[4], 2.0 + 2.0 + 10.0)
    assert list(blocks) == [0] * 4 + [1] * 4 + [2] * 4
    assert schedule.blocks[0] == pytest.approx((2.0, 4.0))
    assert schedule.duration_s == pytest.approx(onsets[-1] + 0.5 + 1.0)
    assert sorted(t.stimulus.image_id for t in schedule.trials) == sorted(subject.image_ids)
    marker = json.loads(schedule.trials[5].marker)
    assert marker["event"] == "stimulus" and marker["block"] == 1
    assert marker["class"] == subject.class_names[marker["label"]]
    other = build_schedule(stimuli, ProtocolConfig(seed=1, block_s=2.0))
    assert [t.stimulus.image_id for t in other.trials] != [t.stimulus.image_id for t in schedule.trials]
    assert build_schedule(stimuli, ProtocolConfig(block_s=2.0, max_blocks=1)).n_blocks == 1


def test_bad_stimulus_folders_and_timing_are_refused(tmp_path, stimuli_dir):
    with pytest.raises(ValueError, match="no images.tsv"):
        load_stimuli(tmp_path)
    (tmp_path / "images.tsv").write_text("image_id\tlabel\tclass_name\nimg_x\t0\tcat\n")
    with pytest.raises(ValueError, match="missing on disk"):
        load_stimuli(tmp_path)
    with pytest.raises(ValueError, match="block_s >= image_s"):
        ProtocolConfig(image_s=1.0, block_s=0.5)


def test_channel_groups_follow_10_5_rows():
    names = ["Fp1", "AF3", "Fz", "C3", "Cz", "T7", "P3", "PO7", "Oz", "O2", "EOG"]
    assert [names[i] for i in select_channels(names, "occipito-parietal")] == ["P3", "PO7", "Oz", "O2"]
    assert [names[i] for i in select_channels(names, "frontal")] == ["Fp1", "AF3", "Fz"]
    assert [names[i] for i in select_channels(names, "custom", "o*, eog")] == ["Oz", "O2", "EOG"]
    assert select_channels(names, "all") == list(range(len(names)))
    with pytest.raises(ValueError, match="unknown channel group"):
        select_channels(names, "parietal-ish")


MUSE = ["TP9", "AF7", "AF8", "TP10"]  # a 4-channel headband, as in the real N170 recording


@pytest.mark.parametrize(
    ("group", "custom", "shown", "note"),
    [
        ("occipito-parietal", "", MUSE, "is in the group 'occipito-parietal': showing all 4 channels"),
        ("central", "", MUSE, "(TP9, AF7, AF8, TP10) is in the group 'central'"),
        ("custom", "O1, Oz", MUSE, "is in the custom list 'O1, Oz'"),
        ("custom", " ", MUSE, "is in the custom list (empty)"),
        ("frontal", "", ["AF7", "AF8"], None),
        ("temporal", "", ["TP9", "TP10"], None),
        ("all", "", MUSE, None),
    ],
)
def test_a_group_that_matches_nothing_shows_every_channel_and_says_so(group, custom, shown, note):
    indices, said = channels_to_show(MUSE, group, custom)
    assert [MUSE[i] for i in indices] == shown
    assert (said is None) if note is None else (note in said)
    assert channels_to_show([], "occipito-parietal") == ([], None)  # no stream yet: nothing to say


def test_minmax_decimation_keeps_every_peak():
    data = np.zeros((2, 1000), dtype=np.float32)
    data[0, 123] = 50.0  # a one-sample spike
    data[1, 777] = -40.0
    positions, values = minmax_decimate(data, 100)
    assert values.shape == (2, 200) and positions.shape == (200,)
    assert values[0].max() == 50.0 and values[1].min() == -40.0
    assert np.all(np.diff(positions) >= 0)


def test_exemplar_service_shows_the_class_image_or_a_placeholder(stimuli_dir, subject):
    got = []
    service = ExemplarImageService(subject.class_names + ["unknown"], stimuli_dir, got.append).start()
    try:
        service.request(subject.class_names[1])
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        service.request("unknown")
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        service.stop()
    assert [g.source for g in got] == ["exemplar", "placeholder"]
    assert got[0].class_name == subject.class_names[1] and got[0].image.dtype == np.uint8
    assert got[0].image.shape == (64, 64, 3)
    assert "exemplars" in service.status()
    assert find_exemplar_dir(stimuli_dir / "images") == stimuli_dir


def test_commands_register_with_their_options():
    from gui.cli import register, register_presenter

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    register(sub)
    register_presenter(sub)
    args = parser.parse_args(["gui", "--model", "m", "--stream", "sim", "--connect"])
    assert args.model == "m" and args.connect and args.handler.__name__ == "run_gui"
    args = parser.parse_args(["calibrate-gui", "--simulate", "--image-s", "0.1", "--teacher", "none"])
    assert args.simulate and args.image_s == 0.1 and args.handler.__name__ == "run_presenter"


def test_void_qt_calls_do_not_leak_references_to_none(qtbot):
    # PySide6 6.12.0 on Python 3.11 lost a reference to None per void call and crashed long
    # sessions ("none_dealloc"); pyproject pins 6.11.2. This fails if that build comes back.
    import sys

    from PySide6 import QtWidgets

    label = QtWidgets.QLabel()
    before = sys.getrefcount(None)
    for _ in range(5000):
        label.setText("x")
    assert abs(sys.getrefcount(None) - before) < 1000
