"""Classical ERP decoders as plain arrays: inference only (fitting lives in calibration/).

Two models the field uses on few-channel, few-trial evoked-response data:

- :class:`XdawnTangentSpaceLR`: xDAWN spatial filters, "super-trial" covariances (class
  prototypes stacked on the filtered epoch, OAS shrinkage), projection to the tangent space of
  the SPD manifold at the training mean, logistic regression (pyriemann's
  ``XdawnCovariances -> TangentSpace -> LogisticRegression``);
- :class:`WindowedMeansLDA`: per-channel means over consecutive time windows, shrinkage linear
  discriminant analysis.

Each holds numpy arrays and a small JSON config, so a bundle stores it in safetensors + JSON
with no pickle, and computes exactly what the fitted scikit-learn / pyriemann pipeline computes
(checked by the tests). Inputs are filtered, standardized epochs ``(n, n_samples, n_channels)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


def _linear_proba(
    features: np.ndarray, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray, n_classes: int
) -> np.ndarray:
    """scikit-learn's probabilities of a linear classifier (binary: logistic; else softmax).

    Parameters
    ----------
    features : np.ndarray, shape (n, n_features)
    coef : np.ndarray, shape (1, n_features) for two classes, else (len(classes), n_features)
    intercept : np.ndarray, shape (coef.shape[0],)
    classes : np.ndarray, shape (n_fitted,), int
        Class index of each output column (classes absent in training get probability 0).

    Returns
    -------
    np.ndarray, shape (n, n_classes), float64
    """
    decision = features @ coef.T + intercept
    if coef.shape[0] == 1:
        p = 1.0 / (1.0 + np.exp(-decision[:, 0]))
        fitted = np.column_stack([1.0 - p, p])
    else:
        decision = decision - decision.max(axis=1, keepdims=True)
        fitted = np.exp(decision)
        fitted /= fitted.sum(axis=1, keepdims=True)
    out = np.zeros((len(features), n_classes))
    out[:, classes] = fitted
    return out


def _check_shape(name: str, array: np.ndarray, shape: tuple[int | None, ...]) -> None:
    if array.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, array.shape, strict=True)
    ):
        raise ValueError(f"array {name!r} has shape {array.shape}, expected {shape}: the bundle is corrupt")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"array {name!r} holds NaN or Inf: the bundle is corrupt")


@dataclass
class ClassicalModel:
    """Common part: the arrays, the class count, the bundle (de)serialization.

    Subclasses set :attr:`kind` and :attr:`ARRAYS` and implement :meth:`predict_proba`.
    """

    kind: ClassVar[str] = ""
    ARRAYS: ClassVar[tuple[str, ...]] = ()

    n_classes: int
    arrays: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        missing = set(self.ARRAYS) - set(self.arrays)
        if missing:
            raise ValueError(f"{self.kind} model lacks arrays {sorted(missing)}: the bundle is corrupt")
        self.arrays = {k: np.asarray(v) for k, v in self.arrays.items()}
        self._validate()

    def _validate(self) -> None:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The JSON part of the model (besides its arrays)."""
        return {"n_classes": self.n_classes}

    @classmethod
    def from_bundle(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> ClassicalModel:
        return cls(n_classes=int(config["n_classes"]), arrays=arrays)

    def predict_proba(self, epochs: np.ndarray) -> np.ndarray:
        """Class probabilities of standardized epochs ``(n, n_samples, n_channels)`` -> ``(n, n_classes)``."""
        raise NotImplementedError

    def _classes(self) -> np.ndarray:
        return self.arrays["classes"].astype(int)


def _spd_function(matrices: np.ndarray, function) -> np.ndarray:
    """Apply ``function`` to the eigenvalues of symmetric matrices ``(..., n, n)``."""
    values, vectors = np.linalg.eigh(matrices)
    return (vectors * function(values)[..., None, :]) @ np.swapaxes(vectors, -1, -2)


def _oas_covariances(x: np.ndarray) -> np.ndarray:
    """OAS-shrunk covariances of trials ``(n, n_signals, n_times)`` (scikit-learn's ``oas`` per trial)."""
    n_times, n_features = x.shape[2], x.shape[1]
    centered = x - x.mean(axis=2, keepdims=True)
    emp = centered @ np.swapaxes(centered, 1, 2) / n_times
    mu = np.trace(emp, axis1=1, axis2=2) / n_features
    alpha = np.mean(emp**2, axis=(1, 2))
    num = alpha + mu**2
    den = (n_times + 1.0) * (alpha - mu**2 / n_features)
    shrinkage = np.where(den == 0, 1.0, np.minimum(num / np.where(den == 0, 1.0, den), 1.0))
    eye = np.eye(n_features)
    return (1.0 - shrinkage)[:, None, None] * emp + (shrinkage * mu)[:, None, None] * eye


@dataclass
class XdawnTangentSpaceLR(ClassicalModel):
    """xDAWN covariances + tangent space + logistic regression.

    Arrays
    ------
    filters : (n_filters, n_channels)
        xDAWN spatial filters (all classes stacked).
    prototypes : (n_filters, n_samples)
        Filtered class-mean responses, stacked on each filtered epoch.
    reference : (2 n_filters, 2 n_filters)
        Riemannian mean of the training covariances (the tangent point).
    coef : (1 or n_fitted, n_tangent), intercept : (1 or n_fitted,), classes : (n_fitted,)
        Logistic regression on the tangent vectors.
    """

    kind: ClassVar[str] = "xdawn_ts_lr"
    ARRAYS: ClassVar[tuple[str, ...]] = ("filters", "prototypes", "reference", "coef", "intercept", "classes")

    def _validate(self) -> None:
        a = self.arrays
        n_filters = a["filters"].shape[0] if a["filters"].ndim == 2 else -1
        _check_shape("filters", a["filters"], (None, None))
        _check_shape("prototypes", a["prototypes"], (n_filters, None))
        size = 2 * n_filters
        _check_shape("reference", a["reference"], (size, size))
        _check_shape("coef", a["coef"], (None, size * (size + 1) // 2))
        _check_shape("intercept", a["intercept"], (a["coef"].shape[0],))
        _check_shape("classes", a["classes"], (max(2, a["coef"].shape[0]),))
        if np.any(np.linalg.eigvalsh(a["reference"]) <= 0):
            raise ValueError("the tangent-space reference is not positive definite: the bundle is corrupt")
        self._ref_isqrt = _spd_function(a["reference"], lambda w: 1.0 / np.sqrt(w))
        rows, cols = np.triu_indices(size)
        self._upper = (rows, cols, np.where(rows == cols, 1.0, np.sqrt(2.0)))

    def covariances(self, epochs: np.ndarray) -> np.ndarray:
        """Super-trial covariances ``(n, 2 n_filters, 2 n_filters)`` of epochs ``(n, n_samples, n_channels)``."""
        x = np.asarray(epochs, dtype=np.float64)
        if x.shape[1] != self.arrays["prototypes"].shape[1]:
            raise ValueError(
                f"epochs have {x.shape[1]} samples, the model {self.arrays['prototypes'].shape[1]}: "
                "decode with the bundle's own pipeline"
            )
        filtered = self.arrays["filters"] @ np.swapaxes(x, 1, 2)
        prototypes = np.broadcast_to(self.arrays["prototypes"], filtered.shape)
        return _oas_covariances(np.concatenate([prototypes, filtered], axis=1))

    def tangent_vectors(self, covariances: np.ndarray) -> np.ndarray:
        """pyriemann's ``tangent_space(C, reference)``: ``(n, d, d)`` -> ``(n, d (d + 1) / 2)``."""
        whitened = self._ref_isqrt @ covariances @ self._ref_isqrt
        logs = _spd_function((whitened + np.swapaxes(whitened, 1, 2)) / 2, np.log)
        rows, cols, weights = self._upper
        return logs[:, rows, cols] * weights

    def predict_proba(self, epochs: np.ndarray) -> np.ndarray:
        a = self.arrays
        features = self.tangent_vectors(self.covariances(epochs))
        return _linear_proba(features, a["coef"], a["intercept"], self._classes(), self.n_classes)


@dataclass
class WindowedMeansLDA(ClassicalModel):
    """Shrinkage LDA on per-channel means over consecutive time windows.

    Arrays
    ------
    windows : (n_windows, 2), int
        ``[start, stop)`` sample indices of each window inside the epoch.
    coef : (1 or n_fitted, n_windows * n_channels), intercept, classes
        The discriminant (features ordered window-major: all channels of window 0 first).
    """

    kind: ClassVar[str] = "lda_windowed"
    ARRAYS: ClassVar[tuple[str, ...]] = ("windows", "coef", "intercept", "classes")

    def _validate(self) -> None:
        a = self.arrays
        _check_shape("windows", a["windows"], (None, 2))
        if np.any(a["windows"][:, 1] <= a["windows"][:, 0]) or np.any(a["windows"] < 0):
            raise ValueError("windows must be [start, stop) with stop > start >= 0: the bundle is corrupt")
        _check_shape("coef", a["coef"], (None, None))
        if a["coef"].shape[1] % len(a["windows"]):
            raise ValueError("coef width is not a multiple of the window count: the bundle is corrupt")
        _check_shape("intercept", a["intercept"], (a["coef"].shape[0],))
        _check_shape("classes", a["classes"], (max(2, a["coef"].shape[0]),))

    @staticmethod
    def window_means(epochs: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """Window-major features ``(n, n_windows * n_channels)`` of epochs ``(n, n_samples, n_channels)``."""
        x = np.asarray(epochs, dtype=np.float64)
        return np.stack([x[:, int(a) : int(b)].mean(axis=1) for a, b in windows], axis=1).reshape(len(x), -1)

    def predict_proba(self, epochs: np.ndarray) -> np.ndarray:
        a = self.arrays
        if int(a["windows"][:, 1].max()) > np.asarray(epochs).shape[1]:
            raise ValueError(
                "epochs are shorter than the model's windows: decode with the bundle's own pipeline"
            )
        features = self.window_means(epochs, a["windows"])
        return _linear_proba(features, a["coef"], a["intercept"], self._classes(), self.n_classes)
