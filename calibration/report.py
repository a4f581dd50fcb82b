"""A calibration run's report: the metrics table (Markdown + JSON), confusion matrix and learning curves."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from calibration.metrics import point
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
# top-k of a column; a top-k with k >= n_classes is 1.000 by definition and says nothing.
_TOP_K = {"top1": 1, "top3": 3, "top5": 5}
# A network that ran to its epoch cap with its best validation epoch among its last this many
# (at most a tenth of the cap, at least the last one) was cut off while still improving.
CAP_EPOCHS = 3


def metrics_table_markdown(
    results: dict[str, dict[str, Any]],
    n_classes: int,
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
        some model has it (ROC AUC: two classes only); top-k columns only for k < n_classes.
    n_classes : int
        Sets the chance levels and which top-k columns mean something.
    majority_rate : float, optional
        Top-1 of always answering the most common test class.
    """
    present = [
        k for k in _COLUMNS if any(k in m for m in results.values()) and _TOP_K.get(k, 1) < max(n_classes, 2)
    ]
    lines = [
        "| model | " + " | ".join(_COLUMNS[k] for k in present) + " |",
        "|---|" + "---|" * len(present),
    ]
    for name, metrics in results.items():
        if "failed" in metrics:
            lines.append(
                f"| {display_name(name)} | failed: {metrics['failed'][:80]} |" + " |" * (len(present) - 1)
            )
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
    chance = ", ".join(f"{_COLUMNS[k]} {_TOP_K[k] / n_classes:.3f}" for k in present if k in _TOP_K)
    majority = "" if majority_rate is None else f" Majority class: top-1 {majority_rate:.3f}."
    lines.append(f"Chance: {chance}.{majority}")
    return "\n".join(lines)


def blocks_text(kind: str, blocks: list[int]) -> str:
    """``"test blocks 5, 9"`` / ``"validation block 3"`` (``"block 3"`` for kind ``""``), by block id."""
    plural = "s" if len(blocks) != 1 else ""
    return f"{kind} block{plural} {', '.join(str(int(b)) for b in blocks)}".lstrip()


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


