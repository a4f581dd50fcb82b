"""Choosing the shared-response templates' settings on the source subjects alone.

Each source subject in turn is held out: the others' class means give the time courses, its own
first trials per class calibrate its mixing, its other trials score the candidates (components,
ridge, trial shift) and fit the temperatures (:mod:`rtdecode.models.templates`).
"""

from __future__ import annotations

import numpy as np

from rtdecode.models.shared_response import shared_components, subject_mixing, template_decision


class HeldOutSource:
    """One source subject held out while choosing: the others' class means, its own trials (``rows``
    of the pooled epochs) split into calibration (its first trials per class) and test, and its
    decisions cached by part, K and ridge."""

    def __init__(self, means, rows, parts, y, calibration, test, seed) -> None:
        self.means, self.rows, self.parts, self.y = means, rows, parts, y
        self.calibration, self.test, self.seed = calibration, test, seed
        self.y_test = y[test]
        self._components: dict[tuple[int, int], np.ndarray] = {}
        self._decisions: dict[tuple[int, int, float], np.ndarray] = {}

    def templates(self, part: int, k: int, ridge: float) -> tuple[np.ndarray, float]:
        """Part ``part``'s templates ``(n_classes, n_bins, n_channels)`` fitted on the calibration
        trials, and their residual variance there."""
        if (part, k) not in self._components:
            means, present = self.means[part]
            self._components[part, k] = shared_components(means, present, k, self.seed)[0]
        z, x, cal = self._components[part, k], self.parts[part], self.calibration
        templates = z @ subject_mixing(z, x[cal], self.y[cal], ridge)
        return templates, float(np.mean((x[cal] - templates[self.y[cal]]) ** 2))

    def decision(self, part: int, k: int, ridge: float) -> np.ndarray:
        """Part ``part``'s decisions ``(n_test, n_classes)`` over the residual variance of calibration."""
        key = (part, k, ridge)
        if key not in self._decisions:
            if k == 0 or self.parts[part].shape[1] == 0:
                n_classes = self.means[part][1].shape[1]
                self._decisions[key] = np.zeros((len(self.test), n_classes))
            else:
                templates, noise_var = self.templates(part, k, ridge)
                self._decisions[key] = template_decision(templates, self.parts[part][self.test]) / noise_var
        return self._decisions[key]

    def shifted_decisions(self, k: int, ridge: float, reach: int, evoked_at) -> np.ndarray:
        """The evoked decisions ``(2 reach + 1, n_test, n_classes)`` of the test epochs read
        ``-reach..reach`` samples later (``evoked_at(rows, extra)``: their evoked part)."""
        templates, noise_var = self.templates(0, k, ridge)
        rows = self.rows[self.test]
        # Unshifted, they are the decisions the K and ridge were scored with (cached).
        return np.stack(
            [
                template_decision(templates, evoked_at(rows, extra)) / noise_var
                if extra
                else self.decision(0, k, ridge)
                for extra in range(-reach, reach + 1)
            ]
        )

    def top1(self, decision: np.ndarray) -> float:
        return float(np.mean(decision.argmax(axis=1) == self.y_test))


def k_max(part: np.ndarray, n_classes: int) -> int:
    """The most components a part's class means ``(n_classes x n_bins, n_channels)`` can hold."""
    return int(min(n_classes * part.shape[1], part.shape[2]))


def component_grid(given: int | str, grid: tuple[int, ...], largest: int) -> list[int]:
    """The component counts to try: ``given`` alone (at most ``largest``), else the grid's up to ``largest``."""
    if given != "auto":
        return [min(int(given), largest)]
    return [k for k in grid if k <= largest] or [largest]


def fit_temperatures(decisions: list[np.ndarray], y: np.ndarray) -> list[float]:
    """Each part's temperature, jointly of least log-loss: ``softmax(sum_p d_p / t_p)``.

    Parameters
    ----------
    decisions : list of np.ndarray, each (n, n_classes)
        The parts' decisions over their residual variances; an all-zero part keeps temperature 1.
    y : np.ndarray, shape (n,)
    """
    from scipy.optimize import minimize

    used = [i for i, d in enumerate(decisions) if np.any(d)]

    def log_loss(log_t: np.ndarray) -> float:
        d = sum(decisions[i] / np.exp(t) for i, t in zip(used, log_t, strict=True))
        d = d - d.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(d).sum(axis=1)) - d[np.arange(len(y)), y]))

    # Start from one common temperature (a 1-D search), then free each part's.
    grid = np.linspace(-5.0, 15.0, 81)
    start = grid[int(np.argmin([log_loss(np.full(len(used), g)) for g in grid]))]
    best = minimize(log_loss, np.full(len(used), start), method="Nelder-Mead").x
    temperatures = [1.0] * len(decisions)
    for i, t in zip(used, best, strict=True):
        temperatures[i] = float(np.exp(t))
    return temperatures


def first_per_class(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first ``n`` epochs of each class (at most half of it) and of the others."""
    first = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        first.extend(members[: max(1, min(n, len(members) // 2))].tolist())
    calibration = np.sort(np.asarray(first, dtype=int))
    return calibration, np.setdiff1d(np.arange(len(labels)), calibration)
