"""A whole calibration run: recording + stimulus images -> evaluated, saved model bundle.

Steps: the notch is set from the recording's mains frequency; epochs through the live filter
bank, once with the paper's preprocessing and once with the ERP one; one block-respecting split,
or leave-one-block-out folds for recordings of few blocks; on each, the teacher's soft targets
(when stimulus images are given), the student, the baselines asked for (the student without
distillation among them) and the candidate pipelines (:mod:`calibration.fitting`); every model is
scored on the held-out blocks (with the simulator's oracle when the data is simulated); the model with the best
validation score (or the preset's) goes into the bundle, refitted on all blocks after
cross-validation; a report and the bundle are written. A failing comparison model is reported
as failed and never loses the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.baselines import LOGREG_FEATURES, RAW_NETWORKS
from calibration.epochs import EpochSet, epochs_from_recording
from calibration.fitting import (
    CANDIDATES,
    DEFAULT_CANDIDATES,
    ERP,
    PAPER,
    Fitted,
    SplitOutcome,
    View,
    candidate_names,
    erp_pipeline,
    fit_split,
    preset_name,
)
from calibration.metrics import class_weights, evaluate_predictions, model_warnings, summarize_folds
from calibration.notch import choose_notch
from calibration.report import (
    blocks_text,
    plot_confusion,
    plot_learning_curves,
    report_header,
    report_notes,
    write_report,
)
from calibration.soft_targets import describe_teacher
from calibration.splits import Split, block_split, leave_one_block_out
from calibration.train import TrainConfig
from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import ModelBundle, save_bundle
from rtdecode.io.recording import Recording
from rtdecode.models import registry
from rtdecode.models.registry import PAPER_MODEL, display_name
from rtdecode.models.student import StudentConfig, count_parameters

log = logging.getLogger(__name__)

ALL_BASELINES = (*LOGREG_FEATURES, *RAW_NETWORKS, "cnn2d_stft", "cnn2d_wavelet")
SELECTION_METRIC = "balanced_accuracy"
ORACLE = "oracle (simulator ground truth)"
EVALUATIONS = ("auto", "split", "lobo")
# Recordings with at most this many blocks are cross-validated by default: one held-out block of
# a six-block session is ~200 trials, +-0.07 on top-1, too few to tell models apart.
LOBO_MAX_BLOCKS = 8


@dataclass(frozen=True)
class CalibrationConfig:
    """Settings of a calibration run (defaults: the paper's, plus the candidate pipelines).

    Attributes
    ----------
    pipeline : PipelineConfig
        The paper's preprocessing (the student's), stored in the bundle when it wins.
    train : TrainConfig
        Optimization of the student (``alpha``, ``temperature``...) and the neural models.
    student : StudentConfig
        Architecture; ``n_channels`` and ``n_classes`` are set from the data.
    teacher_model, teacher_pretrained : str
        ``--teacher`` and ``--teacher-weights`` (see :mod:`calibration.teacher_choice`): ``"auto"``
        picks the best pretrained encoder on this machine; random weights only when asked for.
    soft_target_folds : int
        k of the k-fold over images that makes the teacher's targets out-of-fold.
    test_fraction, val_fraction : float
        Share of blocks held out for test and validation.
    split_seed : int
    baselines : tuple of str
        Which of :data:`ALL_BASELINES` to run (empty: none).
    mains : {"auto", "config", "50", "60"}
        How the notch is chosen (:func:`calibration.notch.choose_notch`): ``"auto"`` follows
        the mains frequency found in the recording's spectrum.
    candidates : tuple of str
        Pipelines compared with the paper's student on the validation blocks: registry names
        (or older names) of :data:`calibration.fitting.CANDIDATES`; by default
        :data:`calibration.fitting.DEFAULT_CANDIDATES`. Stored as registry names.
    preset : str
        ``"auto"`` keeps the candidate with the best validation balanced accuracy (the paper's
        student on ties); the paper's model (:data:`~rtdecode.models.registry.PAPER_MODEL`, or
        ``"paper"``) or a candidate's name keeps that one whatever the scores. Stored as a
        registry name.
    erp_band_hz, erp_window_s : tuple of float
        The ERP view's causal band-pass and epoch window (seconds around onset).
    erp_reject_ptp_uv : float
        The ERP decoders train without epochs whose peak-to-peak exceeds this many microvolts
        (at most 20 % of them; 0 keeps all); they are still tested on every epoch.
    evaluation : {"auto", "split", "lobo"}
        ``"split"``: one block split (``test_fraction`` / ``val_fraction``). ``"lobo"``:
        leave-one-block-out cross-validation (mean and 95 % interval per model), then the chosen
        model is refitted on all blocks for the bundle. ``"auto"``: ``"lobo"`` for recordings of
        at most :data:`LOBO_MAX_BLOCKS` blocks.
    """

    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    teacher_model: str = "auto"
    teacher_pretrained: str | None = None
    soft_target_folds: int = 5
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    split_seed: int = 0
    baselines: tuple[str, ...] = ALL_BASELINES
    mains: str = "auto"
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES
    preset: str = "auto"
    erp_band_hz: tuple[float, float] = (0.5, 30.0)
    erp_window_s: tuple[float, float] = (-0.1, 0.8)
    erp_reject_ptp_uv: float = 100.0
    evaluation: str = "auto"

    def __post_init__(self) -> None:
        # Older names become the registry's, so reports name models one way.
        object.__setattr__(self, "preset", preset_name(self.preset))
        object.__setattr__(self, "candidates", candidate_names(self.candidates))
        if self.preset not in ("auto", PAPER_MODEL) and self.preset not in self.candidates:
            raise ValueError(f"preset {self.preset!r} must also be among the candidates {self.candidates}")


@dataclass
class CalibrationResult:
    """What a run produced: the bundle, the report dict, and where they were written."""

    bundle: ModelBundle
    report: dict[str, Any]
    out_dir: Path


def calibrate(
    recording: Recording,
    image_folder: str | Path | None,
    out_dir: str | Path,
    config: CalibrationConfig | None = None,
    started: float | None = None,
) -> CalibrationResult:
    """Train and evaluate a subject-specific decoder and save it as a bundle.

    Parameters
    ----------
    recording : Recording
        A calibration session with JSON stimulus markers (``label``, ``image``, ``block``).
    image_folder : path or None
        The stimulus images (``<image_id>.png`` anywhere below it). ``None`` trains without
        distillation (``alpha = 1``) and says so in the report.
    out_dir : path
        Receives ``model/`` (the bundle), ``report.md``, ``report.json`` and the plots.
    config : CalibrationConfig, optional
    started : float, optional
        ``time.perf_counter()`` when the recording ended (the command's start, before reading it):
        the report's seconds to a served model count from it; default: this call's start.

    Returns
    -------
    CalibrationResult
    """
    config = config or CalibrationConfig()
    started = time.perf_counter() if started is None else started
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = config.pipeline
    if abs(pipeline.sfreq - recording.sfreq) > 1e-6:
        pipeline = PipelineConfig.from_dict({**pipeline.to_dict(), "sfreq": recording.sfreq})
    notes: list[str] = []
    pipeline, mains_report = choose_notch(recording, pipeline, config.mains, notes)

    epochs = epochs_from_recording(recording, pipeline)
    n_classes = len(epochs.class_names)
    erp = _erp_epochs(recording, pipeline, epochs, config, notes)
    y = epochs.labels
    teacher_report, teacher_probs = teacher_targets(epochs, image_folder, n_classes, config, notes)
    if not config.baselines:
        notes.append(
            "no comparison baselines trained (the default): --baselines quick adds the student without "
            "distillation and logistic regression, --baselines all the paper's eight"
        )
    student_config = StudentConfig(
        **{**config.student.to_dict(), "n_channels": recording.n_channels, "n_classes": n_classes}
    )

    def fit_on(split: Split, **changes: Any) -> tuple[dict[str, View], SplitOutcome]:
        views = _views(
            pipeline,
            epochs,
            erp,
            split.train_blocks,
            split.val_blocks,
            split.test_blocks,
            config.erp_reject_ptp_uv,
        )
        kwargs: dict[str, Any] = {"baselines": config.baselines, "candidates": config.candidates, **changes}
        outcome = fit_split(
            views,
            n_classes,
            config.train,
            student_config,
            teacher_probs,
            seed=config.split_seed,
            **kwargs,
        )
        return views, outcome

    evaluation = _evaluation_mode(config.evaluation, epochs.blocks)
    if evaluation == "split":
        split = block_split(epochs.blocks, config.test_fraction, config.val_fraction, config.split_seed)
        folds = [split]
    else:
        folds = leave_one_block_out(epochs.blocks)
        notes.append(
            f"leave-one-block-out cross-validation over {len(folds)} blocks: each block is the test set once "
            "(the next block validates); results are the mean over folds with a 95 % t-interval; the bundle's "
            "model is refitted on all blocks"
        )
    n_blocks, block_source = len(np.unique(epochs.blocks)), recording.blocks()[1]
    log.info(
        "%d epochs (%d dropped), %d classes, %d blocks (%s); evaluation: %s",
        len(epochs),
        sum(epochs.dropped.values()),
        n_classes,
        n_blocks,
        block_source,
        evaluation,
    )
    if block_source != "block markers":
        # No presenter's block markers: say where the split's blocks came from (io.blocks' rule).
        notes.append(f"{n_blocks} blocks from {block_source} (--blocks sets where the runs start)")
    _check_split_labels(epochs, folds[0], notes)
    per_fold: list[dict[str, dict[str, float]]] = []
    val_scores: dict[str, list[float]] = {}
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    failures: dict[str, str] = {}
    histories: dict[str, dict[str, Any]] = {}
    fold_reports = []
    for k, split in enumerate(folds):
        if len(folds) > 1:
            log.info("fold %d/%d: test block %s", k + 1, len(folds), split.test_blocks)
        views, outcome = fit_on(split)
        fold: dict[str, dict[str, float]] = {}
        for name, fit in outcome.fitted.items():
            view = views[fit.view]
            if len(view.test) == 0 or len(view.val) == 0:
                outcome.failures[name] = (
                    f"no {'test' if len(view.test) == 0 else 'validation'} epochs in its view"
                )
                continue
            fold[name] = evaluate_predictions(view.y[view.test], fit.test_proba, n_classes)
            pooled.setdefault(name, []).append((view.y[view.test], fit.test_proba))
            if name in _selectable(outcome):
                val = evaluate_predictions(view.y[view.val], fit.val_proba, n_classes)[SELECTION_METRIC]
                val_scores.setdefault(name, []).append(val)
            if k == 0 and fit.history is not None:
                histories[name] = fit.history
        oracle = _oracle_accuracy(recording, epochs, split, pipeline)
        if oracle is not None:
            fold[ORACLE] = oracle
        for name, message in outcome.failures.items():
            failures.setdefault(name, f"fold {k + 1}: {message}" if len(folds) > 1 else message)
        per_fold.append(fold)
        fold_reports.append(
            {
                "train_blocks": split.train_blocks,
                "val_blocks": split.val_blocks,
                "test_blocks": split.test_blocks,
                "top1": {name: m["top1"] for name, m in fold.items()},
                "erp_training_epochs_rejected": views[ERP].rejected if ERP in views else None,
            }
        )
    main_name = outcome.main
    n_params = count_parameters(outcome.fitted[main_name].model)
    log.info("student: %d parameters", n_params)

    results: dict[str, dict[str, Any]] = {}
    names = [name for name in per_fold[0] if all(name in fold for fold in per_fold)]
    for name in names:
        if len(folds) == 1:
            results[name] = per_fold[0][name]
        else:
            results[name] = summarize_folds([fold[name] for fold in per_fold])
        if name != ORACLE:
            y_all = np.concatenate([p[0] for p in pooled[name]])
            proba_all = np.concatenate([p[1] for p in pooled[name]])
            notes.extend(
                model_warnings(
                    display_name(name), evaluate_predictions(y_all, proba_all, n_classes), histories.get(name)
                )
            )
    if class_weights(y, n_classes) is not None:
        notes.append(
            "the training classes are imbalanced: every model is fitted with balanced class weights; "
            "compare balanced accuracy (chance 1 / n_classes) rather than top-1"
        )
    for name, message in failures.items():
        results[name] = {"failed": message}
        notes.append(f"{display_name(name)} FAILED and is left out of the comparison: {message}")
    if ORACLE in results:
        oracle_metrics = results.pop(ORACLE)
        results[ORACLE] = oracle_metrics  # last row
        notes.append(
            "oracle: nearest true phase-locked class template after whitening with the true background "
            "covariance (the simulator's own rule); it ignores the induced (random-phase) gamma power, so it is "
            "a reference, not a bound"
        )
    scores = {name: float(np.mean(v)) for name, v in val_scores.items() if len(v) == len(folds)}
    selection = _select(scores, main_name, config.preset, outcome, notes)
    if len(folds) == 1:
        chosen = outcome.fitted[selection["chosen"]]
        chosen_view = views[chosen.view]
        test_blocks = folds[0].test_blocks
        interval = _interval_note(results[chosen.name])
        if interval:
            notes.append(interval)
    else:
        chosen, chosen_view = _refit(selection["chosen"], main_name, epochs.blocks, fit_on)
        test_blocks = []
    y_test = np.concatenate([p[0] for p in pooled[chosen.name]])
    test_pred = np.concatenate([p[1] for p in pooled[chosen.name]]).argmax(1)
    split = folds[0]

    tested = blocks_text("test", [b for fold in folds for b in fold.test_blocks])
    if len(folds) > 1:
        tested += ", each once (pooled over folds)"
    plot_confusion(
        y_test,
        test_pred,
        epochs.class_names,
        out_dir / "confusion.png",
        f"{display_name(chosen.name)}: {tested}",
    )
    # Histories are of the first fold (the only one of a single split).
    plot_learning_curves(
        histories,
        out_dir / "learning_curves.png",
        n_classes,
        distilled=[main_name] if teacher_probs is not None and config.train.alpha < 1.0 else [],
        val_blocks=folds[0].val_blocks,
        chosen=chosen.name,
    )
    chance = 1.0 / n_classes
    n_test = sum(len(f.test) for f in folds)
    report: dict[str, Any] = {
        "subject": recording.metadata.get("subject"),
        "n_epochs": len(epochs),
        "dropped": epochs.dropped,
        "n_classes": n_classes,
        "mains": mains_report,
        "evaluation": evaluation,
        "split": {k: getattr(split, k) for k in ("train_blocks", "val_blocks", "test_blocks")}
        if len(folds) == 1
        else {"folds": fold_reports},
        "n_train": len(split.train),
        "n_val": len(split.val),
        "n_test": n_test,
        "student": main_name,
        "student_parameters": n_params,
        "chosen_parameters": count_parameters(chosen.model) if hasattr(chosen.model, "parameters") else None,
        "max_epochs": config.train.max_epochs,
        "teacher": teacher_report,
        "selection": selection,
        "results": results,
        "chance_top1": chance,
        "chance_top5": min(5, n_classes) / n_classes,
        "majority_rate": float(np.bincount(y_test, minlength=n_classes).max() / max(len(y_test), 1)),
        "histories": histories,
        "seconds": time.perf_counter() - started,
        "notes": notes,
    }
    notes.extend(report_notes(report))
    bundle = _bundle(chosen, chosen_view, recording, epochs.class_names, results, selection, test_blocks)
    bundle.extra["evaluation"] = evaluation
    bundle.extra.update(
        {
            "teacher": teacher_report,
            # Where the stimulus exemplars live (shown when no diffusion weights are given).
            "image_dir": str(Path(image_folder).resolve()) if image_folder is not None else None,
        }
    )
    if recording.metadata.get("marker_mapping"):
        # How plain marker codes became classes: live decoding reads the stream's codes with it.
        bundle.extra["marker_mapping"] = recording.metadata["marker_mapping"]
    if recording.block_rule is not None:
        # The --blocks it was calibrated with: predict numbers its recording's blocks the same way.
        bundle.extra["block_rule"] = recording.block_rule.to_dict()
    save_bundle(bundle, out_dir / "model")
    report["seconds_to_bundle"] = time.perf_counter() - started
    notes.append(
        f"time to a served model: {report['seconds_to_bundle']:.1f} s from the end of the recording to the saved bundle"
    )
    write_report(out_dir, report, report_header(report))
    log.info("calibration finished in %.1f s; bundle in %s", report["seconds_to_bundle"], out_dir / "model")
    return CalibrationResult(bundle=bundle, report=report, out_dir=out_dir)


def _erp_epochs(
    recording: Recording,
    pipeline: PipelineConfig,
    epochs: EpochSet,
    config: CalibrationConfig,
    notes: list[str],
) -> tuple[PipelineConfig, EpochSet] | None:
    """The ERP view's pipeline and epochs, when an ERP candidate is asked for (None, with a note, if it fails)."""
    if ERP not in {registry.get(name).view.preprocessing for name in config.candidates}:
        return None
    try:
        erp = erp_pipeline(pipeline, config.erp_band_hz, config.erp_window_s)
        return erp, epochs_from_recording(recording, erp, class_names=epochs.class_names)
    except ValueError as error:
        notes.append(f"the ERP pipeline could not be prepared ({error}); its candidates are left out")
        return None


def _views(
    pipeline: PipelineConfig,
    epochs: EpochSet,
    erp: tuple[PipelineConfig, EpochSet] | None,
    train_blocks,
    val_blocks,
    test_blocks,
    erp_reject_ptp_uv: float = 0.0,
) -> dict[str, View]:
    views = {PAPER: View.of(pipeline, epochs, train_blocks, val_blocks, test_blocks)}
    if erp is not None:
        try:
            views[ERP] = View.of(*erp, train_blocks, val_blocks, test_blocks, erp_reject_ptp_uv)
        except ValueError as error:  # e.g. no ERP epoch left in the training blocks
            log.warning("no ERP view on this split: %s", error)
    return views


def _selectable(outcome: SplitOutcome) -> list[str]:
    """The models a bundle may hold: the paper's student and the candidate pipelines."""
    return [name for name in (outcome.main, *CANDIDATES) if name in outcome.fitted]


def _select(
    scores: dict[str, float], main: str, preset: str, outcome: SplitOutcome, notes: list[str]
) -> dict[str, Any]:
    """Pick the bundle's model: the preset, or the best validation score (mean over folds)."""
    if preset == "auto":
        if not scores:
            raise ValueError("no model could be evaluated on the validation blocks")
        # max() keeps the first of equal scores, and the paper's student comes first.
        chosen = max(scores, key=lambda name: scores[name])
        reason = f"best validation {SELECTION_METRIC.replace('_', ' ')} {scores[chosen]:.3f}"
    else:
        chosen = main if preset == PAPER_MODEL else preset
        if chosen not in scores:
            raise ValueError(f"the preset's model {chosen} failed: {outcome.failures.get(chosen)}")
        reason = f"preset {preset!r}"
    notes.append(
        "model selection on the validation blocks ("
        + SELECTION_METRIC.replace("_", " ")
        + "): "
        + ", ".join(f"{display_name(name)} {score:.3f}" for name, score in scores.items())
        + f"; kept {display_name(chosen)} ({reason}). The networks also early-stop on these blocks, which flatters "
        "them slightly."
    )
    return {
        "metric": SELECTION_METRIC,
        "validation": scores,
        "chosen": chosen,
        "reason": reason,
        "preset": preset,
    }


def _evaluation_mode(mode: str, blocks: np.ndarray) -> str:
    """``"split"`` or ``"lobo"``: ``"auto"`` cross-validates recordings of few blocks."""
    if mode not in EVALUATIONS:
        raise ValueError(f"evaluation must be one of {EVALUATIONS}, got {mode!r}")
    if mode != "auto":
        return mode
    return "lobo" if len(np.unique(blocks)) <= LOBO_MAX_BLOCKS else "split"


def _refit(chosen: str, main: str, blocks: np.ndarray, fit_on: Any) -> tuple[Fitted, View]:
    """The chosen model refitted on all blocks for the bundle.

    A network still needs blocks to early-stop on: the last block validates and the others
    train it. A classical model has no early stopping and is fitted on every block.
    """
    unique = [int(b) for b in np.unique(blocks)]
    candidates = (chosen,) if chosen in CANDIDATES else ()
    early_stops = not candidates or registry.get(chosen).fit == "network"
    train_blocks = unique[:-1] if early_stops else unique
    split = Split(
        train=np.flatnonzero(np.isin(blocks, train_blocks)),
        val=np.flatnonzero(blocks == unique[-1]),
        test=np.array([], dtype=int),
        train_blocks=train_blocks,
        val_blocks=unique[-1:],
        test_blocks=[],
    )
    views, outcome = fit_on(split, baselines=(), candidates=candidates, include_student=chosen == main)
    if chosen not in outcome.fitted:
        raise RuntimeError(f"refitting {chosen} on all blocks failed: {outcome.failures.get(chosen)}")
    fit = outcome.fitted[chosen]
    return fit, views[fit.view]


def _interval_note(metrics: dict[str, Any]) -> str | None:
    """How wide the single split's uncertainty is (normal approximation of a binomial proportion)."""
    n = metrics.get("n", 0)
    if not n or "top1" not in metrics:
        return None
    half = 1.96 * np.sqrt(max(metrics["top1"] * (1 - metrics["top1"]), 1e-12) / n)
    return (
        f"one held-out split of {int(n)} epochs: top-1 is known to about +-{half:.3f} (95 %); "
        "use leave-one-block-out for intervals per model"
    )


def _bundle(
    chosen: Fitted,
    view: View,
    recording: Recording,
    class_names: list[str],
    results: dict[str, Any],
    selection: dict[str, Any],
    test_blocks: list[int],
) -> ModelBundle:
    model = chosen.model.cpu().eval() if hasattr(chosen.model, "parameters") else chosen.model
    return ModelBundle(
        model=model,
        model_config=chosen.model_config,
        pipeline=view.pipeline,
        # Unaligned models keep their scaling; the recorded covariance lets live decoding adapt.
        standardizer=view.tracking_standardizer() if view.standardizer.align == "none" else view.standardizer,
        class_names=class_names,
        channel_names=list(recording.channel_names),
        sfreq=recording.sfreq,
        metrics=results[chosen.name],
        extra={
            "subject": recording.metadata.get("subject"),
            "model": chosen.name,
            "pipeline_name": chosen.view,
            "selection": selection,
            # Which blocks were held out (figures and predict score unseen trials apart).
            "test_blocks": list(test_blocks),
        },
    )


def _check_split_labels(epochs: EpochSet, split: Split, notes: list[str]) -> None:
    missing = set(range(len(epochs.class_names))) - set(epochs.labels[split.train].tolist())
    if missing:
        notes.append(f"{len(missing)} classes have no training epochs: {sorted(missing)[:10]}")


def teacher_targets(
    epochs: EpochSet,
    image_folder: str | Path | None,
    n_classes: int,
    config: CalibrationConfig,
    notes: list[str],
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Out-of-fold teacher soft targets for every epoch (by its image), or None without images; its
    report, and the report's notes about it (``calibrate --base`` uses it too)."""
    if image_folder is None:
        notes.append("no stimulus images given: trained without distillation (alpha = 1)")
        return {"used": False}, None
    from calibration.soft_targets import teacher_soft_targets

    report, soft = teacher_soft_targets(
        epochs.image_ids,
        epochs.labels,
        image_folder,
        n_classes,
        teacher=config.teacher_model,
        weights=config.teacher_pretrained,
        temperature=config.train.temperature,
        folds=config.soft_target_folds,
        seed=config.split_seed,
        device=config.train.device,
    )
    if not report.get("used"):
        notes.append(f"trained without distillation: {report.get('reason', 'no teacher')}")
    elif not report.get("pretrained", False):
        notes.append("the teacher's image encoder has random weights (asked for explicitly)")
    if report.get("used"):
        notes.append(describe_teacher(report))
    return report, soft


def _oracle_accuracy(
    recording: Recording, epochs: EpochSet, split: Split, pipeline: PipelineConfig
) -> dict[str, float] | None:
    """The simulator's oracle on the test epochs, when the recording is simulated."""
    if recording.metadata.get("source") != "simulator":
        return None
    from rtdecode.signal.filters import design_filter_bank
    from rtdecode.sim.oracle import subject_from_recording

    subject = subject_from_recording(recording)
    test = epochs.subset(split.test)
    scores = subject.oracle_scores(test.epochs, pipeline.epoch.tmin_s, design_filter_bank(pipeline))
    return evaluate_predictions(test.labels, scores, len(epochs.class_names))
