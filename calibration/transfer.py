"""Cross-subject base models: other subjects' recordings, each aligned to itself, pooled and fitted.

``rtdecode pretrain REC1 REC2 ... --out BASE`` (:func:`pretrain`) prepares every recording as
calibration does (the live filter bank, the paper's view and the ERP view, cut at the stimulus
markers), aligns each subject's epochs to that subject's own mean spatial covariance (Euclidean
alignment, He & Wu 2019: unsupervised, :class:`~rtdecode.signal.standardize.Standardizer` with
``align="whiten"``), pools the subjects and fits every transferable model of the registry on the
pool: the networks (EEGNet, the paper's student) early-stop on each subject's last block; the
classical pipelines (xDAWN + tangent space, shrinkage LDA) are fitted on every pooled trial. For
the classical pipelines the alignment is their per-subject re-centring: after it each subject's
mean covariance is the identity, the Euclidean counterpart of pyRiemann's ``TLCenter``.

A base is a folder: ``base.json`` (subjects, classes, channels, rate, models, seconds) and one
model bundle per model (``BASE/<model>/``, loadable by :func:`rtdecode.io.bundle.load_bundle`,
its standardizer a placeholder: a new subject brings its own alignment), plus the pooled aligned
ERP trials (``source_erp.npz``, float16, capped at :data:`MAX_SOURCE_MB`) that a new subject's
classical pipelines are refitted with. :mod:`calibration.transfer_calibrate` uses it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from calibration.classical import classical_model
from calibration.epochs import EpochSet, epochs_from_recording
from calibration.fitting import ERP, PAPER, erp_pipeline
from calibration.metrics import evaluate_predictions
from calibration.networks import fit_network, network_inputs
from calibration.notch import choose_notch
from calibration.train import TrainConfig, predict_proba
from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import ModelBundle, load_bundle, save_bundle
from rtdecode.io.recording import Recording
from rtdecode.models import registry
from rtdecode.models.student import StudentConfig
from rtdecode.signal.standardize import Standardizer

log = logging.getLogger(__name__)

BASE_FORMAT = 1
BASE_FILE = "base.json"
SOURCE_FILE = "source_erp.npz"
DEFAULT_BASE_MODELS = ("templates", "eegnet", "student", "xdawn", "lda")
# The pooled aligned ERP trials kept for refitting the classical pipelines (float16); a larger
# pool is subsampled evenly per class and the base says so.
MAX_SOURCE_MB = 256.0


def missing_channels(available: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The names of ``wanted`` that ``available`` lacks (compared without case), in ``wanted``'s order."""
    lower = {name.lower() for name in available}
    return [name for name in wanted if name.lower() not in lower]


def lacks_message(what_lacks: str, missing: list[str], n_wanted: int, what: str) -> str:
    """One line: ``<what_lacks> lacks 3 of the 16 channels of <what>: [...]``."""
    return (
        f"{what_lacks} lacks {len(missing)} of the {n_wanted} channels of {what}: "
        f"{missing[:8]}{' ...' if len(missing) > 8 else ''}"
    )


def match_channels(recording: Recording, channel_names: list[str], what: str = "the base") -> Recording:
    """The recording with ``channel_names`` only, in that order (names compared without case).

    Raises
    ------
    ValueError
        In one line: the channels of ``channel_names`` the recording lacks.
    """
    missing = missing_channels(recording.channel_names, channel_names)
    if missing:
        raise ValueError(
            lacks_message(
                recording.metadata.get("source_file", "the recording"), missing, len(channel_names), what
            )
        )
    index = {name.lower(): i for i, name in enumerate(recording.channel_names)}
    order = [index[name.lower()] for name in channel_names]
    if order == list(range(recording.n_channels)):
        return recording
    log.info(
        "%s: %d of its %d channels used, in the order of %s",
        recording.metadata.get("source_file", "recording"),
        len(order),
        recording.n_channels,
        what,
    )
    return replace(recording, data=recording.data[:, order], channel_names=list(channel_names))


