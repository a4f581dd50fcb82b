"""Every calibration entry point offers the same training flags with the same defaults."""

from __future__ import annotations

import pytest

from calibration.options import BASELINE_SETS, parse_baselines
from rtdecode.cli import build_parser

SHARED = (
    "teacher",
    "teacher_weights",
    "alpha",
    "temperature",
    "soft_target_folds",
    "max_epochs",
    "patience",
    "baselines",
)


def _defaults(argv):
    args = build_parser().parse_args(argv)
    return {k: getattr(args, k) for k in SHARED}


def test_calibrate_calibrate_gui_and_demo_share_names_and_defaults():
    calibrate = _defaults(["calibrate", "s.xdf", "--out", "x"])
    assert calibrate == _defaults(["calibrate-gui"]) == _defaults(["demo"])
    assert calibrate["teacher"] == "auto"


def test_help_says_what_is_used_by_default(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["calibrate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "efficientnet-lite0 with the ImageNet weights" in text and "'auto' (default)" in text
    assert "'none' (default), 'quick' (logreg_standardized, cnn2d_stft:" in text


def test_baseline_sets_and_lists():
    assert parse_baselines("quick") == BASELINE_SETS["quick"]
    assert parse_baselines("cnn1d, lstm") == ("cnn1d", "lstm")
    with pytest.raises(ValueError, match="unknown"):
        parse_baselines("cnn3d")
