"""Euclidean alignment of a subject's epochs (He & Wu, IEEE TBME 2019), fitted once or tracked live.

Each subject's trials are whitened by the inverse square root of that subject's mean spatial
covariance, ``x -> R^{-1/2} x``: after it, every subject's mean covariance is the identity, so a
network or a classical decoder trained on several aligned subjects sees their trials in one
frame. It is unsupervised: ``R`` needs no labels, only the subject's epochs (the whole recording's,
the first minutes', or a live stream's).

Live, the reference is a running mean with a forgetting factor, ``R <- (1 - f) R + f C`` for
each new epoch's covariance ``C``: one ``(n_channels, n_channels)`` matrix of memory whatever the
session's length, and the decoder follows slow changes (gains, impedances, drift) without labels.

A model trained without alignment can still be adapted live: ``whiten=False`` keeps a *recolouring*
matrix ``T = R_0^{1/2}`` (the calibration's reference), so the transform is the identity until the
stream moves away from the calibration.

Per-channel rescaling before the re-whitening
---------------------------------------------
Re-whitening alone does not undo the commonest live change, a channel's gain (impedance, a
loosened electrode, an amplifier setting). After gains ``G`` (diagonal) the reference becomes
``G R_0 G``, and ``T (G R_0 G)^{-1/2} G = R_0^{1/2} Q R_0^{-1/2}`` with ``Q`` orthogonal, not the
identity: the data come back with the calibration's covariance but rotated among channels.
So the transform first rescales each channel to its variance at :meth:`fit`, with
``D = diag(R_0)^{1/2} diag(R)^{-1/2}``, and then re-whitens what is left:

    ``x -> T (D R D)^{-1/2} D x``

For a pure gain change ``D = G^{-1}`` and ``D R D = R_0``, so the transform is exactly ``G^{-1}``
(tracking) or the fitted ``R_0^{-1/2} G^{-1}`` (whitening); a mixing change (an electrode moved,
a bridge) is still whitened away as well as re-whitening can. At ``R = R_0`` both forms equal
the fitted transform.

Measured (simulated subject, 16 channels, 4 classes, 600 trials, 0.5-30 Hz; xDAWN + tangent
space and windowed-means LDA trained on the first 40 % with ``align="track"``; gains of 0.3-3 on
every channel over the 360 held-out trials; the reference taken from all of them, so that this is
the method's bias without the running estimate's noise), accuracy, four gain draws:

=========================  ===========  ============
held-out trials            xDAWN + TS   LDA
=========================  ===========  ============
no change                  0.892        0.842
gains, not adapted         0.43-0.67    0.70-0.81
re-whitening alone         0.875-0.883  0.80-0.84
rescaling + re-whitening   0.889        0.844
=========================  ===========  ============

(0.889 rather than 0.892: the held-out trials' covariance is not quite the training's, and the
re-whitening follows it.) With a mixing change on top of the gains (``G (I + 0.075 N)``, ``N``
standard normal; an electrode shift), rescaling + re-whitening beat re-whitening alone in all 8
cases (xDAWN 0.858-0.886 vs 0.833-0.881, LDA 0.786-0.836 vs 0.764-0.825) and, for xDAWN,
rescaling alone in all 4 (0.70-0.83); for LDA rescaling alone was better in 2 of 4 (0.80-0.86).
The live figures, with a running reference, are in ``tests/test_adaptation.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

# Added to the reference's diagonal, relative to its mean eigenvalue: a rank-deficient reference
# (few epochs, a flat or bridged channel) would otherwise make R^{-1/2} explode.
DEFAULT_SHRINKAGE = 1e-3


def spd_function(matrices: np.ndarray, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``function`` to the eigenvalues of symmetric matrices.

    Parameters
    ----------
    matrices : np.ndarray, shape (..., n, n)
        Symmetric (positive definite for ``log`` or negative powers).
    function : callable
        Elementwise on the eigenvalues ``(..., n)``.

    Returns
    -------
    np.ndarray, shape (..., n, n)
    """
    values, vectors = np.linalg.eigh(matrices)
    return (vectors * function(values)[..., None, :]) @ np.swapaxes(vectors, -1, -2)


