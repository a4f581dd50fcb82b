"""The report reads well: readable model names, its plots embedded and named, numbers in the
confusion matrix, a loss panel that says what its lines are, top-k only where it means something,
notes on models below chance or cut off at their epoch cap, 1-based epochs, blocks named."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from calibration.report import (
    metrics_table_markdown,
    plot_confusion,
    plot_learning_curves,
    report_header,
    report_notes,
    write_report,
)
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
    from calibration.options import BASELINES

    for code in ("student+kd", "student", *BASELINES, *registry.candidates()):
        assert registry.find(code.removesuffix("+kd")) is not None and " " in display_name(code)
    assert display_name("student+kd") == "distilled student (STFT)"
    assert display_name("some_new_model") == "some_new_model"


def test_table_uses_words_and_json_keeps_code_names(tmp_path):
    report = {"results": {"student+kd": METRICS}, "n_classes": 10, "notes": []}
    write_report(tmp_path, report, "# Calibration report")
    assert "| distilled student (STFT) | 0.500 |" in (tmp_path / "report.md").read_text()
    assert "student+kd" in json.loads((tmp_path / "report.json").read_text())["results"]
    assert "| student (STFT) without distillation |" in metrics_table_markdown({"student": METRICS}, 10)
    failed = metrics_table_markdown({"student": {"failed": "ValueError: boom"}}, 10)
    assert (
        "| student (STFT) without distillation | failed: ValueError: boom |" in failed
        and "student" not in failed.replace("student (STFT)", "")
    )


@pytest.mark.parametrize(
    ("n_classes", "columns", "chance"),
    [
        (2, ["top-1"], "Chance: top-1 0.500."),
        (4, ["top-1", "top-3"], "Chance: top-1 0.250, top-3 0.750."),
        (10, ["top-1", "top-3", "top-5"], "Chance: top-1 0.100, top-3 0.300, top-5 0.500."),
    ],
)
def test_top_k_appears_only_below_the_number_of_classes(n_classes, columns, chance):
    table = metrics_table_markdown({"eegnet": METRICS}, n_classes, majority_rate=0.6)
    header = table.splitlines()[0]
    assert [c for c in ("top-1", "top-3", "top-5") if c in header] == columns
    assert chance + " Majority class: top-1 0.600." in table
    assert table.splitlines()[2].count("|") == header.count("|")  # one cell per column


def test_report_names_and_embeds_its_plots(tmp_path):
    report = {"results": {"student+kd": METRICS}, "n_classes": 4, "notes": []}
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


HISTORY = {
    "train_loss": [1.0, 0.8, 0.6],
    "val_loss": [1.1, 1.0, 0.95],
    "train_acc": [0.3, 0.5, 0.7],
    "val_acc": [0.3, 0.4, 0.45],
    "best_epoch": 1,
}


def _legend_labels(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_learning_curves_legend_chance_line_and_1_based_epochs(tmp_path, kept_figures):
    plot_learning_curves(
        {"student+kd": HISTORY, "student": HISTORY},
        tmp_path / "lc.png",
        4,
        distilled=["student+kd"],
        val_blocks=[3, 7],
        chosen="student+kd",
    )
    fig = kept_figures[0]
    ax_loss, ax_acc = fig.axes
    labels = _legend_labels(fig)
    assert "distilled student (STFT)" in labels and "student (STFT) without distillation" in labels
    assert "training set (with the distillation term for distilled student (STFT))" in labels
    assert "validation set (blocks 3, 7)" in labels and "chance (1/4 = 0.250)" in labels
    assert ax_loss.get_xlabel() == ax_acc.get_xlabel() == "epoch"
    assert "cross-entropy" in ax_loss.get_ylabel() and "distillation" in ax_loss.get_ylabel()
    # Epochs count from 1, as in the log and the notes; the kept epoch (index 1) is epoch 2.
    assert list(ax_acc.get_lines()[0].get_xdata()) == [1, 2, 3]
    verticals = [line for line in ax_acc.get_lines() if len(set(line.get_xdata())) == 1]
    assert {float(line.get_xdata()[0]) for line in verticals} == {2.0}
    horizontals = [line for line in ax_acc.get_lines() if len(set(line.get_ydata())) == 1]
    assert [float(line.get_ydata()[0]) for line in horizontals] == [0.25]  # the chance line
    # The legend sits below the panels: it covers no data.
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.legends[0].get_window_extent(renderer)
    for ax in (ax_loss, ax_acc):
        assert not box.overlaps(ax.get_window_extent(renderer))
    assert fig.get_suptitle() == ""  # the chosen model has its curve


def test_without_distillation_the_loss_says_cross_entropy_only_and_a_closed_form_choice_says_why(
    tmp_path, kept_figures
):
    plot_learning_curves({"student": HISTORY}, tmp_path / "lc.png", 2, chosen="lda")
    fig = kept_figures[0]
    ax_loss = fig.axes[0]
    assert ax_loss.get_ylabel() == "loss (cross-entropy)"
    assert not any(
        "distillation" in label
        for label in _legend_labels(fig)
        if label != "student (STFT) without distillation"
    )
    assert "training set" in _legend_labels(fig)
    assert "ERP: shrinkage LDA on window means" in fig.get_suptitle()
    assert "closed form (no epochs)" in fig.get_suptitle()


def _report(**changes) -> dict:
    report = {
        "subject": 2,
        "n_epochs": 400,
        "dropped": {},
        "n_classes": 10,
        "split": {"train_blocks": [0, 1, 2, 4, 6, 8], "val_blocks": [3, 7], "test_blocks": [5, 9]},
        "n_test": 80,
        "teacher": {"used": False},
        "selection": {"chosen": "xdawn", "reason": "best validation balanced accuracy 0.420"},
        "student": "student",
        "student_parameters": 1_150_000,
        "chosen_parameters": None,
        "histories": {"student": HISTORY},
        "max_epochs": 60,
        "results": {},
    }
    return {**report, **changes}


def test_header_names_blocks_teacher_and_the_chosen_models_own_size():
    header = report_header(_report())
    assert "validation blocks 3, 7; test blocks 5, 9 (80 test epochs)" in header
    assert "No teacher (no stimulus images given): trained without distillation" in header
    assert "nan" not in header
    assert "**ERP: xDAWN covariances, tangent space, logistic regression**" in header
    assert "fitted in closed form, no epochs" in header
    assert "the paper's student, student (STFT) without distillation, has 1,150,000 parameters" in header
    assert "xdawn" not in header  # code names: JSON only ("student" is also the word)

    eegnet = report_header(
        _report(selection={"chosen": "eegnet", "reason": "preset 'eegnet'"}, chosen_parameters=2_946)
    )
    assert (
        "**EEGNet (time domain)** (preset 'eegnet'): 2,946 parameters. For comparison, the paper's student"
        in eegnet
    )
    student = report_header(
        _report(selection={"chosen": "student", "reason": "r"}, chosen_parameters=1_150_000)
    )
    assert student.endswith("**student (STFT) without distillation** (r): 1,150,000 parameters.")
    taught = report_header(_report(teacher={"used": True, "held_out_accuracy": 0.99}))
    assert "Teacher held-out accuracy: 0.990." in taught
    lobo = report_header(_report(split={"folds": [{}] * 4}))
    assert "leave-one-block-out over 4 blocks (each block is the test set once" in lobo


def test_models_below_chance_get_a_note_and_models_at_chance_do_not():
    results = {
        "lda": {"balanced_accuracy": 0.08, "kappa": -0.02, "top1": 0.08},
        "student": {"balanced_accuracy": 0.1, "kappa": 0.0, "top1": 0.1},  # one class: its own warning
        "eegnet": {"balanced_accuracy": {"mean": 0.095, "sd": 0.01}, "kappa": {"mean": 0.01, "sd": 0.01}},
        "cnn1d": {"failed": "ValueError: boom"},
    }
    notes = report_notes(_report(results=results, histories={}))
    assert len(notes) == 2
    assert notes[0].startswith("ERP: shrinkage LDA on window means scores below chance on the test blocks")
    assert "balanced accuracy 0.080, chance 0.100; kappa -0.020" in notes[0]
    assert notes[1].startswith("EEGNet (time domain) scores below chance")  # a fold mean below chance


def test_a_network_cut_off_at_its_epoch_cap_while_improving_gets_a_note():
    def history(n: int, best: int) -> dict:
        return {**HISTORY, "val_acc": [0.5] * n, "best_epoch": best}

    histories = {
        "eegnet": history(60, 58),  # best at epoch 59 of 60: still improving at the cap
        "student": history(60, 40),  # stopped improving long before the cap
        "cnn1d": history(20, 11),  # early-stopped
    }
    # A short cap counts only its last epoch as "still improving".
    short = {"eegnet": history(6, 5), "student": history(6, 3)}
    assert [note.split(" stopped")[0] for note in report_notes(_report(histories=short, max_epochs=6))] == [
        "EEGNet (time domain)"
    ]
    notes = report_notes(_report(histories=histories))
    assert notes == [
        "EEGNet (time domain) stopped at its cap of 60 epochs while still improving (best validation at epoch 59 "
        "of 60): more epochs (--max-epochs) may score higher"
    ]


def test_the_training_log_counts_epochs_from_1(caplog):
    import logging

    import torch

    from calibration.train import TrainConfig, train_classifier

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), np.arange(16) % 2
    # lr 0: the second epoch scores exactly as the first, so patience 1 stops after it.
    config = TrainConfig(max_epochs=5, patience=1, lr=0.0, batch_size=8, progress=False, device="cpu")
    with caplog.at_level(logging.INFO, logger="calibration.train"):
        history = train_classifier(torch.nn.Linear(4, 2), x, y, x, y, config, description="tiny")
    assert len(history.val_acc) == 2 and history.best_epoch == 0
    assert "tiny: early stop at epoch 2 (best 1)" in caplog.text


def test_a_recording_without_a_subject_gets_a_title_without_one():
    assert report_header(_report(subject=None)).splitlines()[0] == "# Calibration report"
    assert report_header(_report()).splitlines()[0] == "# Calibration report (subject 2)"
