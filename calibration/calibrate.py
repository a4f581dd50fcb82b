"""A whole calibration run: recording + stimulus images -> evaluated, saved model bundle.

Steps: epochs through the live filter bank; a block-respecting split; standardization fitted
on the training split; TFD features; the teacher (image encoder + linear classifier) on the
stimulus images gives soft targets; the student is trained with distillation and, for the
comparison, without; the baselines run on the same split; every model is scored on the held-out
blocks (with the simulator's oracle when the data is simulated); a report and the bundle are written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.baselines import LOGREG_FEATURES, RAW_NETWORKS, fit_logreg, fit_raw_network
from calibration.epochs import EpochSet, epochs_from_recording
from calibration.metrics import evaluate_predictions
from calibration.report import plot_confusion, plot_learning_curves, write_report
from calibration.splits import Split, block_split
from calibration.train import TrainConfig, predict_proba, seed_everything, train_classifier
from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import ModelBundle, save_bundle
from rtdecode.io.recording import Recording
from rtdecode.models.student import StudentCNN, StudentConfig, count_parameters
from rtdecode.signal.preprocess import epoch_features
from rtdecode.signal.standardize import Standardizer

log = logging.getLogger(__name__)

ALL_BASELINES = (*LOGREG_FEATURES, *RAW_NETWORKS, "cnn2d_stft", "cnn2d_wavelet")


@dataclass(frozen=True)
class CalibrationConfig:
    """Settings of a calibration run (defaults: the paper's).

    Attributes
    ----------
    pipeline : PipelineConfig
        Preprocessing, stored in the bundle and reused live.
    train : TrainConfig
        Optimization of the student (``alpha``, ``temperature``...) and the neural baselines.
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

    Returns
    -------
    CalibrationResult
    """
    config = config or CalibrationConfig()
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = config.pipeline
    if abs(pipeline.sfreq - recording.sfreq) > 1e-6:
        pipeline = PipelineConfig.from_dict({**pipeline.to_dict(), "sfreq": recording.sfreq})
    notes: list[str] = []

    epochs = epochs_from_recording(recording, pipeline)
    n_classes = len(epochs.class_names)
    split = block_split(epochs.blocks, config.test_fraction, config.val_fraction, config.split_seed)
    log.info(
        "%d epochs (%d dropped), %d classes; blocks train %d / val %d / test %d",
        len(epochs),
        sum(epochs.dropped.values()),
        n_classes,
        len(split.train_blocks),
        len(split.val_blocks),
        len(split.test_blocks),
    )
    _check_split_labels(epochs, split, notes)
    standardizer = Standardizer.fit(epochs.epochs[split.train])
    standardized = standardizer.apply(epochs.epochs).astype(np.float32)
    features = epoch_features(epochs.epochs, standardizer, pipeline)
    y = epochs.labels

    teacher_report, teacher_probs = _teacher_targets(epochs, image_folder, n_classes, config, notes)
    student_config = StudentConfig(
        **{**config.student.to_dict(), "n_channels": recording.n_channels, "n_classes": n_classes}
    )
    results: dict[str, dict[str, float]] = {}
    probas: dict[str, np.ndarray] = {}
    histories: dict[str, dict[str, Any]] = {}
    models: dict[str, Any] = {}

    def run_student(name: str, x: np.ndarray, alpha: float, soft: np.ndarray | None) -> None:
        seed_everything(config.train.seed)  # same initial weights for every variant
        model = StudentCNN(student_config)
        train_config = TrainConfig(**{**config.train.to_dict(), "alpha": alpha})
        history = train_classifier(
            model,
            x[split.train],
            y[split.train],
            x[split.val],
            y[split.val],
            train_config,
            None if soft is None else soft[split.train],
            description=name,
        )
        probas[name] = predict_proba(model, x[split.test])
        histories[name] = history.to_dict()
        models[name] = model

    distill = teacher_probs is not None and config.train.alpha < 1.0
    main_name = "student_kd_stft" if distill else "student_stft"
    run_student(main_name, features, config.train.alpha if distill else 1.0, teacher_probs)
    n_params = count_parameters(models[main_name])
    log.info("student: %d parameters", n_params)
    if distill and "cnn2d_stft" in config.baselines:
        run_student("cnn2d_stft", features, 1.0, None)
    if "cnn2d_wavelet" in config.baselines:
        wavelet = PipelineConfig.from_dict(
            {**pipeline.to_dict(), "tfd": {**pipeline.to_dict()["tfd"], "method": "wavelet"}}
        )
        run_student("cnn2d_wavelet", epoch_features(epochs.epochs, standardizer, wavelet), 1.0, None)
    for name in config.baselines:
        if name in LOGREG_FEATURES:
            probas[name] = fit_logreg(name, standardized[split.train], y[split.train], config.split_seed)(
                standardized[split.test]
            )
        elif name in RAW_NETWORKS:
            proba, history, _ = fit_raw_network(
                name,
                standardized[split.train],
                y[split.train],
                standardized[split.val],
                y[split.val],
                n_classes,
                config.train,
            )
            probas[name] = proba(standardized[split.test])
            histories[name] = history.to_dict()
    for name, proba in probas.items():
        results[name] = evaluate_predictions(y[split.test], proba, n_classes)

    oracle = _oracle_accuracy(recording, epochs, split, pipeline)
    if oracle is not None:
        results["oracle (simulator ground truth)"] = oracle
        notes.append(
            "oracle: nearest true phase-locked class template after whitening with the true background "
            "covariance (the simulator's own rule); it ignores the induced (random-phase) gamma power, so it is "
            "a reference, not a bound"
        )

    plot_confusion(
        y[split.test],
        probas[main_name].argmax(1),
        epochs.class_names,
        out_dir / "confusion.png",
        f"{main_name}: test blocks",
    )
    plot_learning_curves(histories, out_dir / "learning_curves.png")
    chance = 1.0 / n_classes
    report: dict[str, Any] = {
        "subject": recording.metadata.get("subject"),
        "n_epochs": len(epochs),
        "dropped": epochs.dropped,
        "n_classes": n_classes,
        "split": {k: getattr(split, k) for k in ("train_blocks", "val_blocks", "test_blocks")},
        "n_train": len(split.train),
        "n_val": len(split.val),
        "n_test": len(split.test),
        "student_parameters": n_params,
        "teacher": teacher_report,
        "results": results,
        "chance_top1": chance,
        "chance_top5": min(5, n_classes) / n_classes,
        "histories": histories,
        "seconds": time.perf_counter() - started,
        "notes": notes,
    }
    header = (
        f"# Calibration report (subject {report['subject']})\n\n"
        f"{len(epochs)} epochs ({sum(epochs.dropped.values())} dropped: {epochs.dropped or 'none'}), "
        f"{n_classes} classes; test on {len(split.test_blocks)} held-out blocks ({len(split.test)} epochs). "
        f"Student: {n_params:,} parameters. Teacher held-out accuracy: "
        f"{teacher_report.get('held_out_accuracy', float('nan')):.3f}."
    )
    write_report(out_dir, report, header)
    bundle = ModelBundle(
        model=models[main_name].cpu().eval(),
        student_config=student_config,
        pipeline=pipeline,
        standardizer=standardizer,
        class_names=epochs.class_names,
        channel_names=list(recording.channel_names),
        sfreq=recording.sfreq,
        metrics=results[main_name],
        extra={
            "subject": recording.metadata.get("subject"),
            "model": main_name,
            "teacher": teacher_report,
            # Where the stimulus exemplars live (shown when no diffusion weights are given) and
            # which blocks were held out (so figures use unseen trials only).
            "image_dir": str(Path(image_folder).resolve()) if image_folder is not None else None,
            "test_blocks": split.test_blocks,
        },
    )
    save_bundle(bundle, out_dir / "model")
    log.info("calibration finished in %.1f s; bundle in %s", report["seconds"], out_dir / "model")
    return CalibrationResult(bundle=bundle, report=report, out_dir=out_dir)


def _check_split_labels(epochs: EpochSet, split: Split, notes: list[str]) -> None:
    missing = set(range(len(epochs.class_names))) - set(epochs.labels[split.train].tolist())
    if missing:
        notes.append(f"{len(missing)} classes have no training epochs: {sorted(missing)[:10]}")


def _teacher_targets(
    epochs: EpochSet,
    image_folder: str | Path | None,
    n_classes: int,
    config: CalibrationConfig,
    notes: list[str],
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Out-of-fold teacher soft targets for every epoch (by its image), or None without images."""
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
        t = report["targets"]
        notes.append(
            f"teacher {report['encoder']} ({report['weight_source']}); out-of-fold soft targets "
            f"({report['folds']}-fold over images) at T = {report['temperature']:g}: accuracy "
            f"{t['accuracy']:.3f}, mean max probability {t['mean_max_prob']:.3f}, entropy "
            f"{t['mean_entropy_nats']:.2f} nats ({t['mean_entropy_fraction']:.2f} of uniform)"
        )
    return report, soft


def _oracle_accuracy(
    recording: Recording, epochs: EpochSet, split: Split, pipeline: PipelineConfig
) -> dict[str, float] | None:
    """The simulator's oracle on the test epochs, when the recording is simulated."""
    if recording.metadata.get("source") != "simulator":
        return None
    from rtdecode.signal.filters import design_filter_bank
    from rtdecode.streams.simulate import subject_from_recording

    subject = subject_from_recording(recording)
    test = epochs.subset(split.test)
    scores = subject.oracle_scores(test.epochs, pipeline.epoch.tmin_s, design_filter_bank(pipeline))
    return evaluate_predictions(test.labels, scores, len(epochs.class_names))
