"""Markers of classes the model does not know: named once, left out of the accuracy (predict,
live, and the rules both share)."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace

import pytest

from rtdecode.scoring import ClassTally, marker_class
from tests.bundles import make_bundle


def _p(label: str, shown: str | None = None, index: int | None = None):
    marker = None if shown is None and index is None else {"event": "stimulus"}
    if shown is not None:
        marker["class"] = shown
    if index is not None:
        marker["label"] = index
    return SimpleNamespace(label=label, marker=marker)


def test_tally_scores_known_classes_and_names_the_others_once():
    tally = ClassTally(["cat", "dog"])
    assert tally.add(_p("cat", "cat")) is None
    assert tally.add(_p("cat", "dog")) is None
    assert tally.add(_p("cat", "zebra")) == "zebra"  # first time: warn
    assert tally.add(_p("dog", "zebra")) is None  # once per class
    assert tally.add(_p("dog")) is None  # sliding window: no marker, not counted
    assert (tally.known, tally.hits, dict(tally.unknown)) == (2, 1, {"zebra": 2})
    assert tally.accuracy == 0.5
    assert tally.accuracy_text() == (
        "top-1 0.500 over 2 markers of the model's classes (chance 0.500); 2 markers of other classes left out"
    )
    text = tally.mismatch_text()
    assert text.startswith("2 stimulus markers name 1 class the model does not know (zebra)")


def test_marker_class_reads_the_name_or_the_index():
    names = ["cat", "dog"]
    assert marker_class({"event": "stimulus", "class": "dog", "label": 0}, names) == "dog"  # the name wins
    assert marker_class({"event": "stimulus", "label": 1}, names) == "dog"
    assert marker_class({"event": "stimulus", "label": 7}, names) == "label 7"
    assert marker_class({"event": "other", "text": "S 12"}, names) is None
    assert marker_class(None, names) is None


def test_every_class_known_reads_as_before():
    tally = ClassTally(["cat", "dog"])
    tally.add(_p("cat", "cat"))
    assert tally.mismatch_text() is None
    assert tally.accuracy_text() == "top-1 1.000 over 1 markers (chance 0.500)"


def test_live_warns_about_markers_of_unknown_classes(tmp_path, caplog):
    pytest.importorskip("pylsl")
    from rtdecode.cli import main
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.live import LiveSimulator

    config = SimulationConfig(
        n_classes=3, images_per_class=4, n_channels=16, image_s=0.5, block_s=2.0, break_s=0.5, lead_in_s=0.5
    )
    name = f"mismatch-{uuid.uuid4().hex[:8]}"
    sim = LiveSimulator(config, name=name, loop=True).start()
    try:
        known = sim.subject.class_names[0]
        model = make_bundle(tmp_path / "m", sim.subject.channel_names, [known, "zebra", "yak"])
        argv = ["live", "--model", str(model), "--stream", name, "--markers", f"{name}-markers"]
        with caplog.at_level(logging.INFO):
            assert main([*argv, "--duration", "8", "--timeout", "10", "--device", "cpu"]) == 0
    finally:
        sim.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    first = [w for w in warnings if w.startswith("a marker names")]
    others = sorted(sim.subject.class_names[1:])
    assert first and len(first) == len({w.split("'")[1] for w in first})  # once per class
    assert all(w.split("'")[1] in others for w in first)
    summary = [w for w in warnings if "does not know" in w and w[0].isdigit()]
    assert len(summary) == 1 and all(name in summary[0] for name in {w.split("'")[1] for w in first})
    assert "of the model's classes" in caplog.text and "markers of other classes left out" in caplog.text
