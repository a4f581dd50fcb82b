"""A stand-alone linear teacher on image embeddings, with a held-out score and a file format.

:func:`fit_teacher` fits the teacher's linear head (:func:`calibration.soft_targets.fit_linear`)
on a stratified split of the images to measure it on held-out images, then refits it on all of
them; :class:`Teacher` holds the result, gives soft targets at a temperature and saves to one
``.safetensors`` file. Calibration and the study take their distillation targets out of fold
instead (:func:`calibration.soft_targets.teacher_soft_targets`); the embeddings come from
:mod:`calibration.image_encoder`.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.soft_targets import fit_linear, softmax

log = logging.getLogger(__name__)

_TEACHER_FORMAT = "rtdecode-teacher"
_TEACHER_VERSION = 1


@dataclass
class Teacher:
    """Linear classifier on image embeddings: ``logits = embeddings @ weight.T + bias``.

    Attributes
    ----------
    weight : np.ndarray, shape (n_classes, d), float32
    bias : np.ndarray, shape (n_classes,), float32
    held_out_accuracy : float or None
        Accuracy on the held-out images of the stratified split, before the refit on all images;
        ``None`` when nothing was held out.
    train_accuracy : float
        Accuracy of the final (all-image) classifier on its own training images.
    temperature : float
        Default temperature of :meth:`soft_targets`.
    missing_classes : list of int
        Classes without any image; their probability is 0.
    info : dict
        Anything else worth keeping (encoder description, C, seed, image counts).
    """

    weight: np.ndarray
    bias: np.ndarray
    held_out_accuracy: float | None = None
    train_accuracy: float = float("nan")
    temperature: float = 1.0
    missing_classes: list[int] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.float32)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[0],):
            raise ValueError(
                f"weight must be (n_classes, d) and bias (n_classes,), got {self.weight.shape}, {self.bias.shape}"
            )

    @property
    def n_classes(self) -> int:
        return int(self.weight.shape[0])

    @property
    def embed_dim(self) -> int:
        return int(self.weight.shape[1])

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """Class scores, shape (n, n_classes), float32, for embeddings of shape (n, d)."""
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.embed_dim:
            raise ValueError(f"embeddings must be (n, {self.embed_dim}), got shape {x.shape}")
        return x @ self.weight.T + self.bias

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Predicted class indices, shape (n,), int64."""
        return self.logits(embeddings).argmax(axis=1).astype(np.int64)

    def soft_targets(self, embeddings: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """``softmax(logits / T)``, the distillation targets.

        Parameters
        ----------
        embeddings : np.ndarray, shape (n, d)
        temperature : float, optional
            T > 0; ``None`` uses ``self.temperature``. Higher T gives flatter rows.

        Returns
        -------
        np.ndarray, shape (n, n_classes), float32
            Rows sum to 1.
        """
        return softmax(
            self.logits(embeddings), self.temperature if temperature is None else float(temperature)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, weights included as nested lists."""
        return {**self._metadata(), "weight": self.weight.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Teacher:
        """Inverse of :meth:`to_dict`."""
        _check_format(data)
        return cls(
            weight=np.asarray(data["weight"], dtype=np.float32),
            bias=np.asarray(data["bias"], dtype=np.float32),
            **_fields_from_metadata(data),
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write one ``.safetensors`` file: weight and bias, the rest as JSON in its header."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(
            {"weight": self.weight, "bias": self.bias},
            str(path),
            metadata={"teacher": json.dumps(self._metadata())},
        )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Teacher:
        """Read a file written by :meth:`save` (no pickle involved)."""
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("teacher", "{}"))
            tensors = {key: f.get_tensor(key) for key in ("weight", "bias")}
        _check_format(meta)
        return cls(**tensors, **_fields_from_metadata(meta))

    def _metadata(self) -> dict[str, Any]:
        return {
            "format": _TEACHER_FORMAT,
            "version": _TEACHER_VERSION,
            "n_classes": self.n_classes,
            "embed_dim": self.embed_dim,
            "held_out_accuracy": self.held_out_accuracy,
            "train_accuracy": self.train_accuracy,
            "temperature": self.temperature,
            "missing_classes": list(self.missing_classes),
            "info": self.info,
        }


def _check_format(data: dict[str, Any]) -> None:
    if data.get("format") != _TEACHER_FORMAT:
        raise ValueError(f"not a teacher: format is {data.get('format')!r}, expected {_TEACHER_FORMAT!r}")
    if data.get("version", 0) > _TEACHER_VERSION:
        raise ValueError(
            f"teacher format version {data['version']} is newer than this code ({_TEACHER_VERSION})"
        )


def _fields_from_metadata(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "held_out_accuracy": data.get("held_out_accuracy"),
        "train_accuracy": data.get("train_accuracy", float("nan")),
        "temperature": data.get("temperature", 1.0),
        "missing_classes": list(data.get("missing_classes", [])),
        "info": dict(data.get("info", {})),
    }


def fit_teacher(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    held_out_fraction: float = 0.2,
    seed: int = 0,
    *,
    C: float = 1.0,
    temperature: float = 1.0,
) -> Teacher:
    """Fit the linear teacher, measure it on held-out images, then refit on all images.

    A multinomial logistic regression (scikit-learn, L-BFGS; deterministic) on standardized
    embeddings, with the standardization folded into ``weight`` and ``bias``. First it is fit on
    a stratified split (per class, ``held_out_fraction`` of its images held out, at least one when
    the class has two or more) and scored on the held-out images: ``held_out_accuracy``. Then it
    is refit on *all* images, since every stimulus image needs its soft targets and a held-out
    image would otherwise get the targets of a classifier that never saw it.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_images, d)
    labels : np.ndarray, shape (n_images,), int in [0, n_classes)
    n_classes : int
        Classes without images get probability 0 (and a warning).
    held_out_fraction : float
        In [0, 1); 0 skips the held-out measurement.
    seed : int
        Seeds the split.
    C : float
        Inverse L2 regularization strength.
    temperature : float
        Default temperature of the returned teacher's :meth:`Teacher.soft_targets`.

    Returns
    -------
    Teacher
    """
    x, y = _check_fit_inputs(embeddings, labels, n_classes, held_out_fraction)
    present = np.unique(y)
    missing = sorted(set(range(n_classes)) - set(present.tolist()))
    if missing:
        warnings.warn(
            f"{len(missing)} of {n_classes} classes have no image ({missing[:10]}): the teacher gives them probability 0",
            stacklevel=2,
        )
    held_out_accuracy = None
    if held_out_fraction > 0:
        train_idx, test_idx = stratified_split(y, held_out_fraction, seed)
        if len(test_idx) == 0:
            warnings.warn(
                "no class has two images: nothing held out, held_out_accuracy is None", stacklevel=2
            )
        elif len(np.unique(y[train_idx])) < 2:
            raise ValueError(
                "the training part of the split has fewer than 2 classes; lower held_out_fraction"
            )
        else:
            w, b = fit_linear(x[train_idx], y[train_idx], n_classes, C)
            held_out_accuracy = float(np.mean((x[test_idx] @ w.T + b).argmax(1) == y[test_idx]))
    weight, bias = fit_linear(x, y, n_classes, C)
    train_accuracy = float(np.mean((x @ weight.T + bias).argmax(1) == y))
    info = {
        "classifier": "logistic regression (sklearn lbfgs) on standardized embeddings",
        "C": C,
        "seed": seed,
        "held_out_fraction": held_out_fraction,
        "n_images": len(y),
    }
    log.info("teacher: held-out accuracy %s, train accuracy %.3f", held_out_accuracy, train_accuracy)
    return Teacher(weight, bias, held_out_accuracy, train_accuracy, float(temperature), missing, info)


def _check_fit_inputs(
    embeddings: np.ndarray, labels: np.ndarray, n_classes: int, held_out_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y) or y.ndim != 1:
        raise ValueError(f"embeddings must be (n, d) and labels (n,), got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("embeddings contain NaN or inf; check the images and the encoder")
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
        raise ValueError(
            f"labels must be integers in [0, {n_classes}), got {y.dtype} in [{y.min()}, {y.max()}]"
        )
    if len(np.unique(y)) < 2:
        raise ValueError(f"the teacher needs images of at least 2 classes, got {len(np.unique(y))}")
    if not 0 <= held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    return x, y.astype(np.int64)


def stratified_split(
    labels: np.ndarray, held_out_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class random split of image indices.

    Each class with ``m >= 2`` images holds out ``round(fraction * m)`` of them, clipped to
    ``[1, m - 1]`` so every class is both trained on and tested; a single-image class is trained on only.

    Returns
    -------
    train_idx, test_idx : np.ndarray, shape (n_train,), (n_test,), int64, sorted
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        k = 0 if len(idx) < 2 else int(np.clip(round(held_out_fraction * len(idx)), 1, len(idx) - 1))
        test.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))
