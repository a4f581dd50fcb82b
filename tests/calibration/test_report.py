"""The report reads well: readable model names, its plots embedded and named, numbers in the
confusion matrix, a loss panel that says what its lines are."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from calibration.report import metrics_table_markdown, plot_confusion, plot_learning_curves, write_report
from rtdecode.models import registry
from rtdecode.models.registry import display_name

matplotlib.use("Agg")

METRICS = {"top1": 0.5, "top3": 0.9, "top5": 1.0, "f1_macro": 0.45, "kappa": 0.3}


@pytest.fixture
def kept_figures(monkeypatch):
    """The figures the plot functions close after saving, kept open to look inside."""
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    return figures


def test_every_model_calibration_trains_has_words():
    from calibration.cli import BASELINES

    for code in ("student+kd", "student", *BASELINES, *registry.candidates()):
        assert registry.find(code.removesuffix("+kd")) is not None and " " in display_name(code)
    assert display_name("student+kd") == "distilled student (STFT)"
    assert display_name("some_new_model") == "some_new_model"


def test_table_uses_words_and_json_keeps_code_names(tmp_path):
    report = {"results": {"student+kd": METRICS}, "chance_top1": 0.25, "chance_top5": 1.0, "notes": []}
    write_report(tmp_path, report, "# Calibration report")
    assert "| distilled student (STFT) | 0.500 |" in (tmp_path / "report.md").read_text()
    assert "student+kd" in json.loads((tmp_path / "report.json").read_text())["results"]
    assert "| student (STFT) |" in metrics_table_markdown({"student": METRICS}, 0.25, 1.0)


def test_report_names_and_embeds_its_plots(tmp_path):
    report = {"results": {"student+kd": METRICS}, "chance_top1": 0.25, "chance_top5": 1.0, "notes": []}
    write_report(tmp_path, report, "# Calibration report")
    assert "![" not in (tmp_path / "report.md").read_text()  # no plot yet: none announced
    (tmp_path / "confusion.png").write_bytes(b"png")
    (tmp_path / "learning_curves.png").write_bytes(b"png")
    write_report(tmp_path, report, "# Calibration report")
    text = (tmp_path / "report.md").read_text()
    assert "## Confusion matrix" in text and "![Confusion matrix](confusion.png)" in text
    assert "## Learning curves" in text and "![Learning curves](learning_curves.png)" in text
    assert "`confusion.png`:" in text and "`learning_curves.png`:" in text


def test_confusion_matrix_cells_show_counts(tmp_path, kept_figures):
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    plot_confusion(y_true, y_pred, ["cat", "dog", "yak"], tmp_path / "c.png", "distilled student (STFT)")
    assert (tmp_path / "c.png").stat().st_size > 1000
    ax = kept_figures[0].axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(0, 0): "2", (0, 1): "1", (1, 1): "2", (2, 0): "1"}  # (true, predicted): trials
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"


def test_loss_panel_has_a_legend_and_labelled_axes(tmp_path, kept_figures):
    history = {
        "train_loss": [1.0, 0.8, 0.6],
        "val_loss": [1.1, 1.0, 0.95],
        "train_acc": [0.3, 0.5, 0.7],
        "val_acc": [0.3, 0.4, 0.45],
        "best_epoch": 2,
    }
    plot_learning_curves({"student+kd": history, "student": history}, tmp_path / "lc.png")
    ax_loss, ax_acc = kept_figures[0].axes
    for ax in (ax_loss, ax_acc):
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "distilled student (STFT)" in labels and "student (STFT)" in labels
        assert any(label.startswith("training set") for label in labels)
        assert any(label.startswith("validation set") for label in labels)
        assert ax.get_xlabel() == "epoch"
    assert "cross-entropy" in ax_loss.get_ylabel()
