"""The presenter recording another program's markers (PsychoPy-style plain codes): ``calibrate-gui
--markers STREAM --events MAPPING`` carries the mapping to the session's calibration, and a session of
plain codes without one is refused in one line that names the option."""

from __future__ import annotations

import pytest

from calibration.calibrate import CalibrationConfig
from calibration.train import TrainConfig
from gui.presenter_session import PresenterSettings, train
from rtdecode.cli import build_parser
from rtdecode.io.bundle import load_bundle
from rtdecode.io.marker_mapping import MarkerMapping
from rtdecode.models.student import StudentConfig
from tests.recording_files import LAB_CLASSES, LAB_EVENTS, lab_session, write_labrecorder_xdf

TINY = CalibrationConfig(
    train=TrainConfig(max_epochs=1, patience=1, batch_size=16, progress=False, alpha=1.0),
    student=StudentConfig(widths=(8, 8)),
    baselines=(),
    candidates=("lda",),
)


def test_the_command_takes_the_external_presenters_mapping():
    parser = build_parser()
    help_text = " ".join(parser._subparsers._group_actions[0].choices["calibrate-gui"].format_help().split())
    assert "--events" in help_text and "plain marker codes" in help_text
    args = parser.parse_args(["calibrate-gui", "--markers", "psychopy", "--events", LAB_EVENTS])
    assert isinstance(args.events, MarkerMapping)
    with pytest.raises(SystemExit):  # a malformed mapping fails before any window opens
        parser.parse_args(["calibrate-gui", "--markers", "psychopy", "--events", "1=house"])


def test_a_session_of_plain_codes_calibrates_with_the_mapping_and_is_refused_without(tmp_path):
    recording, _, _ = lab_session()
    session = write_labrecorder_xdf(tmp_path / "session.xdf", recording)
    with pytest.raises(ValueError, match="--events") as refused:
        train(session, None, tmp_path / "without", TINY)
    assert "\n" not in str(refused.value)

    settings = PresenterSettings(
        out_dir=tmp_path, external_markers="name=psychopy", events=MarkerMapping.parse(LAB_EVENTS)
    )
    result = train(session, None, tmp_path / "with", TINY, events=settings.events)
    assert sorted(result.bundle.class_names) == sorted(LAB_CLASSES.values())
    assert load_bundle(result.out_dir / "model").class_names == result.bundle.class_names
