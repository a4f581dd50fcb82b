"""A study: subjects x seeds x networks, each distilled and not, on block splits; one report.

Every run is one (subject, seed, network, distilled or not) :class:`StudyTask`, executed by
:func:`run_task`, in sequence on this machine or as Ray tasks (:mod:`calibration.study_ray`): the
same function either way, so both give the same numbers. A seed sets the block split (which
blocks are train / validation / test) and the initial weights; the distilled and plain runs of
one (subject, seed, network) share both, so their difference is paired trial by trial.

Each subject's recording is prepared once (epochs through the live filter bank, the teacher's
out-of-fold soft targets) into ``OUT/prepared/`` and read back by every run of that subject.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.soft_targets import describe_teacher
from calibration.train import TrainConfig
from rtdecode.config import PipelineConfig
from rtdecode.models.student import StudentConfig

log = logging.getLogger(__name__)

N_BOOTSTRAP = 2000
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
    """

    networks: tuple[str, ...] = ("stft_cnn",)
    seeds: tuple[int, ...] = (0, 1, 2)
    train: TrainConfig = field(default_factory=TrainConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    pipeline: PipelineConfig | None = None
    teacher: str = "auto"
    teacher_weights: str | None = None
    soft_target_folds: int = 5
    test_fraction: float = 0.2
    val_fraction: float = 0.1

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
    from rtdecode.io.xdf import read_xdf

    recording_path = Path(recording_path)
    folder = Path(out_dir) / "prepared" / f"{recording_path.stem}-{_preparation_key(recording_path, config)}"
    if (folder / "meta.json").is_file():
        return folder
    started = time.perf_counter()
    recording = read_xdf(recording_path)
    pipeline = config.pipeline or PipelineConfig(sfreq=recording.sfreq)
    epochs = epochs_from_recording(recording, pipeline)
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
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=float), encoding="utf-8")
    if folder.exists():  # another process finished first: keep its copy
        import shutil

        shutil.rmtree(tmp)
    else:
        tmp.rename(folder)
    return folder


