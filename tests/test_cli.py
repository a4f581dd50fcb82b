"""The rtdecode command as a user runs it: simulate a session, then summarize it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import pyxdf

from rtdecode.cli import build_parser, main


def test_every_subcommand_has_a_help_that_explains_it():
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    expected = {"demo", "simulate", "info", "calibrate", "predict", "live", "replay", "record"}
    expected |= {"pregenerate", "figure", "gui", "calibrate-gui"}
    assert expected <= set(subcommands)
    for name, sub in subcommands.items():
        assert len(sub.description or "") > 40, f"{name} --help says too little"


def test_simulate_then_info(tmp_path, capsys):
    out = tmp_path / "s.xdf"
    assert (
        main(["simulate", "--out", str(out), "--classes", "3", "--images-per-class", "10", "--seed", "4"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "3 classes" in printed and "gaps: none" in printed
    streams, _ = pyxdf.load_xdf(str(out))
    eeg = [s for s in streams if s["info"]["type"][0] == "EEG"][0]
    assert eeg["time_series"].shape[1] == 128
    images = sorted((tmp_path / "s_images" / "images").glob("*.png"))
    assert len(images) == 30
    assert main(["info", str(out)]) == 0
    assert "stimulus: 30" in capsys.readouterr().out


def test_errors_are_one_line_messages_not_tracebacks(tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "rtdecode.cli", "info", str(tmp_path / "nope.xdf")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "nope.xdf" in missing.stderr
    (tmp_path / "bad.xdf").write_bytes(b"not an xdf file at all")
    bad = subprocess.run(
        [sys.executable, "-m", "rtdecode.cli", "info", str(tmp_path / "bad.xdf")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "bad.xdf" in bad.stderr


@pytest.mark.parametrize("argv", [["simulate", "--out", "x.txt"]])
def test_bad_arguments_are_refused(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(argv)


def test_calibrate_lists_exactly_the_baselines_it_can_run():
    from calibration.calibrate import ALL_BASELINES
    from calibration.options import BASELINES

    assert set(BASELINES) == set(ALL_BASELINES)


def test_cli_starts_without_importing_torch():
    code = "import sys; from rtdecode.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_demo_help_gives_the_readmes_duration():
    parser = build_parser()
    demo = parser._subparsers._group_actions[0].choices["demo"]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    measured = re.search(r"The demo itself took (\d+) minutes", readme)
    assert measured, "the README no longer says how long the demo takes"
    assert f"about {measured.group(1)} minutes" in " ".join(demo.description.split())


def test_the_demo_calibrates_its_session_without_passing_its_subject_to_the_reader(tmp_path, monkeypatch):
    """The demo's --subject picks the simulated subject; calibrating the XDF it wrote must not hand
    that number to the XDF reader (which takes no subject: the demo then stopped at step 2)."""
    import calibration.cli
    from rtdecode.cli_args import recording_options
    from rtdecode.io import read_recording

    seen = {}

    def calibrate(args):
        seen["options"] = recording_options(args)
        read_recording(args.recording, **seen["options"])  # what calibrate reads first
        raise SystemExit(0)

    monkeypatch.setattr(calibration.cli, "run", calibrate)
    with pytest.raises(SystemExit):
        main(
            [
                "demo",
                "--no-gui",
                "--subject",
                "3",
                "--classes",
                "2",
                "--images-per-class",
                "4",
                "--out",
                str(tmp_path),
            ]
        )
    assert seen["options"] == {}
