"""Channel-wise standardization whose statistics are fitted on calibration data and then frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Channels whose standard deviation is below this (in the data's units) are treated as flat:
# dividing by ~0 would turn numerical noise into huge values.
_MIN_STD = 1e-8


@dataclass(frozen=True)
class Standardizer:
    """Per-channel mean and standard deviation.

    Attributes
    ----------
    mean : np.ndarray, shape (n_channels,), float64
    std : np.ndarray, shape (n_channels,), float64
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        std = np.asarray(self.std, dtype=np.float64).reshape(-1)
        if mean.shape != std.shape:
            raise ValueError(f"mean {mean.shape} and std {std.shape} must have the same shape")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise ValueError("standardization statistics contain NaN or Inf")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", np.maximum(std, _MIN_STD))

    @property
    def n_channels(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def fit(cls, data: np.ndarray) -> Standardizer:
        """Fit on calibration data.

        Parameters
        ----------
        data : np.ndarray, shape (n_samples, n_channels) or (n_epochs, n_samples, n_channels)
            Filtered training data; NaN samples are ignored.
        """
        x = np.asarray(data, dtype=np.float64)
        x = x.reshape(-1, x.shape[-1])
        if x.shape[0] < 2:
            raise ValueError(f"need at least 2 samples to fit a standardizer, got {x.shape[0]}")
        return cls(mean=np.nanmean(x, axis=0), std=np.nanstd(x, axis=0))

    def apply(self, data: np.ndarray) -> np.ndarray:
        """Standardize with the frozen statistics.

        Parameters
        ----------
        data : np.ndarray, shape (..., n_channels)

        Returns
        -------
        np.ndarray, same shape; float32 for float32 input, else float64
        """
        x = np.asarray(data)
        if x.shape[-1] != self.n_channels:
            raise ValueError(f"data has {x.shape[-1]} channels, the standardizer {self.n_channels}")
        if x.dtype == np.float32:
            # Live epochs come from a float32 ring buffer: staying in float32 halves the memory
            # traffic, and the features are float32 anyway.
            return (x - self.mean.astype(np.float32)) * (1.0 / self.std).astype(np.float32)
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form for a model bundle."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        return cls(mean=np.asarray(data["mean"]), std=np.asarray(data["std"]))
