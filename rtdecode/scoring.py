"""Score decoded predictions against their stimulus markers: what ``predict``, ``live`` and the live
window report.

Two questions, one module:

- *Which markers can a model be scored on?* A model decodes only its own classes. A stream whose
  markers name other classes (a 40-class simulated subject in front of a 10-class model) makes
  every such trial wrong by construction; counted as errors they turn a working decoder into
  "15 % correct". :class:`ClassTally` counts those markers apart, names their classes, and computes
  the running accuracy over known classes only (``rtdecode predict``, ``rtdecode live`` and the
  live window share it).
- *Which epochs say how well it decodes?* A bundle records which blocks calibration held out
  (``extra["test_blocks"]``). Decoding the calibration file itself mixes epochs the model was
  trained on (near-perfect) with unseen ones; :func:`accuracy_by_split` reports them separately.

The calibration's own metric suite over class probabilities (top-k, F1, kappa, fold and subject
summaries) is training-only and stays in :mod:`calibration.metrics`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def marker_class(marker: Any, class_names: Sequence[str]) -> str | None:
    """The class a stimulus marker says was shown, or None when it does not say.

    The marker's ``"class"`` name wins; a bare ``"label"`` index is read against
    ``class_names`` (an index out of range reads as ``"label N"``, a class the model lacks).
    """
    if not isinstance(marker, dict):
        return None
    name = marker.get("class")
    if name is not None:
        return str(name)
    label = marker.get("label")
    if isinstance(label, int) and not isinstance(label, bool) and label >= 0:
        return class_names[label] if label < len(class_names) else f"label {label}"
    return None


class ClassTally:
    """Running hits over markers of known classes; markers of unknown classes counted by name.

    Parameters
    ----------
    class_names : sequence of str
        The model's classes (``ModelBundle.class_names``).
    """

    def __init__(self, class_names: Sequence[str]) -> None:
        self.class_names = list(class_names)
        self._known = set(self.class_names)
        self.hits = 0
        self.known = 0
        self.unknown: Counter[str] = Counter()

    def add(self, prediction: Any) -> str | None:
        """Count one prediction (anything with ``label`` and ``marker``).

        Returns
        -------
        str or None
            The marker's class when it is unknown to the model and seen for the first time
            (the moment to warn), else None.
        """
        shown = marker_class(getattr(prediction, "marker", None), self.class_names)
        if shown is None:
            return None
        if shown in self._known:
            self.known += 1
            self.hits += int(prediction.label == shown)
            return None
        self.unknown[shown] += 1
        return shown if self.unknown[shown] == 1 else None

    @property
    def accuracy(self) -> float | None:
        """Top-1 over markers of known classes (None before the first one)."""
        return self.hits / self.known if self.known else None

    def accuracy_text(self) -> str:
        """E.g. ``"top-1 0.450 over 20 markers (chance 0.100)"``, saying when unknown ones are left out."""
        chance = 1 / len(self.class_names) if self.class_names else float("nan")
        if not self.known:
            return "no marker of a class the model knows, so no accuracy"
        text = f"top-1 {self.accuracy:.3f} over {self.known} markers (chance {chance:.3f})"
        if self.unknown:
            text = text.replace(" markers ", " markers of the model's classes ")
            text += f"; {sum(self.unknown.values())} markers of other classes left out"
        return text

    def mismatch_text(self, limit: int = 10) -> str | None:
        """One line naming the classes the markers have and the model lacks (None when none)."""
        if not self.unknown:
            return None
        names = sorted(self.unknown)
        listed = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
        return (
            f"{sum(self.unknown.values())} stimulus markers name {len(names)} "
            f"{'class' if len(names) == 1 else 'classes'} the model does not know ({listed}); "
            f"it knows {len(self.class_names)}, so these trials cannot be decoded right and are left "
            "out of the accuracy. Is this the model of this session (same classes)?"
        )


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