def plot_learning_curves(
    histories: dict[str, dict[str, Any]],
    path: Path,
    n_classes: int,
    *,
    distilled: Collection[str] = (),
    val_blocks: list[int] | None = None,
    chosen: str | None = None,
) -> None:
    """Training/validation loss and accuracy per epoch (1-based) for every trained network.

    Parameters
    ----------
    histories : dict
        ``{model code name: TrainHistory.to_dict()}`` (``best_epoch`` is 0-based there).
    path : Path
        Where the PNG goes.
    n_classes : int
        Puts the chance line at ``1 / n_classes`` on the accuracy panel.
    distilled : collection of str
        The models whose training loss includes the distillation term (the loss label says so
        only when there is one).
    val_blocks : list of int, optional
        The validation blocks, named in the legend.
    chosen : str, optional
        The bundle's model; when it has no history (a classical model) the title says why it has
        no curve.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    # The legend goes below both panels (constrained layout makes room): inside, it hid curves.
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    handles = []
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        epochs = np.arange(1, len(h["train_loss"]) + 1)
        ax_loss.plot(epochs, h["train_loss"], color=color, ls="--", lw=1)
        ax_loss.plot(epochs, h["val_loss"], color=color)
        ax_acc.plot(epochs, h["train_acc"], color=color, ls="--", lw=1)
        handles += ax_acc.plot(epochs, h["val_acc"], color=color, label=display_name(name))
        if h.get("best_epoch", -1) >= 0:
            ax_acc.axvline(h["best_epoch"] + 1, color=color, ls=":", lw=0.8)
    chance = 1.0 / n_classes
    ax_acc.axhline(chance, color="0.5", lw=1, ls="-.", zorder=0)
    kd = [display_name(name) for name in histories if name in distilled]
    training = "training set" + (f" (with the distillation term for {', '.join(kd)})" if kd else "")
    validation = "validation set" + (f" ({blocks_text('', val_blocks)})" if val_blocks else "")
    # Colours name the models; line styles say which split (one legend entry each, in grey).
    handles += [
        Line2D([], [], color="0.4", ls="--", lw=1, label=training),
        Line2D([], [], color="0.4", ls="-", label=validation),
        Line2D([], [], color="0.4", ls=":", lw=0.8, label="epoch kept (best validation)"),
        Line2D([], [], color="0.5", ls="-.", lw=1, label=f"chance (1/{n_classes} = {chance:.3f})"),
    ]
    ax_loss.set(
        xlabel="epoch",
        ylabel="loss (cross-entropy" + (", + distillation term where distilled)" if kd else ")"),
        title="loss per epoch",
    )
    ax_acc.set(xlabel="epoch", ylabel="top-1 accuracy", title="accuracy per epoch", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)), fontsize=8)
    if chosen is not None and chosen not in histories:
        fig.suptitle(
            f"The chosen model, {display_name(chosen)}, is fitted in closed form (no epochs): it has no curve",
            fontsize=10,
        )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_header(report: dict[str, Any]) -> str:
    """The Markdown header of a calibration report: data, split, teacher and the chosen model.

    Parameters
    ----------
    report : dict
        As :func:`calibration.calibrate.calibrate` builds it (code names as keys; this turns
        them into words). Needs ``subject``, ``n_epochs``, ``dropped``, ``n_classes``, ``split``,
        ``n_test``, ``teacher``, ``selection``, ``student``, ``student_parameters``,
        ``chosen_parameters`` and ``histories``.
    """
    split = report["split"]
    if "folds" in split:
        where = (
            f"leave-one-block-out over {len(split['folds'])} blocks (each block is the test set once, the next "
            f"block validates; {report['n_test']} test epochs in all); mean [95 % interval]"
        )
    else:
        where = (
            f"{blocks_text('training', split['train_blocks'])}; {blocks_text('validation', split['val_blocks'])}; "
            f"{blocks_text('test', split['test_blocks'])} ({report['n_test']} test epochs)"
        )
    teacher = report["teacher"]
    if teacher.get("used"):
        accuracy = teacher.get("held_out_accuracy")
        teacher_text = "Teacher held-out accuracy: " + (
            "not measured" if accuracy is None else f"{accuracy:.3f}"
        )
    else:
        teacher_text = (
            f"No teacher ({teacher.get('reason', 'no stimulus images given')}): trained without distillation"
        )
    selection = report["selection"]
    chosen, student = selection["chosen"], report["student"]
    # The parameter count is the chosen model's; the student's is named as the student's.
    if report["chosen_parameters"] is None:
        size = "fitted in closed form, no epochs"
    else:
        size = f"{report['chosen_parameters']:,} parameters"
    if chosen != student:
        size += (
            f". For comparison, the paper's student, {display_name(student)}, has "
            f"{report['student_parameters']:,} parameters"
        )
    dropped = sum(report["dropped"].values())
    # A lab's recording (LabRecorder, MNE formats) names no subject: the title then says nothing of one.
    title = "# Calibration report" + (
        f" (subject {report['subject']})" if report.get("subject") is not None else ""
    )
    return (
        f"{title}\n\n"
        f"{report['n_epochs']} epochs ({dropped} dropped: {report['dropped'] or 'none'}), "
        f"{report['n_classes']} classes; {where}. {teacher_text}.\n\n"
        f"Chosen model: **{display_name(chosen)}** ({selection['reason']}): {size}."
    )


def report_notes(report: dict[str, Any]) -> list[str]:
    """Notes on results a reader would misread: models below chance, networks cut off at their epoch cap.

    Parameters
    ----------
    report : dict
        Needs ``results``, ``n_classes``, ``histories`` and ``max_epochs``.

    Returns
    -------
    list of str
        Readable model names, 1-based epochs.
    """
    notes = []
    chance = 1.0 / report["n_classes"]
    for name, metrics in report["results"].items():
        if "failed" in metrics:
            continue
        balanced, kappa = point(metrics.get("balanced_accuracy")), point(metrics.get("kappa"))
        # Strictly below (beyond rounding): a model that answers one class sits exactly at chance
        # and has its own warning.
        if balanced < chance - 1e-9 or kappa < -1e-9:
            notes.append(
                f"{display_name(name)} scores below chance on the test blocks (balanced accuracy {balanced:.3f}, "
                f"chance {chance:.3f}; kappa {kappa:.3f}, chance 0): it decodes nothing here"
            )
    cap = report["max_epochs"]
    last = max(1, min(CAP_EPOCHS, cap // 10))
    for name, history in report["histories"].items():
        ran, best = len(history["val_acc"]), history.get("best_epoch", -1)
        if ran >= cap and best >= ran - last:
            notes.append(
                f"{display_name(name)} stopped at its cap of {cap} epochs while still improving (best validation "
                f"at epoch {best + 1} of {ran}): more epochs (--max-epochs) may score higher"
            )
    return notes


def write_report(folder: Path, report: dict[str, Any], markdown_header: str) -> None:
    """``report.json`` and ``report.md`` (header, the table, then notes) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    table = metrics_table_markdown(report["results"], report["n_classes"], report.get("majority_rate"))
    notes = "\n".join(f"- {note}" for note in report.get("notes", []))
    plots = _plots_markdown(folder)
    (folder / "report.md").write_text(f"{markdown_header}\n\n{table}\n\n{notes}\n{plots}", encoding="utf-8")


# The plots a calibration writes next to its report, with what each shows.
PLOTS = {
    "confusion.png": (
        "Confusion matrix",
        "the chosen model on the test blocks; colour: fraction of the true class, numbers: trials",
    ),
    "learning_curves.png": (
        "Learning curves",
        "loss and top-1 accuracy per epoch (1-based) of every network, training (dashed) and validation "
        "(solid), chance as a grey dash-dot line; classical models are fitted in closed form, no epochs, "
        "and have no curve",
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
