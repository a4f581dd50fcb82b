"""Recordings made the way labs make them: a PsychoPy-style presenter sends plain codes ("1", "2",
or hierarchical "stim/house/007"), LabRecorder (or the amplifier's own software) records them with
the EEG, no block markers, pauses between runs. Every format reads them with --events, info lists
the codes, calibration's epochs find the runs, and mapping mistakes end in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

from calibration.epochs import epochs_from_recording
from rtdecode.config import PipelineConfig
from rtdecode.io import read_recording
from rtdecode.io.recording import Marker, Recording
from rtdecode.io.summary import summarize_file
from tests.recording_files import (
    LAB_CLASSES,
    LAB_EVENTS,
    LAB_RUNS,
    LAB_TRIALS,
    lab_session,
    write_lab_mne_file,
    write_labrecorder_xdf,
)


@pytest.fixture(scope="module")
def session() -> tuple[Recording, list[int], list[int]]:
    return lab_session()


def _hierarchical(recording: Recording) -> Recording:
    """The same session with codes ``stim/<class>/<trial>``, as a presenter logging its images does."""
    markers = [
        Marker(m.timestamp, f"stim/{LAB_CLASSES[int(m.text) - 1]}/{i:03d}")
        for i, m in enumerate(recording.markers)
    ]
    return Recording(recording.data, recording.timestamps, recording.sfreq, recording.channel_names, markers)


class Lab(NamedTuple):
    id: str
    write: Callable[[Path, Recording], Path]
    events: str  # {tmp}: the test's folder, for mapping files
    codes: dict[str, int]  # what info lists without a mapping
    runs_have_pauses: bool  # the file keeps the pauses as stretches without samples


def _mapping_file(name: str, text: str) -> Callable[[Path, Recording], Path]:
    def write(path: Path, recording: Recording) -> Path:
        (path.parent / name).write_text(text, encoding="utf-8")
        return write_labrecorder_xdf(path, recording)

    return write


LABS = [
    Lab(
        "xdf-string-codes",
        lambda p, r: write_labrecorder_xdf(p / "s.xdf", r),
        LAB_EVENTS,
        {"1": 18, "2": 18},
        True,
    ),
    Lab(
        "xdf-int32-codes",
        lambda p, r: write_labrecorder_xdf(p / "s.xdf", r, marker_format="int32"),
        LAB_EVENTS,
        {"1": 18, "2": 18},
        True,
    ),
    Lab(
        "xdf-mapping-tsv",
        lambda p, r: _mapping_file("codes.tsv", "code\tclass\n1\thouse\n2\tface\n")(p / "s.xdf", r),
        "{tmp}/codes.tsv",
        {"1": 18, "2": 18},
        True,
    ),
    Lab(
        "xdf-mapping-json",
        lambda p, r: _mapping_file("codes.json", json.dumps({"1": "house", "2": "face"}))(p / "s.xdf", r),
        "{tmp}/codes.json",
        {"1": 18, "2": 18},
        True,
    ),
    Lab(
        "xdf-hierarchical-pattern",
        lambda p, r: write_labrecorder_xdf(p / "s.xdf", _hierarchical(r)),
        "stim/{class}/{image}",
        {"stim/house/000": 1},
        True,
    ),
    Lab("edf", lambda p, r: write_lab_mne_file(p / "s.edf", r), LAB_EVENTS, {"1": 18, "2": 18}, False),
    Lab(
        "brainvision-trigger-box",
        lambda p, r: write_lab_mne_file(p / "s.vhdr", r),
        "S1=house,S2=face",
        {"Stimulus/S  1": 18, "Stimulus/S  2": 18},
        False,
    ),
]


@pytest.mark.parametrize("lab", LABS, ids=[lab.id for lab in LABS])
def test_a_lab_recording_reads_with_events_and_finds_its_runs(lab: Lab, session, tmp_path: Path) -> None:
    recording, labels, runs = session
    path = lab.write(tmp_path, recording)
    events = lab.events.replace("{tmp}", str(tmp_path))

    # Without a mapping: the codes are kept and listed, and epoching says which option to pass.
    plain = read_recording(path)
    assert plain.stimulus_events() == []
    info = summarize_file(path)
    for code, n in lab.codes.items():
        assert f"{code!r}" in info and str(n) in info
    assert "pass --events" in info
    with pytest.raises(ValueError, match="no stimulus markers in .*--events") as error:
        epochs_from_recording(plain, PipelineConfig(sfreq=plain.sfreq))
    assert "\n" not in str(error.value) and repr(next(iter(lab.codes)))[1:-1] in str(error.value)

    # With the mapping: one stimulus per code, classes as mapped, runs found at the pauses.
    mapped = read_recording(path, events=events)
    stimuli = mapped.stimulus_events()
    assert len(stimuli) == LAB_TRIALS
    assert [e["class"] for _, e in stimuli] == [LAB_CLASSES[label] for label in labels]
    assert mapped.metadata["marker_mapping"]["classes"] in (["house", "face"], ["face", "house"])
    # The stretches without samples between runs are pauses between runs, never lost samples.
    assert (len(mapped.time_base.pauses) == LAB_RUNS - 1) == lab.runs_have_pauses
    assert mapped.time_base.gaps == []
    epochs = epochs_from_recording(mapped, PipelineConfig(sfreq=mapped.sfreq))
    assert len(epochs) == LAB_TRIALS and set(epochs.class_names) == {"house", "face"}
    np.testing.assert_array_equal(epochs.blocks, runs)  # no block markers: the pauses make the runs
    assert [epochs.class_names[k] for k in epochs.labels] == [LAB_CLASSES[label] for label in labels]
    assert "-> house" in summarize_file(path, events=events)


class Wrong(NamedTuple):
    id: str
    events: str
    says: str


WRONG = [
    Wrong("code-not-in-file", "1=house,3=face", r"code\(s\) 3 \(face\) do not occur"),
    Wrong("one-class-left", "1=house,2=house", "every code is class 'house'"),
    Wrong("two-spellings-of-one-class", "1=House,2=house", "differ only in case"),
    Wrong("same-code-twice", "1=house,1=face", "code '1' is given twice"),
    Wrong("nothing-matches", "10=house,20=face", "none of the codes of --events"),
    Wrong("pattern-on-plain-codes", "stim/{class}/{image}", "none of the codes of --events"),
]


@pytest.mark.parametrize("lab", [LABS[0], LABS[5]], ids=["xdf", "edf"])
@pytest.mark.parametrize("wrong", WRONG, ids=[w.id for w in WRONG])
def test_mapping_mistakes_end_in_one_line_naming_the_codes(lab: Lab, wrong: Wrong, session, tmp_path) -> None:
    path = lab.write(tmp_path, session[0])
    with pytest.raises(ValueError, match=wrong.says) as error:
        read_recording(path, events=wrong.events)
    text = str(error.value)
    assert "\n" not in text
    if "does not occur" in wrong.says or "none of" in wrong.says:
        assert "its marker codes: 1 (18), 2 (18)" in text


def test_epochs_left_of_one_class_are_refused(session) -> None:
    # Every "face" stimulus after the end of the data: only "house" epochs can be cut.
    recording, _, _ = session
    end = recording.timestamps[-1]
    markers = [Marker(m.timestamp if m.text == "1" else end + 10, m.text) for m in recording.markers]
    late = Recording(recording.data, recording.timestamps, recording.sfreq, recording.channel_names, markers)
    from rtdecode.io.marker_mapping import MarkerMapping, map_markers

    late.markers, _ = map_markers(late.markers, MarkerMapping.parse(LAB_EVENTS), "late.xdf")
    with pytest.raises(ValueError, match=r"of one class \(house: 18\).*dropped.*two or more classes"):
        epochs_from_recording(late, PipelineConfig(sfreq=late.sfreq))


def _cli(capsys, *argv: Any) -> tuple[int, str, str]:
    from rtdecode.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_calibrate_on_plain_codes_and_the_bundle_remembers_the_mapping(
    session, tmp_path, capsys, caplog
) -> None:
    recording, _, _ = session
    path = write_labrecorder_xdf(tmp_path / "s.xdf", recording)
    fast = ["--max-epochs", "1", "--baselines", "none", "--candidates", "erp_lda", "--device", "cpu"]

    # Without --events: one line, the codes and the option; nothing trained.
    code, _, err = _cli(capsys, "calibrate", path, "--out", tmp_path / "none", *fast)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err
    assert "1 (18), 2 (18)" in lines[0] and "--events 1=CLASS,2=CLASS" in lines[0]
    assert not (tmp_path / "none" / "model").exists()

    # The issue's case: a code that is not in the file exits 1, with no one-class model and no traceback.
    code, _, err = _cli(
        capsys, "calibrate", path, "--events", "1=house,3=face", "--out", tmp_path / "bad", *fast
    )
    assert code == 1 and "Traceback" not in err and "3 (face) do not occur" in err
    assert not (tmp_path / "bad" / "model").exists()

    # With --events: a bundle that remembers the mapping ...
    code, _, err = _cli(capsys, "calibrate", path, "--events", LAB_EVENTS, "--out", tmp_path / "run", *fast)
    assert code == 0, err
    meta = json.loads((tmp_path / "run" / "model" / "bundle.json").read_text())
    assert meta["extra"]["marker_mapping"]["codes"] == {"1": "house", "2": "face"}
    # ... so that predict decodes another file of plain codes without the option.
    model = tmp_path / "run" / "model"
    code, out, err = _cli(capsys, "predict", path, "--model", model, "--jsonl", "--device", "cpu")
    assert code == 0 and "markers read with the model's mapping" in caplog.text, err
    predictions = [json.loads(line) for line in out.splitlines()]
    assert len(predictions) == LAB_TRIALS
    assert {p["marker"]["code"] for p in predictions} == {"1", "2"}
    assert all(p["marker"]["class"] == {"1": "house", "2": "face"}[p["marker"]["code"]] for p in predictions)
