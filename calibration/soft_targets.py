"""The teacher's soft targets for distillation: out-of-fold, at the distillation temperature.

The teacher is an image encoder (:mod:`calibration.image_encoder`) with a linear head
(:func:`fit_linear`) on the embeddings of the stimulus images. A linear head fitted on every stimulus image and then asked about those same images answers
with near one-hot rows (mean max probability 0.999 at T = 1 on the simulated subject): the
targets then carry nothing beyond the label. Here the images are split into k stratified folds
and each image's targets come from a head fitted on the other folds only, so they show which
classes the encoder finds it similar to, as the teacher would for an unseen image.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from calibration.image_encoder import ImageEncoder

log = logging.getLogger(__name__)

# Logit given to classes without any image: far enough below any fitted logit that their
# probability is exactly 0 in float32 at any sensible temperature, yet finite for JSON.
ABSENT_CLASS_LOGIT = -1.0e4


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row softmax of ``logits / temperature``, shape (n, n_classes), float32, computed in float64."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; use e.g. 1.0")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return p.astype(np.float32)


def fit_linear(x: np.ndarray, y: np.ndarray, n_classes: int, C: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's linear head: logistic regression on standardized embeddings, over all classes.

    A multinomial logistic regression (scikit-learn, L-BFGS; deterministic) fitted on ``x``
    standardized per feature, with the standardization folded into the returned weights, so
    ``x @ weight.T + bias`` are the logits of the raw embeddings.

    Parameters
    ----------
    x : np.ndarray, shape (n_images, d), float64
        Image embeddings.
    y : np.ndarray, shape (n_images,), int in [0, n_classes)
        At least two distinct classes.
    n_classes : int
        Rows of the result; classes absent from ``y`` get a zero weight row and a bias of
        :data:`ABSENT_CLASS_LOGIT` (probability 0).
    C : float
        Inverse L2 regularization strength.

    Returns
    -------
    weight : np.ndarray, shape (n_classes, d), float32
    bias : np.ndarray, shape (n_classes,), float32
    """
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # Constant features (zero spread) stay as they are instead of dividing by zero.
    scale[scale < 1e-12] = 1.0
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit((x - mean) / scale, y)
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:
        # sklearn keeps one logit for two classes; softmax([-z/2, z/2]) equals sigmoid(z).
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((n_classes, x.shape[1]))
    bias = np.full(n_classes, ABSENT_CLASS_LOGIT)
    weight[clf.classes_] = coef / scale
    bias[clf.classes_] = intercept - (coef / scale) @ mean
    return weight.astype(np.float32), bias.astype(np.float32)


def out_of_fold_logits(
    embeddings: np.ndarray, labels: np.ndarray, n_classes: int, folds: int = 5, seed: int = 0, C: float = 1.0
) -> np.ndarray:
    """Teacher logits of every image from a linear head that never saw it.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_images, d)
    labels : np.ndarray, shape (n_images,), int in [0, n_classes)
    n_classes : int
    folds : int
        k of the stratified k-fold over images (at least 2; lowered to the largest class size).
    seed : int
        Seeds the fold assignment.
    C : float
        Inverse L2 strength of the logistic regression (:func:`fit_linear`).

    Returns
    -------
    np.ndarray, shape (n_images, n_classes), float32
    """
    from sklearn.model_selection import StratifiedKFold

    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if folds < 2:
        raise ValueError(f"folds must be >= 2 (each image scored by a head not fitted on it), got {folds}")
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"embeddings must be (n, d) with one label each, got {x.shape} and {y.shape}")
    k = min(folds, int(np.bincount(y).max()))
    if k < 2:
        raise ValueError("every class has a single image: out-of-fold targets need two images of a class")
    out = np.empty((len(y), n_classes), dtype=np.float32)
    import warnings

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Classes with fewer images than folds are expected with small sessions.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for train_idx, test_idx in splitter.split(x, y):
            weight, bias = fit_linear(x[train_idx], y[train_idx], n_classes, C)
            out[test_idx] = x[test_idx] @ weight.T + bias
    return out


def target_statistics(soft: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
    """How informative soft targets are.

    Parameters
    ----------
    soft : np.ndarray, shape (n, n_classes)
        Rows sum to 1.
    labels : np.ndarray, shape (n,), optional
        True classes, for the accuracy and the mass on the true class.

    Returns
    -------
    dict
        ``mean_max_prob``; ``mean_entropy_nats`` and ``mean_entropy_fraction`` (entropy over
        ``log(n_classes)``: 0 one-hot, 1 uniform); with labels ``accuracy`` and
        ``mean_true_class_prob``.
    """
    p = np.asarray(soft, dtype=np.float64)
    entropy = -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)
    stats = {
        "mean_max_prob": float(p.max(axis=1).mean()),
        "mean_entropy_nats": float(entropy.mean()),
        "mean_entropy_fraction": float(entropy.mean() / np.log(p.shape[1])) if p.shape[1] > 1 else 0.0,
    }
    if labels is not None:
        y = np.asarray(labels, dtype=np.int64)
        stats["accuracy"] = float(np.mean(p.argmax(axis=1) == y))
        stats["mean_true_class_prob"] = float(p[np.arange(len(y)), y].mean())
    return stats


