"""A new subject calibrated from a cross-subject base: few trials, three paths, the best one served.

``rtdecode calibrate NEW --base BASE [--trials-per-class N]`` (:func:`calibrate_with_base`):

1. the new subject's epochs in both views, channels and classes matched to the base's by name;
2. its **calibration trials**: the first ``N`` trials of each class in time order (what a short
   session gives), or, without ``N``, every trial outside the held-out test blocks; the last
   ~20 % of each class's calibration trials (at least one) validate, the rest train. Every other
   trial is the **test** set, scored block by block (mean and 95 % interval over blocks); a session
   that is all calibration (``require_test=False``: the presenter's short session) has none, and
   its report's scores are the validation trials';
3. its **alignment** (:class:`~rtdecode.signal.standardize.Standardizer` ``align="whiten"``),
   unsupervised, from its calibration trials (``--align-on calibration``, what a live session has)
   or from every trial of the recording (``--align-on recording``, labels never used);
4. three paths, each scored on the same validation and test trials and timed:

   - **subject-only**: calibration's own candidates trained on the calibration trials alone
     (unaligned, as ``calibrate`` without a base);
   - **zero-shot**: each base model, served through the subject's alignment, no label of the
     subject used (the templates infer the subject's mixing from its calibration trials without
     their labels, by expectation-maximisation);
   - **fine-tuned**: each base network trained further on the subject's aligned calibration
     trials (early stopping on its validation trials; distilled when stimulus images are given);
     each classical pipeline refitted on the base's pooled aligned trials plus the subject's,
     repeated so that the subject weighs as much as one base subject; the shared-response
     templates (:mod:`rtdecode.models.templates`) keep the base's class time courses and
     estimate only the subject's latency and spatial mixings, by least squares (on the
     simulator, ten trials per class give 0.93 against EEGNet's 0.89 on a whole session at 10
     classes, 0.82 against its 0.87 at 40: benchmarks/results/README.md);

5. the path and model with the best validation balanced accuracy is saved as the bundle (the
   subject-only path first on ties: transfer is kept only where it validates better), with the
   report (every candidate, its seconds, and the seconds from the end of the recording to the
   saved bundle).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from calibration.calibrate import CalibrationConfig, CalibrationResult, teacher_targets
from calibration.classical import classical_model
from calibration.epochs import EpochSet
from calibration.fitting import ERP, View, fit_split
from calibration.metrics import evaluate_predictions, summarize_folds
from calibration.networks import fit_network, network_inputs
from calibration.report import plot_confusion, report_notes, write_report
from calibration.splits import block_split
from calibration.train import predict_proba
from calibration.transfer import Base, aligned_standardizer, match_channels, subject_data
from rtdecode.io.bundle import ModelBundle, save_bundle
from rtdecode.io.recording import Recording
from rtdecode.models import registry
from rtdecode.models.registry import display_name
from rtdecode.models.student import StudentConfig

log = logging.getLogger(__name__)

PATHS = ("subject-only", "zero-shot", "fine-tuned")
# A short session's calibration must be ready within a minute of the last image on a 2-core CPU
# (10 classes x 10 images, 128 channels: benchmarks/bench_short_calibration.py). Measured there,
# per step: the base's networks fine-tuned keep their weights and converge in a few epochs; the
# subject-only networks (the paper's student, EEGNet) learn nothing from scratch on 8 trials per
# class and cost most of the time; a classical refit on the base's pooled trials costs ~40 CPU s
# each (an LDA of 128 x 18 features, an xDAWN of the pool); the teacher's soft targets ~12 CPU s
# for the student's fine-tuning alone. So a short session (`calibrate-gui --base`, `calibrate
# --short`): xDAWN alone on the subject's trials, every base model zero-shot, the base's networks
# fine-tuned for at most SHORT_MAX_EPOCHS epochs, the templates given the subject's mixing, no
# distillation.
SHORT_SUBJECT_CANDIDATES = ("xdawn",)
SHORT_MAX_EPOCHS = 5
SHORT_PATIENCE = 2
ALIGN_ON = ("calibration", "recording")
SELECTION_METRIC = "balanced_accuracy"


@dataclass(frozen=True)
class CalibrationTrials:
    """Which of a subject's trials train, validate and test (indices into its epochs).

    Attributes
    ----------
    train, val, test : np.ndarray of int
    description : str
        How they were chosen, for the report.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    description: str

    @property
    def calibration(self) -> np.ndarray:
        return np.union1d(self.train, self.val)


