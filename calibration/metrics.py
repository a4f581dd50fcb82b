"""Classification metrics of the paper: top-1/3/5 accuracy, macro F1, Cohen's kappa."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score, top_k_accuracy_score


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
        ``chance_top1`` (1 / n_classes), ``chance_top5`` and ``n``.
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
    result["chance_top1"] = 1.0 / n_classes
    result["chance_top5"] = min(5, n_classes) / n_classes
    return result


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