def _load_prepared(folder: Path) -> dict[str, Any]:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    data = {
        "meta": meta,
        # Read-only memory maps: parallel runs of one subject share the page cache.
        "epochs": np.load(folder / "epochs.npy", mmap_mode="r"),
        "labels": np.load(folder / "labels.npy"),
        "blocks": np.load(folder / "blocks.npy"),
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
    data = _load_prepared(Path(task.prepared))
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
    ray_address: str | None = None,
    ray_cpus: int | None = None,
    gpus_per_run: float | None = None,
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
    ray_address : str, optional
        ``None`` runs in sequence here; ``"auto"`` joins the running Ray cluster (else starts
        a local one), ``"local"`` starts a local one, anything else is a cluster address.
    ray_cpus : int, optional
        CPUs of a Ray instance started here.
    gpus_per_run : float, optional
        GPUs per Ray task when the cluster has GPUs (default 1); ignored without GPUs.
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
    if ray_address is None:
        results = run_sequential(tasks, config, journal=out / JOURNAL)
        executor = {"kind": "sequential"}
    else:
        from calibration.study_ray import run_on_ray

        results, executor = run_on_ray(
            tasks, config, ray_address, ray_cpus, gpus_per_run, journal=Journal(out / JOURNAL, config)
        )
    with open(out / "runs.jsonl", "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    teachers = {s: json.loads((folder / "meta.json").read_text())["teacher"] for s, folder in prepared}
    report = analyse(results, config)
    report.update(
        {
            "config": config.to_dict(),
            "subjects": [s for s, _ in prepared],
            "recordings": [str(r) for r in recordings],
            "teacher": teachers,
            "executor": executor,
            "seconds": time.perf_counter() - started,
        }
    )
    write_study_report(out, report)
    return report


def _config_key(config: StudyConfig) -> str:
    # Seeds and networks choose which runs exist, not how one runs: a study grown by a seed
    # or a network reuses the runs it already has.
    how = {k: v for k, v in config.to_dict().items() if k not in ("seeds", "networks")}
    return hashlib.sha256(json.dumps(how, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Journal:
    """Finished runs, appended to a JSON-lines file as each ends, so an interrupted study resumes.

    Runs in the file made with another configuration (see :func:`_config_key`) are ignored.
    Both executors use it: the sequential loop and the Ray driver (which writes as results
    come back, in whatever order the tasks finish).
    """

    def __init__(self, path: Path | None, config: StudyConfig) -> None:
        self.path = path
        self.key = _config_key(config)
        self._done: dict[tuple, dict[str, Any]] = {}
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                if r.get("config_key") == self.key:
                    self._done[self._run_key(r)] = r

    @staticmethod
    def _run_key(run: dict[str, Any]) -> tuple:
        # A run is its task: the task's fields are in every result (see :func:`run_task`).
        return (run["prepared"], run["seed"], run["network"], run["distill"])

    def get(self, task: StudyTask) -> dict[str, Any] | None:
        """The recorded result of ``task``, or None when it has not run yet."""
        return self._done.get(self._run_key(asdict(task)))

    def add(self, result: dict[str, Any]) -> dict[str, Any]:
        """Stamp ``result`` with this configuration's key, append it to the file and return it."""
        result = {**result, "config_key": self.key}
        self._done[self._run_key(result)] = result
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(result) + "\n")
        return result


def run_sequential(
    tasks: Sequence[StudyTask],
    config: StudyConfig,
    progress: Callable[[int, int], None] | None = None,
    journal: Path | None = None,
) -> list[dict[str, Any]]:
    """Run the tasks one after the other in this process.

    With ``journal``, every finished run is appended to that JSON-lines file at once, and runs
    already there for the same configuration are not run again: an interrupted study resumes.
    """
    record = Journal(journal, config)
    results = []
    for i, task in enumerate(tasks):
        previous = record.get(task)
        if previous is not None:
            results.append(previous)
            continue
        log.info("run %d/%d: subject %s, seed %d, %s", i + 1, len(tasks), task.subject, task.seed, task.model)
        results.append(record.add(run_task(task, config)))
        if progress:
            progress(i + 1, len(tasks))
    return results


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


def _bootstrap_indices(n: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    return rng.integers(0, n, size=(n_boot, n))


def paired_difference(
    runs_a: Sequence[dict[str, Any]], runs_b: Sequence[dict[str, Any]], rng: np.random.Generator, n_boot: int
) -> dict[str, Any]:
    """Top-1 of ``a`` minus ``b``, averaged over paired runs (same subject, seed, test trials).

    The 95 % interval resamples test trials within each run (the same trials for both models),
    keeping the runs fixed: it says how sure the difference is given these subjects and seeds.

    Returns
    -------
    dict
        ``mean``, ``ci95`` ``[low, high]``, ``boot`` (the bootstrap means, for pooling), ``n_runs``.
    """
    boots = np.zeros(n_boot)
    means = []
    for a, b in zip(runs_a, runs_b, strict=True):
        if a["y_test"] != b["y_test"]:
            raise ValueError("paired runs must share their test trials (same subject and seed)")
        y = np.asarray(a["y_test"])
        d = (np.asarray(a["pred_test"]) == y).astype(float) - (np.asarray(b["pred_test"]) == y)
        means.append(d.mean())
        boots += d[_bootstrap_indices(len(d), rng, n_boot)].mean(axis=1)
    boots /= len(means)
    return {
        "mean": float(np.mean(means)),
        "ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
        "per_seed": [float(m) for m in means],
        "n_runs": len(means),
        "boot": boots,
    }


def _accuracy_interval(runs: Sequence[dict[str, Any]], rng: np.random.Generator, n_boot: int) -> list[float]:
    boots = np.zeros(n_boot)
    for r in runs:
        correct = (np.asarray(r["pred_test"]) == np.asarray(r["y_test"])).astype(float)
        boots += correct[_bootstrap_indices(len(correct), rng, n_boot)].mean(axis=1)
    boots /= len(runs)
    return [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]


def analyse(results: Sequence[dict[str, Any]], config: StudyConfig, seed: int = 0) -> dict[str, Any]:
    """Per-subject results, the Table 1 summary and the paired distillation differences.

    Parameters
    ----------
    results : sequence of dict
        :func:`run_task` outputs.
    config : StudyConfig
    seed : int
        Seeds the bootstrap (the report is a pure function of the runs).

    Returns
    -------
    dict
        ``per_subject`` ``{subject: {model: {metric: mean over seeds}, ...}}`` with ``top1_sd_seeds``
        and ``top1_ci95``; ``summary`` ``{model: {metric: {"mean", "sd"}}}`` across subjects;
        ``distillation`` ``{network: {"per_subject": ..., "overall": ...}}``; ``runs`` (metrics only).
    """
    from calibration.metrics import summarize_across_subjects

    rng = np.random.default_rng(seed)
    subjects = list(dict.fromkeys(r["subject"] for r in results))
    models = list(dict.fromkeys(r["model"] for r in results))
    by = {(r["subject"], r["model"], r["seed"]): r for r in results}
    per_subject: dict[str, dict[str, dict[str, float]]] = {}
    for s in subjects:
        per_subject[s] = {}
        for m in models:
            runs = [by[(s, m, k)] for k in config.seeds if (s, m, k) in by]
            if not runs:
                continue
            keys = [k for k in runs[0]["metrics"] if k != "n"]
            entry = {k: float(np.mean([r["metrics"][k] for r in runs])) for k in keys}
            entry["top1_sd_seeds"] = (
                float(np.std([r["metrics"]["top1"] for r in runs], ddof=1)) if len(runs) > 1 else 0.0
            )
            entry["top1_ci95"] = _accuracy_interval(runs, rng, N_BOOTSTRAP)
            entry["n_test"] = float(np.mean([len(r["y_test"]) for r in runs]))
            per_subject[s][m] = entry
    summary = {}
    for m in models:
        rows = {
            s: {k: v for k, v in per_subject[s][m].items() if not isinstance(v, list)}
            for s in subjects
            if m in per_subject[s]
        }
        summary[m] = summarize_across_subjects(rows)
    distillation: dict[str, Any] = {}
    for net in config.networks:
        kd, plain = f"{net}+kd", net
        if kd not in models or plain not in models:
            continue
        entry: dict[str, Any] = {"per_subject": {}}
        pooled = np.zeros(N_BOOTSTRAP)
        subject_means = []
        for s in subjects:
            pairs = [
                (by[(s, kd, k)], by[(s, plain, k)])
                for k in config.seeds
                if (s, kd, k) in by and (s, plain, k) in by
            ]
            diff = paired_difference([a for a, _ in pairs], [b for _, b in pairs], rng, N_BOOTSTRAP)
            pooled += diff.pop("boot")
            subject_means.append(diff["mean"])
            entry["per_subject"][s] = diff
        pooled /= len(subjects)
        means = np.asarray(subject_means)
        overall: dict[str, Any] = {
            "mean": float(means.mean()),
            "ci95_trials": [float(np.percentile(pooled, 2.5)), float(np.percentile(pooled, 97.5))],
            "n_subjects": len(subjects),
            "n_seeds": len(config.seeds),
        }
        from scipy import stats

        if len(means) > 1:
            half = stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / np.sqrt(len(means))
            overall["ci95_subjects_t"] = [float(means.mean() - half), float(means.mean() + half)]
        # Every (subject, seed) pair as one paired replicate: the spread of retraining (split and
        # initialization), which the bootstrap over test trials does not see.
        per_run = np.concatenate([entry["per_subject"][s]["per_seed"] for s in subjects])
        if len(per_run) > 1:
            half = stats.t.ppf(0.975, len(per_run) - 1) * per_run.std(ddof=1) / np.sqrt(len(per_run))
            overall["ci95_runs_t"] = [float(per_run.mean() - half), float(per_run.mean() + half)]
            overall["sd_runs"] = float(per_run.std(ddof=1))
        entry["overall"] = overall
        distillation[net] = entry
    runs = [{k: v for k, v in r.items() if k not in ("y_test", "pred_test")} for r in results]
    return {"per_subject": per_subject, "summary": summary, "distillation": distillation, "runs": runs}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _fmt_ci(ci: Sequence[float]) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def study_markdown(report: dict[str, Any]) -> str:
    """The study report as Markdown: Table 1, per-subject top-1, distillation differences."""
    from calibration.report import metrics_table_markdown

    subjects = report["subjects"]
    models = list(report["summary"])
    any_subject = report["per_subject"][subjects[0]]
    n_classes = round(1.0 / any_subject[models[0]]["chance_top1"])
    cfg = report["config"]
    lines = [
        "# Distillation study",
        "",
        f"{len(subjects)} subjects x {len(cfg['seeds'])} seeds (block split and initialization) x "
        f"{len(cfg['networks'])} networks, each distilled (+kd) and not; {n_classes} classes. "
        f"alpha {cfg['train']['alpha']}, T {cfg['train']['temperature']}, at most {cfg['train']['max_epochs']} epochs "
        f"(patience {cfg['train']['patience']}). Executor: {report['executor']['kind']}. "
        f"{report['seconds'] / 60:.1f} min.",
        "",
        "## Table 1: mean (sd) across subjects (each subject: mean over seeds)",
        "",
        metrics_table_markdown(report["summary"], 1.0 / n_classes, min(5, n_classes) / n_classes),
        "",
        "## Top-1 per subject (mean over seeds; 95 % interval: bootstrap over test trials)",
        "",
        "| subject | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for s in subjects:
        cells = []
        for m in models:
            e = report["per_subject"][s].get(m)
            cells.append(
                "" if e is None else f"{e['top1']:.3f} [{e['top1_ci95'][0]:.3f}, {e['top1_ci95'][1]:.3f}]"
            )
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Distilled minus not distilled (top-1, paired: same split, trials and initial weights)",
        "",
    ]
    for net, entry in report["distillation"].items():
        o = entry["overall"]
        text = f"**{net}**: {o['mean']:+.3f}, 95 % interval over test trials {_fmt_ci(o['ci95_trials'])}"
        if "ci95_subjects_t" in o:
            text += f"; across subjects (t, {o['n_subjects'] - 1} df) {_fmt_ci(o['ci95_subjects_t'])}"
        if "ci95_runs_t" in o:
            text += f"; across subject x seed runs (t) {_fmt_ci(o['ci95_runs_t'])}, run-to-run sd {o['sd_runs']:.3f}"
        lines += [
            text,
            "",
            "| subject | difference | 95 % interval (trials) | per seed |",
            "|---|---|---|---|",
        ]
        for s, d in entry["per_subject"].items():
            seeds = ", ".join(f"{v:+.3f}" for v in d["per_seed"])
            lines.append(f"| {s} | {d['mean']:+.3f} | {_fmt_ci(d['ci95'])} | {seeds} |")
        lines.append("")
    lines += ["## Teacher targets", ""]
    for s, t in report["teacher"].items():
        if t.get("used"):
            lines.append(f"- {s}: {describe_teacher(t)}")
        else:
            lines.append(f"- {s}: no teacher")
    return "\n".join(lines) + "\n"


def plot_study(report: dict[str, Any], path: Path) -> None:
    """Per-subject top-1 bars with 95 % intervals, and the paired distillation differences."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subjects = report["subjects"]
    models = list(report["summary"])
    fig, (ax, ax_d) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(len(models), 1)
    xs = np.arange(len(subjects))
    for i, m in enumerate(models):
        tops = [report["per_subject"][s][m]["top1"] for s in subjects]
        ci = np.array([report["per_subject"][s][m]["top1_ci95"] for s in subjects])
        err = np.vstack([np.array(tops) - ci[:, 0], ci[:, 1] - np.array(tops)])
        ax.bar(xs + (i - (len(models) - 1) / 2) * width, tops, width, yerr=err, capsize=3, label=m)
    first = report["per_subject"][subjects[0]][models[0]]
    ax.axhline(first["chance_top1"], color="k", ls=":", lw=1, label="chance")
    ax.set_xticks(xs, subjects)
    ax.set(
        xlabel="subject",
        ylabel="top-1 (mean over seeds)",
        title="per subject, 95 % interval over test trials",
    )
    ax.legend(fontsize=8)
    nets = list(report["distillation"])
    for j, net in enumerate(nets):
        entry = report["distillation"][net]
        d = [entry["per_subject"][s]["mean"] for s in subjects]
        ci = np.array([entry["per_subject"][s]["ci95"] for s in subjects])
        offset = (j - (len(nets) - 1) / 2) * 0.8 / max(len(nets), 1)
        ax_d.errorbar(
            xs + offset,
            d,
            yerr=np.vstack([np.array(d) - ci[:, 0], ci[:, 1] - np.array(d)]),
            fmt="o",
            capsize=3,
            label=net,
        )
        o = entry["overall"]
        ax_d.errorbar(
            [len(subjects) + offset],
            [o["mean"]],
            yerr=[[o["mean"] - o["ci95_trials"][0]], [o["ci95_trials"][1] - o["mean"]]],
            fmt="s",
            capsize=3,
            color=f"C{j}",
        )
    ax_d.axhline(0, color="k", lw=1)
    ax_d.set_xticks(list(xs) + [len(subjects)], [*subjects, "all"])
    ax_d.set(xlabel="subject", ylabel="top-1 difference", title="distilled minus not, 95 % interval")
    if nets:
        ax_d.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_study_report(out_dir: Path, report: dict[str, Any]) -> None:
    """``study.json``, ``study.md`` and ``study.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "study.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    (out_dir / "study.md").write_text(study_markdown(report), encoding="utf-8")
    plot_study(report, out_dir / "study.png")