def calibration_trials(
    epochs: EpochSet,
    trials_per_class: int | None,
    test_fraction: float = 0.2,
    seed: int = 0,
    require_test: bool = True,
) -> CalibrationTrials:
    """The first ``trials_per_class`` trials of each class in time order (else the non-test blocks).

    Parameters
    ----------
    epochs : EpochSet
    trials_per_class : int or None
        At least 2 (one to train, one to validate per class).
    test_fraction : float
        Without ``trials_per_class``: the share of blocks held out for test.
    seed : int
    require_test : bool
        False accepts a session that is all calibration (a short session recorded to calibrate,
        with nothing after it): ``test`` is then empty.

    Returns
    -------
    CalibrationTrials

    Raises
    ------
    ValueError
        ``trials_per_class`` below 2, or leaving no test trial while ``require_test``.
    """
    order = np.argsort(epochs.onsets, kind="stable")
    if trials_per_class is None:
        split = block_split(epochs.blocks, test_fraction, 0.0, seed)
        calibration = np.sort(np.union1d(split.train, split.val))
        test = np.sort(split.test)
        description = f"every trial outside the test blocks {split.test_blocks}"
    else:
        if trials_per_class < 2:
            raise ValueError(
                "--trials-per-class must be at least 2: one trial trains and one validates per class"
            )
        calibration = np.sort(
            np.concatenate(
                [
                    [i for i in order if epochs.labels[i] == c][:trials_per_class]
                    for c in np.unique(epochs.labels)
                ]
            )
        ).astype(int)
        test = np.setdiff1d(np.arange(len(epochs)), calibration)
        description = f"the first {trials_per_class} trials of each class in time order"
    if len(test) == 0 and require_test:
        raise ValueError("no trial is left to test on: use fewer --trials-per-class")
    if len(test) == 0:
        description += " (every trial of the session: none is left to test on)"
    val = []
    for c in np.unique(epochs.labels[calibration]):
        members = calibration[epochs.labels[calibration] == c]
        members = members[np.argsort(epochs.onsets[members], kind="stable")]
        n_val = max(1, int(round(0.2 * len(members)))) if len(members) > 1 else 0
        val.extend(members[len(members) - n_val :].tolist())
    val_index = np.array(sorted(val), dtype=int)
    train = np.setdiff1d(calibration, val_index)
    return CalibrationTrials(train, val_index, test, description)


@dataclass
class Candidate:
    """One path's model on the new subject."""

    key: str
    path: str
    model_name: str
    view: str
    model: Any
    model_config: Any
    standardizer: Any
    val_proba: np.ndarray
    test_proba: np.ndarray
    seconds: float
    history: dict[str, Any] | None = None


