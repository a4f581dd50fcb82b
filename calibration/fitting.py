"""Every model of a calibration run, fitted on one block split, as the model registry says.

A run prepares the recording twice, once per preprocessing ("view"): the paper's (notch, 14-70 Hz,
20-460 ms; the student's STFT, the time-series networks and the paper's baselines) and an ERP one
(notch, causal 0.5-30 Hz band-pass, -100..800 ms; the classical decoders). Both are
the causal :class:`~rtdecode.signal.filters.SegmentedFilter` the live decoder runs, and each model's
input is computed by the function that serves it (:func:`rtdecode.models.serving.model_input`), so
whichever model wins is served on exactly the features it was trained on.

Which models exist, what they read and how they are fitted comes from
:mod:`rtdecode.models.registry`: each spec names its fit hook, and :data:`FIT_HOOKS` here are
those hooks (one per kind of fitting, not per model: a new network or classical model needs none).
:func:`fit_split` trains the paper's student, the baselines and the candidates on the training
blocks of one split (early stopping on its validation blocks) and returns their probabilities on
the validation and test blocks; a model that fails is recorded, never fatal (except the paper's
student, the reference every run must have).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration.baselines import fit_logreg
from calibration.classical import classical_model
from calibration.epochs import EpochSet
from calibration.networks import fit_network, network_inputs
from calibration.train import TrainConfig, predict_proba
from rtdecode.config import PipelineConfig
from rtdecode.models import registry
from rtdecode.models.registry import PAPER_MODEL, ModelSpec
from rtdecode.models.student import StudentConfig
from rtdecode.signal.standardize import Standardizer

log = logging.getLogger(__name__)

# The two preprocessings (the registry's InputView.preprocessing values).
PAPER, ERP = "paper", "erp"
# Pipelines compared with the paper's student (all, and those compared by default); the presets.
CANDIDATES = registry.candidates()
DEFAULT_CANDIDATES = registry.candidates(default_only=True)
PRESETS = registry.presets()
# The ERP view's training-epoch rejection never leaves out more than this share of them.
MAX_TRAIN_REJECT = 0.2


def candidate_names(names: Iterable[str]) -> tuple[str, ...]:
    """Registry names of candidates given by their names or older names.

    Raises
    ------
    ValueError
        A name that is not a candidate (the message lists them).
    """
    resolved = tuple(registry.canonical(n) for n in names)
    unknown = sorted(set(resolved) - set(CANDIDATES))
    if unknown:
        raise ValueError(f"unknown candidates {unknown}; choose from {list(CANDIDATES)}")
    return resolved


def preset_name(preset: str) -> str:
    """``"auto"`` or the registry name of a preset given by its name or an older name.

    Raises
    ------
    ValueError
        Not a preset.
    """
    name = preset if preset == "auto" else registry.canonical(preset)
    if name not in PRESETS:
        raise ValueError(
            f"preset must be one of {PRESETS} ({registry.aliases_help(PRESETS)}), got {preset!r}"
        )
    return name


def erp_pipeline(
    paper: PipelineConfig,
    band_hz: tuple[float, float] = (0.5, 30.0),
    window_s: tuple[float, float] = (-0.1, 0.8),
) -> PipelineConfig:
    """The ERP view's preprocessing: the paper's notch, a causal ``band_hz`` band-pass, no drift guard,
    epochs ``window_s`` around onset (the evoked P1/N170/P300 live below 14 Hz)."""
    return paper.with_overrides(
        filter={"band_low_hz": band_hz[0], "band_high_hz": band_hz[1], "drift_highpass_hz": 0.0},
        epoch={"tmin_s": window_s[0], "tmax_s": window_s[1]},
    )


@dataclass
class View:
    """One preprocessing of the recording and which of its epochs train, validate and test.

    Attributes
    ----------
    pipeline : PipelineConfig
    epochs : EpochSet
    train, val, test : np.ndarray, int
        Indices into ``epochs`` of the split's blocks.
    train_reject_ptp_uv : float
        Training epochs whose largest channel peak-to-peak exceeds this (microvolts, after
        filtering) are left out of training (blinks, movement: the field's ERP practice); at
        most :data:`MAX_TRAIN_REJECT` of them, the largest first. 0 keeps all. Validation and
        test epochs are never rejected: the scores cover every trial a live session would see.
    standardizer : Standardizer
        Fitted on the training epochs.
    rejected : int
        Training epochs left out.
    """

    pipeline: PipelineConfig
    epochs: EpochSet
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_reject_ptp_uv: float = 0.0
    standardizer: Standardizer = field(init=False)
    rejected: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        kept = self._clean(self.train)
        self.rejected = len(self.train) - len(kept)
        self.train = kept
        # The standardizer takes the field's (n, n_channels, n_times); epochs are (n, n_samples, n_channels).
        self.standardizer = Standardizer().fit(np.swapaxes(self.epochs.epochs[self.train], 1, 2))

    def _clean(self, index: np.ndarray) -> np.ndarray:
        """``index`` without its artifact epochs (see ``train_reject_ptp_uv``)."""
        if self.train_reject_ptp_uv <= 0 or len(index) == 0:
            return index
        ptp = np.ptp(self.epochs.epochs[index], axis=1).max(axis=1)
        threshold = max(self.train_reject_ptp_uv, float(np.quantile(ptp, 1.0 - MAX_TRAIN_REJECT)))
        return index[ptp <= threshold]

    def tracking_standardizer(self) -> Standardizer:
        """The standardizer with the training epochs' mean covariance recorded (``align="track"``):
        the same transform, and what live adaptation starts from (the bundle's)."""
        return Standardizer(align="track").fit(np.swapaxes(self.epochs.epochs[self.train], 1, 2))

    def train_and_val(self) -> np.ndarray:
        """Training and validation epochs together, artifact epochs left out (a final fit's data)."""
        return self._clean(np.union1d(self.train, self.val))

    @classmethod
    def of(
        cls,
        pipeline: PipelineConfig,
        epochs: EpochSet,
        train_blocks,
        val_blocks,
        test_blocks,
        train_reject_ptp_uv: float = 0.0,
    ) -> View:
        """The view whose parts are the epochs of the given blocks."""

        def part(blocks) -> np.ndarray:
            return np.flatnonzero(np.isin(epochs.blocks, list(blocks)))

        return cls(
            pipeline, epochs, part(train_blocks), part(val_blocks), part(test_blocks), train_reject_ptp_uv
        )

    @property
    def y(self) -> np.ndarray:
        return self.epochs.labels


@dataclass
class Fitted:
    """One model trained on one split.

    Attributes
    ----------
    name : str
        Its run name in reports: the registry name, ``+kd`` when distilled.
    view : str
        ``"paper"`` or ``"erp"``: the preprocessing it takes.
    model : torch.nn.Module, ClassicalModel or None
        The servable model (None for a baseline the bundle cannot hold).
    model_config : network config or None
    val_proba, test_proba : np.ndarray, shape (n_val or n_test, n_classes)
    history : dict or None
        Training curves of a network.
    """

    name: str
    view: str
    model: Any
    model_config: Any
    val_proba: np.ndarray
    test_proba: np.ndarray
    history: dict[str, Any] | None = None


@dataclass
class SplitOutcome:
    """Everything :func:`fit_split` produced: fitted models by name, failures, the paper model's name."""

    fitted: dict[str, Fitted]
    failures: dict[str, str]
    main: str


def _proba(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, n_classes: int) -> np.ndarray:
    return predict(x) if len(x) else np.zeros((0, n_classes), dtype=np.float32)


@dataclass
class _Split:
    """One split's views, settings and model inputs (each view's inputs computed once, freed when done)."""

    views: dict[str, View]
    n_classes: int
    train: TrainConfig
    options: dict[str, Any]
    teacher_probs: np.ndarray | None
    seed: int
    inputs_by_view: dict[str, np.ndarray] = field(default_factory=dict)

    def view(self, spec: ModelSpec) -> View:
        name = spec.view.preprocessing
        if name not in self.views:
            raise ValueError(f"the {name.upper()} view could not be prepared (see the notes)")
        return self.views[name]

    def inputs(self, spec: ModelSpec) -> np.ndarray:
        if spec.input not in self.inputs_by_view:
            view = self.view(spec)
            self.inputs_by_view[spec.input] = network_inputs(
                spec.input, view.epochs.epochs, view.standardizer, view.pipeline
            )
        return self.inputs_by_view[spec.input]

    def keep_only(self, views: set[str]) -> None:
        for name in set(self.inputs_by_view) - views:
            del self.inputs_by_view[name]


def _fit_network(spec: ModelSpec, split: _Split, distill: bool) -> Fitted:
    """The ``"network"`` hook: any network of the registry, through the one training loop."""
    view = split.view(spec)
    x, n_classes = split.inputs(spec), split.n_classes
    model, history = fit_network(
        spec,
        x,
        view.y,
        view.train,
        view.val,
        n_classes,
        split.train,
        split.teacher_probs if distill else None,
        split.options,
        sfreq=view.pipeline.sfreq,
    )
    model = model.cpu().eval()
    return Fitted(
        registry.run_name(spec.name, distill),
        spec.view.preprocessing,
        model if spec.servable else None,
        model.config if spec.servable else None,
        predict_proba(model, x[view.val]),
        _proba(lambda v: predict_proba(model, v), x[view.test], n_classes),
        history.to_dict(),
    )


def _fit_classical(spec: ModelSpec, split: _Split, distill: bool) -> Fitted:
    """The ``"classical"`` hook: scored on the validation blocks as fitted on the training blocks;
    then, needing no early stopping, refitted on training + validation blocks for the test blocks
    and the bundle (the test blocks are never seen)."""
    view = split.view(spec)
    if not (len(view.train) and len(view.val)):
        raise ValueError(
            f"the {spec.view.preprocessing.upper()} epochs ({view.pipeline.epoch.tmin_s:g}.."
            f"{view.pipeline.epoch.tmax_s:g} s) leave {len(view.train)} training and {len(view.val)} "
            "validation epochs"
        )
    x, y, n_classes, sfreq = split.inputs(spec), view.y, split.n_classes, view.pipeline.sfreq
    model_class = spec.classical_class()
    model = classical_model(model_class, y[view.train], n_classes, sfreq).fit(x[view.train], y[view.train])
    val_proba = model.predict_proba(x[view.val])
    fit_all = view.train_and_val()
    model = classical_model(model_class, y[fit_all], n_classes, sfreq).fit(x[fit_all], y[fit_all])
    return Fitted(
        spec.name,
        spec.view.preprocessing,
        model,
        None,
        val_proba,
        _proba(model.predict_proba, x[view.test], n_classes),
    )


def _fit_logreg(spec: ModelSpec, split: _Split, distill: bool) -> Fitted:
    """The ``"logreg"`` hook: the paper's logistic-regression baselines (never served)."""
    view = split.view(spec)
    x, n_classes = split.inputs(spec), split.n_classes
    proba = fit_logreg(
        spec.name, x[view.train], view.y[view.train], view.pipeline.sfreq, split.seed, n_classes
    )
    return Fitted(
        spec.name,
        spec.view.preprocessing,
        None,
        None,
        proba(x[view.val]),
        _proba(proba, x[view.test], n_classes),
    )


FitHook = Callable[[ModelSpec, _Split, bool], Fitted]
FIT_HOOKS: dict[str, FitHook] = {"network": _fit_network, "classical": _fit_classical, "logreg": _fit_logreg}
"""Calibration's fit hooks, keyed by the names the registry's specs give (``ModelSpec.fit``)."""


def fit_split(
    views: dict[str, View],
    n_classes: int,
    train: TrainConfig,
    student: StudentConfig,
    teacher_probs: np.ndarray | None,
    baselines: tuple[str, ...],
    candidates: tuple[str, ...],
    seed: int = 0,
    include_student: bool = True,
) -> SplitOutcome:
    """Fit the paper's student, the baselines and the candidate pipelines on one split.

    Parameters
    ----------
    views : dict
        ``"paper"`` (required) and ``"erp"`` (needed by the ERP candidates) :class:`View`.
    n_classes : int
    train : TrainConfig
        ``alpha < 1`` with ``teacher_probs`` distils the student.
    student : StudentConfig
        The student's architecture (the 2D CNN baselines share it).
    teacher_probs : np.ndarray, shape (n_paper_epochs, n_classes), or None
    baselines : tuple of str
        Names (or older names) of registry models, from :data:`calibration.calibrate.ALL_BASELINES`;
        the 2D CNN on STFT is an older name of the student: trained without distillation, and
        only when the student itself is distilled.
    candidates : tuple of str
        Names of :data:`CANDIDATES`.
    seed : int
        Seed of the classical baselines.
    include_student : bool
        Train the paper's student (False only for a final refit of another chosen model).

    Returns
    -------
    SplitOutcome
    """
    split = _Split(views, n_classes, train, {"student": student}, teacher_probs, seed)
    distill = teacher_probs is not None and train.alpha < 1.0
    main = registry.run_name(PAPER_MODEL, distill)
    # The order of the report: the student, the baselines in the registry's order, the candidates.
    plan: list[tuple[ModelSpec, bool]] = [(registry.get(PAPER_MODEL), distill)] if include_student else []
    wanted = {registry.canonical(name) for name in baselines}
    plan += [(spec, False) for spec in registry.MODELS.values() if spec.name in wanted]
    plan += [(registry.get(name), False) for name in candidates]
    fitted: dict[str, Fitted] = {}
    failures: dict[str, str] = {}
    for i, (spec, distilled) in enumerate(plan):
        name = registry.run_name(spec.name, distilled)
        if name in fitted or name in failures:
            continue  # e.g. the 2D CNN on STFT (the plain student) when the student is not distilled
        log.info("fitting %s", name)
        hook = FIT_HOOKS[spec.fit]
        if include_student and i == 0:
            fitted[name] = hook(spec, split, distilled)  # the reference: its failure is the run's
        else:
            try:
                fitted[name] = hook(spec, split, distilled)
            except Exception as error:  # noqa: BLE001 - one failing model must not lose the run
                log.exception("%s failed; continuing without it", name)
                failures[name] = f"{type(error).__name__}: {error}"
        split.keep_only({later.input for later, _ in plan[i + 1 :]})
    return SplitOutcome(fitted, failures, main)
