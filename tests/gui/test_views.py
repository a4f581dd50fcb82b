"""The live window's parts on a small stream: a channel group the cap lacks falls back to all
channels and says so, and a model of fewer than five classes gets no empty probability rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6 import QtWidgets

from gui.eeg_view import EegView
from gui.live_window import LiveWindow
from gui.prediction_view import PredictionView
from rtdecode.decoder import Prediction
from rtdecode.streams.reader import RingBuffer

MUSE = ["TP9", "AF7", "AF8", "TP10"]


def _reader(names: list[str]) -> SimpleNamespace:
    """What the views read from a StreamReader: names, rate and its ring buffer (empty)."""
    return SimpleNamespace(channel_names=names, sfreq=256.0, name="muse", buffer=RingBuffer(2560, len(names)))


def test_eeg_view_on_four_channels_shows_them_all_when_the_group_has_none(qtbot):
    view = EegView()
    qtbot.addWidget(view)
    reader = _reader(MUSE)
    view.attach(reader)
    assert view.set_group("occipito-parietal") == 4
    assert view.selected_channels == MUSE
    assert view.channel_text == "4/4 channels (none in 'occipito-parietal': all shown)"
    assert "showing all 4 channels" in view.group_note
    samples = np.random.default_rng(0).normal(0, 10, (512, 4)).astype(np.float32)
    reader.buffer.write(samples, samples, np.arange(512) / 256.0, 0.0)
    view.refresh()
    assert view.scale_label_text  # set only when traces were drawn
    assert view.set_group("frontal") == 2 and view.channel_text == "2/4 channels" and view.group_note is None


def test_live_window_says_in_its_label_and_status_bar_that_it_fell_back(qtbot, tmp_path):
    window = LiveWindow(record_dir=tmp_path, device="cpu")
    qtbot.addWidget(window)
    assert window.group_combo.currentText() == "occipito-parietal"  # the default view
    window.eeg_view.attach(_reader(MUSE))
    window._apply_group()
    assert window.channel_count.text().startswith("4/4 channels (none in 'occipito-parietal'")
    assert "showing all 4 channels" in window.statusBar().currentMessage()
    window.group_combo.setCurrentText("frontal")
    assert window.channel_count.text() == "2/4 channels"


def _bars(view: PredictionView) -> list[QtWidgets.QProgressBar]:
    return [bar for bar in view.findChildren(QtWidgets.QProgressBar) if not bar.isHidden()]


@pytest.mark.parametrize(("n_classes", "rows"), [(2, 2), (3, 3), (5, 5), (40, 5)])
def test_prediction_view_shows_one_row_per_class_up_to_five(qtbot, n_classes, rows):
    view = PredictionView()
    qtbot.addWidget(view)
    assert len(_bars(view)) == 5  # no model yet
    names = [f"class {i}" for i in range(n_classes)]
    view.set_classes(names)
    assert len(_bars(view)) == rows
    topk = [(name, 1.0 / n_classes) for name in names[:rows]]
    view.show_prediction(Prediction(label=names[0], index=0, topk=topk, t_last_sample=0.0, latency_ms=2.0))
    shown = [label.text() for label in view.findChildren(QtWidgets.QLabel) if label.text() in names]
    assert len(shown) == rows + 1  # the big label and one name per row, no empty row
