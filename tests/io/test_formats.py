"""read_recording over every registered format, unknown formats, and the one way options are checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtdecode.io import read_recording
from rtdecode.io.formats import detect_format, known_formats, register_format
from rtdecode.io.recording import Marker, Recording
from rtdecode.io.summary import summarize_file
from rtdecode.io.xdf import write_xdf
from tests import recording_files as files


def _xdf(tmp_path: Path) -> Path:
    n = 400
    stimulus = json.dumps({"event": "stimulus", "image": "a", "label": 0, "class": "face"})
    recording = Recording(
        np.random.default_rng(0).standard_normal((n, 3)),
        100.0 + np.arange(n) / 200.0,
        200.0,
        ["Oz", "Pz", "Cz"],
        [Marker(100.5 + 0.4 * k, stimulus) for k in range(3)],
    )
    path = tmp_path / "session.xdf"
    write_xdf(path, recording)
    return path


def _mne(suffix: str) -> Callable[[Path], Path]:
    def write(tmp_path: Path) -> Path:
        pytest.importorskip("mne")
        path = tmp_path / f"session{suffix}"
        files.write_mne_file(path)
        return path

    return write


def _imagenet(tmp_path: Path) -> Path:
    pytest.importorskip("torch")
    path = tmp_path / "eeg_5_95_std.pth"
    files.write_imagenet_file(path)
    return path


def _things_file(tmp_path: Path) -> Path:
    return files.write_things_session(tmp_path)[0]


def _things_folder(tmp_path: Path) -> Path:
    files.write_things_session(tmp_path)
    return tmp_path / "raw_data"


@dataclass(frozen=True)
class Case:
    """One format: how to write a file of it, the options it needs, what reading it must give."""

    id: str
    write: Callable[[Path], Path]
    format: str
    options: dict[str, Any]
    n_channels: int
    sfreq: float
    n_stimuli: int


CASES = [
    Case("xdf", _xdf, "xdf", {}, 3, 200.0, 3),
    *(
        Case(
            f"mne{suffix}",
            _mne(suffix),
            "mne",
            {"events": "1=face,2=house"},
            3,
            files.MNE_SFREQ,
            len(files.MNE_ONSETS),
        )
        for suffix in (".vhdr", ".edf", ".set", "_raw.fif")
    ),
    Case("imagenet-eeg", _imagenet, "imagenet-eeg", {"subject": 1}, 128, 1000.0, 6),
    Case("things-eeg2-file", _things_file, "things-eeg2", {"trust_file": True}, 63, 1000.0, len(files.GOOD)),
    Case(
        "things-eeg2-folder",
        _things_folder,
        "things-eeg2",
        {"trust_file": True, "subject": 3, "session": 2},
        63,
        1000.0,
        len(files.GOOD),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_read_recording_reads_every_format(case: Case, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    assert detect_format(path).name == case.format
    recording = read_recording(path, **case.options)
    assert recording.n_channels == case.n_channels and recording.sfreq == case.sfreq
    assert recording.n_samples > 0 and recording.metadata["source_file"]
    assert len(recording.stimulus_events()) == case.n_stimuli
    # None is "not given": a command passes its --subject / --events values as they are.
    unset = {key: None for key in ("subject", "events") if key not in case.options}
    assert read_recording(path, **case.options, **unset).n_samples == recording.n_samples
    # `rtdecode info` summarises every format; XDF lists its streams first.
    text = summarize_file(path, **case.options)
    assert f"{case.n_channels} channels" in text
    assert ("streams:" in text) == (case.format == "xdf")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_an_option_the_format_cannot_use_is_refused_by_name(case: Case, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    title = detect_format(path).title
    with pytest.raises(ValueError, match="cannot use the option") as info:
        read_recording(path, **case.options, not_an_option=3)
    assert "not_an_option=3" in str(info.value) and title in str(info.value)


def test_options_of_other_formats_and_missing_options_are_named(tmp_path: Path) -> None:
    xdf = _xdf(tmp_path)
    with pytest.raises(
        ValueError, match=r"XDF recording .*session\.xdf cannot use the option\(s\) subject=2"
    ):
        read_recording(xdf, subject=2)
    with pytest.raises(ValueError, match="eeg_stream, marker_stream, events"):
        read_recording(xdf, session=1)
    pth = tmp_path / "eeg_5_95_std.pth"
    pth.write_bytes(b"0")  # refused before it is opened
    with pytest.raises(ValueError, match=r"ImageNet-EEG recording .* needs the option subject: .*--subject"):
        read_recording(pth)
    things = _things_file(tmp_path / "t")
    with pytest.raises(ValueError, match="trust_file=True"):
        read_recording(things)  # the importer's own refusal: the file is a pickle


def test_unknown_formats_list_the_known_ones(tmp_path: Path) -> None:
    other = tmp_path / "session.abc"
    other.write_bytes(b"0")
    with pytest.raises(ValueError, match="unknown file type '.abc'") as info:
        read_recording(other)
    for spec in known_formats():
        assert spec.title in str(info.value)
    with pytest.raises(ValueError, match="is a directory"):
        read_recording(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_recording(tmp_path / "missing.xdf")
    broken = tmp_path / "session.edf"  # read through MNE, which refuses it with a clear message
    broken.write_bytes(b"0")
    pytest.importorskip("mne")
    with pytest.raises(ValueError, match="cannot read .*session.edf"):
        read_recording(broken)


def test_things_folders_choose_one_session(tmp_path: Path) -> None:
    files.write_things_session(tmp_path, subject=3, session=1)
    files.write_things_session(tmp_path, subject=3, session=2)
    files.write_things_session(tmp_path, subject=4, session=1)
    raw_data = tmp_path / "raw_data"
    with pytest.raises(ValueError, match="3 THINGS-EEG2 training sessions.*subject=N and session=N"):
        read_recording(raw_data, trust_file=True)
    with pytest.raises(ValueError, match="choose one with session=N"):
        read_recording(raw_data, trust_file=True, subject=3)
    with pytest.raises(ValueError, match="no THINGS-EEG2 test session"):
        read_recording(raw_data, trust_file=True, subject=3, session=1, partition="test")
    recording = read_recording(raw_data / "sub-03", trust_file=True, session=2)
    assert (recording.metadata["subject"], recording.metadata["session"]) == (3, 2)
    assert read_recording(raw_data / "sub-04" / "ses-01", trust_file=True).metadata["subject"] == 4
    file = raw_data / "sub-04" / "ses-01" / "raw_eeg_training.npy"
    with pytest.raises(ValueError, match="subject=3 but .* is subject 4"):
        read_recording(file, trust_file=True, subject=3)


def test_registering_a_format_is_checked(tmp_path: Path) -> None:
    def read_nothing(path: Path, *, level: int) -> Recording:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="already registered"):
        register_format("xdf", read_nothing, title="again", suffixes=(".x",))
    with pytest.raises(ValueError, match="either suffixes or recognises"):
        register_format("new", read_nothing, title="new")
    with pytest.raises(ValueError, match="does not take"):
        register_format("new", read_nothing, title="new", suffixes=(".x",), hints={"subject": "?"})
    assert "new" not in {spec.name for spec in known_formats()}


def test_the_dataset_formats_are_reachable_from_the_command_line(tmp_path: Path, capsys) -> None:
    """``rtdecode info`` reads ImageNet-EEG with --subject and THINGS-EEG2 with --session / --trust-file:
    every command that reads a recording maps these flags to the reader's options in one place."""
    from rtdecode.cli import main

    (tmp_path / "i").mkdir()
    imagenet = _imagenet(tmp_path / "i")
    assert main(["info", str(imagenet), "--subject", "1"]) == 0
    assert "format: ImageNet-EEG" in capsys.readouterr().out
    files.write_things_session(tmp_path / "t", subject=3, session=1)
    files.write_things_session(tmp_path / "t", subject=3, session=2)
    things = tmp_path / "t" / "raw_data"
    assert main(["info", str(things), "--subject", "3", "--session", "2", "--trust-file"]) == 0
    out = capsys.readouterr().out
    assert "format: THINGS-EEG2" in out and "EEG: 63 channels" in out
    assert main(["info", str(imagenet)]) != 0  # ImageNet-EEG without --subject: one error line
    assert "subject" in capsys.readouterr().err
