"""MarkerMapping: the three forms of --events, how codes match, the mistakes refused at once, and
map_markers over a file's markers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from rtdecode.io.marker_mapping import (
    MarkerMapping,
    canonical_code,
    map_markers,
    marker_codes,
    no_stimuli_message,
)
from rtdecode.io.markers import parse_marker, project_event, stimulus_marker
from rtdecode.io.recording import Marker


class Form(NamedTuple):
    id: str
    spec: str  # {tmp} is replaced by the test's folder
    files: dict[str, str]
    classes: tuple[str, ...]
    # marker text -> (class, image, block) or None
    reads: dict[str, tuple[str, str | None, int | None] | None]


FORMS = [
    Form(
        "pairs",
        "1=house, 2=face",
        {},
        ("house", "face"),
        {"1": ("house", None, None), "2": ("face", None, None), "3": None, "12": None},
    ),
    Form(
        "pairs-several-codes-per-class",
        "S11=face,S12=face,S21=house",
        {},
        ("face", "house"),
        {"Stimulus/S 11": ("face", None, None), "S12": ("face", None, None), "S 21": ("house", None, None)},
    ),
    Form(
        "numbers-in-any-spelling",
        "1=house,2=face",
        {},
        ("house", "face"),
        {"1.0": ("house", None, None), " 2 ": ("face", None, None), "2.5": None},
    ),
    Form(
        "tsv-file-with-header-and-comment",
        "{tmp}/mapping.tsv",
        {"mapping.tsv": "# PsychoPy codes\ncode\tclass\n1\thouse\n2\tface\n\n"},
        ("house", "face"),
        {"1": ("house", None, None), "2": ("face", None, None)},
    ),
    Form(
        "csv-file",
        "{tmp}/mapping.csv",
        {"mapping.csv": "value,trial_type\n10,car\n20,dog\n"},
        ("car", "dog"),
        {"10": ("car", None, None), "20": ("dog", None, None)},
    ),
    Form(
        "json-file",
        "{tmp}/mapping.json",
        {"mapping.json": json.dumps({"1": "house", "2": "face"})},
        ("house", "face"),
        {"1": ("house", None, None), "2": ("face", None, None)},
    ),
    Form(
        "pattern-class-image",
        "stim/{class}/{image}",
        {},
        (),
        {"stim/face/023": ("face", "023", None), "stim/house/7": ("house", "7", None), "resp/face/1": None},
    ),
    Form(
        "pattern-block-and-wildcard",
        "run{block}_{*}_{class}",
        {},
        (),
        {"run2_trial17_face": ("face", None, 2), "run2_face": None, "runA_x_face": None},
    ),
]


@pytest.mark.parametrize("form", FORMS, ids=[f.id for f in FORMS])
def test_every_form_of_events_reads_its_codes(form: Form, tmp_path: Path) -> None:
    for name, text in form.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    mapping = MarkerMapping.parse(form.spec.replace("{tmp}", str(tmp_path)))
    assert mapping.classes == form.classes
    for text, expected in form.reads.items():
        assert mapping.match(text) == expected, text
        event = parse_marker(text, mapping)
        if expected is None:
            assert event == {"event": "other", "text": text}
        else:
            assert event["event"] == "stimulus" and event["class"] == expected[0] and event["code"] == text
    # Stored in a bundle and back.
    assert MarkerMapping.from_dict(json.loads(json.dumps(mapping.to_dict()))) == mapping


class Mistake(NamedTuple):
    id: str
    spec: str
    files: dict[str, str]
    error: type[Exception]
    says: str


MISTAKES = [
    Mistake("one-class", "1=house", {}, ValueError, "every code is class 'house'"),
    Mistake("two-codes-one-class", "1=face,2=face", {}, ValueError, "a decoder needs two or more classes"),
    Mistake("code-twice", "1=house,2=face,1=face", {}, ValueError, "code '1' is given twice"),
    Mistake("one-class-two-spellings", "1=Face,2=face ", {}, ValueError, "differ only in case"),
    Mistake("not-pairs", "1:house,2:face", {}, ValueError, "CODE=CLASS pairs"),
    Mistake("empty", " ", {}, ValueError, "--events is empty"),
    Mistake("pattern-without-class", "stim/{image}", {}, ValueError, "has no {class} field"),
    Mistake("pattern-unknown-field", "stim/{category}/{image}", {}, ValueError, "unknown field {category}"),
    Mistake("pattern-field-twice", "{class}/{class}", {}, ValueError, "appears twice"),
    Mistake("missing-file", "{tmp}/nope.tsv", {}, FileNotFoundError, "does not exist"),
    Mistake("bad-file-line", "{tmp}/m.tsv", {"m.tsv": "1\thouse\njust-a-code\n"}, ValueError, "line 2"),
    Mistake("file-one-class", "{tmp}/m.tsv", {"m.tsv": "1\thouse\n2\thouse\n"}, ValueError, "two or more"),
    Mistake("json-not-an-object", "{tmp}/m.json", {"m.json": "[1, 2]"}, ValueError, "one JSON object"),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_mapping_mistakes_are_refused_in_one_line(mistake: Mistake, tmp_path: Path) -> None:
    for name, text in mistake.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(mistake.error, match=mistake.says.replace("{", r"\{").replace("}", r"\}")) as info:
        MarkerMapping.parse(mistake.spec.replace("{tmp}", str(tmp_path)))
    assert "\n" not in str(info.value)


def test_codes_compare_in_one_spelling():
    assert canonical_code("Stimulus/S  1") == "S1"
    assert canonical_code(" 2.0") == "2" and canonical_code("2.5") == "2.5"
    assert canonical_code("stim/face/023") == "stim/face/023"  # hierarchical codes keep their parts


def test_labels_follow_a_models_class_order():
    mapping = MarkerMapping.parse("1=house,2=face").with_classes(["face", "house"])
    assert mapping.event("1")["label"] == 1 and mapping.event("2")["label"] == 0
    pattern = MarkerMapping.parse("stim/{class}/{image}").with_classes(["face", "house"])
    assert pattern.event("stim/house/1")["label"] == 1
    assert "label" not in pattern.event("stim/car/1")  # a class the model lacks has no label


def test_json_markers_are_read_as_they_are_with_or_without_a_mapping():
    text = stimulus_marker("img-1", 3, "dog", block=2)
    mapping = MarkerMapping.parse("1=house,2=face")
    assert parse_marker(text, mapping) == parse_marker(text) == project_event(text)


def _markers(*texts: str) -> list[Marker]:
    return [Marker(float(i), t) for i, t in enumerate(texts)]


def test_map_markers_makes_stimuli_of_mapped_codes_and_keeps_the_rest():
    markers = _markers("2", "1", "99", "2", '{"event": "block_start", "block": 0}')
    out, mapping = map_markers(list(reversed(markers)), MarkerMapping.parse("1=house,2=face"), "s.xdf")
    assert [m.timestamp for m in out] == [0, 1, 2, 3, 4]  # in time order
    events = [parse_marker(m.text) for m in out]
    assert [e.get("class") for e in events] == ["face", "house", None, "face", None]
    assert [e.get("label") for e in events[:2]] == [1, 0] and events[0]["image"] == "2-00000"
    assert out[2].text == "99" and events[4]["event"] == "block_start"
    assert mapping.to_dict()["classes"] == ["house", "face"]
    assert marker_codes(out) == {"2": 2, "1": 1, "99": 1}


def test_map_markers_gives_a_patterns_classes_in_sorted_order():
    markers = _markers("stim/house/1", "stim/face/2", "stim/car/3", "resp/1")
    out, mapping = map_markers(markers, MarkerMapping.parse("stim/{class}/{image}"), "s.xdf")
    assert mapping.classes == ("car", "face", "house")
    assert [parse_marker(m.text).get("label") for m in out] == [2, 1, 0, None]
    assert parse_marker(out[1].text)["image"] == "2"


class FileMistake(NamedTuple):
    id: str
    markers: tuple[str, ...]
    spec: str
    says: str


FILE_MISTAKES = [
    FileMistake("absent-code", ("1", "2", "1"), "1=house,3=face", r"code\(s\) 3 \(face\) do not occur"),
    FileMistake("no-code-matches", ("1", "2"), "7=cat,8=dog", "none of the codes of --events 7=cat,8=dog"),
    FileMistake("pattern-on-plain-codes", ("1", "1", "9"), "stim/{class}/{image}", "none of the codes"),
    FileMistake(
        "pattern-leaves-one-class",
        ("stim/face/1", "stim/face/2", "x"),
        "stim/{class}/{image}",
        "gives one class",
    ),
    FileMistake(
        "json-markers-need-none",
        (stimulus_marker("a", 0, "house"), stimulus_marker("b", 1, "face")),
        "1=house,2=face",
        "need no mapping; leave --events out",
    ),
]


@pytest.mark.parametrize("mistake", FILE_MISTAKES, ids=[m.id for m in FILE_MISTAKES])
def test_a_mapping_that_does_not_fit_the_file_names_the_codes_found(mistake: FileMistake) -> None:
    with pytest.raises(ValueError, match=mistake.says) as info:
        map_markers(_markers(*mistake.markers), MarkerMapping.parse(mistake.spec), "s.xdf")
    text = str(info.value)
    assert "\n" not in text and "s.xdf" in text
    if mistake.id != "json-markers-need-none":
        assert "its marker codes: 1 (" in text or "its marker codes: stim/face/1 (1)" in text


def test_the_message_without_a_mapping_lists_the_codes_and_the_option():
    text = no_stimuli_message({"1": 394, "2": 390, "Stimulus/S 99": 3}, "run.xdf")
    assert text.startswith("no stimulus markers in run.xdf")
    assert '1 (394), 2 (390), "Stimulus/S 99" (3)' in text and "--events 1=CLASS,2=CLASS" in text
    assert "mapping.tsv" in text and "stim/{class}/{image}" in text and "\n" not in text
    assert "no marker codes at all" in no_stimuli_message({}, "run.xdf")