def image_paths(folder: str | Path) -> dict[str, Path]:
    """``{image_id: path}`` of every .png/.jpg below ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"image folder {folder} does not exist; give the folder the stimuli were shown from")
    return {p.stem: p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")}


def embedding_cache_dir() -> Path:
    """Where image embeddings are kept: ``$RTDECODE_CACHE/embeddings``, else ``~/.cache/rtdecode/embeddings``."""
    root = os.environ.get("RTDECODE_CACHE") or os.path.join("~", ".cache", "rtdecode")
    return Path(root).expanduser() / "embeddings"


def cached_embeddings(encoder: ImageEncoder, paths: Sequence[Path], cache: Path | None = None) -> np.ndarray:
    """``encoder.embed(paths)``, computed once per encoder and image content.

    The key hashes the encoder's name and weight source and every image's bytes, so a session
    recalibrated, a study's seeds, or subjects shown the same images reuse one embedding pass
    (2000 images take minutes on a 2-core CPU). On a CPU with native bfloat16 the encoder runs
    under bfloat16 autocast (about 1.7x faster); the embeddings are float32 either way.

    Returns
    -------
    np.ndarray, shape (n_images, embed_dim), float32
    """
    import hashlib

    import torch

    from calibration.train import autocast_dtype

    digest = hashlib.sha256(json.dumps([encoder.name, encoder.weights, encoder.pretrained]).encode())
    for path in paths:
        digest.update(Path(path).read_bytes())
    folder = cache or embedding_cache_dir()
    file = folder / f"{digest.hexdigest()[:32]}.npy"
    if file.is_file():
        cached = np.load(file, allow_pickle=False)
        if cached.shape == (len(paths), encoder.embed_dim):
            log.info("teacher: %d image embeddings from the cache %s", len(paths), file)
            return cached
    dtype = autocast_dtype(encoder.device)
    with torch.autocast(encoder.device.type, dtype=dtype, enabled=dtype is not None):
        embeddings = encoder.embed(list(paths))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, embeddings)
        tmp.replace(file)  # atomic: parallel study workers never read half a file
    except OSError as err:  # a read-only home must not stop a calibration
        log.warning("could not cache image embeddings in %s: %s", folder, err)
    return embeddings


def teacher_soft_targets(
    image_ids: Sequence[str],
    labels: np.ndarray,
    image_folder: str | Path,
    n_classes: int,
    teacher: str | None = "auto",
    weights: str | None = None,
    temperature: float = 1.0,
    folds: int = 5,
    seed: int = 0,
    device: str = "auto",
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Out-of-fold soft targets for every trial, from its stimulus image.

    Parameters
    ----------
    image_ids : sequence of str, length n_trials
        Stimulus image of each trial (``<image_id>.png`` below ``image_folder``).
    labels : np.ndarray, shape (n_trials,)
    image_folder : path
    n_classes : int
    teacher, weights : str
        ``--teacher`` / ``--teacher-weights``, resolved by
        :func:`calibration.teacher_choice.resolve_teacher`.
    temperature : float
        T of the targets (the student's KL term uses the same T).
    folds : int
        k of the k-fold over images.
    seed : int
    device : str

    Returns
    -------
    report : dict
        Encoder, weight source, out-of-fold accuracy, target statistics at T (and at T = 1 when
        T differs), for the calibration report.
    soft : np.ndarray, shape (n_trials, n_classes), float32, or None
        ``None`` when ``teacher`` is ``"none"``.
    """
    from calibration.teacher_choice import resolve_teacher

    choice = resolve_teacher(teacher, weights)
    if choice is None:
        return {"used": False, "reason": "--teacher none: trained on labels only"}, None
    from calibration.image_encoder import load_image_encoder

    paths = image_paths(image_folder)
    missing = sorted(set(image_ids) - set(paths))
    if missing:
        raise ValueError(
            f"{len(missing)} stimulus images are missing from {image_folder} (e.g. {missing[:3]}); "
            "give the folder the session's images were presented from"
        )
    ids = sorted(set(image_ids))
    label_of = dict(zip(image_ids, np.asarray(labels).tolist(), strict=True))
    image_labels = np.array([label_of[i] for i in ids])
    encoder = load_image_encoder(choice.model_name, choice.pretrained, device)
    embeddings = cached_embeddings(encoder, [paths[i] for i in ids])
    logits = out_of_fold_logits(embeddings, image_labels, n_classes, folds, seed)
    soft_images = softmax(logits, temperature)
    row = {image: k for k, image in enumerate(ids)}
    soft = soft_images[[row[i] for i in image_ids]]
    stats = target_statistics(soft_images, image_labels)
    report: dict[str, Any] = {
        "used": True,
        **encoder.info(),
        "weight_source": choice.source,
        "n_images": len(ids),
        "n_classes": n_classes,
        "folds": min(folds, int(np.bincount(image_labels).max())),
        "held_out_accuracy": stats["accuracy"],
        "temperature": temperature,
        "targets": stats,
        "mean_max_soft_target": stats["mean_max_prob"],
    }
    if temperature != 1.0:
        report["targets_at_T1"] = target_statistics(softmax(logits, 1.0), image_labels)
    log.info(
        "teacher %s (%s): out-of-fold accuracy %.3f; targets at T=%g: mean max %.3f, entropy %.2f of uniform",
        encoder.name,
        choice.source,
        stats["accuracy"],
        temperature,
        stats["mean_max_prob"],
        stats["mean_entropy_fraction"],
    )
    return report, soft


def describe_teacher(report: dict) -> str:
    """One sentence on a used teacher: encoder, weight source, and its soft targets' quality.

    ``report`` is the teacher report a calibration or a study run stores (``used`` true).
    """
    t = report["targets"]
    return (
        f"teacher {report['encoder']} ({report['weight_source']}); out-of-fold soft targets "
        f"({report['folds']}-fold over images) at T = {report['temperature']:g}: accuracy "
        f"{t['accuracy']:.3f}, mean max probability {t['mean_max_prob']:.3f}, entropy "
        f"{t['mean_entropy_nats']:.2f} nats ({t['mean_entropy_fraction']:.2f} of uniform)"
    )
