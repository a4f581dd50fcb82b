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


DEFAULT = "pauses between runs: at least 5 s without samples or 2 s without stimuli"


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
        (dict(run_starts=(0.0,), run_s=120.0, stopped=False, isi=6.0), "pauses", 1, "pauses between runs: "),
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


@pytest.mark.parametrize("text", ["pauses", "pauses:7.5", "markers:run_start,S 10", "times:0,25.5", "runs:4"])
def test_a_rule_reads_back_from_its_text_and_from_what_a_bundle_stores(text):
    rule = BlockRule.parse(text)
    assert BlockRule.parse(rule.spec) == rule == BlockRule.from_dict(json.loads(json.dumps(rule.to_dict())))
    with pytest.raises(ValueError, match="not a stored block rule"):
        BlockRule.from_dict({"codes": ["x"]})


def test_replay_serves_the_blocks_a_rule_gives(tmp_path):
    from rtdecode.cli import build_parser

    recording = lab_session(stopped=False)
    recording.block_rule = BlockRule.parse("runs:4")
    served = Recording(
        recording.data, recording.timestamps, SFREQ, recording.channel_names, recording.markers_with_blocks()
    )
    assert _blocks(served) == _blocks(recording) and served.blocks()[1] == "block markers"
    assert [m.text for m in served.markers if "run_start" in m.text] == ["run_start"] * 3  # kept as they are
    args = build_parser().parse_args(["replay", str(tmp_path / "x.xdf"), "--blocks", "runs:4"])
    assert args.blocks == BlockRule("runs", runs=4)


def test_the_bundle_remembers_the_rule_so_predict_holds_out_the_calibration_blocks(tmp_path, capsys, caplog):
    path = tmp_path / "lab.xdf"
    write_xdf(path, lab_session(stopped=False))
    fast = ["--max-epochs", "1", "--baselines", "none", "--candidates", "erp_lda", "--preset", "erp_lda"]
    out = tmp_path / "run"
    argv = ["calibrate", str(path), "--blocks", "runs:5", "--out", str(out), "--teacher", "none", *fast]
    assert main([*argv, "--device", "cpu", "--evaluation", "split"]) == 0, capsys.readouterr().err
    meta = json.loads((out / "model" / "bundle.json").read_text())
    assert meta["extra"]["block_rule"]["kind"] == "runs" and meta["extra"]["block_rule"]["runs"] == 5
    test_blocks = set(meta["extra"]["test_blocks"])
    capsys.readouterr()
    # predict, without --blocks: the model's rule numbers the blocks (the default would find 3 runs).
    assert main(["predict", str(path), "--model", str(out / "model"), "--jsonl", "--device", "cpu"]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted({p["marker"]["block"] for p in predictions}) == [0, 1, 2, 3, 4]
    assert "blocks by the model's rule (--blocks runs:5)" in caplog.text
    assert (
        f"held-out (test) blocks: {sum(p['marker']['block'] in test_blocks for p in predictions)} epochs"
        in (caplog.text)
    )


def test_a_remembered_rule_that_does_not_fit_another_file_falls_back_to_the_default(tmp_path, caplog):
    from types import SimpleNamespace

    from rtdecode.cli_args import read_recording_for_model

    path = tmp_path / "no-run-marker.xdf"
    write_xdf(path, lab_session(stopped=False, run_marker=None))
    bundle = SimpleNamespace(
        class_names=["house", "face"], marker_mapping=None, block_rule=BlockRule.parse("markers:run_start")
    )
    recording = read_recording_for_model(path, SimpleNamespace(), bundle)
    assert recording.block_rule is None and sorted(set(_blocks(recording))) == [0, 1, 2]
    assert "the model's block rule (--blocks markers:run_start) does not fit it" in caplog.text
    # --blocks overrides the model's rule.
    recording = read_recording_for_model(path, SimpleNamespace(blocks=BlockRule.parse("runs:4")), bundle)
    assert sorted(set(_blocks(recording))) == [0, 1, 2, 3]


def test_study_groups_each_recording_by_its_blocks_option(tmp_path):
    from calibration.study import StudyConfig, prepare_subject

    path = tmp_path / "lab.xdf"
    write_xdf(path, lab_session(stopped=False))
    default = prepare_subject(path, tmp_path / "study", StudyConfig(teacher="none"))
    by_runs = prepare_subject(
        path, tmp_path / "study", StudyConfig(teacher="none", blocks=BlockRule.parse("runs:4").to_dict())
    )
    assert default != by_runs  # each rule is prepared on its own
    assert sorted(set(np.load(default / "blocks.npy").tolist())) == [0, 1, 2]
    assert sorted(set(np.load(by_runs / "blocks.npy").tolist())) == [0, 1, 2, 3]
