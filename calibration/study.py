"""A study's runner: subjects x seeds x networks, each distilled and not, on block splits.

Every run is one (subject, seed, network, distilled or not) :class:`StudyTask`, executed by
:func:`run_task`. :func:`run_study` is given the :class:`Executor` that runs the tasks: in
sequence here (:func:`run_sequential`, the default) or as Ray tasks
(:class:`calibration.study_ray.RayExecutor`); both run the same function, so both give the same
numbers. A seed sets the block split (which blocks are train / validation / test) and the
initial weights; the distilled and plain runs of one (subject, seed, network) share both, so
their difference is paired trial by trial.

Each subject's recording is prepared once (epochs through the live filter bank, the teacher's
out-of-fold soft targets) into ``OUT/prepared/`` and read back by every run of that subject.
The statistics are :mod:`calibration.study_analysis`, the written report
:mod:`calibration.study_report`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from calibration.study_analysis import analyse
from calibration.study_report import write_study_report
from calibration.train import TrainConfig
from rtdecode.config import PipelineConfig
from rtdecode.models.registry import PAPER_MODEL
from rtdecode.models.student import StudentConfig

log = logging.getLogger(__name__)

JOURNAL = "runs.partial.jsonl"


@dataclass(frozen=True)
class StudyConfig:
    """Settings shared by every run of a study.

    Attributes
    ----------
    networks : tuple of str
        Names in :data:`calibration.networks.NETWORKS`; each is trained distilled and not.
    seeds : tuple of int
        Each seed is one block split and one weight initialization.
    train : TrainConfig
        ``alpha``, ``temperature``, epochs, precision, threads...; ``seed`` is set per run.
    student : StudentConfig
        Architecture of the TFD networks (channels and classes come from the data).
    pipeline : PipelineConfig or None
        Preprocessing; ``None``: the paper's at the recording's rate.
    teacher, teacher_weights : str
        ``--teacher`` / ``--teacher-weights`` (:func:`calibration.teacher_choice.resolve_teacher`).
    soft_target_folds : int
    test_fraction, val_fraction : float
        Shares of blocks held out.
    events : dict or None
        ``--events``: which plain marker codes are stimuli of which class, as stored
        (:meth:`rtdecode.io.marker_mapping.MarkerMapping.to_dict`); None for JSON markers.
    blocks : dict or None
        ``--blocks``: how each recording's stimuli are grouped into blocks, as stored
        (:meth:`rtdecode.io.blocks.BlockRule.to_dict`); None for the default rule.
    """

    networks: tuple[str, ...] = (PAPER_MODEL,)
    seeds: tuple[int, ...] = (0, 1, 2)
    train: TrainConfig = field(default_factory=TrainConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    pipeline: PipelineConfig | None = None
    teacher: str = "auto"
    teacher_weights: str | None = None
    soft_target_folds: int = 5
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    events: dict[str, Any] | None = None
    blocks: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pipeline"] = None if self.pipeline is None else self.pipeline.to_dict()
        return d


@dataclass(frozen=True)
class StudyTask:
    """One run: a network trained on one subject with one seed, distilled or not."""

    subject: str
    prepared: str
    seed: int
    network: str
    distill: bool

    @property
    def model(self) -> str:
        return f"{self.network}+kd" if self.distill else self.network

    @property
    def label(self) -> str:
        """The run in a log line."""
        return f"subject {self.subject}, seed {self.seed}, {self.model}"

    def run(self, config: StudyConfig) -> dict[str, Any]:
        """Run this task (:func:`run_task`); what every executor calls through :func:`execute`."""
        return run_task(self, config)


# --------------------------------------------------------------------------------------------
# Preparing a subject once
# --------------------------------------------------------------------------------------------


def _preparation_key(recording: Path, config: StudyConfig) -> str:
    stat = recording.stat()
    parts = [
        str(recording.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        None if config.pipeline is None else config.pipeline.to_dict(),
        config.teacher,
        config.teacher_weights,
        config.train.temperature,
        config.soft_target_folds,
        # Studies without these options keep their prepared folders.
        *([config.events] if config.events else []),
        *([{"blocks": config.blocks}] if config.blocks else []),
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def prepare_subject(
    recording_path: str | Path, out_dir: str | Path, config: StudyConfig, images: str | Path | None = None
) -> Path:
    """Epoch one recording and compute its teacher targets, once; return the folder holding them.

    Writes ``epochs.npy`` ``(n, n_samples, n_channels)`` float32, ``labels.npy``, ``blocks.npy``,
    ``soft.npy`` ``(n, n_classes)`` (absent with ``teacher="none"``) and ``meta.json``
    (subject, class names, pipeline, teacher report). An existing folder for the same recording
    and settings is reused.
    """
    from calibration.epochs import epochs_from_recording
    from calibration.soft_targets import teacher_soft_targets
    from rtdecode.io import read_recording
    from rtdecode.io.blocks import BlockRule
    from rtdecode.io.marker_mapping import MarkerMapping

    recording_path = Path(recording_path)
    folder = Path(out_dir) / "prepared" / f"{recording_path.stem}-{_preparation_key(recording_path, config)}"
    if (folder / "meta.json").is_file():
        return folder
    started = time.perf_counter()
    events = None if config.events is None else MarkerMapping.from_dict(config.events)
    blocks = None if config.blocks is None else BlockRule.from_dict(config.blocks)
    recording = read_recording(recording_path, events=events, blocks=blocks)
    pipeline = config.pipeline or PipelineConfig(sfreq=recording.sfreq)
    epochs = epochs_from_recording(recording, pipeline)
    seconds_epochs = time.perf_counter() - started
    if images is None and recording.metadata.get("image_dir"):
        images = recording_path.parent / recording.metadata["image_dir"]
    teacher_report: dict[str, Any] = {"used": False}
    soft = None
    if config.teacher != "none":
        if images is None:
            raise ValueError(
                f"{recording_path}: no stimulus images for the teacher; give images or --teacher none"
            )
        teacher_report, soft = teacher_soft_targets(
            epochs.image_ids,
            epochs.labels,
            images,
            len(epochs.class_names),
            teacher=config.teacher,
            weights=config.teacher_weights,
            temperature=config.train.temperature,
            folds=config.soft_target_folds,
            device=config.train.device,
        )
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "epochs.npy", epochs.epochs)
    np.save(tmp / "labels.npy", epochs.labels.astype(np.int64))
    np.save(tmp / "blocks.npy", epochs.blocks.astype(np.int64))
    np.save(tmp / "onsets.npy", epochs.onsets.astype(np.float64))
    if soft is not None:
        np.save(tmp / "soft.npy", soft.astype(np.float32))
    subject = recording.metadata.get("subject", recording_path.stem)
    meta = {
        "subject": str(subject),
        "recording": str(recording_path),
        "class_names": epochs.class_names,
        "n_epochs": len(epochs),
        "dropped": epochs.dropped,
        "pipeline": pipeline.to_dict(),
        "teacher": teacher_report,
        "seconds": time.perf_counter() - started,
        "seconds_epochs": seconds_epochs,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=float), encoding="utf-8")
    if folder.exists():  # another process finished first: keep its copy
        import shutil

        shutil.rmtree(tmp)
    else:
        tmp.rename(folder)
    return folder


def load_prepared(folder: Path) -> dict[str, Any]:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    data = {
        "meta": meta,
        # Read-only memory maps: parallel runs of one subject share the page cache.
        "epochs": np.load(folder / "epochs.npy", mmap_mode="r"),
        "labels": np.load(folder / "labels.npy"),
        "blocks": np.load(folder / "blocks.npy"),
        # Folders prepared before onsets were kept hold their epochs in time order.
        "onsets": np.load(folder / "onsets.npy")
        if (folder / "onsets.npy").is_file()
        else np.arange(meta["n_epochs"], dtype=np.float64),
        "soft": np.load(folder / "soft.npy") if (folder / "soft.npy").is_file() else None,
    }
    return data


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


def run_task(task: StudyTask, config: StudyConfig) -> dict[str, Any]:
    """Train and test one network on one subject's split; the unit of sequential and Ray studies.

    Returns
    -------
    dict
        JSON-able: the task's fields, ``model``, ``metrics`` (top-1/3/5, macro F1, kappa),
        ``y_test`` and ``pred_test`` (class per test trial, for paired bootstraps),
        ``best_epoch``, ``epochs_run``, ``seconds``.
    """
    from calibration.metrics import evaluate_predictions
    from calibration.networks import fit_network, network, network_inputs
    from calibration.splits import block_split
    from calibration.train import predict_proba
    from rtdecode.signal.standardize import Standardizer

    started = time.perf_counter()
    data = load_prepared(Path(task.prepared))
    pipeline = PipelineConfig.from_dict(data["meta"]["pipeline"])
    y = data["labels"]
    n_classes = len(data["meta"]["class_names"])
    split = block_split(data["blocks"], config.test_fraction, config.val_fraction, task.seed)
    epochs = np.asarray(data["epochs"])
    standardizer = Standardizer().fit(np.swapaxes(epochs[split.train], 1, 2))
    spec = network(task.network)
    x = network_inputs(spec.input, epochs, standardizer, pipeline)
    del epochs
    if task.distill and data["soft"] is None:
        raise ValueError(
            f"{task.subject}: distillation asked for but the study has no teacher (--teacher none)"
        )
    train = TrainConfig(**{**config.train.to_dict(), "seed": task.seed, "progress": False})
    import torch

    threads = torch.get_num_threads()
    model, history = fit_network(
        spec,
        x,
        y,
        split.train,
        split.val,
        n_classes,
        train,
        data["soft"] if task.distill else None,
        {"student": config.student},
        sfreq=pipeline.sfreq,
    )
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    proba = predict_proba(model, x[split.test])
    torch.set_num_threads(threads)
    return {
        **asdict(task),
        "model": task.model,
        "metrics": evaluate_predictions(y[split.test], proba, n_classes),
        "y_test": y[split.test].tolist(),
        "pred_test": proba.argmax(1).tolist(),
        "test_blocks": split.test_blocks,
        "best_epoch": history.best_epoch,
        "epochs_run": len(history.train_loss),
        "train_seconds": history.seconds,
        "seconds": time.perf_counter() - started,
    }


# --------------------------------------------------------------------------------------------
# Executors and their journal
# --------------------------------------------------------------------------------------------


# Seeds and networks choose which runs exist, not how one runs: a study grown by a seed or a
# network reuses the runs it already has.
STUDY_VARYING = ("seeds", "networks")
# What identifies a run of the study in its journal (every result holds its task's fields).
STUDY_RUN_FIELDS = ("prepared", "seed", "network", "distill")


def config_key(config: Any, varying: Sequence[str] = STUDY_VARYING) -> str:
    """A hash of how ``config`` (anything with ``to_dict``) runs, leaving out the fields in ``varying``."""
    how = {k: v for k, v in config.to_dict().items() if k not in varying}
    return hashlib.sha256(json.dumps(how, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Journal:
    """Finished runs, appended to a JSON-lines file as each ends, so an interrupted study resumes.

    Runs in the file made with another configuration (see :func:`config_key`) are ignored.
    :func:`run_study` gives it to the executor, which skips the runs it holds and adds each
    result as it comes (the Ray driver in whatever order the tasks finish). Another study
    (:mod:`calibration.transfer_study`) passes its own ``fields`` (the task fields that identify
    a run) and ``varying`` (the config fields that only choose which runs exist).
    """

    def __init__(
        self,
        path: Path | None,
        config: Any,
        fields: Sequence[str] = STUDY_RUN_FIELDS,
        varying: Sequence[str] = STUDY_VARYING,
    ) -> None:
        self.path = path
        self.fields = tuple(fields)
        self.key = config_key(config, varying)
        self._done: dict[tuple, dict[str, Any]] = {}
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                if r.get("config_key") == self.key:
                    self._done[self._run_key(r)] = r

    def _run_key(self, run: dict[str, Any]) -> tuple:
        # A run is its task: the task's fields are in every result (see :func:`run_task`).
        return tuple(json.dumps(run.get(f), sort_keys=True) for f in self.fields)

    def get(self, task: Any) -> dict[str, Any] | None:
        """The recorded result of ``task``, or None when it has not run yet."""
        return self._done.get(self._run_key(asdict(task)))

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run of this configuration, in the order first recorded."""
        return list(self._done.values())

    def add(self, result: dict[str, Any]) -> dict[str, Any]:
        """Stamp ``result`` with this configuration's key, append it to the file and return it."""
        result = {**result, "config_key": self.key}
        self._done[self._run_key(result)] = result
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(result) + "\n")
        return result


