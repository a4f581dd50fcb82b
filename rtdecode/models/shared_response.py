"""The shared-response model's arithmetic: alternating least squares of the shared time courses, a
subject's mixing by (ridge) least squares or expectation-maximisation, and the subjects' latencies.

:class:`rtdecode.models.templates.SharedTemplates` is the estimator built on it (and explains the
model); arrays here are binned parts ``(n_epochs, n_bins, n_channels)`` and time courses
``(n_classes, n_bins, k)``.
"""

from __future__ import annotations

import numpy as np

from rtdecode.signal.binning import bin_time

# Rounds of the alternating least squares of the shared time courses (shared_components).
ALS_ITERATIONS = 30
# Expectation-maximisation of a new subject's mixing without labels (infer_mixing): the posteriors'
# temperature falls from EM_START_TEMPERATURE to 1 in EM_STEPS steps. On the simulated subjects
# (10 classes, subject 15, every trial unlabelled) every random start reached the same solution
# as the uniform one.
EM_START_TEMPERATURE = 30.0
EM_STEPS = 40
# Subjects' latencies: searched in steps of one sample (templates.MAX_LATENCY_S either way), with
# the evoked time courses of LATENCY_COMPONENTS components (see :func:`estimate_latency`); the
# sources are aligned to each other in at most LATENCY_ITERATIONS rounds. On the simulated
# subjects (40 classes) the sources' latencies came out within 1.5 ms of the simulator's after 3-4
# rounds, a new subject's from ten trials per class within 1 ms, and the evoked part alone went
# from top-1 0.55 to 0.71.
LATENCY_COMPONENTS = 24
LATENCY_ITERATIONS = 5


def shift_time(epochs: np.ndarray, k: int) -> np.ndarray:
    """Epochs ``(n, n_times, n_channels)`` read ``k`` samples later (``k < 0``: earlier),
    zero-filled at the end they leave."""
    if k == 0:
        return epochs
    out = np.zeros_like(epochs)
    if k > 0:
        out[:, : epochs.shape[1] - k] = epochs[:, k:]
    else:
        out[:, -k:] = epochs[:, : epochs.shape[1] + k]
    return out


def class_means(
    xb: np.ndarray, labels: np.ndarray, groups: list[np.ndarray], n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each subject's class means ``(n_subjects, n_classes, n_rows, n_channels)`` (zero for an absent
    class) of epochs ``(n, n_rows, n_channels)`` (bins of a part, or samples), and which classes are
    present ``(n_subjects, n_classes)``; ``groups`` holds each subject's epoch indices."""
    means = np.zeros((len(groups), n_classes, *xb.shape[1:]))
    present = np.zeros((len(groups), n_classes), dtype=bool)
    for s, g in enumerate(groups):
        for c in range(n_classes):
            members = g[labels[g] == c]
            if len(members):
                means[s, c] = xb[members].mean(axis=0)
                present[s, c] = True
    return means, present


def estimate_latency(
    z: np.ndarray, raw_means: np.ndarray, counts: np.ndarray, ridge: float, width: int, max_shift: int
) -> int:
    """The shift (samples) at which a subject's class means are best explained by the time courses ``z``.

    For each shift in ``-max_shift..max_shift`` the unbinned class means are read that much later,
    circularly (so that every shift keeps the same energy and only the fit differs), binned, and
    the mixing refitted by weighted least squares; the shift of least residual wins. The evoked
    part alone: its 4 ms bins resolve what the power part's 20 ms cannot.

    Parameters
    ----------
    z : np.ndarray, shape (n_classes, n_bins, k)
        Evoked time courses.
    raw_means : np.ndarray, shape (n_classes, n_times, n_channels)
        The subject's class means at the sampling rate (:func:`class_means`).
    counts : np.ndarray, shape (n_classes,)
        Epochs behind each mean (the least squares' weights; 0 leaves a class out).
    ridge : float
    width : int
        Samples per bin.
    max_shift : int
    """
    residuals = []
    shifts = np.arange(-max_shift, max_shift + 1)
    for k in shifts:
        binned = bin_time(np.roll(raw_means, -k, axis=1), width)
        a = solve_mixing(z, counts, counts[:, None, None] * binned, ridge)
        residuals.append(float(np.sum(counts[:, None, None] * (binned - z @ a) ** 2)))
    return int(shifts[int(np.argmin(residuals))])


