"""A calibration run's report: the metrics table (Markdown + JSON), confusion matrix and learning curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

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
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    majority = "" if majority_rate is None else f" Majority class: top-1 {majority_rate:.3f}."
    lines.append(f"Chance: top-1 {chance_top1:.3f}, top-5 {chance_top5:.3f}.{majority}")
    return "\n".join(lines)


def plot_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], path: Path, title: str
) -> None:
    """Row-normalized confusion matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    n = len(class_names)
    cm = confusion_matrix(y_true, y_pred, labels=np.arange(n)).astype(float)
    cm /= np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.22 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="viridis", vmin=0, vmax=max(cm.max(), 1e-9))
    ax.set_xticks(range(n), class_names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), class_names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(histories: dict[str, dict[str, Any]], path: Path) -> None:
    """Training/validation loss and accuracy per epoch for every trained network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        epochs = np.arange(1, len(h["train_loss"]) + 1)
        ax_loss.plot(epochs, h["train_loss"], color=color, ls="--", lw=1)
        ax_loss.plot(epochs, h["val_loss"], color=color, label=name)
        ax_acc.plot(epochs, h["train_acc"], color=color, ls="--", lw=1)
        ax_acc.plot(epochs, h["val_acc"], color=color, label=name)
        if h.get("best_epoch", -1) >= 0:
            ax_acc.axvline(h["best_epoch"] + 1, color=color, ls=":", lw=0.8)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss (dashed: train, solid: validation)")
    ax_acc.set(xlabel="epoch", ylabel="top-1 accuracy", title="accuracy (dotted: kept epoch)")
    ax_acc.legend(fontsize=8)
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
    (folder / "report.md").write_text(f"{markdown_header}\n\n{table}\n\n{notes}\n", encoding="utf-8")
