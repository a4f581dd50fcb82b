"""A calibration run's report: the metrics table (Markdown + JSON), confusion matrix and learning curves."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.models.registry import display_name

_COLUMNS = {
    "top1": "top-1",
    "top3": "top-3",
    "top5": "top-5",
    "f1_macro": "macro F1",
    "kappa": "kappa",
    "balanced_accuracy": "balanced acc.",
    "roc_auc": "ROC AUC",
}


def metrics_table_markdown(
    results: dict[str, dict[str, float]],
    chance_top1: float,
    chance_top5: float,
    majority_rate: float | None = None,
) -> str:
    """One row per model, the metric columns, chance and majority-class levels underneath.

    Parameters
    ----------
    results : dict
        ``{model name: metrics dict from evaluate_predictions}``, or
        ``{model name: {metric: {"mean": m, "sd": s}}}`` for a multi-subject summary (shown as
        "mean (sd)"), ``{model name: {metric: {"mean", "ci_low", "ci_high", ...}}}`` for
        cross-validation (shown as "mean [95 % interval]"), or
        ``{model name: {"failed": message}}`` for a model that failed. A column appears when
        some model has it (ROC AUC: two classes only).
    majority_rate : float, optional
        Top-1 of always answering the most common test class.
    """
    present = [k for k in _COLUMNS if any(k in m for m in results.values())]
    lines = [
        "| model | " + " | ".join(_COLUMNS[k] for k in present) + " |",
        "|---|" + "---|" * len(present),
    ]
    for name, metrics in results.items():
        if "failed" in metrics:
            lines.append(f"| {name} | failed: {metrics['failed'][:80]} |" + " |" * (len(present) - 1))
            continue
        cells = []
        for key in present:
            value = metrics.get(key, float("nan"))
            if isinstance(value, dict) and "ci_low" in value:
                cells.append(f"{value['mean']:.3f} [{value['ci_low']:.3f}, {value['ci_high']:.3f}]")
            elif isinstance(value, dict):
                cells.append(f"{value['mean']:.3f} ({value['sd']:.3f})")
            else:
                cells.append(f"{value:.3f}")
        lines.append(f"| {display_name(name)} | " + " | ".join(cells) + " |")
    lines.append("")
    majority = "" if majority_rate is None else f" Majority class: top-1 {majority_rate:.3f}."
    lines.append(f"Chance: top-1 {chance_top1:.3f}, top-5 {chance_top5:.3f}.{majority}")
    return "\n".join(lines)


def plot_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], path: Path, title: str
) -> None:
    """Confusion matrix as a PNG: colour is the fraction of the true class, the number the count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    n = len(class_names)
    counts = confusion_matrix(y_true, y_pred, labels=np.arange(n))
    cm = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.3 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="viridis", vmin=0, vmax=1)
    if n <= 60:  # beyond that the cells are too small to read a number
        fontsize = 9 if n <= 12 else 7 if n <= 25 else 5
        for i, j in zip(*np.nonzero(counts), strict=True):
            # Light text on the dark (low) end of viridis, dark text on the bright end.
            color = "white" if cm[i, j] < 0.6 else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=fontsize, color=color)
    ax.set_xticks(range(n), class_names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), class_names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    # Readable model names are long: wrap the title to the figure's width instead of cutting it.
    ax.set_title(textwrap.fill(title, width=int(7 * (size + 1))), fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class (numbers: trials)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(histories: dict[str, dict[str, Any]], path: Path) -> None:
    """Training/validation loss and accuracy per epoch for every trained network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        epochs = np.arange(1, len(h["train_loss"]) + 1)
        ax_loss.plot(epochs, h["train_loss"], color=color, ls="--", lw=1)
        ax_loss.plot(epochs, h["val_loss"], color=color, label=display_name(name))
        ax_acc.plot(epochs, h["train_acc"], color=color, ls="--", lw=1)
        ax_acc.plot(epochs, h["val_acc"], color=color, label=display_name(name))
        if h.get("best_epoch", -1) >= 0:
            ax_acc.axvline(h["best_epoch"] + 1, color=color, ls=":", lw=0.8)
    # Colours name the models; line styles say which split (one legend entry each, in grey).
    styles = [
        Line2D([], [], color="0.4", ls="--", lw=1, label="training set (training objective)"),
        Line2D([], [], color="0.4", ls="-", label="validation set (cross-entropy)"),
    ]
    ax_loss.set(
        xlabel="epoch",
        ylabel="loss (cross-entropy; training: with the distillation term)",
        title="loss per epoch",
    )
    ax_loss.legend(handles=ax_loss.get_legend_handles_labels()[0] + styles, fontsize=8)
    ax_acc.set(xlabel="epoch", ylabel="top-1 accuracy", title="accuracy per epoch", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    kept = Line2D([], [], color="0.4", ls=":", lw=0.8, label="epoch kept (best validation)")
    acc_styles = [
        Line2D([], [], color="0.4", ls="--", lw=1, label="training set"),
        Line2D([], [], color="0.4", ls="-", label="validation set"),
        kept,
    ]
    ax_acc.legend(handles=ax_acc.get_legend_handles_labels()[0] + acc_styles, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(folder: Path, report: dict[str, Any], markdown_header: str) -> None:
    """``report.json`` and ``report.md`` (header, the table, then notes) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    table = metrics_table_markdown(
        report["results"], report["chance_top1"], report["chance_top5"], report.get("majority_rate")
    )
    notes = "\n".join(f"- {note}" for note in report.get("notes", []))
    plots = _plots_markdown(folder)
    (folder / "report.md").write_text(f"{markdown_header}\n\n{table}\n\n{notes}\n{plots}", encoding="utf-8")


# The plots a calibration writes next to its report, with what each shows.
PLOTS = {
    "confusion.png": (
        "Confusion matrix",
        "the main model on the test blocks; colour: fraction of the true class, numbers: trials",
    ),
    "learning_curves.png": (
        "Learning curves",
        "loss and top-1 accuracy per epoch of every network, training (dashed) and validation (solid)",
    ),
}


def _plots_markdown(folder: Path) -> str:
    """A section that names and embeds each plot present in ``folder`` ('' when there is none)."""
    parts = [
        f"\n## {title}\n\n`{file}`: {what}.\n\n![{title}]({file})\n"
        for file, (title, what) in PLOTS.items()
        if (folder / file).exists()
    ]
    return "".join(parts)