def align_sources(
    x: np.ndarray,
    labels: np.ndarray,
    groups: list[np.ndarray],
    n_classes: int,
    width: int,
    max_shift: int,
    ridge: float,
    seed: int = 0,
) -> np.ndarray:
    """The source subjects' latencies relative to each other (samples, their mean rounded to 0).

    Each source in turn is aligned (:func:`estimate_latency`) to the evoked time courses of the
    others, as they are aligned so far (not to time courses it helped shape: those fit it best
    where it already is); repeated until no latency changes, at most :data:`LATENCY_ITERATIONS`
    times.

    Parameters
    ----------
    x : np.ndarray, shape (n_epochs, n_channels, n_times)
    labels : np.ndarray, shape (n_epochs,)
    groups : list of np.ndarray
        Each subject's epoch indices.
    n_classes, width, max_shift : int
    ridge : float
        Of each least-squares fit (relative, see :func:`solve_mixing`).
    seed : int

    Returns
    -------
    np.ndarray, shape (n_subjects,), int
    """
    raw, present = class_means(np.swapaxes(x, 1, 2), labels, groups, n_classes)
    counts = [np.bincount(labels[g], minlength=n_classes).astype(float) for g in groups]
    k = min(LATENCY_COMPONENTS, n_classes * (raw.shape[2] // width), raw.shape[3])
    latencies = np.zeros(len(groups), dtype=int)
    for _ in range(LATENCY_ITERATIONS):
        binned = np.stack(
            [bin_time(shift_time(m, int(s)), width) for m, s in zip(raw, latencies, strict=True)]
        )
        estimated = []
        for s in range(len(groups)):
            others = [o for o in range(len(groups)) if o != s]
            z = shared_components(binned[others], present[others], k, seed)[0]
            estimated.append(estimate_latency(z, raw[s], counts[s], ridge, width, max_shift))
        estimated = np.asarray(estimated) - int(round(float(np.mean(estimated))))
        if np.array_equal(estimated, latencies):
            break
        latencies = estimated
    return latencies


def shared_components(
    means: np.ndarray, present: np.ndarray, k: int, seed: int = 0, iterations: int = ALS_ITERATIONS
) -> tuple[np.ndarray, np.ndarray]:
    """Alternating least squares for ``means[s, c] ~ Z[c] @ A[s]`` (one part of the templates).

    Parameters
    ----------
    means : np.ndarray, shape (n_subjects, n_classes, n_bins, n_channels)
    present : np.ndarray, shape (n_subjects, n_classes), bool
        Which class means exist (the others are left out of both steps).
    k : int
    seed : int
    iterations : int

    Returns
    -------
    z : np.ndarray, shape (n_classes, n_bins, k)
    mixings : np.ndarray, shape (n_subjects, k, n_channels)
    """
    n_subjects, n_classes, n_bins, n_channels = means.shape
    if k == 0 or n_bins == 0:  # a part left out (no power part)
        return np.zeros((n_classes, n_bins, k)), np.zeros((n_subjects, k, n_channels))
    rng = np.random.default_rng(seed)
    mixings = rng.standard_normal((n_subjects, k, n_channels)) / np.sqrt(n_channels)
    eye = np.eye(k)
    z = np.zeros((n_classes, means.shape[2], k))
    for _ in range(iterations):
        for c in range(n_classes):
            who = np.flatnonzero(present[:, c])
            if len(who):
                gram = np.einsum("skc,sjc->kj", mixings[who], mixings[who])
                cross = np.einsum("stc,skc->tk", means[who, c], mixings[who])
                z[c] = np.linalg.solve(gram + 1e-9 * np.trace(gram) / k * eye + 1e-12 * eye, cross.T).T
        for s in range(n_subjects):
            which = np.flatnonzero(present[s])
            gram = np.einsum("ctk,ctj->kj", z[which], z[which])
            cross = np.einsum("ctk,cte->ke", z[which], means[s, which])
            mixings[s] = np.linalg.solve(gram + 1e-9 * np.trace(gram) / k * eye + 1e-12 * eye, cross)
    return z, mixings


def subject_mixing(z: np.ndarray, xb: np.ndarray, labels: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge least squares ``A`` (k, n_channels) of ``xb[i] ~ z[labels[i]] @ A`` over labelled epochs.

    Parameters
    ----------
    z : np.ndarray, shape (n_classes, n_bins, k)
    xb : np.ndarray, shape (n_epochs, n_bins, n_channels)
    labels : np.ndarray, shape (n_epochs,)
    ridge : float
        Relative to the mean eigenvalue of the normal matrix.
    """
    counts = np.bincount(labels, minlength=len(z)).astype(float)
    sums = np.stack(
        [xb[labels == c].sum(axis=0) if counts[c] else np.zeros(xb.shape[1:]) for c in range(len(z))]
    )
    return solve_mixing(z, counts, sums, ridge)


def infer_mixing(
    zs: list[np.ndarray],
    parts: list[np.ndarray],
    labels: np.ndarray,
    ridge: float,
    temperatures: np.ndarray | list[float],
) -> tuple[list[np.ndarray], list[float]]:
    """Each part's mixing when some or all classes are unknown: expectation-maximisation over the epochs' classes.

    The mixture ``part_p[i] ~ zs[p][c] @ A_p`` with ``c`` unknown: the E-step gives each unlabelled
    epoch its class posteriors under the current mixings, the parts' log-likelihoods added
    (labelled epochs keep theirs, one-hot); the M-step is :func:`subject_mixing` of each part
    weighted by them. The posteriors start uniform and their temperature is lowered from
    :data:`EM_START_TEMPERATURE` to 1 over :data:`EM_STEPS` steps (annealing: a hard assignment
    early would lock in the first guess), so the result is deterministic. The classes are
    identified because the time courses are the classes' own, shared by the base's subjects; where
    they are not (subjects whose class responses differ in time), nothing better than chance can
    come of it.

    Parameters
    ----------
    zs : list of np.ndarray, each (n_classes, n_bins_p, k_p)
    parts : list of np.ndarray, each (n_epochs, n_bins_p, n_channels)
        A part without bins takes no part.
    labels : np.ndarray, shape (n_epochs,)
        Class indices, -1 where unknown.
    ridge : float
    temperatures : sequence of float
        The model's temperatures (one per part: the posteriors' at the last step).

    Returns
    -------
    mixings : list of np.ndarray, each (k_p, n_channels)
    noise_vars : list of float
        The residual variances under the final posteriors (1 for a part without bins).
    """
    n_classes = len(zs[0])
    used = [i for i, part in enumerate(parts) if part.shape[1]]
    known = labels >= 0
    posteriors = np.full((len(labels), n_classes), 1.0 / n_classes)
    posteriors[known] = np.eye(n_classes)[labels[known]]
    unknown = np.flatnonzero(~known)

    def m_step() -> tuple[list[np.ndarray], list[float]]:
        mixings = [
            solve_mixing(z, posteriors.sum(axis=0), np.einsum("nc,nte->cte", posteriors, part), ridge)
            for z, part in zip(zs, parts, strict=True)
        ]
        noise_vars = [
            expected_residual(zs[i] @ mixings[i], parts[i], posteriors) if i in used else 1.0
            for i in range(len(parts))
        ]
        return mixings, noise_vars

    for step in np.geomspace(EM_START_TEMPERATURE, 1.0, EM_STEPS):
        mixings, noise_vars = m_step()
        decision = sum(
            template_decision(zs[i] @ mixings[i], parts[i][unknown]) / (noise_vars[i] * temperatures[i])
            for i in used
        )
        decision = decision / step
        decision -= decision.max(axis=1, keepdims=True)
        posteriors[unknown] = np.exp(decision) / np.exp(decision).sum(axis=1, keepdims=True)
    return m_step()


def expected_residual(templates: np.ndarray, xb: np.ndarray, posteriors: np.ndarray) -> float:
    """Mean squared residual per element, each epoch's classes weighted by its posteriors."""
    flat, x = templates.reshape(len(templates), -1), xb.reshape(len(xb), -1)
    # |x - t_c|^2 = |x|^2 - 2 <x, t_c> + |t_c|^2, weighted by the posteriors
    squared = np.sum(x**2, axis=1)[:, None] - 2 * x @ flat.T + np.sum(flat**2, axis=1)[None]
    return float(np.sum(posteriors * squared) / x.size)


def solve_mixing(z: np.ndarray, counts: np.ndarray, sums: np.ndarray, ridge: float) -> np.ndarray:
    """The ridge normal equations of ``A`` from per-class epoch counts ``(n_classes,)`` and sums ``(n_classes, n_bins, n_channels)``."""
    k = z.shape[2]
    if k == 0:
        return np.zeros((0, sums.shape[2]))
    gram = np.einsum("c,ctk,ctj->kj", counts, z, z)
    cross = np.einsum("ctk,cte->ke", z, sums)
    return np.linalg.solve(gram + (ridge * np.trace(gram) / k + 1e-12) * np.eye(k), cross)


def template_decision(templates: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """``<X, T_c> - |T_c|^2 / 2`` ``(n, n_classes)`` of binned epochs ``(n, n_bins, n_channels)``."""
    flat = templates.reshape(len(templates), -1)
    return xb.reshape(len(xb), -1) @ flat.T - 0.5 * np.sum(flat**2, axis=1)
