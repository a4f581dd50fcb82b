"""Classification metrics: the paper's (top-1/3/5 accuracy, macro F1, Cohen's kappa) and the ones
that a majority-class or one-class model cannot fool (balanced accuracy, ROC AUC for two classes,
the majority-class rate, how many classes a model predicts at all)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    f1_score,
    roc_auc_score,
    top_k_accuracy_score,
)


def evaluate_predictions(
    y_true: np.ndarray, proba: np.ndarray, n_classes: int | None = None
) -> dict[str, float]:
    """Metrics of one model on one test set.

    Parameters
    ----------
    y_true : np.ndarray, shape (n,), int
        True class indices.
    proba : np.ndarray, shape (n, n_classes)
        Class scores (probabilities or any monotone score); top-k uses their ranking.
    n_classes : int, optional
        Number of classes (defaults to ``proba.shape[1]``); sets the chance level.

    Returns
    -------
    dict
        ``top1``, ``top3``, ``top5`` (capped at ``n_classes``), ``f1_macro``, ``kappa``,
        ``balanced_accuracy`` (mean per-class recall over the classes present; chance
        1 / n_classes whatever the class balance), ``roc_auc`` (two classes only, score of
        class 1; NaN when the test set holds one class), ``majority_rate`` (top-1 of always
        answering the most common test class), ``n_predicted_classes`` (how many distinct
        classes the model predicted), ``chance_top1`` (1 / n_classes), ``chance_top5`` and ``n``.
    """
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=float)
    n_classes = int(n_classes or proba.shape[1])
    if proba.shape != (len(y_true), n_classes):
        raise ValueError(f"proba must be (n={len(y_true)}, n_classes={n_classes}), got {proba.shape}")
    labels = np.arange(n_classes)
    y_pred = proba.argmax(axis=1)
    result: dict[str, float] = {"n": float(len(y_true))}
    for k in (1, 3, 5):
        kk = min(k, n_classes)
        if kk >= n_classes:
            result[f"top{k}"] = 1.0  # every class is in the top k
        elif n_classes == 2 and kk == 1:
            result[f"top{k}"] = float(np.mean(y_pred == y_true))
        else:
            result[f"top{k}"] = float(top_k_accuracy_score(y_true, proba, k=kk, labels=labels))
    result["f1_macro"] = float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    result["kappa"] = float(cohen_kappa_score(y_true, y_pred, labels=labels))
    result["balanced_accuracy"] = float(balanced_accuracy_score(y_true, y_pred))
    if n_classes == 2:
        two_sided = len(np.unique(y_true)) == 2
        result["roc_auc"] = float(roc_auc_score(y_true, proba[:, 1])) if two_sided else float("nan")
    result["majority_rate"] = float(np.bincount(y_true, minlength=n_classes).max() / max(len(y_true), 1))
    result["n_predicted_classes"] = float(len(np.unique(y_pred)))
    result["chance_top1"] = 1.0 / n_classes
    result["chance_top5"] = min(5, n_classes) / n_classes
    return result


def class_weights(y: np.ndarray, n_classes: int, max_ratio: float = 1.5) -> np.ndarray | None:
    """Balanced class weights ``n / (n_classes * count)`` when the classes are imbalanced.

    Parameters
    ----------
    y : np.ndarray, shape (n,), int
        Training labels.
    n_classes : int
    max_ratio : float
        Classes count as balanced (and ``None`` is returned) while the largest class is at most
        this many times the smallest present one.

    Returns
    -------
    np.ndarray, shape (n_classes,), float, or None
        The weights scikit-learn's ``class_weight="balanced"`` uses; absent classes weigh 0.
    """
    counts = np.bincount(np.asarray(y, dtype=int), minlength=n_classes).astype(float)
    present = counts[counts > 0]
    if len(present) == 0 or present.max() <= max_ratio * present.min():
        return None
    weights = np.zeros(n_classes)
    weights[counts > 0] = counts.sum() / (len(present) * counts[counts > 0])
    return weights


def model_warnings(name: str, metrics: dict[str, float], history: dict[str, Any] | None = None) -> list[str]:
    """Loud notes for results that look good on paper and mean nothing.

    Parameters
    ----------
    name : str
        The model's name, used in the notes.
    metrics : dict
        From :func:`evaluate_predictions`.
    history : dict, optional
        A :class:`~calibration.train.TrainHistory` as a dict, for the early-stopping check.

    Returns
    -------
    list of str
    """
    notes = []
    if metrics.get("n_predicted_classes", 2) <= 1:
        notes.append(
            f"WARNING: {name} predicts one class for every test epoch; its top-1 "
            f"({metrics['top1']:.3f}) is the share of that class, not decoding"
        )
    if history is not None and history.get("best_epoch", -1) == 0 and len(history.get("val_acc", [])) > 1:
        notes.append(
            f"WARNING: {name} kept its weights from the first training epoch (early stopping never "
            "saw validation improve): it has learned next to nothing"
        )
    return notes


def point(value: Any) -> float:
    """The headline number of a metric: itself, or its mean when it is a fold/subject summary."""
    if isinstance(value, dict):
        return float(value.get("mean", float("nan")))
    return float("nan") if value is None else float(value)


def summarize_folds(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and 95 % interval of every metric across cross-validation folds.

    Parameters
    ----------
    per_fold : list of dict
        One :func:`evaluate_predictions` result per fold (NaN values, e.g. an undefined ROC AUC,
        are left out of that metric).

    Returns
    -------
    dict
        ``{metric: {"mean", "sd", "ci_low", "ci_high", "n_folds"}}``; the interval is the
        Student-t interval of the mean over folds (``mean +- t(0.975, k - 1) sd / sqrt(k)``),
        degenerate (equal to the mean) for a single fold.
    """
    from scipy import stats

    summary: dict[str, dict[str, float]] = {}
    for key in per_fold[0] if per_fold else []:
        values = np.array([fold[key] for fold in per_fold if key in fold], dtype=float)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            continue
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        half = (
            float(stats.t.ppf(0.975, len(values) - 1) * sd / np.sqrt(len(values))) if len(values) > 1 else 0.0
        )
        summary[key] = {
            "mean": mean,
            "sd": sd,
            "ci_low": mean - half,
            "ci_high": mean + half,
            "n_folds": float(len(values)),
        }
    return summary


def summarize_across_subjects(per_subject: dict[Any, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation of every metric across subjects.

    Returns
    -------
    dict
        ``{metric: {"mean": m, "sd": s}}``; ``sd`` is 0 for a single subject.
    """
    if not per_subject:
        return {}
    keys = list(next(iter(per_subject.values())))
    summary = {}
    for key in keys:
        values = np.array([m[key] for m in per_subject.values()], dtype=float)
        sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary[key] = {"mean": float(values.mean()), "sd": sd}
    return summary
