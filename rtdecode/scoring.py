"""Accuracy of decoded epochs against their markers' labels, held-out blocks apart from training blocks.

A bundle records which blocks calibration held out (``extra["test_blocks"]``). Decoding the
calibration file itself then mixes epochs the model was trained on (near-perfect) with unseen
ones; only the latter say how well it decodes, so they are reported separately.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def accuracy_by_split(
    predictions: Iterable[Any], test_blocks: Iterable[int] | None
) -> dict[str, dict[str, float]]:
    """Top-1 and balanced accuracy of labelled predictions, per part of the recording.

    Parameters
    ----------
    predictions : iterable of Prediction
        With ``marker`` dicts holding ``label`` (and ``block`` for the split).
    test_blocks : iterable of int or None
        The bundle's held-out blocks; ``None`` or empty puts everything under ``"all"``.

    Returns
    -------
    dict
        ``{"held_out" | "training" | "all": {"n", "top1", "balanced_accuracy"}}`` for each
        part that has labelled epochs. ``"training"`` means blocks not held out (the
        calibration's training and validation blocks).
    """
    held = {int(b) for b in (test_blocks or [])}
    parts: dict[str, list[tuple[int, int]]] = {}
    for p in predictions:
        marker = p.marker if isinstance(p.marker, dict) else {}
        label = int(marker.get("label", -1))
        if label < 0:
            continue
        if not held:
            part = "all"
        else:
            part = "held_out" if int(marker.get("block", -1)) in held else "training"
        parts.setdefault(part, []).append((label, int(p.index)))
    out = {}
    for part, pairs in parts.items():
        true, pred = np.array(pairs).T
        recalls = [np.mean(pred[true == c] == c) for c in np.unique(true)]
        out[part] = {
            "n": float(len(true)),
            "top1": float(np.mean(true == pred)),
            "balanced_accuracy": float(np.mean(recalls)),
        }
    return out
