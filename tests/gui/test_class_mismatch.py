"""The live window names the marker classes its model does not know and scores the known ones."""

from __future__ import annotations

from types import SimpleNamespace

from gui.live_window import LiveWindow
from gui.prediction_view import PredictionView


def _prediction(label: str, shown: str):
    return SimpleNamespace(
        label=label,
        topk=[(label, 0.6), ("other", 0.4)],
        marker={"event": "stimulus", "class": shown},
        latency_ms=12.0,
        onset=None,
    )


def test_prediction_view_counts_unknown_classes_apart(qtbot):
    view = PredictionView()
    qtbot.addWidget(view)
    view.set_classes(["cat", "dog"])
    assert view.show_prediction(_prediction("cat", "cat")) is None
    assert "1/1 correct (100 %)" in view.truth.text()
    assert view.show_prediction(_prediction("cat", "zebra")) == "zebra"
    text = view.truth.text()
    assert "zebra (not a class of this model)" in text
    assert "1/1 correct (100 %) of the model's classes; 1 of other classes left out" in text
    assert view.show_prediction(_prediction("dog", "zebra")) is None  # warned once
    view.reset()
    assert view.labelled == 0 and not view.tally.unknown and view.tally.class_names == ["cat", "dog"]


def test_live_window_warns_in_its_banner(qtbot, tmp_path):
    w = LiveWindow(record_dir=tmp_path, device="cpu")
    qtbot.addWidget(w)
    w.prediction_view.set_classes(["cat", "dog"])
    w._on_prediction(_prediction("cat", "cat"))
    assert w.banner.text == "" or "does not know" not in w.banner.text
    w._on_prediction(_prediction("dog", "zebra"))
    assert w.banner.level == "warning"
    assert "does not know (zebra)" in w.banner.text and "left out of the accuracy" in w.banner.text
