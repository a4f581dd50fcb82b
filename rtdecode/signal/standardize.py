"""Channel-wise standardization whose statistics are fitted on calibration data and then frozen.

:class:`Standardizer` is a scikit-learn transformer (``Standardizer().fit(X)`` returns itself,
fitted attributes end in ``_``, ``transform`` / ``fit_transform``), so it also stands in a
scikit-learn ``Pipeline`` in front of the classical decoders. Its arrays are the field's
``(n_epochs, n_channels, n_times)`` (MNE, pyRiemann, braindecode), or one continuous
``(n_channels, n_times)`` stretch: the channel axis is always the second to last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from rtdecode.signal.alignment import EuclideanAlignment

# Channels whose standard deviation is below this (in the data's units) are treated as flat:
# dividing by ~0 would turn numerical noise into huge values.
_MIN_STD = 1e-8


ALIGNMENTS = ("none", "whiten", "track")


class Standardizer(TransformerMixin, BaseEstimator):
    """Per-channel mean and standard deviation, fitted once and frozen; optionally a spatial alignment.

    The statistics are the plain mean and standard deviation of each channel over every epoch and
    time point of the training data (NaN samples ignored), the standard deviation floored at 1e-8
    so that a flat channel stays finite.

    Parameters
    ----------
    align : {"none", "whiten", "track"}
        ``"whiten"``: after scaling, Euclidean alignment to the data's own mean covariance
        (:class:`~rtdecode.signal.alignment.EuclideanAlignment`): what a cross-subject model is
        trained and served on. ``"track"``: the mean covariance is recorded but the data left as
        it is, until :meth:`adapt` folds live epochs in (live adaptation of a model trained
        unaligned). ``"none"``: scaling only.

    Attributes
    ----------
    mean_ : np.ndarray, shape (n_channels,), float64
    std_ : np.ndarray, shape (n_channels,), float64
        Floored at 1e-8.
    alignment_ : EuclideanAlignment or None
        Fitted on the scaled data, unless ``align="none"``.
    """

    def __init__(self, align: str = "none") -> None:
        self.align = align

    def fit(self, X: np.ndarray, y: Any = None) -> Standardizer:
        """Fit on calibration data.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times) or (n_channels, n_times)
            Filtered training data; NaN samples are ignored.
        y : ignored
            Present for scikit-learn's ``Pipeline``.

        Returns
        -------
        Standardizer
            ``self``, fitted.
        """
        x = np.asarray(X, dtype=np.float64)
        if x.ndim < 2:
            raise ValueError(
                f"X has shape {x.shape}: pass (n_epochs, n_channels, n_times) or (n_channels, n_times)"
            )
        # Channels last, then one row per sample: for epochs cut as (n, n_times, n_channels) and
        # passed swapped, this is their own memory order, so the sums are the same to the bit.
        x = np.moveaxis(x, -2, -1).reshape(-1, x.shape[-2])
        if x.shape[0] < 2:
            raise ValueError(f"need at least 2 samples to fit a standardizer, got {x.shape[0]}")
        self._set_statistics(np.nanmean(x, axis=0), np.nanstd(x, axis=0))
        self.alignment_ = None
        if self.align not in ALIGNMENTS:
            raise ValueError(f"align must be one of {ALIGNMENTS}, got {self.align!r}")
        if self.align != "none":
            scaled = self._scale(np.asarray(X, dtype=np.float64))
            epochs = scaled if scaled.ndim == 3 else scaled[None]
            self.alignment_ = EuclideanAlignment(whiten=self.align == "whiten").fit(epochs)
        return self

    def _set_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        std = np.asarray(std, dtype=np.float64).reshape(-1)
        if mean.shape != std.shape:
            raise ValueError(f"mean {mean.shape} and std {std.shape} must have the same shape")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise ValueError("standardization statistics contain NaN or Inf")
        self.mean_ = mean
        self.std_ = np.maximum(std, _MIN_STD)

    @property
    def n_channels(self) -> int:
        """Channels the statistics were fitted on."""
        check_is_fitted(self)
        return int(self.mean_.shape[0])

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardize with the frozen statistics.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times) or (n_channels, n_times)

        Returns
        -------
        np.ndarray, same shape; float32 for float32 input, else float64
        """
        scaled = self._scale(X)
        if self._aligns:
            return self.alignment_.transform(scaled)
        return scaled

    @property
    def _aligns(self) -> bool:
        """Whether the alignment changes the data (a tracking one only once it has adapted)."""
        alignment = getattr(self, "alignment_", None)
        return alignment is not None and (alignment.whiten or alignment.n_updates_ > 0)

    def adapt(self, X: np.ndarray, forgetting: float) -> Standardizer:
        """Fold new unlabelled epochs into the alignment's reference (live adaptation).

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            Filtered epochs as they come (scaled here with the frozen statistics).
        forgetting : float
            Weight of each new epoch in the running mean covariance, in (0, 1].

        Returns
        -------
        Standardizer
            ``self``.

        Raises
        ------
        ValueError
            Fitted with ``align="none"``: there is no reference to adapt.
        """
        check_is_fitted(self)
        if getattr(self, "alignment_", None) is None:
            raise ValueError(
                "this standardizer has no alignment to adapt: the bundle was saved before live "
                "adaptation existed, or fitted with align='none'; recalibrate to adapt"
            )
        x = self._scale(X)
        self.alignment_.update(x if x.ndim == 3 else x[None], forgetting)
        return self

    def _scale(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean) / std`` per channel (channels on axis -2)."""
        check_is_fitted(self)
        x = np.asarray(X)
        channels = x.shape[-2] if x.ndim >= 2 else 0
        if channels != self.n_channels:
            raise ValueError(
                f"data of shape {x.shape} has {channels} channels on its channel axis (the second to "
                f"last), the standardizer {self.n_channels}: pass (n_epochs, n_channels, n_times)"
            )
        if x.dtype == np.float32:
            # Live epochs come from a float32 ring buffer: staying in float32 halves the memory
            # traffic, and the features are float32 anyway.
            return (x - self.mean_.astype(np.float32)[:, None]) * (1.0 / self.std_).astype(np.float32)[
                :, None
            ]
        return (np.asarray(x, dtype=np.float64) - self.mean_[:, None]) / self.std_[:, None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form for a model bundle: ``{"mean": [...], "std": [...]}``, and
        ``"alignment"`` when it has one."""
        check_is_fitted(self)
        data: dict[str, Any] = {"mean": self.mean_.tolist(), "std": self.std_.tolist()}
        if getattr(self, "alignment_", None) is not None:
            data["alignment"] = self.alignment_.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        """The fitted standardizer of :meth:`to_dict` (every bundle format stores ``mean`` and ``std``;
        ``alignment`` only bundles since cross-subject transfer)."""
        alignment = EuclideanAlignment.from_dict(data["alignment"]) if data.get("alignment") else None
        align = "none" if alignment is None else ("whiten" if alignment.whiten else "track")
        standardizer = cls(align=align)
        standardizer._set_statistics(np.asarray(data["mean"]), np.asarray(data["std"]))
        standardizer.alignment_ = alignment
        return standardizer
