"""Shared-response templates: class time courses shared by subjects, a spatial mixing per subject.

The model. An epoch of class ``c`` from subject ``s``, standardized and Euclidean-aligned, averaged
in 4 ms bins, ``X`` (n_times, n_channels), is

    X = Z_c A_s + noise

``Z_c`` (n_times, K) is the class's time course in K components shared by every subject, ``A_s``
(K, n_channels) how subject ``s``'s head projects those components onto its electrodes. It is the
shared response model of fMRI hyperalignment (Haxby et al. 2011; Chen et al. 2015) with a free
mixing, and the per-subject "subject layer" of cross-subject MEG/EEG decoders (Défossez et al.
2023) in linear, generative form.

- **Pretraining** (:meth:`SharedTemplates.fit` with ``subjects``): ``Z`` and every source
  subject's ``A_s`` by alternating least squares on the subjects' class means. ``K`` and the
  ridge are chosen, when ``"auto"``, by leave-one-source-subject-out over the sources themselves
  (each held-out source calibrated with its first :data:`SELECTION_TRIALS_PER_CLASS` trials
  per class, scored on its other trials): nothing of the subject to be calibrated is used.
- **A new subject** (:meth:`SharedTemplates.fit_subject`): only its ``A`` is estimated, by
  ridge least squares from its labelled trials. Every time step of every trial constrains it
  (n_trials x n_times equations per electrode for K unknowns), which is why ten trials per class
  go a long way where a discriminative network needs hundreds (``benchmarks/bench_transfer.py``).
  Classes the subject has not shown yet still get a template (``Z_c A``). Without labels
  (``fit_subject(X)``), the epochs' classes and the mixing are inferred together by
  expectation-maximisation (:func:`infer_mixing`): the base adapts to a subject from unlabelled
  trials alone, which works where the classes' time courses really are shared.
- **Decoding**: the nearest template under white Gaussian noise, ``(<X, T_c> - |T_c|^2 / 2) /
  (sigma^2 t)`` with ``T_c = Z_c A``, ``sigma^2`` the residual variance of the training trials and
  ``t`` a temperature fitted on the held-out sources (the white-noise posterior alone says 1.0 to
  nearly every epoch): a linear classifier of the binned epoch, served like the other classical
  models.

Without ``subjects`` (one subject), ``fit`` is a rank-K template model of that subject alone.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from rtdecode.models.classical import ClassicalModel
from rtdecode.signal.binning import bin_time, samples_for

BIN_S = 0.004
# The candidates of "auto": component counts and ridges (relative to the mean eigenvalue).
COMPONENT_GRID = (4, 8, 16, 24, 32, 48)
RIDGE_GRID = (0.01, 0.1, 1.0)
# Fewer source subjects than this: no held-out source to choose with, the defaults below are used.
MIN_SELECTION_SUBJECTS = 3
DEFAULT_COMPONENTS = 16
DEFAULT_RIDGE = 0.1
# What the held-out source is calibrated with while choosing: a short session's trials per class.
SELECTION_TRIALS_PER_CLASS = 10
ALS_ITERATIONS = 30
# Expectation-maximisation of a new subject's mixing without labels (infer_mixing): the posteriors'
# temperature falls from EM_START_TEMPERATURE to 1 in EM_STEPS steps. On the simulated subjects
# (10 classes, subject 15, every trial unlabelled) every random start reached the same solution
# as the uniform one.
EM_START_TEMPERATURE = 30.0
EM_STEPS = 40
# Epochs binned at a time (bounds the float64 temporaries of the averaging).
BIN_CHUNK = 256


class SharedTemplates(ClassicalModel):
    """Class time courses shared across subjects and a subject's own spatial mixing (see the module).

    Parameters
    ----------
    n_classes : int or None
        Class count when labels are class indices (see :attr:`ClassicalModel.classes_`).
    sfreq : float
        Sampling rate of the epochs (Hz): sets the 4 ms bins.
    n_components : int or "auto"
        Shared components K.
    ridge : float or "auto"
        Ridge of the mixing's least squares, relative to the mean eigenvalue of its normal matrix.
    seed : int
        Initial mixings of the alternating least squares.

    Attributes
    ----------
    time_courses_ : np.ndarray, shape (n_classes, n_bins, K)
        ``Z``; zero for a class absent from training.
    mixing_ : np.ndarray, shape (K, n_channels)
        ``A`` of the subject this model decodes (after pretraining: the sources' mean, a
        zero-shot guess).
    ridge_ : np.ndarray, shape (1,)
        The ridge used (and used again by :meth:`fit_subject`).
    noise_var_ : np.ndarray, shape (1,)
        ``sigma^2``.
    temperature_ : np.ndarray, shape (1,)
        Divides the decision before the softmax. The white-noise posterior is far too sure of
        itself (EEG noise is correlated in time: its log-likelihood ratios count thousands of
        samples that are not independent), so the temperature is fitted (least log-loss) on the
        held-out source subjects of the selection; 1 when there was no selection.
    coef_, intercept_ : np.ndarray
        The linear classifier of the flattened binned epoch (``(1, F)`` and ``(1,)`` for two
        classes, as scikit-learn's).
    fitted_classes_ : np.ndarray, shape (n_fitted,)
    selection_ : dict
        How ``K`` and the ridge were chosen (not saved in bundles).
    """

    kind: ClassVar[str] = "templates"
    ARRAYS: ClassVar[dict[str, str]] = {
        "time_courses": "time_courses_",
        "mixing": "mixing_",
        "ridge": "ridge_",
        "noise_var": "noise_var_",
        "temperature": "temperature_",
        "coef": "coef_",
        "intercept": "intercept_",
        "classes": "fitted_classes_",
    }

    def __init__(
        self,
        n_classes: int | None = None,
        sfreq: float = 1000.0,
        n_components: int | str = "auto",
        ridge: float | str = "auto",
        seed: int = 0,
    ) -> None:
        self.n_classes = n_classes
        self.sfreq = sfreq
        self.n_components = n_components
        self.ridge = ridge
        self.seed = seed

    # -- fitting --------------------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: np.ndarray, subjects: np.ndarray | None = None) -> SharedTemplates:
        """Learn the shared time courses from one or more subjects' labelled epochs.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            Standardized epochs, each subject aligned to itself.
        y : np.ndarray, shape (n_epochs,)
        subjects : np.ndarray, shape (n_epochs,), optional
            The subject of each epoch (None: one subject); epochs of a subject in time order.

        Returns
        -------
        SharedTemplates
            Decoding with the subjects' mean mixing (the pretrained base's zero-shot model).
        """
        labels = self._encode(y)
        xb = self._binned(self._epochs(X))
        subjects = np.zeros(len(labels), dtype=int) if subjects is None else np.asarray(subjects)
        if subjects.shape != labels.shape:
            raise ValueError(f"subjects has shape {subjects.shape}, y {labels.shape}")
        groups = [np.flatnonzero(subjects == s) for s in np.unique(subjects)]
        n_classes = len(self.classes_)
        k_max = min(xb.shape[1], xb.shape[2])
        k, ridge, self.selection_ = self._choose(xb, labels, groups, n_classes, k_max)
        means, present = self._class_means(xb, labels, groups, n_classes)
        z, mixings = shared_components(means, present, k, self.seed)
        self.time_courses_ = z
        self.ridge_ = np.array([ridge])
        self.temperature_ = np.array([self.selection_.get("temperature", 1.0)])
        self.mixing_ = np.mean(mixings, axis=0)
        squares = sum(
            float(np.sum((xb[g] - (z @ a)[labels[g]]) ** 2)) for g, a in zip(groups, mixings, strict=True)
        )
        self._set_classifier(squares / xb.size, np.flatnonzero(present.any(axis=0)))
        return self

    def fit_subject(self, X: np.ndarray, y: np.ndarray | None = None) -> SharedTemplates:
        """A copy decoding a new subject: its own mixing, the shared time courses kept.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            The subject's standardized, aligned epochs.
        y : np.ndarray, shape (n_epochs,), optional
            Class indices, -1 where unknown; None: none known. With every label the mixing is
            one least-squares solve. Epochs without a label have their class inferred with the
            mixing by expectation-maximisation (:func:`infer_mixing`): no label at all is the
            base's unsupervised adaptation to a new subject (its zero-shot path).

        Returns
        -------
        SharedTemplates
        """
        check_is_fitted(self)
        xb = self._binned(self._epochs(X))
        labels = np.full(len(xb), -1) if y is None else np.asarray(y, dtype=np.int64)
        if labels.shape != (len(xb),):
            raise ValueError(f"y has shape {labels.shape} for {len(xb)} epochs")
        model = SharedTemplates(**self.get_params())
        model.n_classes = len(self.classes_)
        model.classes_ = self.classes_
        model.time_courses_ = self.time_courses_
        model.ridge_ = self.ridge_
        model.temperature_ = self.temperature_
        model.selection_ = getattr(self, "selection_", {})
        z, ridge = self.time_courses_, float(self.ridge_[0])
        if np.all(labels >= 0):
            model.mixing_ = subject_mixing(z, xb, labels, ridge)
            noise_var = float(np.mean((xb - (z @ model.mixing_)[labels]) ** 2))
        else:
            model.mixing_, noise_var = infer_mixing(z, xb, labels, ridge, float(self.temperature_[0]))
        model._set_classifier(noise_var, self.fitted_classes_)
        return model

    def selection_report(self) -> dict:
        """How K and the ridge were chosen (:attr:`selection_`) and what was chosen, for reports."""
        check_is_fitted(self)
        return {
            **getattr(self, "selection_", {}),
            "chosen": {"components": int(self.time_courses_.shape[2]), "ridge": float(self.ridge_[0])},
        }

    def _choose(
        self, xb: np.ndarray, labels: np.ndarray, groups: list[np.ndarray], n_classes: int, k_max: int
    ) -> tuple[int, float, dict]:
        """``(K, ridge, how)``: the given values, the defaults, or the best held-out-source score."""
        ks = [k for k in COMPONENT_GRID if k <= k_max] or [k_max]
        ridges = list(RIDGE_GRID)
        fixed_k = None if self.n_components == "auto" else int(self.n_components)
        fixed_ridge = None if self.ridge == "auto" else float(self.ridge)
        if fixed_k is not None:
            ks = [min(fixed_k, k_max)]
        if fixed_ridge is not None:
            ridges = [fixed_ridge]
        if len(ks) == 1 and len(ridges) == 1:
            return ks[0], ridges[0], {"how": "given"}
        if len(groups) < MIN_SELECTION_SUBJECTS:
            k = ks[0] if fixed_k is not None else min(DEFAULT_COMPONENTS, k_max)
            ridge = ridges[0] if fixed_ridge is not None else DEFAULT_RIDGE
            return k, ridge, {"how": f"defaults: fewer than {MIN_SELECTION_SUBJECTS} subjects to choose with"}
        scores = np.zeros((len(ks), len(ridges)))
        for held in range(len(groups)):
            others = [g for i, g in enumerate(groups) if i != held]
            means, present = self._class_means(xb, labels, others, n_classes)
            calibration, test = _first_per_class(labels[groups[held]], SELECTION_TRIALS_PER_CLASS)
            x_held, y_held = xb[groups[held]], labels[groups[held]]
            for i, k in enumerate(ks):
                z, _ = shared_components(means, present, k, self.seed)
                for j, ridge in enumerate(ridges):
                    a = subject_mixing(z, x_held[calibration], y_held[calibration], ridge)
                    scores[i, j] += np.mean(_nearest(z @ a, x_held[test]) == y_held[test]) / len(groups)
        i, j = np.unravel_index(np.argmax(scores), scores.shape)  # the first best: the smallest K
        temperature = self._held_out_temperature(xb, labels, groups, n_classes, ks[i], ridges[j])
        return (
            ks[i],
            ridges[j],
            {
                "how": "leave-one-source-subject-out",
                "trials_per_class": SELECTION_TRIALS_PER_CLASS,
                "components": ks,
                "ridges": ridges,
                "top1": scores.round(4).tolist(),
                "temperature": temperature,
            },
        )

    def _held_out_temperature(
        self,
        xb: np.ndarray,
        labels: np.ndarray,
        groups: list[np.ndarray],
        n_classes: int,
        k: int,
        ridge: float,
    ) -> float:
        """The temperature of least log-loss on every held-out source subject's test trials."""
        from scipy.optimize import minimize_scalar

        decisions, truth = [], []
        for held in range(len(groups)):
            others = [g for i, g in enumerate(groups) if i != held]
            means, present = self._class_means(xb, labels, others, n_classes)
            z, _ = shared_components(means, present, k, self.seed)
            calibration, test = _first_per_class(labels[groups[held]], SELECTION_TRIALS_PER_CLASS)
            x_held, y_held = xb[groups[held]], labels[groups[held]]
            a = subject_mixing(z, x_held[calibration], y_held[calibration], ridge)
            templates = z @ a
            noise_var = np.mean((x_held[calibration] - templates[y_held[calibration]]) ** 2)
            decisions.append(_decision(templates, x_held[test]) / noise_var)
            truth.append(y_held[test])
        decision, y = np.concatenate(decisions), np.concatenate(truth)

        def log_loss(log_t: float) -> float:
            d = decision / np.exp(log_t)
            d = d - d.max(axis=1, keepdims=True)
            return float(np.mean(np.log(np.exp(d).sum(axis=1)) - d[np.arange(len(y)), y]))

        return float(np.exp(minimize_scalar(log_loss, bounds=(-5.0, 15.0), method="bounded").x))

    @staticmethod
    def _class_means(
        xb: np.ndarray, labels: np.ndarray, groups: list[np.ndarray], n_classes: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Class means ``(n_subjects, n_classes, n_bins, n_channels)`` and presence ``(n_subjects, n_classes)``."""
        means = np.zeros((len(groups), n_classes, *xb.shape[1:]))
        present = np.zeros((len(groups), n_classes), dtype=bool)
        for s, g in enumerate(groups):
            for c in range(n_classes):
                members = g[labels[g] == c]
                if len(members):
                    means[s, c] = xb[members].mean(axis=0)
                    present[s, c] = True
        return means, present

    def _set_classifier(self, noise_var: float, fitted: np.ndarray) -> None:
        templates = (self.time_courses_ @ self.mixing_)[fitted].reshape(len(fitted), -1)
        self.noise_var_ = np.array([max(noise_var, 1e-12)])
        scale = self.noise_var_[0] * self.temperature_[0]
        coef = templates / scale
        intercept = -0.5 * np.sum(templates**2, axis=1) / scale
        if len(fitted) == 2:  # scikit-learn's binary form: one row, class 1 against class 0
            coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
        self.coef_, self.intercept_ = coef, intercept
        self.fitted_classes_ = np.asarray(fitted, dtype=np.int64)

    # -- decoding -------------------------------------------------------------------------------

    @staticmethod
    def _epochs(X: np.ndarray) -> np.ndarray:
        # Kept in their dtype (float32 from calibration): a pooled base of 40 classes x 50 images x
        # 4 subjects is 1.8 GB as float32 and would double as float64 before the binning shrinks it.
        x = np.asarray(X)
        if x.ndim != 3:
            raise ValueError(f"X has shape {x.shape}: pass epochs (n_epochs, n_channels, n_times)")
        return x

    def _binned(self, x: np.ndarray) -> np.ndarray:
        """Epochs ``(n, n_channels, n_times)`` -> 4 ms bins ``(n, n_bins, n_channels)``, float32."""
        width = samples_for(BIN_S, self.sfreq)
        chunks = [
            bin_time(np.swapaxes(x[i : i + BIN_CHUNK], 1, 2), width).astype(np.float32)
            for i in range(0, len(x), BIN_CHUNK)
        ]
        if not chunks:
            return np.zeros((0, x.shape[2] // width, x.shape[1]), dtype=np.float32)
        return np.concatenate(chunks)

    def _features(self, x: np.ndarray) -> np.ndarray:
        binned = self._binned(x)
        n_bins, n_channels = self.time_courses_.shape[1], self.mixing_.shape[1]
        if binned.shape[1:] != (n_bins, n_channels):
            raise ValueError(
                f"the templates are {n_bins} bins x {n_channels} channels, the epochs give "
                f"{binned.shape[1]} x {binned.shape[2]}"
            )
        return binned.reshape(len(binned), -1)

    def _validate(self) -> None:
        n_classes, n_bins, k = self.time_courses_.shape
        if self.mixing_.shape[0] != k:
            raise ValueError(f"mixing has {self.mixing_.shape[0]} components, the time courses {k}")
        width = n_bins * self.mixing_.shape[1]
        if self.coef_.shape[1] != width or self.coef_.shape[0] != len(self.intercept_):
            raise ValueError(f"coef has shape {self.coef_.shape}, the templates give {width} features")


def shared_components(
    means: np.ndarray, present: np.ndarray, k: int, seed: int = 0, iterations: int = ALS_ITERATIONS
) -> tuple[np.ndarray, np.ndarray]:
    """Alternating least squares for ``means[s, c] ~ Z[c] @ A[s]``.

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
    n_subjects, n_classes, _, n_channels = means.shape
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
    return _solve_mixing(z, counts, sums, ridge)


def infer_mixing(
    z: np.ndarray, xb: np.ndarray, labels: np.ndarray, ridge: float, temperature: float = 1.0
) -> tuple[np.ndarray, float]:
    """``A`` when some or all classes are unknown: expectation-maximisation over the epochs' classes.

    The mixture ``xb[i] ~ z[c] @ A`` with ``c`` unknown: the E-step gives each unlabelled epoch its
    class posteriors under the current mixing (labelled epochs keep theirs, one-hot), the M-step
    is :func:`subject_mixing` weighted by them. The posteriors start uniform and their temperature
    is lowered from :data:`EM_START_TEMPERATURE` to 1 over :data:`EM_STEPS` steps (annealing: a
    hard assignment early would lock in the first guess), so the result is deterministic. The
    classes are identified because the time courses ``z`` are the classes' own, shared by the
    base's subjects; where they are not (subjects whose class responses differ in time), nothing
    better than chance can come of it.

    Parameters
    ----------
    z : np.ndarray, shape (n_classes, n_bins, k)
    xb : np.ndarray, shape (n_epochs, n_bins, n_channels)
    labels : np.ndarray, shape (n_epochs,)
        Class indices, -1 where unknown.
    ridge : float
    temperature : float
        The model's temperature (the posteriors' at the last step).

    Returns
    -------
    mixing : np.ndarray, shape (k, n_channels)
    noise_var : float
        The residual variance under the final posteriors.
    """
    n_classes = len(z)
    known = labels >= 0
    posteriors = np.full((len(xb), n_classes), 1.0 / n_classes)
    posteriors[known] = np.eye(n_classes)[labels[known]]
    unknown = np.flatnonzero(~known)
    for step in np.geomspace(EM_START_TEMPERATURE, 1.0, EM_STEPS):
        mixing = _solve_mixing(z, posteriors.sum(axis=0), np.einsum("nc,nte->cte", posteriors, xb), ridge)
        templates = z @ mixing
        noise_var = _expected_residual(templates, xb, posteriors)
        decision = _decision(templates, xb[unknown]) / (noise_var * temperature * step)
        decision -= decision.max(axis=1, keepdims=True)
        posteriors[unknown] = np.exp(decision) / np.exp(decision).sum(axis=1, keepdims=True)
    mixing = _solve_mixing(z, posteriors.sum(axis=0), np.einsum("nc,nte->cte", posteriors, xb), ridge)
    return mixing, _expected_residual(z @ mixing, xb, posteriors)


def _expected_residual(templates: np.ndarray, xb: np.ndarray, posteriors: np.ndarray) -> float:
    """Mean squared residual per element, each epoch's classes weighted by its posteriors."""
    flat, x = templates.reshape(len(templates), -1), xb.reshape(len(xb), -1)
    # |x - t_c|^2 = |x|^2 - 2 <x, t_c> + |t_c|^2, weighted by the posteriors
    squared = np.sum(x**2, axis=1)[:, None] - 2 * x @ flat.T + np.sum(flat**2, axis=1)[None]
    return float(np.sum(posteriors * squared) / x.size)


def _solve_mixing(z: np.ndarray, counts: np.ndarray, sums: np.ndarray, ridge: float) -> np.ndarray:
    """The ridge normal equations of ``A`` from per-class epoch counts ``(n_classes,)`` and sums ``(n_classes, n_bins, n_channels)``."""
    k = z.shape[2]
    gram = np.einsum("c,ctk,ctj->kj", counts, z, z)
    cross = np.einsum("ctk,cte->ke", z, sums)
    return np.linalg.solve(gram + (ridge * np.trace(gram) / k + 1e-12) * np.eye(k), cross)


def _decision(templates: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """``<X, T_c> - |T_c|^2 / 2`` ``(n, n_classes)`` of binned epochs ``(n, n_bins, n_channels)``."""
    flat = templates.reshape(len(templates), -1)
    return xb.reshape(len(xb), -1) @ flat.T - 0.5 * np.sum(flat**2, axis=1)


def _nearest(templates: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Index of the nearest template (white noise) of each binned epoch ``(n, n_bins, n_channels)``."""
    return np.argmax(_decision(templates, xb), axis=1)


def _first_per_class(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first ``n`` epochs of each class (at most half of it) and of the others."""
    first = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        first.extend(members[: max(1, min(n, len(members) // 2))].tolist())
    calibration = np.sort(np.asarray(first, dtype=int))
    return calibration, np.setdiff1d(np.arange(len(labels)), calibration)
