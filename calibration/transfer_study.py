"""A learning-curve study of cross-subject transfer: how many trials does a new subject need?

``rtdecode study --transfer REC1 REC2 ... --out OUT [--trials 2,5,10,20,all]`` (:func:`run_transfer_study`)
goes leave-one-subject-out over the recordings. For each held-out subject:

- **base**: each network fitted on the other subjects pooled, each of them Euclidean-aligned to
  its own mean spatial covariance (:func:`calibration.transfer.aligned_standardizer`, as
  ``rtdecode pretrain`` does), early-stopping on each source subject's last block, on labels
  alone; one base per held-out subject and network (seed 0). Its **zero-shot** top-1 on every
  trial of the held-out subject, aligned on all of them (unsupervised, no label used), is the
  N = 0 point;
- for each N in ``trials`` (per class) and each seed, the subject's **calibration trials** are
  its first N trials of each class in time order (:func:`calibration.transfer_calibrate.calibration_trials`,
  their last ~20 % validating), and the rest of the session tests; ``all`` (N = None) is the
  product's full-session calibration: every trial outside the held-out test blocks (the seed
  chooses them), tested on those blocks. Every run also records which of its test trials lie in
  the ``all`` point's test blocks (``common``), so every N is also scored on the same trials;
- paths, each trained distilled (the teacher's soft targets) and not, from the same seed:

  - ``subject``: a new network on the calibration trials alone, standardized as calibration does
    (per-channel scaling fitted on its training trials, **unaligned**);
  - ``subject-aligned``: the same, Euclidean-aligned on its calibration trials (optional);
  - ``transfer``: the base fine-tuned on the calibration trials, the subject aligned on its
    calibration trials only (no labels), by a **recipe**: ``all-layers`` (every layer at the
    network's learning rate), ``low-lr`` (every layer at a tenth of it) or ``head-first`` (the
    classifier head alone, then every layer at a tenth). The base's zero-shot top-1 under the
    same alignment (calibration trials only) is recorded beside it.

Each subject is prepared once (:func:`calibration.study.prepare_subject`: epochs, teacher
targets); bases go to ``OUT/bases/``. Runs are journalled in ``OUT/runs.partial.jsonl``
(:class:`calibration.study.Journal`): a study stopped midway continues where it was when run
again with the same options, sequentially or on Ray (the study's executors). Statistics:
:mod:`calibration.transfer_study_analysis`; report: :mod:`calibration.transfer_study_report`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from calibration.study import Executor, Journal, load_prepared, prepare_subject, run_sequential
from calibration.train import TrainConfig
from rtdecode.config import PipelineConfig
from rtdecode.models.student import StudentConfig

log = logging.getLogger(__name__)

JOURNAL = "runs.partial.jsonl"
PATHS = ("subject", "subject-aligned", "transfer")
RECIPES = ("all-layers", "low-lr", "head-first")
# The templates (rtdecode.models.templates) are not fine-tuned by a recipe: their mixing is refitted.
TEMPLATES = "templates"
REFIT = "refit"
LOW_LR_FACTOR = 0.1
# The task fields that identify a run in the journal; the config fields that only choose runs.
RUN_FIELDS = ("kind", "prepared", "network", "seed", "trials", "path", "recipe", "distill")
VARYING = ("seeds", "networks", "trials", "paths", "recipes", "kd")


@dataclass(frozen=True)
class TransferStudyConfig:
    """Settings shared by every run of a transfer study.

    Attributes
    ----------
    networks : tuple of str
        Transferable networks (:func:`rtdecode.models.registry.transferable`), e.g. ``("eegnet",)``.
    seeds : tuple of int
        Each seed: the ``all`` point's test blocks and the runs' initial weights / batch order.
    trials : tuple of (int or None)
        Calibration trials per class; None is ``all`` (every trial outside the test blocks).
    paths : tuple of str
        Among :data:`PATHS`.
    recipes : tuple of str
        Fine-tuning recipes among :data:`RECIPES` (each is one ``transfer`` run).
    kd : tuple of bool
        Which of the distilled (True) and plain (False) runs to make; distilled ones only with a
        teacher (``teacher`` not ``"none"``, ``train.alpha < 1``).
    train : TrainConfig
        Training of the subject-only and fine-tuning runs (``seed`` set per run).
    base_max_epochs : int or None
        The base's epoch cap (None: ``train.max_epochs``).
    student : StudentConfig
    pipeline : PipelineConfig or None
    teacher, teacher_weights : str
        As ``rtdecode study``; ``teacher="none"`` runs no distilled variant.
    soft_target_folds : int
    test_fraction : float
        Share of blocks the ``all`` point tests on.
    events, blocks : dict or None
        As :class:`calibration.study.StudyConfig`.
    """

    networks: tuple[str, ...] = ("eegnet",)
    seeds: tuple[int, ...] = (0,)
    trials: tuple[int | None, ...] = (2, 5, 10, 20, None)
    paths: tuple[str, ...] = ("subject", "transfer")
    recipes: tuple[str, ...] = ("all-layers",)
    kd: tuple[bool, ...] = (True, False)
    train: TrainConfig = field(default_factory=TrainConfig)
    base_max_epochs: int | None = None
    student: StudentConfig = field(default_factory=StudentConfig)
    pipeline: PipelineConfig | None = None
    teacher: str = "auto"
    teacher_weights: str | None = None
    soft_target_folds: int = 5
    test_fraction: float = 0.2
    events: dict[str, Any] | None = None
    blocks: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pipeline"] = None if self.pipeline is None else self.pipeline.to_dict()
        return d

    @property
    def distill_variants(self) -> tuple[bool, ...]:
        teacher = self.teacher != "none" and self.train.alpha < 1.0
        return tuple(kd for kd in self.kd if teacher or not kd)


@dataclass(frozen=True)
class TransferTask:
    """One unit of work: a base (``kind="base"``) or one learning-curve run (``kind="run"``)."""

    kind: str
    subject: str
    prepared: str
    base: str
    network: str
    sources: tuple[str, ...] = ()
    seed: int = 0
    trials: int | None = None
    path: str = ""
    recipe: str = ""
    distill: bool = False

    @property
    def model(self) -> str:
        if self.kind == "base":
            return f"base {self.network}"
        name = f"{self.path}" + (f" ({self.recipe})" if self.path == "transfer" else "")
        return name + (" +kd" if self.distill else "")

    @property
    def label(self) -> str:
        if self.kind == "base":
            return f"base {self.network} without subject {self.subject}"
        n = "all" if self.trials is None else self.trials
        return f"subject {self.subject}, seed {self.seed}, N={n}, {self.model}"

    def run(self, config: TransferStudyConfig) -> dict[str, Any]:
        return run_base(self, config) if self.kind == "base" else run_transfer_task(self, config)


def _inputs(spec, data: dict[str, Any], standardizer) -> np.ndarray:
    from calibration.networks import network_inputs

    pipeline = PipelineConfig.from_dict(data["meta"]["pipeline"])
    return network_inputs(spec.input, np.asarray(data["epochs"]), standardizer, pipeline)


def study_model(name: str):
    """The registry spec of a model the study can transfer: a transferable network or the templates.

    Raises
    ------
    ValueError
        Unknown, not transferable, or a classical pipeline that is refitted on pooled trials (the
        product's ``calibrate --base`` compares those; the study does not).
    """
    from rtdecode.models import registry

    spec = registry.find(name)
    if spec is None or spec.name not in registry.transferable():
        raise ValueError(f"{name} is not transferable; choose from {list(study_models())}")
    if spec.name not in study_models():
        raise ValueError(f"the transfer study runs {list(study_models())}, not {spec.name}")
    return spec


def study_models() -> tuple[str, ...]:
    """The transferable networks and the shared-response templates."""
    from rtdecode.models import registry

    return tuple(
        name for name in registry.transferable() if registry.get(name).fit == "network" or name == TEMPLATES
    )


def recipes_for(name: str, recipes: tuple[str, ...]) -> tuple[str, ...]:
    """A network's fine-tuning recipes; the templates have one (their mixing refitted)."""
    return (REFIT,) if name == TEMPLATES else recipes


def _unlabelled(model, x: np.ndarray):
    """The base's zero-shot model for a subject: the templates adapted to ``x`` without labels."""
    return model.fit_subject(x) if hasattr(model, "fit_subject") else model


def _predict(model, spec, x: np.ndarray) -> np.ndarray:
    from calibration.train import predict_proba

    return predict_proba(model, x) if spec.fit == "network" else np.asarray(model.predict_proba(x))


def _train_config(config: TransferStudyConfig, seed: int, **changes: Any) -> TrainConfig:
    return TrainConfig(**{**config.train.to_dict(), "seed": seed, "progress": False, **changes})


def _threads(config: TransferStudyConfig):
    import torch

    if config.train.threads:
        torch.set_num_threads(config.train.threads)


def run_base(task: TransferTask, config: TransferStudyConfig) -> dict[str, Any]:
    """Fit the base on ``task.sources`` (each aligned to itself), save it, score it zero-shot."""
    from calibration.classical import classical_model
    from calibration.metrics import evaluate_predictions
    from calibration.networks import fit_network
    from calibration.train import predict_proba
    from calibration.transfer import aligned_standardizer, placeholder_standardizer, validation_trials
    from rtdecode.io.bundle import ModelBundle, save_bundle

    started = time.perf_counter()
    _threads(config)
    spec = study_model(task.network)
    sources = [load_prepared(Path(p)) for p in task.sources]
    held = load_prepared(Path(task.prepared))
    classes = held["meta"]["class_names"]
    for s in sources:
        if s["meta"]["class_names"] != classes:
            raise ValueError(f"{s['meta']['subject']}: its classes differ from {task.subject}'s")
    n_classes = len(classes)
    x = np.concatenate([_inputs(spec, s, aligned_standardizer(np.asarray(s["epochs"]))) for s in sources])
    y = np.concatenate([s["labels"] for s in sources])
    val = np.concatenate([validation_trials(s["blocks"], s["onsets"]) for s in sources])
    pipeline = PipelineConfig.from_dict(held["meta"]["pipeline"])
    history = None
    if spec.fit == "network":
        train = _train_config(
            config, 0, **({"max_epochs": config.base_max_epochs} if config.base_max_epochs else {})
        )
        model, history = fit_network(
            spec,
            x,
            y,
            np.flatnonzero(~val),
            np.flatnonzero(val),
            n_classes,
            train,
            None,
            {"student": config.student},
        )
        model = model.cpu().eval()
        val_top1 = evaluate_predictions(y[val], predict_proba(model, x[val]), n_classes)["top1"]
    else:  # the templates: every source trial (they choose their settings on the sources themselves)
        subjects = np.concatenate([np.full(len(s["labels"]), i) for i, s in enumerate(sources)])
        model = classical_model(spec.classical_class(), y, n_classes, pipeline.sfreq).fit(x, y, subjects)
        val_top1 = float(np.mean(model.predict(x[val]) == y[val]))
    del x
    n_channels = np.asarray(held["epochs"][:1]).shape[2]
    save_bundle(
        ModelBundle(
            model=model,
            model_config=model.config if spec.fit == "network" else None,
            pipeline=pipeline,
            standardizer=placeholder_standardizer(n_channels),
            class_names=list(classes),
            channel_names=[f"ch{i}" for i in range(n_channels)],
            sfreq=pipeline.sfreq,
            extra={"base": True, "model": spec.name, "sources": [s["meta"]["subject"] for s in sources]},
        ),
        Path(task.base),
    )
    # Zero-shot, aligned on every trial of the held-out subject (unsupervised, transductive).
    held_epochs = np.asarray(held["epochs"])
    x_held = _inputs(spec, held, aligned_standardizer(held_epochs))
    # The templates adapt without labels (their mixing by expectation-maximisation on these trials).
    proba = _predict(_unlabelled(model, x_held), spec, x_held)
    return {
        **asdict(task),
        "model": task.model,
        "sources_subjects": [s["meta"]["subject"] for s in sources],
        "n_source_trials": int(len(y)),
        "y_all": held["labels"].tolist(),
        "pred_all": proba.argmax(1).tolist(),
        "zero_shot_top1": float(np.mean(proba.argmax(1) == held["labels"])),
        "pooled_val_top1": float(val_top1),
        "best_epoch": history.best_epoch if history else None,
        "epochs_run": len(history.train_loss) if history else 0,
        "train_seconds": history.seconds if history else None,
        **({"selection": model.selection_report()} if hasattr(model, "selection_report") else {}),
        "seconds": time.perf_counter() - started,
    }


def _head_parameters(model) -> set[int]:
    """The parameters of the network's last linear layer (its classifier head)."""
    from torch import nn

    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError(f"{type(model).__name__} has no linear head to fine-tune first")
    return {id(p) for p in linear[-1].parameters()}


def fine_tune(spec, base_model, x, y, trials, n_classes, config: TrainConfig, soft, recipe: str):
    """The base network trained on by ``recipe`` (see the module's description); ``(model, histories)``."""
    from calibration.networks import fit_network

    lr = spec.lr if spec.lr is not None else config.lr
    low = replace(spec, lr=lr * LOW_LR_FACTOR)
    if recipe == "all-layers":
        model, history = fit_network(
            spec, x, y, trials.train, trials.val, n_classes, config, soft, initial=base_model
        )
        return model, [history]
    if recipe == "low-lr":
        model, history = fit_network(
            low, x, y, trials.train, trials.val, n_classes, config, soft, initial=base_model
        )
        return model, [history]
    if recipe != "head-first":
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    import copy

    frozen = copy.deepcopy(base_model)
    head = _head_parameters(frozen)
    for p in frozen.parameters():
        p.requires_grad_(id(p) in head)
    first, h1 = fit_network(spec, x, y, trials.train, trials.val, n_classes, config, soft, initial=frozen)
    for p in first.parameters():
        p.requires_grad_(True)
    model, h2 = fit_network(low, x, y, trials.train, trials.val, n_classes, config, soft, initial=first)
    return model, [h1, h2]


def run_transfer_task(task: TransferTask, config: TransferStudyConfig) -> dict[str, Any]:
    """One learning-curve run: the subject's calibration trials, one path, scored on the rest."""
    from calibration.classical import classical_model
    from calibration.metrics import evaluate_predictions
    from calibration.networks import fit_network
    from calibration.transfer import aligned_standardizer
    from calibration.transfer_calibrate import calibration_trials
    from rtdecode.io.bundle import load_bundle
    from rtdecode.signal.standardize import Standardizer

    started = time.perf_counter()
    _threads(config)
    spec = study_model(task.network)
    data = load_prepared(Path(task.prepared))
    y = data["labels"]
    n_classes = len(data["meta"]["class_names"])
    index = _TrialIndex(y, data["blocks"], data["onsets"])
    trials = calibration_trials(index, task.trials, config.test_fraction, task.seed)
    full = calibration_trials(index, None, config.test_fraction, task.seed)
    common = np.isin(trials.test, full.test)
    if task.distill and data["soft"] is None:
        raise ValueError(
            f"{task.subject}: distillation asked for but the study has no teacher (--teacher none)"
        )
    soft = data["soft"] if task.distill else None
    epochs = np.asarray(data["epochs"])
    loaded = time.perf_counter()
    train = _train_config(config, task.seed)
    extra: dict[str, Any] = {}
    if task.path == "subject":
        standardizer = Standardizer().fit(np.swapaxes(epochs[trials.train], 1, 2))
    else:  # aligned on the calibration trials, no labels
        standardizer = aligned_standardizer(epochs[trials.calibration])
    x = _inputs(spec, data, standardizer)
    del epochs
    histories = []
    if task.path in ("subject", "subject-aligned") and spec.fit != "network":
        # The templates of this subject alone: rank-K class means (nothing shared to learn from).
        sfreq = PipelineConfig.from_dict(data["meta"]["pipeline"]).sfreq
        calibration = trials.calibration
        model = classical_model(spec.classical_class(), y[calibration], n_classes, sfreq)
        model.fit(x[calibration], y[calibration])
    elif task.path in ("subject", "subject-aligned"):
        model, history = fit_network(
            spec, x, y, trials.train, trials.val, n_classes, train, soft, {"student": config.student}
        )
        histories = [history]
    elif task.path == "transfer":
        base = load_bundle(Path(task.base)).model
        zero_started = time.perf_counter()
        zero = _predict(_unlabelled(base, x[trials.calibration]), spec, x[trials.test]).argmax(1)
        extra["pred_zero_shot"] = zero.tolist()
        extra["zero_shot_top1"] = float(np.mean(zero == y[trials.test]))
        # The zero-shot model is another path: its seconds are not this one's.
        extra["zero_shot_seconds"] = time.perf_counter() - zero_started
        loaded += extra["zero_shot_seconds"]
        if spec.fit == "network":
            model, histories = fine_tune(spec, base, x, y, trials, n_classes, train, soft, task.recipe)
        else:  # the templates: the subject's mixing from all its calibration trials
            model = base.fit_subject(x[trials.calibration], y[trials.calibration])
    else:
        raise ValueError(f"path must be one of {PATHS}, got {task.path!r}")
    model = model.cpu().eval() if spec.fit == "network" else model
    model_seconds = time.perf_counter() - loaded
    proba = _predict(model, spec, x[trials.test])
    meta = data["meta"]
    teacher_seconds = max(0.0, meta["seconds"] - meta.get("seconds_epochs", meta["seconds"]))
    preparing = meta.get("seconds_epochs", meta["seconds"]) + (teacher_seconds if task.distill else 0.0)
    return {
        **asdict(task),
        "model": task.model,
        "n_calibration": int(len(trials.calibration)),
        "calibration_per_class": float(len(trials.calibration) / n_classes),
        "n_train": int(len(trials.train)),
        "n_val": int(len(trials.val)),
        "test_index": trials.test.tolist(),
        "y_test": y[trials.test].tolist(),
        "pred_test": proba.argmax(1).tolist(),
        "common": common.tolist(),
        "metrics": evaluate_predictions(y[trials.test], proba, n_classes),
        "best_epoch": [h.best_epoch for h in histories],
        "epochs_run": [len(h.train_loss) for h in histories],
        "train_seconds": float(sum(h.seconds for h in histories)),
        "model_seconds": model_seconds,
        "preparing_seconds": preparing,
        # From the end of the recording: reading + epoching it (+ the teacher's targets when
        # distilled), the standardizer / alignment, the training; the base's pretraining excluded.
        "seconds_to_model": preparing + model_seconds,
        "seconds": time.perf_counter() - started,
        **extra,
    }


@dataclass(frozen=True)
class _TrialIndex:
    """What :func:`calibration_trials` reads of an EpochSet."""

    labels: np.ndarray
    blocks: np.ndarray
    onsets: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def transfer_tasks(
    prepared: Sequence[tuple[str, Path]], out: Path, config: TransferStudyConfig
) -> tuple[list[TransferTask], list[TransferTask]]:
    """The bases (one per held-out subject and network) and the runs, in the order they run.

    Runs go seed-major, then by N in the order given, then subject: a study stopped early has
    every subject for the points it finished.
    """
    bases, runs = [], []
    # A study of the subject-only path alone (e.g. the full-session reference) needs no base.
    for network in config.networks if "transfer" in config.paths else ():
        for subject, folder in prepared:
            sources = tuple(str(f) for s, f in prepared if s != subject)
            base = str(out / "bases" / f"{Path(folder).name}-{network}")
            bases.append(TransferTask("base", subject, str(folder), base, network, sources))
    for seed in config.seeds:
        for n in config.trials:
            for network in config.networks:
                for subject, folder in prepared:
                    base = str(out / "bases" / f"{Path(folder).name}-{network}")
                    distillable = study_model(network).distillable
                    for path in config.paths:
                        for recipe in recipes_for(network, config.recipes) if path == "transfer" else ("",):
                            for kd in [v for v in config.distill_variants if distillable or not v]:
                                runs.append(
                                    TransferTask(
                                        "run",
                                        subject,
                                        str(folder),
                                        base,
                                        network,
                                        (),
                                        seed,
                                        n,
                                        path,
                                        recipe,
                                        kd,
                                    )
                                )
    return bases, runs


def run_transfer_study(
    recordings: Sequence[str | Path],
    out_dir: str | Path,
    config: TransferStudyConfig | None = None,
    *,
    executor: Executor = run_sequential,
    images: Sequence[str | Path | None] | None = None,
) -> dict[str, Any]:
    """Prepare every subject, fit the bases, run every learning-curve run, analyse, write the report.

    Parameters
    ----------
    recordings : sequence of paths
        One session per subject, three or more (a base needs two others).
    out_dir : path
        ``prepared/``, ``bases/``, ``runs.partial.jsonl`` (the journal), ``runs.jsonl``,
        ``report.json``, ``report.md``, ``learning_curve.png``. The report covers every run in the
        journal made with the same settings (``trials``, ``paths``, ``recipes``, ``seeds`` and
        ``networks`` aside) for these subjects, so points can be added one study at a time.
    config : TransferStudyConfig, optional
    executor : Executor
        :func:`calibration.study.run_sequential` or a :class:`calibration.study_ray.RayExecutor`;
        the bases run first, then the runs.
    images : sequence, optional
        Stimulus folder per recording (default: the folder each recording names).

    Returns
    -------
    dict
        The report (also in ``report.json``).
    """
    from calibration.transfer_study_analysis import analyse_transfer
    from calibration.transfer_study_report import write_transfer_report

    config = config or TransferStudyConfig()
    if len(recordings) < 3:
        raise ValueError("a leave-one-subject-out transfer study needs three or more subjects' recordings")
    if not config.seeds or not config.trials:
        raise ValueError("seeds and trials must not be empty")
    for name in config.networks:
        study_model(name)
    unknown = set(config.paths) - set(PATHS) | set(config.recipes) - set(RECIPES)
    if unknown:
        raise ValueError(f"unknown paths or recipes {sorted(unknown)}: paths {PATHS}, recipes {RECIPES}")
    for n in config.trials:
        if n is not None and n < 2:
            raise ValueError(f"trials per class must be at least 2 (one trains, one validates), got {n}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    prepared: list[tuple[str, Path]] = []
    for i, recording in enumerate(recordings):
        folder = prepare_subject(recording, out, config, None if images is None else images[i])
        subject = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["subject"]
        if subject in [s for s, _ in prepared]:
            subject = f"{subject}#{i}"
        prepared.append((subject, folder))
        log.info("prepared subject %s (%s)", subject, folder)
    bases, runs = transfer_tasks(prepared, out, config)
    journal = Journal(out / JOURNAL, config, RUN_FIELDS, VARYING)
    log.info("%d bases, then %d runs", len(bases), len(runs))
    executor(bases, config, journal)
    _, where = executor(runs, config, journal)
    # The report covers every run of this configuration in the journal for these subjects: a
    # study run point by point (--trials 10, then --trials all...) reports them all together.
    folders = {str(f) for _, f in prepared}
    networks = set(config.networks)
    results = [r for r in journal.runs() if r["prepared"] in folders and r["network"] in networks]
    results.sort(key=lambda r: r["kind"] != "base")
    if not any(r["kind"] == "run" for r in results):
        raise ValueError(f"{out / JOURNAL} holds no finished run made with these settings")
    with open(out / "runs.jsonl", "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    report = analyse_transfer(results, config)
    report.update(
        {
            "config": config.to_dict(),
            "subjects": [s for s, _ in prepared],
            "recordings": [str(r) for r in recordings],
            "teacher": {s: json.loads((f / "meta.json").read_text())["teacher"] for s, f in prepared},
            "preparing_seconds": {
                s: json.loads((f / "meta.json").read_text()).get("seconds") for s, f in prepared
            },
            "executor": where,
            "seconds": time.perf_counter() - started,
        }
    )
    write_transfer_report(out, report)
    return report