def calibrate_with_base(
    recording: Recording,
    base: Base,
    image_folder: str | Path | None,
    out_dir: str | Path,
    config: CalibrationConfig | None = None,
    trials_per_class: int | None = None,
    align_on: str = "calibration",
    started: float | None = None,
    require_test: bool = True,
    subject_student: bool = True,
    fine_tune: tuple[str, ...] | None = None,
) -> CalibrationResult:
    """Calibrate a new subject with a cross-subject base (see the module's description).

    Parameters
    ----------
    recording : Recording
        The new subject's session (its channels must include the base's).
    base : Base
        From :func:`calibration.transfer.load_base`.
    image_folder : path or None
        Stimulus images: the teacher's soft targets distil the student's two trainings.
    out_dir : path
        Receives ``model/``, ``report.md``, ``report.json`` and ``confusion.png``.
    config : CalibrationConfig, optional
        Training settings and the subject-only path's candidates.
    trials_per_class : int, optional
    align_on : {"calibration", "recording"}
    started : float, optional
        ``time.perf_counter()`` when the recording ended (the command's start): the report's
        seconds to a served model count from it.
    require_test : bool
        False: a session that is all calibration trials (the presenter's short session) is
        calibrated with no test trial; the model is still chosen on its validation trials, and
        the report's scores are those validation scores, which it says.
    subject_student : bool
        Train the paper's student on the subject's trials alone (the subject-only path); False
        leaves the subject-only path to ``config.candidates`` (a short session: a network from
        scratch on a few trials per class costs most of the time and rarely validates best).
    fine_tune : tuple of str, optional
        The base models (registry names) that are fine-tuned; None: all of them. Every base model
        is still scored zero-shot (a classical refit on the base's pooled trials is what costs
        most in a short session).

    Returns
    -------
    CalibrationResult
    """
    config = config or CalibrationConfig()
    started = time.perf_counter() if started is None else started
    if align_on not in ALIGN_ON:
        raise ValueError(f"align_on must be one of {ALIGN_ON}, got {align_on!r}")
    base.check_signal(
        recording.channel_names, recording.sfreq, recording.metadata.get("source_file", "the recording")
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recording = match_channels(recording, base.channel_names)
    with_erp = any(
        registry.get(name).view.preprocessing == ERP for name in (*base.models, *config.candidates)
    )
    subject = subject_data(recording, base.class_names, with_erp, config.mains, config.pipeline)
    notes = list(subject.notes)
    epochs = subject.epochs
    y, n_classes = epochs.labels, len(base.class_names)
    trials = calibration_trials(
        epochs, trials_per_class, config.test_fraction, config.split_seed, require_test
    )
    align_index = trials.calibration if align_on == "calibration" else np.arange(len(epochs))
    aligned = {view: aligned_standardizer(e.epochs[align_index]) for view, (_, e) in subject.views.items()}
    teacher_report, soft = _soft_targets(epochs, image_folder, n_classes, config, notes)
    prepared_s = time.perf_counter() - started
    candidates: list[Candidate] = []
    failures: dict[str, str] = {}
    candidates += _subject_only(
        subject.views, trials, n_classes, config, soft, failures, recording.n_channels, subject_student
    )
    for name, bundle in base.models.items():
        for path, make in (("zero-shot", _zero_shot), ("fine-tuned", _fine_tuned)):
            if path == "fine-tuned" and fine_tune is not None and name not in fine_tune:
                continue
            key = f"{path}: {display_name(name)}"
            t0 = time.perf_counter()
            try:
                candidate = make(name, bundle, subject.views, aligned, trials, base, config, soft)
            except Exception as error:  # noqa: BLE001 - one failing path must not lose the run
                log.exception("%s failed", key)
                failures[key] = f"{type(error).__name__}: {error}"
                continue
            candidate.seconds = time.perf_counter() - t0
            candidates.append(candidate)
    results, val_scores, per_block = _score(candidates, y, epochs.blocks, trials, n_classes)
    chosen = max(candidates, key=lambda c: val_scores[c.key])  # the first of equals: subject-only first
    bundle = _bundle(chosen, subject.views, base, recording, trials_per_class, align_on, results)
    save_bundle(bundle, out_dir / "model")
    seconds_to_bundle = time.perf_counter() - started
    if len(trials.test):
        plot_confusion(
            y[trials.test],
            chosen.test_proba.argmax(1),
            base.class_names,
            out_dir / "confusion.png",
            f"{chosen.key}: test trials",
        )
    else:
        notes.append(
            "no test trial (every trial of the session calibrated): the scores are on the validation "
            "trials that also chose the model, so they overestimate what live decoding will reach"
        )
    for key, message in failures.items():
        results[key] = {"failed": message}
        notes.append(f"{key} FAILED and is left out: {message}")
    histories = {c.key: c.history for c in candidates if c.history is not None}
    report: dict[str, Any] = {
        "subject": recording.metadata.get("subject"),
        "base": {"folder": str(base.folder), "subjects": [s["name"] for s in base.info["subjects"]]},
        "n_epochs": len(epochs),
        "n_classes": n_classes,
        "trials_per_class": trials_per_class,
        "calibration_trials": trials.description,
        "n_train": len(trials.train),
        "n_val": len(trials.val),
        "n_test": len(trials.test),
        "test_blocks": sorted({int(b) for b in epochs.blocks[trials.test]}),
        "scored_on": "test" if len(trials.test) else "validation",
        "align_on": align_on,
        "teacher": teacher_report,
        "candidates": [
            {
                "key": c.key,
                "path": c.path,
                "model": c.model_name,
                "validation": val_scores[c.key],
                "test_top1": results[c.key]["top1"] if len(trials.test) else None,
                "test_top1_by_block": per_block[c.key],
                "seconds": c.seconds,
                "seconds_to_bundle": prepared_s + c.seconds,
            }
            for c in candidates
        ],
        "selection": {
            "metric": SELECTION_METRIC,
            "validation": val_scores,
            "chosen": chosen.key,
            "path": chosen.path,
            "reason": f"best validation balanced accuracy {val_scores[chosen.key]:.3f}",
        },
        "results": results,
        "histories": histories,
        "max_epochs": config.train.max_epochs,
        "seconds_preparing": prepared_s,
        "seconds_to_bundle": seconds_to_bundle,
        "notes": notes,
    }
    notes.extend(report_notes(report))
    notes.append(
        f"time to a served model: {seconds_to_bundle:.1f} s from the end of the recording to the saved bundle "
        f"(reading and preparing {prepared_s:.1f} s, then every path; the chosen path alone: "
        f"{prepared_s + chosen.seconds:.1f} s)"
    )
    write_report(out_dir, report, _header(report))
    log.info("calibration with base finished in %.1f s; bundle in %s", seconds_to_bundle, out_dir / "model")
    return CalibrationResult(bundle=bundle, report=report, out_dir=out_dir)


def short_session_config(
    config: CalibrationConfig | None, base: Base
) -> tuple[CalibrationConfig, tuple[str, ...]]:
    """A short session's training: ``config`` within the limits that keep it to about a minute.

    Parameters
    ----------
    config : CalibrationConfig or None
    base : Base

    Returns
    -------
    config : CalibrationConfig
        ``config`` with the subject-only candidates :data:`SHORT_SUBJECT_CANDIDATES`, epochs and
        patience capped at :data:`SHORT_MAX_EPOCHS` and :data:`SHORT_PATIENCE`.
    fine_tune : tuple of str
        The base's networks and its templates (its other classical pipelines are scored zero-shot
        only).
    """
    config = config or CalibrationConfig()
    train = replace(
        config.train,
        max_epochs=min(config.train.max_epochs, SHORT_MAX_EPOCHS),
        patience=min(config.train.patience, SHORT_PATIENCE),
    )
    # The templates' refit is a least-squares solve (a fraction of a second): always fine-tuned.
    fine_tune = tuple(
        name
        for name, bundle in base.models.items()
        if registry.get(name).fit == "network" or hasattr(bundle.model, "fit_subject")
    )
    return replace(config, candidates=SHORT_SUBJECT_CANDIDATES, train=train), fine_tune


def _soft_targets(
    epochs: EpochSet,
    image_folder: str | Path | None,
    n_classes: int,
    config: CalibrationConfig,
    notes: list[str],
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Calibration's out-of-fold teacher targets, or None when ``alpha`` leaves distillation out."""
    report, soft = teacher_targets(epochs, image_folder, n_classes, config, notes)
    return report, soft if config.train.alpha < 1.0 else None


def _subject_only(
    views: dict[str, tuple[Any, EpochSet]],
    trials: CalibrationTrials,
    n_classes: int,
    config: CalibrationConfig,
    soft: np.ndarray | None,
    failures: dict[str, str],
    n_channels: int,
    include_student: bool = True,
) -> list[Candidate]:
    """Calibration's own candidates on the subject's calibration trials alone."""
    t0 = time.perf_counter()
    fit_views = {
        name: View(
            pipeline,
            epochs,
            trials.train,
            trials.val,
            trials.test,
            config.erp_reject_ptp_uv if name == ERP else 0.0,
        )
        for name, (pipeline, epochs) in views.items()
    }
    student = StudentConfig(**{**config.student.to_dict(), "n_channels": n_channels, "n_classes": n_classes})
    outcome = fit_split(
        fit_views,
        n_classes,
        config.train,
        student,
        soft,
        baselines=(),
        candidates=config.candidates,
        include_student=include_student,
    )
    for name, message in outcome.failures.items():
        failures[f"subject-only: {display_name(name)}"] = message
    # The path trains all its candidates to choose among them: each is ready after all of them.
    seconds = time.perf_counter() - t0
    return [
        Candidate(
            f"subject-only: {display_name(name)}",
            "subject-only",
            name,
            fit.view,
            fit.model,
            fit.model_config,
            fit_views[fit.view].tracking_standardizer(),
            fit.val_proba,
            fit.test_proba,
            seconds,
            fit.history,
        )
        for name, fit in outcome.fitted.items()
        if fit.model is not None
    ]


def _inputs(name: str, views, aligned) -> tuple[np.ndarray, Any]:
    spec = registry.get(name)
    pipeline, epochs = views[spec.view.preprocessing]
    return network_inputs(spec.input, epochs.epochs, aligned[spec.view.preprocessing], pipeline), spec


def _zero_shot(name, bundle: ModelBundle, views, aligned, trials, base, config, soft) -> Candidate:
    """The base model as it is, on the subject's aligned trials (the templates: their mixing
    inferred from the calibration trials without their labels)."""
    x, spec = _inputs(name, views, aligned)
    model = bundle.model
    if hasattr(model, "fit_subject"):
        model = model.fit_subject(x[trials.calibration])  # no labels: expectation-maximisation
    proba = _predictor(model, spec, len(base.class_names))
    return Candidate(
        f"zero-shot: {display_name(name)}",
        "zero-shot",
        name,
        spec.view.preprocessing,
        model,
        bundle.model_config,
        aligned[spec.view.preprocessing],
        proba(x[trials.val]),
        proba(x[trials.test]),
        0.0,
    )


def _fine_tuned(name, bundle: ModelBundle, views, aligned, trials, base: Base, config, soft) -> Candidate:
    """A base network trained on from its weights; a classical pipeline refitted with the base's
    trials; the templates given the subject's own mixing (:meth:`SharedTemplates.fit_subject`)."""
    x, spec = _inputs(name, views, aligned)
    y = views[spec.view.preprocessing][1].labels
    n_classes = len(base.class_names)
    history = None
    if spec.fit == "network":
        distill = soft is not None and spec.distillable
        model, trained = fit_network(
            spec,
            x,
            y,
            trials.train,
            trials.val,
            n_classes,
            config.train,
            soft if distill else None,
            initial=bundle.model,
        )
        model = model.cpu().eval()
        history = trained.to_dict()
        val_proba, predict = predict_proba(model, x[trials.val]), _predictor(model, spec, n_classes)
    elif hasattr(bundle.model, "fit_subject"):
        # The templates: the base's shared time courses kept, the subject's own mixing estimated.
        val_proba = bundle.model.fit_subject(x[trials.train], y[trials.train]).predict_proba(x[trials.val])
        model = bundle.model.fit_subject(x[trials.calibration], y[trials.calibration])
        predict = _predictor(model, spec, n_classes)
    else:
        if base.source is None:
            raise ValueError("the base kept no trials to refit the classical pipelines with")
        source_x, source_y, source_subject = base.source
        sfreq = views[spec.view.preprocessing][0].sfreq

        def refit(index: np.ndarray):
            # The subject's few trials repeated to weigh as much as one base subject's.
            repeats = max(1, int(round(len(source_y) / len(np.unique(source_subject)) / max(1, len(index)))))
            xs = np.concatenate([source_x.astype(np.float32), np.repeat(x[index], repeats, axis=0)])
            ys = np.concatenate([source_y, np.repeat(y[index], repeats)])
            return classical_model(spec.classical_class(), ys, n_classes, sfreq).fit(xs, ys)

        val_proba = refit(trials.train).predict_proba(x[trials.val])
        model = refit(trials.calibration)
        predict = _predictor(model, spec, n_classes)
    return Candidate(
        f"fine-tuned: {display_name(name)}",
        "fine-tuned",
        name,
        spec.view.preprocessing,
        model,
        getattr(model, "config", None) if spec.fit == "network" else None,
        aligned[spec.view.preprocessing],
        val_proba,
        predict(x[trials.test]),
        0.0,
        history,
    )


def _predictor(model: Any, spec: registry.ModelSpec, n_classes: int):
    """Class probabilities of ``model``; none for no trial (a session without test trials)."""

    def predict(x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros((0, n_classes), dtype=np.float32)
        if spec.weights == "tensors":
            return predict_proba(model, x)
        return np.asarray(model.predict_proba(x), dtype=np.float32)

    return predict


def _score(
    candidates: list[Candidate], y: np.ndarray, blocks: np.ndarray, trials: CalibrationTrials, n_classes: int
):
    """Validation balanced accuracy, pooled test metrics with a 95 % interval over test blocks, per-block top-1.

    Without test trials every metric is the validation trials' (the report says so).
    """
    results: dict[str, dict[str, Any]] = {}
    val_scores: dict[str, float] = {}
    per_block: dict[str, dict[int, float]] = {}
    test_blocks = blocks[trials.test]
    for c in candidates:
        validation = evaluate_predictions(y[trials.val], c.val_proba, n_classes)
        val_scores[c.key] = validation[SELECTION_METRIC]
        if not len(trials.test):
            results[c.key] = {**validation, "scored_on": "validation", "seconds": c.seconds}
            per_block[c.key] = {}
            continue
        pooled = evaluate_predictions(y[trials.test], c.test_proba, n_classes)
        by_block = {
            int(b): evaluate_predictions(
                y[trials.test][test_blocks == b], c.test_proba[test_blocks == b], n_classes
            )
            for b in np.unique(test_blocks)
        }
        per_block[c.key] = {b: m["top1"] for b, m in by_block.items()}
        metrics: dict[str, Any] = dict(pooled)
        if len(by_block) > 1:
            summary = summarize_folds(list(by_block.values()))
            metrics["top1_over_blocks"] = summary["top1"]
        metrics["seconds"] = c.seconds
        results[c.key] = metrics
    return results, val_scores, per_block


def _bundle(
    chosen: Candidate, views, base: Base, recording: Recording, trials_per_class, align_on, results
) -> ModelBundle:
    model = chosen.model.cpu().eval() if hasattr(chosen.model, "parameters") else chosen.model
    return ModelBundle(
        model=model,
        model_config=chosen.model_config,
        pipeline=views[chosen.view][0],
        standardizer=chosen.standardizer,
        class_names=base.class_names,
        channel_names=base.channel_names,
        sfreq=recording.sfreq,
        metrics=results[chosen.key],
        extra={
            "subject": recording.metadata.get("subject"),
            "model": chosen.model_name,
            "pipeline_name": chosen.view,
            "transfer": {
                "path": chosen.path,
                "base": str(base.folder),
                "base_subjects": [s["name"] for s in base.info["subjects"]],
                "trials_per_class": trials_per_class,
                "align_on": align_on,
            },
            **(
                {"marker_mapping": recording.metadata["marker_mapping"]}
                if recording.metadata.get("marker_mapping")
                else {}
            ),
        },
    )


def _header(report: dict[str, Any]) -> str:
    title = "# Calibration report, with a cross-subject base" + (
        f" (subject {report['subject']})" if report.get("subject") is not None else ""
    )
    rows = "\n".join(
        f"| {c['path']} | {display_name(c['model'])} | {c['validation']:.3f} | "
        f"{'–' if c['test_top1'] is None else format(c['test_top1'], '.3f')} | "
        f"{c['seconds']:.1f} | {c['seconds_to_bundle']:.1f} |"
        for c in report["candidates"]
    )
    return (
        f"{title}\n\n"
        f"Base: {report['base']['folder']} (subjects {', '.join(map(str, report['base']['subjects']))}). "
        f"{report['n_epochs']} epochs, {report['n_classes']} classes. Calibration trials: "
        f"{report['calibration_trials']} ({report['n_train']} train, {report['n_val']} validate); "
        + (
            f"test: the other {report['n_test']} trials (blocks {report['test_blocks']}). "
            if report["n_test"]
            else "test: none (the whole session calibrated; the table's scores are validation scores). "
        )
        + "Alignment estimated on the "
        f"{report['align_on']} trials, without labels.\n\n"
        f"Chosen: **{report['selection']['chosen']}** ({report['selection']['reason']}). "
        f"Seconds from the end of the recording to the saved bundle: **{report['seconds_to_bundle']:.1f}**.\n\n"
        "| path | model | validation balanced accuracy | test top-1 | seconds (path) | seconds to bundle (this path alone) |\n"
        "|---|---|---|---|---|---|\n"
        f"{rows}"
    )
