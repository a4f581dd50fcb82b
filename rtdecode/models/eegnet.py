"""EEGNet (Lawhern et al. 2018), the field's compact time-domain CNN, for serving and training.

Input ``(batch, n_samples, n_channels)`` standardized epochs (samples as rows, like the rest of the
engine). A temporal convolution learns band-pass filters, a depthwise convolution over the
electrodes learns spatial filters per band, a separable convolution summarizes them in time.
Hyperparameters are braindecode's ``EEGNetv4`` defaults (F1 8, D 2, F2 16, temporal kernel 64
samples, pools 4 and 8, dropout 0.25): the configuration that scored 0.84 on the 10-class
simulated session (issue 11).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EEGNetConfig:
    """Architecture of :class:`EEGNet` (stored in the bundle to rebuild it).

    Attributes
    ----------
    n_channels, n_classes, n_samples : int
        Electrodes, classes and samples per epoch.
    f1, depth, f2 : int
        Temporal filters, spatial filters per temporal filter, pointwise filters.
    kernel_length : int
        Temporal kernel in samples.
    dropout : float
    """

    n_channels: int = 128
    n_classes: int = 40
    n_samples: int = 440
    f1: int = 8
    depth: int = 2
    f2: int = 16
    kernel_length: int = 64
    dropout: float = 0.25

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EEGNetConfig:
        return cls(**data)


def _same_in_time(kernel: int) -> nn.ZeroPad2d:
    """Zero padding that keeps the time length through a ``(1, kernel)`` convolution (even kernels too)."""
    return nn.ZeroPad2d(((kernel - 1) // 2, kernel // 2, 0, 0))


class EEGNet(nn.Module):
    """EEGNet-4,2 classifier of raw epochs.

    Parameters
    ----------
    config : EEGNetConfig
    """

    def __init__(self, config: EEGNetConfig) -> None:
        super().__init__()
        self.config = config
        c, f1, d, f2 = config.n_channels, config.f1, config.depth, config.f2
        self.temporal = nn.Sequential(
            _same_in_time(config.kernel_length),
            nn.Conv2d(1, f1, (1, config.kernel_length), bias=False),
            nn.BatchNorm2d(f1),
        )
        self.spatial = nn.Sequential(
            nn.Conv2d(f1, f1 * d, (c, 1), groups=f1, bias=False),
            nn.BatchNorm2d(f1 * d),
            nn.ELU(),
            nn.AvgPool2d((1, 4)),
            nn.Dropout(config.dropout),
        )
        self.separable = nn.Sequential(
            _same_in_time(16),
            nn.Conv2d(f1 * d, f1 * d, (1, 16), groups=f1 * d, bias=False),
            nn.Conv2d(f1 * d, f2, 1, bias=False),
            nn.BatchNorm2d(f2),
            nn.ELU(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(config.dropout),
        )
        n_out = max(1, config.n_samples // 4 // 8)
        self.head = nn.Linear(f2 * n_out, config.n_classes)
        self._n_out = n_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.config.n_samples or x.shape[2] != self.config.n_channels:
            raise ValueError(
                f"EEGNet expects (batch, {self.config.n_samples}, {self.config.n_channels}), got {tuple(x.shape)}"
            )
        z = self.separable(self.spatial(self.temporal(x.transpose(1, 2).unsqueeze(1))))
        z = nn.functional.adaptive_avg_pool2d(z, (1, self._n_out)) if z.shape[-1] != self._n_out else z
        return self.head(z.flatten(1))
