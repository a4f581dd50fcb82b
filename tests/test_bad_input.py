"""Every subcommand, given bad input, says in one line what is wrong and loses nothing.

One table of cases, run through ``rtdecode.cli.main`` in this process (a subprocess per case
would cost seconds of imports each). Each case asserts: a non-zero exit, no traceback, the
words that name the problem, that no output was left behind for a run that failed, and that
the files an output would have replaced are byte for byte what they were.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from rtdecode.cli import main
from rtdecode.io.recording import Marker, Recording
from rtdecode.io.xdf import write_xdf
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import save_simulated_session
from rtdecode.sim.subject import SimulatedSubject
from tests.bundles import make_bundle

# 16 channels, 3 classes, 2 s blocks: a few seconds of EEG, enough to decode and to split.
SIM = SimulationConfig(
    n_classes=3, images_per_class=4, n_channels=16, image_s=0.5, block_s=2.0, break_s=0.5, lead_in_s=0.5
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A folder of good and bad inputs, shared by every case (cases never write into it)."""
    root = tmp_path_factory.mktemp("bad-input")
    subject = SimulatedSubject(SIM)
    save_simulated_session(SIM, root / "rec.xdf")
    model = make_bundle(root / "model", subject.channel_names, subject.class_names)
    make_bundle(root / "model8", subject.channel_names[:8], subject.class_names)

    shutil.copytree(model, root / "truncated_model")
    weights = (model / "model.safetensors").read_bytes()
    (root / "truncated_model" / "model.safetensors").write_bytes(weights[: len(weights) // 3])
    shutil.copytree(model, root / "edited_model")
    meta = json.loads((model / "bundle.json").read_text())
    meta["model_config"]["n_channels"] = 64  # the weights are for 16
    (root / "edited_model" / "bundle.json").write_text(json.dumps(meta))
    shutil.copytree(model, root / "notjson_model")
    (root / "notjson_model" / "bundle.json").write_text("{ this is not json")

    rec = Recording(
        np.random.default_rng(0).normal(size=(3000, 16)),
        1000.0 + np.arange(3000) / 1000.0,
        1000.0,
        subject.channel_names,
        [Marker(1000.5, "S 12")],
    )
    write_xdf(root / "no_markers.xdf", rec)
    stimulus = json.dumps({"event": "stimulus", "class": subject.class_names[0], "label": 0})
    rec.markers = [Marker(1002.9, stimulus)]  # 0.1 s before the data ends: the epoch never completes
    write_xdf(root / "late_marker.xdf", rec)
    write_xdf(root / "zero.xdf", Recording(np.zeros((0, 16)), np.zeros(0), 1000.0, subject.channel_names))
    (root / "empty.xdf").write_bytes(b"")
    (root / "text.xdf").write_text("subject,label\n1,2\n")
    (root / "fake.pth").write_bytes(b"not a torch file")
    (root / "existing.xdf").write_bytes((root / "rec.xdf").read_bytes())
    (root / "existing.png").write_bytes(b"an earlier figure")
    (root / "calout").mkdir()
    (root / "calout" / "report.md").write_text("# an earlier calibration\n")
    (root / "demo").mkdir()
    (root / "demo" / "subject1.xdf").write_bytes(b"an earlier demo session")
    return root


@dataclass
class Case:
    """One bad invocation: ``{ws}`` and ``{new}`` (a fresh folder per case) in argv are filled in."""

    id: str
    argv: list[str]
    expect: list[str]  # words the error must contain (case-insensitive)
    unchanged: list[str] = field(default_factory=list)  # files under ws that must keep their bytes
    absent: list[str] = field(default_factory=list)  # outputs under {new} that must not exist after


CASES = [
    # simulate
    Case("simulate-suffix", ["simulate", "--out", "{new}/s.txt"], [".xdf", "s.txt"], absent=["s.txt"]),
    Case(
        "simulate-existing-out",
        ["simulate", "--out", "{ws}/existing.xdf", "--classes", "2", "--images-per-class", "2"],
        ["existing.xdf", "already exists", "--overwrite"],
        unchanged=["existing.xdf"],
    ),
    Case("simulate-no-out", ["simulate"], ["--out", "--live"]),
    Case("simulate-negative-minutes", ["simulate", "--out", "{new}/s.xdf", "--minutes", "-1"], ["--minutes"]),
    Case("simulate-negative-snr", ["simulate", "--out", "{new}/s.xdf", "--snr", "-1"], ["--snr", ">= 0"]),
    Case("simulate-zero-classes", ["simulate", "--out", "{new}/s.xdf", "--classes", "0"], ["--classes"]),
    Case("simulate-classes-not-a-number", ["simulate", "--classes", "ten"], ["--classes", "'ten'"]),
    Case(
        "simulate-bad-line-freq", ["simulate", "--out", "{new}/s.xdf", "--line-freq", "55"], ["--line-freq"]
    ),
    # info
    Case("info-missing-file", ["info", "{ws}/nope.xdf"], ["nope.xdf", "does not exist"]),
    Case("info-empty-file", ["info", "{ws}/empty.xdf"], ["empty.xdf"]),
    Case("info-text-file", ["info", "{ws}/text.xdf"], ["text.xdf"]),
    Case("info-directory", ["info", "{ws}"], ["is a directory"]),
    # predict
    Case("predict-no-bundle", ["predict", "{ws}/rec.xdf", "--model", "{ws}/nope"], ["not a model bundle"]),
    Case(
        "predict-truncated-weights",
        ["predict", "{ws}/rec.xdf", "--model", "{ws}/truncated_model"],
        ["model.safetensors", "cannot be read", "damaged"],
    ),
    Case(
        "predict-edited-bundle-config",
        ["predict", "{ws}/rec.xdf", "--model", "{ws}/edited_model"],
        ["bundle.json does not agree with model.safetensors", "size mismatch"],
    ),
    Case(
        "predict-bundle-not-json",
        ["predict", "{ws}/rec.xdf", "--model", "{ws}/notjson_model"],
        ["bundle.json is not valid JSON"],
    ),
    Case(
        "predict-no-stimulus-markers",
        ["predict", "{ws}/no_markers.xdf", "--model", "{ws}/model"],
        ["no stimulus markers"],
    ),
    Case(
        "predict-zero-epochs",
        ["predict", "{ws}/late_marker.xdf", "--model", "{ws}/model"],
        ["0 epochs decoded", "runs past the data"],
    ),
    Case(
        "predict-adapt-without-alignment",
        ["predict", "{ws}/rec.xdf", "--model", "{ws}/model", "--adapt-alignment", "0.05"],
        ["no spatial alignment", "recalibrate"],
    ),
    Case("predict-zero-samples", ["predict", "{ws}/zero.xdf", "--model", "{ws}/model"], ["0 EEG samples"]),
    Case(
        "predict-missing-recording", ["predict", "{ws}/nope.xdf", "--model", "{ws}/model"], ["does not exist"]
    ),
    Case(
        "predict-wrong-channel-count",
        ["predict", "{ws}/rec.xdf", "--model", "{ws}/model8"],
        ["channel count", "16", "8"],
    ),
    Case(
        "predict-unknown-device",
        ["predict", "{ws}/rec.xdf", "--model", "{ws}/model", "--device", "gpu7"],
        ["--device", "gpu7", "cuda:N"],
    ),
    Case(
        "live-absent-gpu", ["live", "--model", "{ws}/model", "--device", "cuda:99"], ["--device", "cuda:99"]
    ),
    Case(
        "calibrate-absent-gpu",
        ["calibrate", "{ws}/rec.xdf", "--out", "{new}/cal", "--device", "cuda:99"],
        ["--device", "cuda:99"],
        absent=["cal"],
    ),
    Case(
        "figure-existing-out",
        ["figure", "{ws}/rec.xdf", "--model", "{ws}/model", "--out", "{ws}/existing.png"],
        ["figure", "existing.png", "already exists", "--overwrite"],
        unchanged=["existing.png"],
    ),
    Case("predict-pth-without-subject", ["predict", "{ws}/fake.pth", "--model", "{ws}/model"], ["--subject"]),
    # live
    Case("live-negative-timeout", ["live", "--model", "{ws}/model", "--timeout", "-5"], ["--timeout", "> 0"]),
    Case("live-zero-duration", ["live", "--model", "{ws}/model", "--duration", "0"], ["--duration", "> 0"]),
    Case("live-zero-hop", ["live", "--model", "{ws}/model", "--hop", "0"], ["--hop"]),
    Case("live-negative-smoothing", ["live", "--model", "{ws}/model", "--smoothing", "-1"], ["--smoothing"]),
    Case(
        # A bundle from before live adaptation: refused before any stream is looked for.
        "live-adapt-without-alignment",
        ["live", "--model", "{ws}/model", "--adapt-alignment", "0.02", "--timeout", "30"],
        ["no spatial alignment", "recalibrate", "--adapt-alignment off"],
    ),
    Case(
        "live-adapt-bad-factor",
        ["live", "--model", "{ws}/model", "--adapt-alignment", "2"],
        ["--adapt-alignment", "(0, 1]"],
    ),
    Case(
        "live-damaged-model",
        ["live", "--model", "{ws}/truncated_model", "--timeout", "0.5"],
        ["model.safetensors", "cannot be read"],
    ),
    Case(
        "live-both-streams-missing",
        [
            "live",
            "--model",
            "{ws}/model",
            "--stream",
            "no-eeg-here",
            "--markers",
            "no-markers-here",
            "--timeout",
            "0.5",
        ],
        ["name=no-eeg-here", "name=no-markers-here", "visible streams"],
    ),
    # replay
    Case("replay-negative-speed", ["replay", "{ws}/rec.xdf", "--speed", "-1"], ["--speed", ">= 0"]),
    Case(
        "replay-speed-0-without-consumer", ["replay", "{ws}/rec.xdf", "--speed", "0"], ["--wait-for-consumer"]
    ),
    Case("replay-missing-file", ["replay", "{ws}/nope.xdf"], ["nope.xdf", "does not exist"]),
    Case("replay-pth-without-subject", ["replay", "{ws}/fake.pth"], ["--subject"]),
    Case("replay-text-file", ["replay", "{ws}/text.xdf"], ["text.xdf"]),
    Case(
        "replay-negative-wait",
        ["replay", "{ws}/rec.xdf", "--wait-for-consumer", "-1"],
        ["--wait-for-consumer"],
    ),
    # record
    Case("record-suffix", ["record", "--out", "{new}/r.csv", "name=x"], [".xdf"], absent=["r.csv"]),
    Case(
        "record-existing-out",
        ["record", "--out", "{ws}/existing.xdf", "name=x", "--timeout", "0.5"],
        ["existing.xdf", "already exists", "--overwrite"],
        unchanged=["existing.xdf"],
    ),
    Case("record-zero-duration", ["record", "--out", "{new}/r.xdf", "--duration", "0"], ["--duration"]),
    Case("record-negative-timeout", ["record", "--out", "{new}/r.xdf", "--timeout", "-1"], ["--timeout"]),
    Case(
        "record-stream-missing",
        ["record", "--out", "{new}/r.xdf", "name=no-such-amp", "--timeout", "0.5"],
        ["no-such-amp"],
        absent=["r.xdf"],
    ),
    # pregenerate
    Case(
        "pregenerate-zero-per-class",
        ["pregenerate", "--model", "{ws}/model", "--per-class", "0"],
        ["--per-class"],
    ),
    Case(
        "pregenerate-missing-pipeline",
        ["pregenerate", "--model", "{ws}/model", "--pipeline", "{ws}/no-weights", "--out", "{new}/cache"],
        ["no-weights"],
    ),
    # figure
    Case(
        "figure-models-and-recordings-differ",
        ["figure", "{ws}/rec.xdf", "{ws}/rec.xdf", "--model", "{ws}/model", "--out", "{new}/f.png"],
        ["one --model per recording"],
        absent=["f.png"],
    ),
    Case(
        "figure-zero-trials",
        ["figure", "{ws}/rec.xdf", "--model", "{ws}/model", "--out", "{new}/f.png", "--trials", "0"],
        ["--trials"],
    ),
    # calibrate
    Case(
        "calibrate-existing-out",
        ["calibrate", "{ws}/rec.xdf", "--out", "{ws}/calout"],
        ["report.md", "already exists", "--overwrite"],
        unchanged=["calout/report.md"],
    ),
    Case(
        "calibrate-unknown-baseline",
        ["calibrate", "{ws}/rec.xdf", "--out", "{new}/cal", "--baselines", "svm"],
        ["--baselines", "unknown", "svm"],
        absent=["cal"],
    ),
    Case(
        "calibrate-missing-images",
        ["calibrate", "{ws}/rec.xdf", "--out", "{new}/cal", "--images", "{ws}/no-images"],
        ["no-images", "not a folder", "--teacher none"],
        absent=["cal"],
    ),
    Case(
        "calibrate-no-stimulus-markers",
        [
            "calibrate",
            "{ws}/no_markers.xdf",
            "--out",
            "{new}/cal",
            "--no-distillation",
            "--baselines",
            "none",
        ],
        ["stimulus"],
        absent=["cal"],
    ),
    Case(
        "calibrate-alpha-above-1",
        ["calibrate", "{ws}/rec.xdf", "--out", "{new}/cal", "--alpha", "2"],
        ["--alpha"],
    ),
    Case(
        "study-zero-seeds",
        ["study", "{ws}/rec.xdf", "--out", "{new}/study", "--seeds", "0"],
        ["--seeds"],
        absent=["study"],
    ),
    Case(
        "study-absent-gpu",
        ["study", "{ws}/rec.xdf", "--out", "{new}/study", "--device", "cuda:99"],
        ["--device", "cuda:99"],
        absent=["study"],
    ),
    Case(
        "calibrate-zero-batch",
        ["calibrate", "{ws}/rec.xdf", "--out", "{new}/cal", "--batch-size", "0"],
        ["--batch-size"],
    ),
    Case(
        "calibrate-base-not-a-base",
        ["calibrate", "{ws}/rec.xdf", "--out", "{new}/cal", "--base", "{ws}/model"],
        ["not a base", "rtdecode pretrain"],
        absent=["cal"],
    ),
    Case(
        "calibrate-short-session-without-base",
        ["calibrate", "{ws}/rec.xdf", "--out", "{new}/cal", "--trials-per-class", "5"],
        ["--trials-per-class needs --base"],
        absent=["cal"],
    ),
    Case(
        "pretrain-missing-recording",
        ["pretrain", "{ws}/rec.xdf", "{ws}/nope.xdf", "--out", "{new}/base"],
        ["nope.xdf"],
        absent=["base"],
    ),
    Case(
        "pretrain-unknown-model",
        ["pretrain", "{ws}/rec.xdf", "--out", "{new}/base", "--models", "svm", "--teacher", "none"],
        ["svm", "transferable"],
        absent=["base"],
    ),
    Case(
        "calibrate-missing-recording",
        ["calibrate", "{ws}/nope.xdf", "--out", "{new}/cal"],
        ["nope.xdf"],
        absent=["cal"],
    ),
    Case(
        "calibrate-missing-config",
        [
            "calibrate",
            "{ws}/rec.xdf",
            "--out",
            "{new}/cal",
            "--config",
            "{ws}/nope.toml",
            "--no-distillation",
        ],
        ["nope.toml"],
        absent=["cal"],
    ),
    # calibrate-gui and demo (argument checks run before any window or simulation)
    Case("calibrate-gui-zero-classes", ["calibrate-gui", "--simulate", "--classes", "0"], ["--classes"]),
    Case("calibrate-gui-zero-image-time", ["calibrate-gui", "--image-s", "0"], ["--image-s"]),
    Case(
        "demo-existing-session",
        ["demo", "--out", "{ws}/demo", "--no-gui"],
        ["subject1.xdf", "already exists", "--overwrite"],
        unchanged=["demo/subject1.xdf"],
    ),
    Case("demo-zero-classes", ["demo", "--out", "{new}/demo", "--classes", "0"], ["--classes"]),
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def restore_logging():
    """main() sets logging levels and the warnings hook for its process; undo it for the next tests."""
    root = logging.getLogger()
    levels = {
        name: logging.getLogger(name).level for name in ("", "rtdecode", "calibration", "gui", "__main__")
    }
    showwarning = warnings.showwarning
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    root.setLevel(levels[""])
    warnings.showwarning = showwarning


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    """``main(argv)`` as the shell sees it: exit status and stderr (SystemExit included)."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
        if isinstance(code, str):  # SystemExit("error: ...") prints its message and exits 1
            print(code, file=sys.stderr)
            code = 1
    return int(code or 0), capsys.readouterr().err


def test_the_table_covers_every_subcommand_thirty_times():
    from rtdecode.cli import build_parser

    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    covered = {case.argv[0] for case in CASES} | {"gui"}  # gui: test_gui_without_a_display_*
    assert covered == subcommands
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_clear_line_and_loses_nothing(case, ws, tmp_path, capsys, restore_logging):
    before = {name: _digest(ws / name) for name in case.unchanged}
    argv = [a.format(ws=ws, new=tmp_path) for a in case.argv]
    code, err = run_main(argv, capsys)
    assert code != 0, f"{case.id}: exit 0"
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, f"{case.id}: expected one error line, got:\n{err}"
    for word in case.expect:
        assert word.lower() in err.lower(), f"{case.id}: {word!r} not in:\n{err}"
    for name, digest in before.items():
        assert _digest(ws / name) == digest, f"{case.id} changed {name}"
    for name in case.absent:
        assert not (tmp_path / name).exists(), f"{case.id} left {name} behind"


def _cli(*argv: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rtdecode.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})},
        timeout=120,
        **kwargs,
    )


def _without_display() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


@pytest.mark.parametrize("argv", [["gui"], ["calibrate-gui", "--simulate"]], ids=["gui", "calibrate-gui"])
def test_gui_without_a_display_says_so_in_one_line(argv):
    result = subprocess.run(
        [sys.executable, "-m", "rtdecode.cli", *argv],
        capture_output=True,
        text=True,
        env=_without_display(),
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "no display" in result.stderr and "DISPLAY" in result.stderr
    assert "Traceback" not in result.stderr and "Reinstalling" not in result.stderr


def test_a_display_nobody_answers_or_a_missing_xcb_cursor_is_named(monkeypatch):
    import socket

    from gui.display import display_problem

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":4242")
    assert display_problem().startswith("no X server answers at DISPLAY=:4242")
    # A server listening where DISPLAY points (Linux's abstract socket, as Xorg also uses) passes.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("\0/tmp/.X11-unix/X4243")
        server.listen(1)
        monkeypatch.setenv("DISPLAY", ":4243.0")
        assert "libxcb-cursor0" in display_problem(missing_libraries=lambda: ["libxcb-cursor.so.0"])
        assert display_problem(missing_libraries=lambda: []) is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem() is None


def test_predict_names_classes_the_model_does_not_know_and_scores_known_ones_only(ws, tmp_path):
    subject = SimulatedSubject(SIM)
    other = [subject.class_names[0], "zebra", "yak"]  # one shared class, two the markers never name
    model = make_bundle(tmp_path / "other", subject.channel_names, other)
    result = _cli("predict", str(ws / "rec.xdf"), "--model", str(model))
    assert result.returncode == 0, result.stderr
    unknown = sorted(subject.class_names[1:])
    line = [x for x in result.stderr.splitlines() if "does not know" in x]
    assert len(line) == 1 and all(name in line[0] for name in unknown), result.stderr
    assert "8 stimulus markers name 2 classes" in line[0]
    assert "over 4 markers of the model's classes" in result.stderr
    assert "8 markers of other classes left out" in result.stderr


def test_predict_into_a_closed_pipe_exits_quietly(ws):
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtdecode.cli", "predict", str(ws / "rec.xdf"), "--model", str(ws / "model")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    proc.stdout.close()  # like `| head -0`: the reader is gone before the first line
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert proc.returncode == 141


@pytest.mark.parametrize("command", ["live", "record"])
def test_a_missing_stream_fails_within_the_timeout_asked_for(command, ws, tmp_path, capsys, restore_logging):
    from rtdecode.io.bundle import load_bundle

    load_bundle(ws / "model")  # torch imported: what is timed below is the wait for the stream
    missing = f"no-such-amp-{os.getpid()}-{tmp_path.name}"
    argv = {
        "live": ["live", "--model", str(ws / "model"), "--stream", missing, "--markers", f"{missing}-m"],
        "record": ["record", "--out", str(tmp_path / "r.xdf"), missing, f"{missing}-m"],
    }[command]
    start = time.monotonic()
    code, err = run_main([*argv, "--timeout", "1"], capsys)
    elapsed = time.monotonic() - start
    assert code == 1 and missing in err and "within 1 s" in err
    assert elapsed < 5, f"{command} --timeout 1 took {elapsed:.1f} s to report a missing stream"


def test_library_chatter_only_with_verbose(ws):
    quiet = _cli("live", "--model", str(ws / "model"), "--stream", "nothing-here", "--timeout", "0.3")
    assert quiet.returncode == 1
    assert "INFO|" not in quiet.stderr and "api_config" not in quiet.stderr  # liblsl's own log lines
    assert quiet.stderr.count("error:") == 1
    loud = _cli("-v", "live", "--model", str(ws / "model"), "--stream", "nothing-here", "--timeout", "0.3")
    # -v: liblsl's lines, and the traceback of the error, for a bug report
    assert loud.returncode == 1 and "INFO|" in loud.stderr and "Traceback" in loud.stderr


def test_unexpected_errors_are_one_line_and_point_to_verbose(capsys, restore_logging, monkeypatch):
    from rtdecode.commands import recordings

    def broken(args):
        raise KeyError("boom")

    monkeypatch.setattr(recordings, "_cmd_info", broken)
    code, err = run_main(["info", "x.xdf"], capsys)
    assert code == 1 and "Traceback" not in err
    assert (
        err.strip()
        == "error: unexpected KeyError: 'boom' (this is a bug: run again with -v for the traceback and report it)"
    )
    code, err = run_main(["-v", "info", "x.xdf"], capsys)
    assert code == 1 and "Traceback" in err
    code, err = run_main(["info", "x.xdf", "-v"], capsys)  # after the subcommand too
    assert code == 1 and "Traceback" in err


def test_bundle_files_are_world_readable_and_never_half_written(ws):
    model = ws / "model"
    umask = os.umask(0)
    os.umask(umask)
    for name in ("model.safetensors", "bundle.json"):
        assert (model / name).stat().st_mode & 0o777 == 0o666 & ~umask
    assert not list(model.glob("*.partial"))


def test_a_truncated_file_warns_once_in_one_line(ws, tmp_path):
    data = (ws / "rec.xdf").read_bytes()
    (tmp_path / "cut.xdf").write_bytes(data[: int(len(data) * 0.6)])
    result = _cli("predict", str(tmp_path / "cut.xdf"), "--model", str(ws / "model"))
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "ends inside a chunk" in line]
    assert len(warned) == 1 and "WARNING" in warned[0], result.stderr
    assert "warnings.warn" not in result.stderr and ".py:" not in result.stderr  # no source lines


def test_library_info_logs_are_hidden_and_ours_are_shown():
    code = (
        "import logging, warnings\n"
        "from rtdecode.cli_errors import configure_output\n"
        "configure_output(False)\n"
        "logging.info('Parsing model identifier')  # open_clip logs to the root logger\n"
        "logging.getLogger('calibration.calibrate').info('120 epochs')\n"
        "for _ in range(2):\n"
        "    warnings.warn('file.xdf: the file ends inside a chunk')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert "Parsing model identifier" not in result.stderr
    assert "INFO calibration.calibrate: 120 epochs" in result.stderr
    assert result.stderr.count("ends inside a chunk") == 1 and "warnings.warn" not in result.stderr