def common_channels(recordings: list[Recording]) -> list[str]:
    """The channels every recording has, in the first one's order (with a message for those left out)."""
    names = list(recordings[0].channel_names)
    for recording in recordings[1:]:
        lower = {c.lower() for c in recording.channel_names}
        names = [c for c in names if c.lower() in lower]
    if not names:
        raise ValueError("the recordings share no channel name: a base needs the same electrodes")
    left_out = sorted(
        {c for r in recordings for c in r.channel_names if c.lower() not in {n.lower() for n in names}}
    )
    if left_out:
        log.warning(
            "%d channels are not in every recording and are left out: %s", len(left_out), left_out[:10]
        )
    return names


def relabel(epochs: EpochSet, class_names: list[str]) -> EpochSet:
    """``epochs`` with labels indexing ``class_names`` (matched by name).

    Raises
    ------
    ValueError
        A class of the epochs that ``class_names`` lacks.
    """
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({epochs.class_names[label] for label in set(epochs.labels.tolist())} - set(index))
    if unknown:
        raise ValueError(f"classes {unknown[:8]} are not among the base's {len(class_names)} classes")
    mapping = np.array([index.get(name, -1) for name in epochs.class_names])
    return replace(epochs, labels=mapping[epochs.labels], class_names=list(class_names))


@dataclass
class SubjectData:
    """One subject's epochs in both views, the same trials in each (matched by onset).

    Attributes
    ----------
    name : str
    views : dict
        ``"paper"`` and (when asked for) ``"erp"``: ``(PipelineConfig, EpochSet)``.
    notes : list of str
    """

    name: str
    views: dict[str, tuple[PipelineConfig, EpochSet]]
    notes: list[str] = field(default_factory=list)

    @property
    def epochs(self) -> EpochSet:
        return self.views[PAPER][1]


def subject_data(
    recording: Recording,
    class_names: list[str] | None,
    with_erp: bool,
    mains: str = "auto",
    pipeline: PipelineConfig | None = None,
) -> SubjectData:
    """Epochs of one recording in the paper's view and the ERP view, labels in ``class_names``' order.

    Parameters
    ----------
    recording : Recording
    class_names : list of str or None
        The base's classes (None: the recording's own).
    with_erp : bool
        Also the ERP view (the classical pipelines'); trials missing from either view are dropped
        from both so that indices agree.
    mains : str
        The notch choice (:func:`calibration.notch.choose_notch`).
    pipeline : PipelineConfig, optional
        The paper's preprocessing to start from (its rate is set from the recording).
    """
    notes: list[str] = []
    pipeline = PipelineConfig.from_dict(
        {**(pipeline or PipelineConfig()).to_dict(), "sfreq": recording.sfreq}
    )
    pipeline, _ = choose_notch(recording, pipeline, mains, notes)
    paper = epochs_from_recording(recording, pipeline)
    class_names = class_names or paper.class_names
    views = {PAPER: (pipeline, relabel(paper, class_names))}
    if with_erp:
        erp_config = erp_pipeline(pipeline)
        erp = relabel(epochs_from_recording(recording, erp_config), class_names)
        paper = views[PAPER][1]
        both = np.intersect1d(paper.onsets, erp.onsets)
        views[PAPER] = (pipeline, paper.subset(np.flatnonzero(np.isin(paper.onsets, both))))
        views[ERP] = (erp_config, erp.subset(np.flatnonzero(np.isin(erp.onsets, both))))
    subject = recording.metadata.get("subject") or recording.metadata.get("source_file") or "subject"
    return SubjectData(str(subject), views, notes)


def aligned_standardizer(epochs: np.ndarray) -> Standardizer:
    """A subject's scaling and Euclidean alignment from its epochs ``(n, n_samples, n_channels)`` (no labels)."""
    return Standardizer(align="whiten").fit(np.swapaxes(epochs, 1, 2))