def execute(task: Any, config: Any) -> dict[str, Any]:
    """Run one task of any study (``task.run(config)``): what both executors call."""
    return task.run(config)


class Executor(Protocol):
    """Runs a study's tasks; :func:`run_study` is given one.

    ``executor(tasks, config, journal)`` runs every task with :func:`execute` (or takes its
    result from ``journal``), adds each new result to ``journal`` as it finishes, and returns the
    results in task order with a JSON-able description of where they ran (``{"kind": ...}``,
    kept in the report).
    """

    def __call__(
        self, tasks: Sequence[StudyTask], config: StudyConfig, journal: Journal
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]: ...


def run_sequential(
    tasks: Sequence[StudyTask], config: StudyConfig, journal: Journal
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The sequential :class:`Executor`: the tasks one after the other in this process.

    Runs already in ``journal`` are not run again, and every finished run is added to it at
    once: an interrupted study resumes.

    Returns
    -------
    results : list of dict
        :func:`run_task` outputs, in task order.
    executor : dict
        ``{"kind": "sequential"}``.
    """
    results = []
    for i, task in enumerate(tasks):
        previous = journal.get(task)
        if previous is not None:
            results.append(previous)
            continue
        log.info("run %d/%d: %s", i + 1, len(tasks), task.label)
        results.append(journal.add(execute(task, config)))
    return results, {"kind": "sequential"}


# --------------------------------------------------------------------------------------------
# The whole study
# --------------------------------------------------------------------------------------------


def study_tasks(prepared: Sequence[tuple[str, Path]], config: StudyConfig, distill: bool) -> list[StudyTask]:
    """All runs: every subject x seed x network, distilled (when a teacher is used) and not."""
    variants = (True, False) if distill else (False,)
    # Seed-major: a study stopped early still has every subject, for the seeds it finished.
    return [
        StudyTask(subject, str(folder), seed, name, kd)
        for seed in config.seeds
        for subject, folder in prepared
        for name in config.networks
        for kd in variants
    ]


def run_study(
    recordings: Sequence[str | Path],
    out_dir: str | Path,
    config: StudyConfig | None = None,
    *,
    executor: Executor = run_sequential,
    images: Sequence[str | Path | None] | None = None,
) -> dict[str, Any]:
    """Prepare every subject, run every task, analyse and write the report.

    Parameters
    ----------
    recordings : sequence of paths
        One calibration session (.xdf) per subject.
    out_dir : path
        Receives ``prepared/``, ``runs.jsonl``, ``study.json``, ``study.md`` and the plots.
    config : StudyConfig, optional
    executor : Executor
        Runs the tasks: :func:`run_sequential` (default) or a
        :class:`calibration.study_ray.RayExecutor`. It is given the study's journal
        (``OUT/runs.partial.jsonl``), so an interrupted study resumes with either.
    images : sequence, optional
        Stimulus folder per recording (default: the folder each recording names).

    Returns
    -------
    dict
        The report (also in ``study.json``).
    """
    from calibration.networks import network

    config = config or StudyConfig()
    if not recordings:
        raise ValueError("recordings is empty; give at least one calibration session (.xdf)")
    if not config.seeds:
        raise ValueError("seeds is empty; give at least one seed, e.g. (0, 1, 2)")
    for name in config.networks:
        network(name)  # unknown names fail before any work
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
    tasks = study_tasks(prepared, config, config.teacher != "none" and config.train.alpha < 1.0)
    log.info(
        "%d runs: %d subjects x %d seeds x %d networks x (distilled, plain)",
        len(tasks),
        len(prepared),
        len(config.seeds),
        len(config.networks),
    )
    results, where = executor(tasks, config, Journal(out / JOURNAL, config))
    with open(out / "runs.jsonl", "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    teachers = {s: json.loads((folder / "meta.json").read_text())["teacher"] for s, folder in prepared}
    report = analyse(results, seeds=config.seeds, networks=config.networks)
    report.update(
        {
            "config": config.to_dict(),
            "subjects": [s for s, _ in prepared],
            "recordings": [str(r) for r in recordings],
            "teacher": teachers,
            "executor": where,
            "seconds": time.perf_counter() - started,
        }
    )
    write_study_report(out, report)
    return report