def mean_covariance(X: np.ndarray) -> np.ndarray:
    """Mean spatial covariance of epochs, ``mean_i X_i X_i^T / n_times`` (He & Wu's reference).

    Parameters
    ----------
    X : np.ndarray, shape (n_epochs, n_channels, n_times)
        Filtered (zero-mean) epochs; NaN epochs are skipped.

    Returns
    -------
    np.ndarray, shape (n_channels, n_channels), float64
    """
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"X has shape {x.shape}: pass epochs (n_epochs, n_channels, n_times)")
    x = x[np.all(np.isfinite(x), axis=(1, 2))]
    if len(x) == 0:
        raise ValueError("no finite epoch to estimate a covariance from")
    return np.einsum("nct,ndt->cd", x, x) / (x.shape[0] * x.shape[2])


def _regularized(reference: np.ndarray, shrinkage: float) -> np.ndarray:
    n = reference.shape[0]
    return reference + shrinkage * np.trace(reference) / n * np.eye(n)


class EuclideanAlignment(TransformerMixin, BaseEstimator):
    """Whitening by a subject's mean spatial covariance, ``x -> T R^{-1/2} x``.

    Parameters
    ----------
    whiten : bool
        True: Euclidean alignment proper (``T = I``), every subject's data ends with an identity
        mean covariance. False: ``T = R_0^{1/2}`` from :meth:`fit`, so the transform starts as the
        identity and only :meth:`update` moves it (live adaptation of a model trained unaligned).
    shrinkage : float
        Diagonal loading of the reference, relative to its mean eigenvalue.

    Attributes
    ----------
    reference_ : np.ndarray, shape (n_channels, n_channels)
        The current reference covariance ``R``.
    target_ : np.ndarray, shape (n_channels, n_channels)
        The recolouring ``T``.
    anchor_ : np.ndarray, shape (n_channels,)
        Each channel's variance at :meth:`fit` (the diagonal of ``R_0``), to which
        the transform rescales the channels before re-whitening (see the module docstring).
    matrix_ : np.ndarray, shape (n_channels, n_channels)
        ``T (D R D)^{-1/2} D`` with ``D = diag(anchor_ / diag(R))^{1/2}``; ``T R_0^{-1/2}`` after
        :meth:`fit`. Applied by :meth:`transform`.
    n_updates_ : int
        Epochs :meth:`update` has folded into the reference since :meth:`fit`.
    """

    def __init__(self, whiten: bool = True, shrinkage: float = DEFAULT_SHRINKAGE) -> None:
        self.whiten = whiten
        self.shrinkage = shrinkage

    def fit(self, X: np.ndarray, y: Any = None) -> EuclideanAlignment:
        """Estimate the reference from epochs (labels are not used).

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
        y : ignored

        Returns
        -------
        EuclideanAlignment
            ``self``, fitted.
        """
        reference = mean_covariance(X)
        n = reference.shape[0]
        target = np.eye(n) if self.whiten else spd_function(_regularized(reference, self.shrinkage), np.sqrt)
        self._set(reference, target, np.diag(reference).copy(), 0)
        return self

    def _set(self, reference: np.ndarray, target: np.ndarray, anchor: np.ndarray, n_updates: int) -> None:
        if reference.shape != target.shape or reference.shape[0] != reference.shape[1]:
            raise ValueError(f"reference {reference.shape} and target {target.shape} must be equal squares")
        if anchor.shape != reference.shape[:1]:
            raise ValueError(f"anchor {anchor.shape} does not match the reference {reference.shape}")
        if not (
            np.all(np.isfinite(reference)) and np.all(np.isfinite(target)) and np.all(np.isfinite(anchor))
        ):
            raise ValueError("alignment matrices contain NaN or Inf")
        if np.any(anchor < 0):
            raise ValueError("alignment anchor variances must not be negative")
        self.reference_ = reference
        self.target_ = target
        self.anchor_ = anchor
        # Each channel back to its variance at fit (exactly undoes a gain change), then the
        # re-whitening of what is left. The regularization comes after the rescaling, where it
        # is the same as at fit: loading R's own diagonal first would not commute with the gains.
        # D is exactly 1 at R = R_0, so fit's transform is T R_0^{-1/2}. A channel gone flat is
        # floored at the loading's size rather than scaled up without bound.
        variances = np.diag(reference)
        floor = self.shrinkage * max(float(np.mean(variances)), np.finfo(np.float64).tiny)
        scale = np.sqrt(anchor / np.maximum(variances, floor))
        rescaled = _regularized(reference * np.outer(scale, scale), self.shrinkage)
        isqrt = spd_function(rescaled, lambda w: 1.0 / np.sqrt(w))
        self.matrix_ = (target @ isqrt) * scale[None, :]  # T (D R D)^{-1/2} D
        self.n_updates_ = n_updates

    @property
    def n_channels(self) -> int:
        check_is_fitted(self)
        return int(self.reference_.shape[0])

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Align epochs or one continuous stretch.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times) or (n_channels, n_times)

        Returns
        -------
        np.ndarray, same shape; float32 for float32 input
        """
        check_is_fitted(self)
        x = np.asarray(X)
        if x.ndim < 2 or x.shape[-2] != self.n_channels:
            raise ValueError(f"data of shape {x.shape} does not have {self.n_channels} channels on axis -2")
        matrix = self.matrix_.astype(np.float32) if x.dtype == np.float32 else self.matrix_
        return np.matmul(matrix, x)

    def update(self, X: np.ndarray, forgetting: float) -> EuclideanAlignment:
        """Fold new epochs into the reference, one by one: ``R <- (1 - f) R + f C_i``.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            New (standardized, not yet aligned) epochs; NaN epochs are skipped.
        forgetting : float
            ``f`` in (0, 1]: the weight of each new epoch (its time constant is ``1 / f`` epochs).

        Returns
        -------
        EuclideanAlignment
            ``self``, with ``matrix_`` recomputed.
        """
        check_is_fitted(self)
        if not 0.0 < forgetting <= 1.0:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}")
        x = np.asarray(X, dtype=np.float64)
        x = x[np.all(np.isfinite(x), axis=(1, 2))]
        if len(x) == 0:
            return self
        reference = self.reference_
        for epoch in x:
            reference = (1.0 - forgetting) * reference + forgetting * (epoch @ epoch.T) / epoch.shape[1]
        self._set(reference, self.target_, self.anchor_, self.n_updates_ + len(x))
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form for a model bundle."""
        check_is_fitted(self)
        return {
            "whiten": bool(self.whiten),
            "shrinkage": float(self.shrinkage),
            "reference": self.reference_.tolist(),
            "target": self.target_.tolist(),
            "anchor": self.anchor_.tolist(),
            "n_updates": int(self.n_updates_),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EuclideanAlignment:
        """The fitted alignment of :meth:`to_dict`.

        ``anchor`` and ``n_updates`` are absent from the first bundles with an alignment, which
        were saved at :meth:`fit`: the anchor is then the reference's own diagonal.
        """
        alignment = cls(whiten=bool(data["whiten"]), shrinkage=float(data["shrinkage"]))
        reference = np.asarray(data["reference"], dtype=np.float64)
        anchor = data.get("anchor")
        anchor = np.diag(reference).copy() if anchor is None else np.asarray(anchor, dtype=np.float64)
        target = np.asarray(data["target"], dtype=np.float64)
        alignment._set(reference, target, anchor, int(data.get("n_updates", 0)))
        return alignment
