"""Every model of a calibration run, fitted on one block split.

A run prepares the recording twice, once per preprocessing ("view"): the paper's (notch, 14-70 Hz,
20-460 ms; the student's STFT, EEGNet and the paper's baselines) and an ERP one (notch, causal
0.5-30 Hz band-pass, -100..800 ms; the classical xDAWN and LDA decoders). Both are the causal
:class:`~rtdecode.signal.filters.SegmentedFilter` the live decoder runs, so whichever model wins
is served on exactly the features it was trained on. :func:`fit_split` trains every model on the
training blocks of one split (early stopping on its validation blocks) and returns their
probabilities on the validation and test blocks; a model that fails is recorded, never fatal
(except the paper's student, the reference every run must have).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration.baselines import LOGREG_FEATURES, RAW_NETWORKS, fit_logreg, fit_raw_network
from calibration.classical import classical_model
from calibration.epochs import EpochSet
from calibration.train import TrainConfig, predict_proba, seed_everything, train_classifier
from rtdecode.config import PipelineConfig
from rtdecode.models.eegnet import EEGNet, EEGNetConfig
from rtdecode.models.student import StudentCNN, StudentConfig
from rtdecode.signal.preprocess import epoch_features
from rtdecode.signal.standardize import Standardizer

log = logging.getLogger(__name__)

PAPER, ERP = "paper", "erp"
# Candidate pipelines besides the paper's student, by preset name -> the model's name in reports.
CANDIDATES = {"eegnet": "eegnet", "erp_xdawn": "erp_xdawn_ts_lr", "erp_lda": "erp_lda_windowed"}
PRESETS = ("auto", "paper", *CANDIDATES)
_CLASSICAL_KIND = {"erp_xdawn": "xdawn_ts_lr", "erp_lda": "lda_windowed"}
# The ERP view's training-epoch rejection never leaves out more than this share of them.
MAX_TRAIN_REJECT = 0.2
# EEGNet learns with a larger step than the student (braindecode's usual 1e-3).
EEGNET_LR = 1e-3


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
    standardized : np.ndarray, shape (n_epochs, n_samples, n_channels), float32
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
    standardized: np.ndarray = field(init=False)
    rejected: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        kept = self._clean(self.train)
        self.rejected = len(self.train) - len(kept)
        self.train = kept
        # The standardizer takes the field's (n, n_channels, n_times); epochs are (n, n_samples, n_channels).
        self.standardizer = Standardizer().fit(np.swapaxes(self.epochs.epochs[self.train], 1, 2))
        standardized = self.standardizer.transform(np.swapaxes(self.epochs.epochs, 1, 2))
        self.standardized = np.swapaxes(standardized, 1, 2).astype(np.float32)

    def _clean(self, index: np.ndarray) -> np.ndarray:
        """``index`` without its artifact epochs (see ``train_reject_ptp_uv``)."""
        if self.train_reject_ptp_uv <= 0 or len(index) == 0:
            return index
        ptp = np.ptp(self.epochs.epochs[index], axis=1).max(axis=1)
        threshold = max(self.train_reject_ptp_uv, float(np.quantile(ptp, 1.0 - MAX_TRAIN_REJECT)))
        return index[ptp <= threshold]

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
        Its name in reports (``student_stft``, ``eegnet``, ``erp_xdawn_ts_lr``...).
    view : str
        ``"paper"`` or ``"erp"``: the preprocessing it takes.
    model : torch.nn.Module, ClassicalModel or None
        The servable model (None for a baseline the bundle cannot hold).
    model_config : StudentConfig, EEGNetConfig or None
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
        With ``n_channels`` and ``n_classes`` set.
    teacher_probs : np.ndarray, shape (n_paper_epochs, n_classes), or None
    baselines : tuple of str
        Names from :data:`calibration.calibrate.ALL_BASELINES`.
    candidates : tuple of str
        Keys of :data:`CANDIDATES`.
    seed : int
        Seed of the classical baselines.
    include_student : bool
        Train the paper's student (False only for a final refit of another chosen model).

    Returns
    -------
    SplitOutcome
    """
    paper = views[PAPER]
    y = paper.y
    fitted: dict[str, Fitted] = {}
    failures: dict[str, str] = {}
    features = epoch_features(paper.epochs.epochs, paper.standardizer, paper.pipeline)

    def network(
        name: str, model: Any, config: Any, x: np.ndarray, alpha: float, soft, lr: float | None = None
    ) -> None:
        changes = {"alpha": alpha} if lr is None else {"alpha": alpha, "lr": lr}
        history = train_classifier(
            model,
            x[paper.train],
            y[paper.train],
            x[paper.val],
            y[paper.val],
            TrainConfig(**{**train.to_dict(), **changes}),
            None if soft is None else soft[paper.train],
            description=name,
        )
        fitted[name] = Fitted(
            name,
            PAPER,
            model.cpu().eval(),
            config,
            predict_proba(model, x[paper.val]),
            _proba(lambda v: predict_proba(model, v), x[paper.test], n_classes),
            history.to_dict(),
        )

    def student_run(name: str, x: np.ndarray, alpha: float, soft) -> None:
        seed_everything(train.seed)  # same initial weights for every variant
        network(name, StudentCNN(student), student, x, alpha, soft)

    def attempt(name: str, run: Callable[[], None]) -> None:
        log.info("fitting %s", name)
        try:
            run()
        except Exception as error:  # noqa: BLE001 - one failing model must not lose the run
            log.exception("%s failed; continuing without it", name)
            failures[name] = f"{type(error).__name__}: {error}"
            fitted.pop(name, None)

    distill = teacher_probs is not None and train.alpha < 1.0
    main = "student_kd_stft" if distill else "student_stft"
    if include_student:
        student_run(main, features, train.alpha if distill else 1.0, teacher_probs)
    if distill and "cnn2d_stft" in baselines:
        attempt("cnn2d_stft", lambda: student_run("cnn2d_stft", features, 1.0, None))
    if "cnn2d_wavelet" in baselines:
        wavelet = paper.pipeline.with_overrides(tfd={"method": "wavelet"})
        attempt(
            "cnn2d_wavelet",
            lambda: student_run(
                "cnn2d_wavelet", epoch_features(paper.epochs.epochs, paper.standardizer, wavelet), 1.0, None
            ),
        )
    x = paper.standardized
    sfreq = paper.pipeline.sfreq
    for name in baselines:
        if name in LOGREG_FEATURES:

            def run_logreg(name: str = name) -> None:
                proba = fit_logreg(name, x[paper.train], y[paper.train], sfreq, seed, n_classes)
                fitted[name] = Fitted(
                    name, PAPER, None, None, proba(x[paper.val]), _proba(proba, x[paper.test], n_classes)
                )

            attempt(name, run_logreg)
        elif name in RAW_NETWORKS:

            def run_raw(name: str = name) -> None:
                proba, history, _ = fit_raw_network(
                    name, x[paper.train], y[paper.train], x[paper.val], y[paper.val], n_classes, train, sfreq
                )
                fitted[name] = Fitted(
                    name,
                    PAPER,
                    None,
                    None,
                    proba(x[paper.val]),
                    _proba(proba, x[paper.test], n_classes),
                    history.to_dict(),
                )

            attempt(name, run_raw)

    for candidate in candidates:
        name = CANDIDATES[candidate]
        if candidate == "eegnet":

            def run_eegnet() -> None:
                seed_everything(train.seed)
                config = EEGNetConfig(n_channels=x.shape[2], n_classes=n_classes, n_samples=x.shape[1])
                network("eegnet", EEGNet(config), config, x, 1.0, None, lr=EEGNET_LR)

            attempt(name, run_eegnet)
        else:

            def run_classical(candidate: str = candidate, name: str = name) -> None:
                if ERP not in views:
                    raise ValueError("the ERP view could not be prepared (see the notes)")
                erp = views[ERP]
                if not (len(erp.train) and len(erp.val)):
                    raise ValueError(
                        f"the ERP epochs ({erp.pipeline.epoch.tmin_s:g}..{erp.pipeline.epoch.tmax_s:g} s) leave "
                        f"{len(erp.train)} training and {len(erp.val)} validation epochs"
                    )
                # Classical models take the field's (n, n_channels, n_times).
                xe = np.swapaxes(erp.standardized, 1, 2)
                kind, sfreq = _CLASSICAL_KIND[candidate], erp.pipeline.sfreq
                # Scored on the validation blocks as fitted on the training blocks; then, needing no
                # early stopping, refitted on training + validation blocks for the test blocks and
                # the bundle (the test blocks are never seen).
                y_train = erp.y[erp.train]
                model = classical_model(kind, y_train, n_classes, sfreq).fit(xe[erp.train], y_train)
                val_proba = model.predict_proba(xe[erp.val])
                fit_all = erp.train_and_val()
                y_all = erp.y[fit_all]
                model = classical_model(kind, y_all, n_classes, sfreq).fit(xe[fit_all], y_all)
                fitted[name] = Fitted(
                    name, ERP, model, None, val_proba, _proba(model.predict_proba, xe[erp.test], n_classes)
                )

            attempt(name, run_classical)
    return SplitOutcome(fitted, failures, main)
