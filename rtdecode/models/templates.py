"""Shared-response templates: class responses shared by subjects, a spatial mixing per subject.

The model. An epoch of class ``c`` from subject ``s``, standardized and Euclidean-aligned, is seen
in two parts, each a matrix (time bins x channels):

- the **evoked** part ``X``: the epoch averaged in 4 ms bins (the phase-locked response);
- the **power** part ``P``: the epoch's power in three bands (beta 14-30 Hz, low gamma 30-45 Hz,
  high gamma 45-70 Hz, :data:`POWER_BANDS_HZ`) in 20 ms bins (:data:`POWER_BIN_S`), the bands'
  bins one after the other. Induced activity (visual gamma whose phase differs on every trial)
  averages out of ``X`` but not out of ``P``: a source's power reaches each electrode through
  the square of its topography, so ``P`` is nearly linear in the sources' powers (sources in
  different bands add exactly), as ``X`` is in their waveforms. The bands let sources of
  different frequencies be told apart where their topographies overlap.

Each part follows the same linear model,

    X = Z_c A_s + noise,        P = W_c B_s + noise

``Z_c`` (n_bins, K) is the class's time course in K components shared by every subject, ``A_s``
(K, n_channels) how subject ``s``'s head projects those components onto its electrodes (``W_c``
and ``B_s`` likewise for power). It is the shared response model of fMRI hyperalignment (Haxby et
al. 2011; Chen et al. 2015) with a free mixing, and the per-subject "subject layer" of
cross-subject MEG/EEG decoders (Défossez et al. 2023) in linear, generative form.

Subjects also differ in **latency**: the same response comes some milliseconds earlier or later
(in people, visual evoked latencies differ by ten milliseconds and more). A 30-70 Hz oscillation
10 ms late is out of phase, which no spatial mixing undoes, so every subject has its own latency
``L_s`` and its epochs are read ``L_s`` later before they are binned. The sources are aligned to
each other, a new subject to them from its trials (:mod:`rtdecode.models.shared_response`:
``shift_time``, ``align_sources``, ``estimate_latency``).

- **Pretraining** (:meth:`SharedTemplates.fit` with ``subjects``): each part's shared time
  courses and every source subject's mixing by alternating least squares on the subjects' class
  means. The evoked ``K`` and the ridge, then the power part's ``K``, are chosen, when
  ``"auto"``, by leave-one-source-subject-out over the sources themselves (each held-out source
  calibrated with its first :data:`SELECTION_TRIALS_PER_CLASS` trials per class, scored on its
  other trials): nothing of the subject to be calibrated is used.
- **A new subject** (:meth:`SharedTemplates.fit_subject`): only its mixings are estimated, by
  ridge least squares from its labelled trials. Every time bin of every trial constrains them
  (n_trials x n_bins equations per electrode for K unknowns), which is why ten trials per class
  go a long way where a discriminative network needs hundreds (``benchmarks/bench_transfer.py``).
  Classes the subject has not shown yet still get a template (``Z_c A``). Without labels
  (``fit_subject(X)``), the epochs' classes and the mixings are inferred together by
  expectation-maximisation (:func:`~rtdecode.models.shared_response.infer_mixing`): the base
  adapts to a subject from unlabelled trials alone, which works where the classes' responses
  really are shared.
- **Each trial's own latency**: within a subject, the response of one trial comes a few
  milliseconds earlier or later than the next (trial-to-trial latency jitter, which Woody's
  adaptive filter (1967) searches for). Averaged, it smears the templates; matched as it is, it
  puts a 30 Hz burst a quarter-cycle off. So each epoch's evoked part is compared with each class's
  template at its best shift within ``trial_shift_s`` either way (chosen on the held-out sources
  with the components). On the simulated subjects (4 ms jitter), 40 classes, ten trials per
  class: top-1 0.824 without, 0.903 with +-7 ms (``benchmarks/results/README.md``).
- **Decoding**: the nearest template of each part under white Gaussian noise, the parts'
  log-likelihoods added: ``sum_p (<X_p, T_pc> - |T_pc|^2 / 2) / (sigma_p^2 t_p)`` with ``T_pc``
  part ``p``'s template of class ``c``, ``sigma_p^2`` its residual variance on the training
  trials and ``t_p`` a temperature fitted on the held-out sources (the white-noise posterior alone
  says 1.0 to nearly every epoch, and the power part's noise is not Gaussian), the evoked part's
  at the epoch's best shift. A linear classifier of the two parts' features (the evoked features
  read at each shift), served like the other classical models.

Without ``subjects`` (one subject), ``fit`` is a rank-K template model of that subject alone.
``power_bands=None`` leaves the power part out (the evoked templates alone).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from rtdecode.models.classical import ClassicalModel, decision_proba
from rtdecode.models.shared_response import (
    align_sources,
    class_means,
    estimate_latency,
    infer_mixing,
    shared_components,
    shift_time,
    subject_mixing,
)
from rtdecode.models.template_selection import (
    HeldOutSource,
    component_grid,
    first_per_class,
    fit_temperatures,
    k_max,
)
from rtdecode.signal.binning import band_power, bin_time, samples_for

BIN_S = 0.004
# The power part's bins: long enough to average a 30-70 Hz oscillation's power over a cycle or
# more, short enough to follow induced bursts of 40-80 ms.
POWER_BIN_S = 0.02
# Beta, low gamma (below the 50 Hz mains) and high gamma, inside the paper's 14-70 Hz band. On
# the simulated subjects (10 classes, ten trials per class, offline) the power part alone gave
# top-1 0.55 as one 14-70 Hz band and 0.80 as these three.
POWER_BANDS_HZ = ((14.0, 30.0), (30.0, 45.0), (45.0, 70.0))
# The candidates of "auto": component counts and ridges (relative to the mean eigenvalue).
COMPONENT_GRID = (4, 8, 16, 24, 32, 48)
POWER_COMPONENT_GRID = (8, 16, 24, 48)
RIDGE_GRID = (0.01, 0.1, 1.0)
# Fewer source subjects than this: no held-out source to choose with, the defaults below are used.
MIN_SELECTION_SUBJECTS = 3
DEFAULT_COMPONENTS = 16
DEFAULT_RIDGE = 0.1
# What the held-out source is calibrated with while choosing: a short session's trials per class.
SELECTION_TRIALS_PER_CLASS = 10
# How far either way a subject's latency is searched (see rtdecode.models.shared_response).
MAX_LATENCY_S = 0.03
# How far either way each epoch's own latency is searched when decoding, seconds: the candidates
# of "auto" (chosen on the held-out sources) and the value where nothing is chosen.
TRIAL_SHIFT_GRID_S = (0.0, 0.002, 0.004, 0.006, 0.008, 0.01)
DEFAULT_TRIAL_SHIFT_S = 0.006
# Epochs binned at a time (bounds the float64 temporaries of the averaging).
BIN_CHUNK = 256
PARTS = ("evoked", "power")


class SharedTemplates(ClassicalModel):
    """Class responses shared across subjects and a subject's own spatial mixing (see the module).

    Parameters
    ----------
    n_classes : int or None
        Class count when labels are class indices (see :attr:`ClassicalModel.classes_`).
    sfreq : float
        Sampling rate of the epochs (Hz): sets the bins.
    n_components : int or "auto"
        Shared components K of the evoked part.
    ridge : float or "auto"
        Ridge of the mixings' least squares, relative to the mean eigenvalue of their normal matrix.
    power_bands : sequence of (low, high) or None
        The power part's frequency bands in Hz; None: no power part.
    power_bin_s : float
        Bin of the power part in seconds.
    power_components : int or "auto"
        Shared components of the power part.
    max_latency_s : float
        Largest latency searched, either way, in seconds; 0: every subject at latency 0.
    trial_shift_s : float or "auto"
        Largest shift, either way, in seconds, at which each epoch's evoked part is matched to
        each class's template when decoding (its own latency); 0: none.
    seed : int
        Initial mixings of the alternating least squares.

    Attributes
    ----------
    time_courses_ : np.ndarray, shape (n_classes, n_bins, K)
        ``Z``; zero for a class absent from training.
    mixing_ : np.ndarray, shape (K, n_channels)
        ``A`` of the subject this model decodes (after pretraining: the sources' mean, a
        zero-shot guess).
    power_time_courses_ : np.ndarray, shape (n_classes, n_bands * n_power_bins, K_power)
        ``W`` (zero-size without a power part).
    power_mixing_ : np.ndarray, shape (K_power, n_channels)
        ``B``.
    ridge_ : np.ndarray, shape (1,)
        The ridge used (and used again by :meth:`fit_subject`).
    latency_ : np.ndarray, shape (1,), int
        Samples by which this subject's epochs are read later than the base's time courses (after
        pretraining: 0, the sources' mean).
    trial_shift_ : np.ndarray, shape (1,), int
        Samples either way searched for each epoch's own latency (see ``trial_shift_s``).
    noise_var_ : np.ndarray, shape (2,)
        ``sigma^2`` of the evoked and the power part.
    temperature_ : np.ndarray, shape (2,)
        Divides each part's decision before the softmax. The white-noise posterior is far too
        sure of itself (EEG noise is correlated in time: its log-likelihood ratios count thousands
        of samples that are not independent), so the temperatures are fitted (least log-loss) on
        the held-out source subjects of the selection; 1 when there was no selection. Their
        ratio also weighs the power part against the evoked one.
    coef_, intercept_ : np.ndarray, shapes (n_fitted, F) and (n_fitted,)
        The linear classifier of the flattened parts, one row per class even for two (the
        evoked part's best shift is taken per class).
    fitted_classes_ : np.ndarray, shape (n_fitted,)
    selection_ : dict
        How the components and the ridge were chosen (not saved in bundles).
    """

    kind: ClassVar[str] = "templates"
    ARRAYS: ClassVar[dict[str, str]] = {
        "time_courses": "time_courses_",
        "mixing": "mixing_",
        "power_time_courses": "power_time_courses_",
        "power_mixing": "power_mixing_",
        "ridge": "ridge_",
        "latency": "latency_",
        "trial_shift": "trial_shift_",
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
        power_bands: tuple[tuple[float, float], ...] | None = POWER_BANDS_HZ,
        power_bin_s: float = POWER_BIN_S,
        power_components: int | str = "auto",
        max_latency_s: float = MAX_LATENCY_S,
        trial_shift_s: float | str = "auto",
        seed: int = 0,
    ) -> None:
        self.n_classes = n_classes
        self.sfreq = sfreq
        self.n_components = n_components
        self.ridge = ridge
        self.power_bands = power_bands
        self.power_bin_s = power_bin_s
        self.power_components = power_components
        self.max_latency_s = max_latency_s
        self.trial_shift_s = trial_shift_s
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
            Decoding with the subjects' mean mixings (the pretrained base's zero-shot model).
        """
        labels = self._encode(y)
        x = self._epochs(X)
        subjects = np.zeros(len(labels), dtype=int) if subjects is None else np.asarray(subjects)
        if subjects.shape != labels.shape:
            raise ValueError(f"subjects has shape {subjects.shape}, y {labels.shape}")
        groups = [np.flatnonzero(subjects == s) for s in np.unique(subjects)]
        n_classes = len(self.classes_)
        latencies = np.zeros(len(groups), dtype=int)
        if len(groups) > 1 and self._max_shift():
            latencies = align_sources(
                x,
                labels,
                groups,
                n_classes,
                samples_for(BIN_S, self.sfreq),
                self._max_shift(),
                DEFAULT_RIDGE,
                self.seed,
            )
        shifts = np.zeros(len(labels), dtype=int)
        for g, latency in zip(groups, latencies, strict=True):
            shifts[g] = latency
        parts = self._parts(x, shifts)

        def evoked_at(rows: np.ndarray, extra: int) -> np.ndarray:
            return self._parts(x[rows], shifts[rows] + extra, with_power=False)[0]

        ks, ridge, trial_shift, self.selection_ = self._choose(parts, labels, groups, n_classes, evoked_at)
        self.selection_["source_latencies_ms"] = (1000.0 * latencies / self.sfreq).round(1).tolist()
        zs, mixings, noise_vars, presence = [], [], [], []
        for part, k in zip(parts, ks, strict=True):
            means, present = class_means(part, labels, groups, n_classes)
            presence.append(present)
            z, subject_mixings = shared_components(means, present, k, self.seed)
            squares = sum(
                float(np.sum((part[g] - (z @ a)[labels[g]]) ** 2))
                for g, a in zip(groups, subject_mixings, strict=True)
            )
            zs.append(z)
            mixings.append(np.mean(subject_mixings, axis=0))
            noise_vars.append(squares / max(part.size, 1))
        self.time_courses_, self.power_time_courses_ = zs
        self.mixing_, self.power_mixing_ = mixings
        self.ridge_ = np.array([ridge])
        self.latency_ = np.zeros(1, dtype=np.int64)
        self.trial_shift_ = np.array([trial_shift], dtype=np.int64)
        self.temperature_ = np.array(self.selection_.get("temperatures", [1.0, 1.0]))
        fitted = np.flatnonzero(presence[0].any(axis=0))  # the classes some subject showed
        self._set_classifier(noise_vars, fitted)
        return self

    def fit_subject(self, X: np.ndarray, y: np.ndarray | None = None) -> SharedTemplates:
        """A copy decoding a new subject: its own mixings, the shared time courses kept.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            The subject's standardized, aligned epochs.
        y : np.ndarray, shape (n_epochs,), optional
            Class indices, -1 where unknown; None: none known. With every label each mixing is
            one least-squares solve. Epochs without a label have their class inferred with the
            mixings by expectation-maximisation
            (:func:`~rtdecode.models.shared_response.infer_mixing`): no label at all is the base's
            unsupervised adaptation to a new subject (its zero-shot path).

        Returns
        -------
        SharedTemplates
        """
        check_is_fitted(self)
        x = self._epochs(X)
        n_epochs = len(x)
        labels = np.full(n_epochs, -1) if y is None else np.asarray(y, dtype=np.int64)
        if labels.shape != (n_epochs,):
            raise ValueError(f"y has shape {labels.shape} for {n_epochs} epochs")
        model = SharedTemplates(**self.get_params())
        model.n_classes = len(self.classes_)
        model.classes_ = self.classes_
        model.time_courses_ = self.time_courses_
        model.power_time_courses_ = self.power_time_courses_
        model.ridge_ = self.ridge_
        model.trial_shift_ = self.trial_shift_
        model.temperature_ = self.temperature_
        model.selection_ = getattr(self, "selection_", {})
        latency = self._subject_latency(x, labels) if self._max_shift() and n_epochs else 0
        mixings, noise_vars = self._subject_mixings(self._parts(x, np.full(n_epochs, latency)), labels)
        model.latency_ = np.array([latency], dtype=np.int64)
        model.mixing_, model.power_mixing_ = mixings
        model._set_classifier(noise_vars, self.fitted_classes_)
        return model

    def _subject_latency(self, x: np.ndarray, labels: np.ndarray) -> int:
        """A new subject's latency (samples) from its epochs ``(n, n_channels, n_times)``: its class
        means against the evoked time courses where every label is known, else the mean of all its
        epochs against the classes' mean time course (the class-independent response carries the
        latency as well, and needs no label)."""
        if np.all(labels >= 0):
            n_classes, z = len(self.classes_), self.time_courses_
        else:
            labels = np.zeros(len(x), dtype=int)  # one "class": every epoch
            n_classes, z = 1, self.time_courses_[self.fitted_classes_].mean(axis=0, keepdims=True)
        means = class_means(np.swapaxes(x, 1, 2), labels, [np.arange(len(x))], n_classes)[0][0]
        counts = np.bincount(labels, minlength=n_classes).astype(float)
        return estimate_latency(
            z, means, counts, float(self.ridge_[0]), samples_for(BIN_S, self.sfreq), self._max_shift()
        )

    def _subject_mixings(
        self, parts: list[np.ndarray], labels: np.ndarray
    ) -> tuple[list[np.ndarray], list[float]]:
        """A subject's mixings and residual variances from its parts (least squares where every
        label is known, else expectation-maximisation)."""
        zs, ridge = self._time_courses(), float(self.ridge_[0])
        if np.all(labels >= 0):
            mixings = [subject_mixing(z, part, labels, ridge) for z, part in zip(zs, parts, strict=True)]
            noise_vars = [
                float(np.mean((part - (z @ a)[labels]) ** 2)) if part.size else 1.0
                for z, part, a in zip(zs, parts, mixings, strict=True)
            ]
            return mixings, noise_vars
        return infer_mixing(zs, parts, labels, ridge, self.temperature_)

    def _max_shift(self) -> int:
        """The latency search's reach in samples (0: no search)."""
        return int(round(self.max_latency_s * self.sfreq))

    def selection_report(self) -> dict:
        """How the components and the ridge were chosen (:attr:`selection_`) and what was chosen, for reports."""
        check_is_fitted(self)
        return {
            **getattr(self, "selection_", {}),
            "chosen": {
                "components": int(self.time_courses_.shape[2]),
                "power_components": int(self.power_time_courses_.shape[2]),
                "ridge": float(self.ridge_[0]),
                "latency_ms": round(1000.0 * float(self.latency_[0]) / self.sfreq, 1),
                "trial_shift_ms": round(1000.0 * float(self.trial_shift_[0]) / self.sfreq, 1),
                "temperatures": dict(zip(PARTS, map(float, self.temperature_), strict=True)),
            },
        }

    def _choose(
        self, parts: list[np.ndarray], labels: np.ndarray, groups: list[np.ndarray], n_classes: int, evoked_at
    ) -> tuple[list[int], float, int, dict[str, Any]]:
        """``([K_evoked, K_power], ridge, trial_shift, how)``: the given values, the defaults, or the
        best held-out-source scores (the evoked K and the ridge first, then the trial shift, then the
        power K with them). ``evoked_at(rows, extra)`` is the evoked part of epochs ``rows`` read
        ``extra`` samples later."""
        evoked, power = parts
        grids = [
            component_grid(self.n_components, COMPONENT_GRID, k_max(evoked, n_classes)),
            component_grid(self.power_components, POWER_COMPONENT_GRID, k_max(power, n_classes)),
        ]
        ridges = list(RIDGE_GRID) if self.ridge == "auto" else [float(self.ridge)]
        trial_shifts = self._trial_shift_grid()
        if all(len(g) == 1 for g in grids) and len(ridges) == 1:
            return [g[0] for g in grids], ridges[0], self._default_trial_shift(), {"how": "given"}
        if len(groups) < MIN_SELECTION_SUBJECTS:
            ks = [
                g[0] if given != "auto" else min(DEFAULT_COMPONENTS, k_max(part, n_classes))
                for g, given, part in zip(
                    grids, (self.n_components, self.power_components), parts, strict=True
                )
            ]
            ridge = ridges[0] if self.ridge != "auto" else DEFAULT_RIDGE
            return (
                ks,
                ridge,
                self._default_trial_shift(),
                {"how": f"defaults: fewer than {MIN_SELECTION_SUBJECTS} subjects to choose with"},
            )
        held_out = [self._held_out(parts, labels, groups, held, n_classes) for held in range(len(groups))]
        scores = np.zeros((len(grids[0]), len(ridges)))
        for i, k in enumerate(grids[0]):
            for j, ridge in enumerate(ridges):
                scores[i, j] = np.mean([h.top1(h.decision(0, k, ridge)) for h in held_out])
        i, j = np.unravel_index(np.argmax(scores), scores.shape)  # the first best: the smallest K
        k_evoked, ridge = grids[0][i], ridges[j]
        # Each test epoch's evoked decisions at every shift up to the largest candidate.
        reach = trial_shifts[-1]
        shifted = [h.shifted_decisions(k_evoked, ridge, reach, evoked_at) for h in held_out]
        shift_scores = [
            float(
                np.mean(
                    [
                        h.top1(d[reach - r : reach + r + 1].max(axis=0))
                        for h, d in zip(held_out, shifted, strict=True)
                    ]
                )
            )
            for r in trial_shifts
        ]
        trial_shift = trial_shifts[int(np.argmax(shift_scores))]  # the first best: the smallest
        evoked_decisions = [d[reach - trial_shift : reach + trial_shift + 1].max(axis=0) for d in shifted]
        power_scores = [
            float(
                np.mean(
                    [
                        h.top1(d + h.decision(1, k, ridge))
                        for h, d in zip(held_out, evoked_decisions, strict=True)
                    ]
                )
            )
            for k in grids[1]
        ]
        k_power = grids[1][int(np.argmax(power_scores))]
        temperatures = fit_temperatures(
            [
                np.concatenate(evoked_decisions),
                np.concatenate([h.decision(1, k_power, ridge) for h in held_out]),
            ],
            np.concatenate([h.y_test for h in held_out]),
        )
        return (
            [k_evoked, k_power],
            ridge,
            trial_shift,
            {
                "how": "leave-one-source-subject-out",
                "trials_per_class": SELECTION_TRIALS_PER_CLASS,
                "components": grids[0],
                "ridges": ridges,
                "top1": scores.round(4).tolist(),
                "trial_shifts_ms": [round(1000.0 * r / self.sfreq, 1) for r in trial_shifts],
                "trial_shift_top1": np.round(shift_scores, 4).tolist(),
                "power_components": grids[1],
                "power_top1": np.round(power_scores, 4).tolist(),
                "temperatures": temperatures,
            },
        )

    def _held_out(
        self, parts: list[np.ndarray], labels: np.ndarray, groups: list[np.ndarray], held: int, n_classes: int
    ) -> HeldOutSource:
        others = [g for i, g in enumerate(groups) if i != held]
        calibration, test = first_per_class(labels[groups[held]], SELECTION_TRIALS_PER_CLASS)
        return HeldOutSource(
            means=[class_means(part, labels, others, n_classes) for part in parts],
            rows=groups[held],
            parts=[part[groups[held]] for part in parts],
            y=labels[groups[held]],
            calibration=calibration,
            test=test,
            seed=self.seed,
        )

    def _trial_shift_grid(self) -> list[int]:
        """The trial shifts (samples) to choose from: the given one, or the grid's."""
        if self.trial_shift_s != "auto":
            return [self._samples(float(self.trial_shift_s))]
        return sorted({self._samples(s) for s in TRIAL_SHIFT_GRID_S})

    def _default_trial_shift(self) -> int:
        """The trial shift (samples) where none is chosen: the given one, or the default."""
        return (
            self._trial_shift_grid()[0]
            if self.trial_shift_s != "auto"
            else self._samples(DEFAULT_TRIAL_SHIFT_S)
        )

    def _samples(self, seconds: float) -> int:
        if not (np.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"trial_shift_s must be 'auto' or a duration >= 0 in seconds, got {seconds!r}")
        return int(round(seconds * self.sfreq))

    def _time_courses(self) -> list[np.ndarray]:
        return [self.time_courses_, self.power_time_courses_]

    def _set_classifier(self, noise_vars: list[float], fitted: np.ndarray) -> None:
        self.noise_var_ = np.array([max(float(v), 1e-12) for v in noise_vars])
        coefs, intercept = [], np.zeros(len(fitted))
        mixings = (self.mixing_, self.power_mixing_)
        for z, a, noise_var, temperature in zip(
            self._time_courses(), mixings, self.noise_var_, self.temperature_, strict=True
        ):
            templates = (z @ a)[fitted].reshape(len(fitted), -1)
            coefs.append(templates / (noise_var * temperature))
            intercept -= 0.5 * np.sum(templates**2, axis=1) / (noise_var * temperature)
        self.coef_, self.intercept_ = np.concatenate(coefs, axis=1), intercept
        self.fitted_classes_ = np.asarray(fitted, dtype=np.int64)

    @classmethod
    def from_bundle(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> SharedTemplates:
        if "power_time_courses" not in arrays and "time_courses" in arrays:
            raise ValueError(
                "these templates were saved before the templates had a power part (2026-12-05): "
                "run rtdecode pretrain / calibrate again"
            )
        if "latency" not in arrays:  # templates saved before subjects had latencies read them at 0
            arrays = {**arrays, "latency": np.zeros(1, dtype=np.int64)}
        if "trial_shift" not in arrays:  # ... and before epochs had their own latency, at 0
            arrays = {**arrays, "trial_shift": np.zeros(1, dtype=np.int64)}
        return super().from_bundle(config, arrays)

    # -- decoding -------------------------------------------------------------------------------

    @staticmethod
    def _epochs(X: np.ndarray) -> np.ndarray:
        # Kept in their dtype (float32 from calibration): a pooled base of 40 classes x 50 images x
        # 4 subjects is 1.8 GB as float32 and would double as float64 before the binning shrinks it.
        x = np.asarray(X)
        if x.ndim != 3:
            raise ValueError(f"X has shape {x.shape}: pass epochs (n_epochs, n_channels, n_times)")
        return x

    def _parts(self, x: np.ndarray, shifts: np.ndarray, with_power: bool = True) -> list[np.ndarray]:
        """Epochs ``(n, n_channels, n_times)``, each read ``shifts[i]`` samples later
        (:func:`~rtdecode.models.shared_response.shift_time`) -> the evoked part ``(n, n_bins,
        n_channels)`` (4 ms bins) and the power part ``(n, n_bands * n_power_bins, n_channels)``
        (none without :attr:`power_bands` or with ``with_power=False``), float32."""
        width = samples_for(BIN_S, self.sfreq)
        power_width = samples_for(self.power_bin_s, self.sfreq)
        bands = [tuple(b) for b in self.power_bands] if self.power_bands is not None and with_power else []
        evoked, power = [], []
        for i in range(0, len(x), BIN_CHUNK):
            chunk = np.swapaxes(x[i : i + BIN_CHUNK], 1, 2)
            chunk_shifts = shifts[i : i + BIN_CHUNK]
            if np.any(chunk_shifts):
                chunk = np.array(chunk)
                for latency in np.unique(chunk_shifts):
                    rows = chunk_shifts == latency
                    chunk[rows] = shift_time(chunk[rows], int(latency))
            evoked.append(bin_time(chunk, width).astype(np.float32))
            power.append(band_power(chunk, self.sfreq, bands, power_width))
        if not evoked:
            return [
                np.zeros((0, x.shape[2] // width, x.shape[1]), dtype=np.float32),
                np.zeros((0, len(bands) * (x.shape[2] // power_width), x.shape[1]), dtype=np.float32),
            ]
        return [np.concatenate(evoked), np.concatenate(power)]

    def _features(self, x: np.ndarray) -> np.ndarray:
        parts = self._parts(x, np.full(len(x), int(self.latency_[0])))
        for part, z, what in zip(parts, self._time_courses(), PARTS, strict=True):
            n_bins, n_channels = z.shape[1], self.mixing_.shape[1]
            if part.shape[1:] != (n_bins, n_channels):
                raise ValueError(
                    f"the {what} templates are {n_bins} bins x {n_channels} channels, the epochs give "
                    f"{part.shape[1]} x {part.shape[2]}"
                )
        return np.concatenate([part.reshape(len(part), -1) for part in parts], axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n_epochs, n_classes)`` of epochs ``(n_epochs, n_channels, n_times)``."""
        return decision_proba(self.decision_function(X), self.fitted_classes_.astype(int), len(self.classes_))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The linear classifier's decisions ``(n_epochs, n_fitted)``, the evoked part's term at each
        epoch's best shift (up to :attr:`trial_shift_` samples either way) for each class."""
        check_is_fitted(self)
        x = self._epochs(X)
        features = self._features(x)
        decision = features @ self.coef_.T + self.intercept_
        reach = int(self.trial_shift_[0])
        if reach:
            width = self.time_courses_.shape[1] * self.mixing_.shape[1]
            evoked_coef = self.coef_[:, :width]
            rest = decision - features[:, :width] @ evoked_coef.T
            latency = int(self.latency_[0])
            for extra in range(-reach, reach + 1):
                if extra:
                    evoked = self._parts(x, np.full(len(x), latency + extra), with_power=False)[0]
                    decision = np.maximum(decision, rest + evoked.reshape(len(x), -1) @ evoked_coef.T)
        return decision

    def _validate(self) -> None:
        width = 0
        for z, a, what in zip(self._time_courses(), (self.mixing_, self.power_mixing_), PARTS, strict=True):
            if a.shape[0] != z.shape[2]:
                raise ValueError(
                    f"the {what} mixing has {a.shape[0]} components, its time courses {z.shape[2]}"
                )
            width += z.shape[1] * a.shape[1]
        if self.latency_.shape != (1,):
            raise ValueError(f"latency must hold one value, got shape {self.latency_.shape}")
        if self.trial_shift_.shape != (1,) or self.trial_shift_[0] < 0:
            raise ValueError(f"trial_shift must hold one value >= 0, got {self.trial_shift_}")
        if self.noise_var_.shape != (2,) or self.temperature_.shape != (2,):
            raise ValueError("noise_var and temperature must hold one value per part (evoked, power)")
        if self.coef_.shape[1] != width or self.coef_.shape[0] != len(self.intercept_):
            raise ValueError(f"coef has shape {self.coef_.shape}, the templates give {width} features")
