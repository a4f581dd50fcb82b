"""Blocks of recordings made without block markers: from the pauses between runs, or from --blocks.

Files are made the way a PsychoPy + LabRecorder session makes them: stimulus markers that name no
block, no block_start / block_end, runs separated by pauses (the stream stopped, or the recorder
ran on while no stimulus came), sometimes a plain "run_start" string from the presenter.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calibration.epochs import epochs_from_recording
from calibration.splits import block_split, leave_one_block_out
from rtdecode.cli import main
from rtdecode.config import PipelineConfig
from rtdecode.io import read_recording
from rtdecode.io.blocks import BlockRule
from rtdecode.io.markers import parse_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording
from rtdecode.io.xdf import write_xdf

SFREQ = 250.0
N170 = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "eegnb-n170-subject1.xdf"


def _stimulus(label: int) -> str:
    """A stimulus marker that names no block (a presenter without block markers)."""
    event = json.loads(stimulus_marker(f"img{label}", label, ["house", "face"][label]))
    assert "block" not in event
    return json.dumps(event)


def lab_session(
    run_starts=(0.0, 30.0, 60.0), run_s=20.0, stopped=True, isi=0.7, run_marker="run_start", seed=0
) -> Recording:
    """Runs of ``run_s`` seconds at ``run_starts``; ``stopped``: no samples between them (the
    stream stopped), else the recorder ran on; a stimulus every ``isi`` seconds inside each run."""
    rng = np.random.default_rng(seed)
    first, last = 1000.0 + run_starts[0], 1000.0 + run_starts[-1] + run_s
    stamps = first + np.arange(int((last - first) * SFREQ)) / SFREQ
    if stopped:
        inside = np.zeros(len(stamps), dtype=bool)
        for start in run_starts:
            inside |= (stamps >= 1000.0 + start) & (stamps < 1000.0 + start + run_s)
        stamps = stamps[inside]
    markers = []
    for start in run_starts:
        t0 = 1000.0 + start
        if run_marker:
            markers.append(Marker(t0 + 0.1, run_marker))
        for k, onset in enumerate(np.arange(t0 + 1.0, t0 + run_s - 1.0, isi)):
            markers.append(Marker(onset, _stimulus(k % 2)))
    data = rng.normal(scale=5.0, size=(len(stamps), 3)).astype(np.float32)
    return Recording(data, stamps, SFREQ, ["Oz", "O1", "O2"], markers)


def _blocks(recording: Recording) -> list[int]:
    return [e["block"] for _, e in recording.stimulus_events()]


DEFAULT = "pauses between runs (at least 5 s without samples or 2 s without stimuli)"


@pytest.mark.parametrize(
    ("session", "rule", "n_blocks", "source"),
    [
        # the stream stopped between runs: its pauses
        (dict(), None, 3, DEFAULT),
        # the recorder ran on, no stimulus for 12 s: still the runs
        (dict(stopped=False), None, 3, DEFAULT),
        # the runs stored back to back (an amplifier's own file): 3 s between them at 0.7 s intervals
        (dict(run_starts=(0.0, 20.5, 41.0), stopped=False), None, 3, DEFAULT),
        # a slow design (a stimulus every 6 s) in one long run: no run per trial, but runs of
        # consecutive trials, so that a block split still holds out stretches of time
        (
            dict(run_starts=(0.0,), run_s=120.0, stopped=False, isi=6.0),
            None,
            6,
            "6 runs of consecutive stimuli: the pauses between runs give 1 block",
        ),
        # asked for by name, the pauses are what they are
        (dict(run_starts=(0.0,), run_s=120.0, stopped=False, isi=6.0), "pauses", 1, "pauses between runs ("),
        # pauses shorter than asked for: one block
        (dict(), "pauses:20", 1, "pauses between runs of at least 20 s"),
        # the presenter's own run marker
        (dict(stopped=False), "markers:run_start", 3, "markers run_start"),
        # times from the first sample
        (dict(stopped=False), "times:0,25,45", 3, "times 0, 25, 45 s"),
        (dict(stopped=False), "times:25", 2, "times 25 s"),
        # equal runs of consecutive stimuli, whatever the pauses
        (dict(), "runs:4", 4, "4 runs of consecutive stimuli"),
        (dict(), "runs:1", 1, "1 run of consecutive stimuli"),
    ],
)
def test_runs_without_block_markers_become_blocks(session, rule, n_blocks, source):
    recording = lab_session(**session)
    recording.block_rule = None if rule is None else BlockRule.parse(rule)
    blocks = _blocks(recording)
    assert sorted(set(blocks)) == list(range(n_blocks))
    assert blocks == sorted(blocks)  # in time order
    assert recording.blocks()[1].startswith(source)


def test_a_lab_xdf_calibrates_by_run_and_leaves_one_run_out(tmp_path):
    path = tmp_path / "psychopy_labrecorder.xdf"
    write_xdf(path, lab_session(run_starts=(0.0, 40.0, 75.0, 200.0)))
    recording = read_recording(path)
    assert not any(parse_marker(m.text)["event"] in ("block_start", "block_end") for m in recording.markers)
    epochs = epochs_from_recording(recording, PipelineConfig(sfreq=SFREQ))
    assert sorted(set(epochs.blocks.tolist())) == [0, 1, 2, 3]
    folds = leave_one_block_out(epochs.blocks)
    assert sorted(b for fold in folds for b in fold.test_blocks) == [0, 1, 2, 3]
    split = block_split(epochs.blocks)
    assert not set(split.train_blocks) & set(split.test_blocks)
    # --blocks reaches every command through read_recording, and overrides the pauses
    by_marker = read_recording(path, blocks="markers:run_start")
    assert _blocks(by_marker) == _blocks(recording)
    assert sorted(set(_blocks(read_recording(path, blocks=BlockRule.parse("times:0,75"))))) == [0, 1]


def test_an_explicit_rule_overrides_the_markers_blocks_and_their_absence_is_refused():
    recording = lab_session(stopped=False)
    recording.markers = [
        Marker(m.timestamp, stimulus_marker("i", 0, "house", block=7)) if "stimulus" in m.text else m
        for m in recording.markers
    ]
    assert set(_blocks(recording)) == {7}  # the markers' own block
    assert recording.blocks()[1] == "block markers"
    recording.block_rule = BlockRule.parse("markers:run_start")
    assert set(_blocks(recording)) == {0, 1, 2}
    recording.block_rule = BlockRule.parse("markers:S 10,S 11")
    with pytest.raises(
        ValueError,
        match=r"no marker of the recording has that code; its marker codes: 'stimulus' \(78\), 'run_start' \(3\)",
    ):
        recording.stimulus_events()
    recording.block_rule = BlockRule.parse("times:0,500")
    with pytest.raises(ValueError, match="500 s lie past the recording's end"):
        recording.stimulus_events()


@pytest.mark.parametrize(
    "text",
    ["runs", "runs:0", "runs:2.5", "runs:3,4", "pauses:x", "pauses:-3", "pauses:1,2", "markers:", "times:"]
    + ["times:10,-1", "times:a"],
)
def test_bad_rules_are_refused_with_the_syntax(text):
    with pytest.raises(ValueError, match="blocks"):
        BlockRule.parse(text)


def test_info_and_the_cli_option(tmp_path, capsys):
    path = tmp_path / "lab.xdf"
    write_xdf(path, lab_session())
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"blocks: 3 ({DEFAULT})" in out
    assert "pauses between runs: 2" in out and "gaps: none" in out
    assert main(["info", str(path), "--blocks", "markers:run_start"]) == 0
    assert "blocks: 3 (markers run_start)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["info", str(path), "--blocks", "every:10"])
    assert "argument --blocks: blocks must be pauses[:SECONDS]" in capsys.readouterr().err


@pytest.mark.skipif(not N170.exists(), reason="the real N170 recording is not in ../shared/data/real")
def test_the_real_n170_recording_without_block_markers_keeps_its_six_runs(tmp_path):
    source = read_recording(N170)
    markers = []
    for m in source.markers:
        event = parse_marker(m.text)
        if event["event"] in ("block_start", "block_end"):
            continue
        event.pop("block", None)
        markers.append(Marker(m.timestamp, json.dumps(event)))
    path = tmp_path / "n170-no-block-markers.xdf"
    copy = Recording(source.data, source.timestamps, source.sfreq, source.channel_names, markers)
    write_xdf(path, copy)
    recording = read_recording(path)
    assert _blocks(recording) == [e["block"] for _, e in source.stimulus_events()]
    assert len(recording.time_base.pauses) == 5 and recording.time_base.gaps == []
    assert len(leave_one_block_out(np.array(_blocks(recording)))) == 6