def placeholder_standardizer(n_channels: int) -> Standardizer:
    """The identity: a base model's bundle holds no subject's statistics (each subject brings its own)."""
    return Standardizer.from_dict({"mean": [0.0] * n_channels, "std": [1.0] * n_channels})


def validation_trials(blocks: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Boolean mask of a subject's early-stopping trials: its last block, or its last 10 % in time."""
    if len(np.unique(blocks)) > 1:
        return blocks == blocks.max()
    return onsets >= np.quantile(onsets, 0.9)


@dataclass
class Base:
    """A cross-subject base read from its folder.

    Attributes
    ----------
    folder : Path
    info : dict
        ``base.json``: ``subjects``, ``class_names``, ``channel_names``, ``sfreq``, ``models``...
    models : dict
        Registry name -> :class:`~rtdecode.io.bundle.ModelBundle` (placeholder standardizer).
    source : tuple or None
        ``(x, y, subject)`` pooled aligned ERP trials ``(n, n_channels, n_times)`` float16, labels and
        subject index, for refitting the classical pipelines.
    """

    folder: Path
    info: dict[str, Any]
    models: dict[str, ModelBundle]
    source: tuple[np.ndarray, np.ndarray, np.ndarray] | None

    @property
    def class_names(self) -> list[str]:
        return list(self.info["class_names"])

    @property
    def channel_names(self) -> list[str]:
        return list(self.info["channel_names"])

    @property
    def sfreq(self) -> float:
        return float(self.info["sfreq"])

    def check_signal(self, channel_names: Sequence[str], sfreq: float, what: str) -> None:
        """Refuse a signal this base cannot calibrate: another sampling rate, or missing channels.

        Run where the signal is first known (a presenter checks its EEG stream before the first
        image, so that nobody sits through a session whose calibration would be refused).

        Raises
        ------
        ValueError
            In one line: the two rates, or which of the base's channels ``what`` lacks.
        """
        if abs(sfreq - self.sfreq) > 1e-6:
            raise ValueError(
                f"{what} is sampled at {sfreq:g} Hz, the base at {self.sfreq:g} Hz: resample it first"
            )
        missing = missing_channels(channel_names, self.channel_names)
        if missing:
            raise ValueError(lacks_message(what, missing, len(self.channel_names), "the base"))


def load_base(folder: str | Path) -> Base:
    """Read a base written by :func:`pretrain`.

    Raises
    ------
    ValueError
        Not a base folder (one line saying what to pass).
    """
    folder = Path(folder)
    path = folder / BASE_FILE
    if not path.is_file():
        raise ValueError(
            f"{folder} is not a base (no {BASE_FILE}): make one with `rtdecode pretrain REC ... --out BASE`"
        )
    info = json.loads(path.read_text())
    if info.get("format") != BASE_FORMAT:
        raise ValueError(
            f"{folder}: base format {info.get('format')} is not {BASE_FORMAT}; pretrain it again"
        )
    models = {name: load_bundle(folder / name) for name in info["models"]}
    source = None
    if (folder / SOURCE_FILE).is_file():
        with np.load(folder / SOURCE_FILE) as data:
            source = (data["x"], data["y"], data["subject"])
    return Base(folder, info, models, source)


def pretrain(
    recordings: list[Recording],
    out: str | Path,
    models: tuple[str, ...] = DEFAULT_BASE_MODELS,
    train: TrainConfig | None = None,
    student: StudentConfig | None = None,
    teacher: Callable[[int, EpochSet], np.ndarray | None] | None = None,
    mains: str = "auto",
) -> Base:
    """Fit a cross-subject base on other subjects' recordings and save it.

    Parameters
    ----------
    recordings : list of Recording
        One or more subjects (one recording each; two or more to learn what subjects share); channels are matched by name (those not in every
        recording are left out, with a message); the rates must agree.
    out : path
        The base's folder (created).
    models : tuple of str
        Transferable registry names (:func:`rtdecode.models.registry.transferable`).
    train : TrainConfig, optional
        The networks' training (epochs, patience, seed...).
    student : StudentConfig, optional
        The paper's student's architecture.
    teacher : callable, optional
        ``teacher(i, epochs)``: the teacher's soft targets ``(n_trials, n_classes)`` of recording
        ``i``'s paper-view epochs (from their stimulus images), or None. When every recording has
        them, the distillable networks are distilled (``train.alpha < 1``).
    mains : str
        The notch choice per recording.

    Returns
    -------
    Base

    Raises
    ------
    ValueError
        No recording, rates that differ, an unknown or non-transferable model.
    """
    started = time.perf_counter()
    if not recordings:
        raise ValueError("a cross-subject base needs recordings of other subjects: give one or more")
    if len(recordings) == 1:
        log.warning("a base from one subject: it transfers that subject's patterns only")
    rates = sorted({float(r.sfreq) for r in recordings})
    if len(rates) > 1:
        raise ValueError(
            f"the recordings are sampled at different rates {rates} Hz: resample them to one rate first"
        )
    unknown = [m for m in models if registry.canonical(m) not in registry.transferable()]
    if unknown:
        raise ValueError(f"cannot pretrain {unknown}; transferable models: {list(registry.transferable())}")
    models = tuple(registry.canonical(m) for m in models)
    train = train or TrainConfig()
    channels = common_channels(recordings)
    recordings = [match_channels(r, channels, "every recording") for r in recordings]
    with_erp = any(registry.get(m).view.preprocessing == ERP for m in models)
    subjects: list[SubjectData] = []
    class_names: list[str] | None = None
    for recording in recordings:
        data = subject_data(recording, class_names, with_erp, mains)
        class_names = class_names or data.epochs.class_names
        subjects.append(data)
        log.info(
            "%s: %d trials, %d classes", data.name, len(data.epochs), len(set(data.epochs.labels.tolist()))
        )
    assert class_names is not None
    n_classes = len(class_names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pooled_y = np.concatenate([s.epochs.labels for s in subjects])
    subject_index = np.concatenate([np.full(len(s.epochs), i) for i, s in enumerate(subjects)])
    val_mask = np.concatenate([validation_trials(s.epochs.blocks, s.epochs.onsets) for s in subjects])
    train_idx, val_idx = np.flatnonzero(~val_mask), np.flatnonzero(val_mask)
    standardizers = {
        view: [aligned_standardizer(s.views[view][1].epochs) for s in subjects] for view in subjects[0].views
    }
    targets = [teacher(i, s.epochs) for i, s in enumerate(subjects)] if teacher is not None else []
    soft = np.concatenate(targets) if targets and all(t is not None for t in targets) else None
    if targets and soft is None:
        log.warning("not every recording has stimulus images: the base is trained without distillation")
    model_info: dict[str, Any] = {}
    for name in models:
        spec = registry.get(name)
        view = spec.view.preprocessing
        t0 = time.perf_counter()
        x = np.concatenate(
            [
                network_inputs(spec.input, s.views[view][1].epochs, standardizers[view][i], s.views[view][0])
                for i, s in enumerate(subjects)
            ]
        )
        pipeline = subjects[0].views[view][0]
        if spec.fit == "network":
            distill = soft is not None and spec.distillable and train.alpha < 1.0
            options = {
                "student": StudentConfig(
                    **{
                        **(student or StudentConfig()).to_dict(),
                        "n_channels": len(channels),
                        "n_classes": n_classes,
                    }
                )
            }
            # At the recording's rate: EEGNet bins its input to 4 ms steps as calibration's does.
            model, history = fit_network(
                spec,
                x,
                pooled_y,
                train_idx,
                val_idx,
                n_classes,
                train,
                soft if distill else None,
                options,
                sfreq=pipeline.sfreq,
            )
            model = model.cpu().eval()
            val_metrics = evaluate_predictions(pooled_y[val_idx], predict_proba(model, x[val_idx]), n_classes)
            config, extra = model.config, {"history": history.to_dict(), "distilled": distill}
        else:
            sfreq = pipeline.sfreq
            model = classical_model(spec.classical_class(), pooled_y[train_idx], n_classes, sfreq)
            model.fit(x[train_idx], pooled_y[train_idx], **_by_subject(model, subject_index[train_idx]))
            val_metrics = evaluate_predictions(pooled_y[val_idx], model.predict_proba(x[val_idx]), n_classes)
            # The base serves zero-shot from every pooled trial (no early stopping to keep them for).
            model = classical_model(spec.classical_class(), pooled_y, n_classes, sfreq)
            model.fit(x, pooled_y, **_by_subject(model, subject_index))
            config, extra = None, _selection(model)
            if view == ERP:
                _save_source(out, x, pooled_y, subject_index, model_info)
        seconds = time.perf_counter() - t0
        bundle = ModelBundle(
            model=model,
            model_config=config,
            pipeline=pipeline,
            standardizer=placeholder_standardizer(len(channels)),
            class_names=list(class_names),
            channel_names=channels,
            sfreq=recordings[0].sfreq,
            metrics={"pooled_validation": val_metrics},
            extra={"base": True, "model": name, "pipeline_name": view, **extra},
        )
        save_bundle(bundle, out / name)
        model_info[name] = {
            "view": view,
            "seconds": seconds,
            "pooled_validation_top1": val_metrics["top1"],
            "distilled": bool(extra.get("distilled", False)),
            **({"selection": extra["selection"]} if "selection" in extra else {}),
        }
        log.info("base %s: %.1f s, pooled validation top-1 %.3f", name, seconds, val_metrics["top1"])
    info = {
        "format": BASE_FORMAT,
        "subjects": [
            {
                "name": s.name,
                "source": r.metadata.get("source_file"),
                "n_trials": len(s.epochs),
                "classes": int(len(set(s.epochs.labels.tolist()))),
            }
            for s, r in zip(subjects, recordings, strict=True)
        ],
        "class_names": list(class_names),
        "channel_names": channels,
        "sfreq": float(recordings[0].sfreq),
        "alignment": "euclidean (each subject whitened by its own mean spatial covariance)",
        "validation": "each subject's last block (its last 10 % of trials when it has one block)",
        "models": {k: v for k, v in model_info.items() if k in models},
        "source": model_info.get("_source"),
        "seconds": time.perf_counter() - started,
    }
    (out / BASE_FILE).write_text(json.dumps(info, indent=2))
    return load_base(out)


def _by_subject(model: Any, subjects: np.ndarray) -> dict[str, Any]:
    """``fit``'s subject argument for a model that learns what subjects share (the templates)."""
    return {"subjects": subjects} if hasattr(model, "fit_subject") else {}


def _selection(model: Any) -> dict[str, Any]:
    """How a model chose its own settings on the sources (the templates' K and ridge), for base.json."""
    return {"selection": model.selection_report()} if hasattr(model, "selection_report") else {}


def _save_source(out: Path, x: np.ndarray, y: np.ndarray, subject: np.ndarray, info: dict[str, Any]) -> None:
    """Keep the pooled aligned ERP trials (float16) for refits, subsampled per class to the size cap."""
    if "_source" in info:
        return
    per_trial_mb = x[0].size * 2 / 1e6
    keep = np.arange(len(y))
    if len(y) * per_trial_mb > MAX_SOURCE_MB:
        rng = np.random.default_rng(0)
        budget = int(MAX_SOURCE_MB / per_trial_mb)
        share = budget / len(y)
        keep = np.sort(
            np.concatenate(
                [
                    rng.permutation(np.flatnonzero(y == c))[: max(1, int(share * np.sum(y == c)))]
                    for c in np.unique(y)
                ]
            )
        )
    np.savez(out / SOURCE_FILE, x=x[keep].astype(np.float16), y=y[keep], subject=subject[keep])
    info["_source"] = {"n_trials": int(len(keep)), "of": int(len(y)), "cap_mb": MAX_SOURCE_MB}
