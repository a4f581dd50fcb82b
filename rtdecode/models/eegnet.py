"""EEGNet (Lawhern et al. 2018), the field's compact time-domain CNN, for serving and training.

Input ``(batch, n_samples, n_channels)`` standardized epochs (samples as rows, like the rest of the
engine). A temporal convolution learns band-pass filters, a depthwise convolution over the
electrodes learns spatial filters per band, a separable convolution summarizes them in time.

What it is, against braindecode's ``EEGNetv4`` (``braindecode.models.EEGNet``; compared layer by
layer in ``tests/models/test_eegnet.py`` when braindecode is installed, the ``peers`` extra):
the same layers, hyperparameters and parameter count (F1 8, D 2, F2 16, temporal kernel 64
samples, separable kernel 16, pools 4 and 8, dropout 0.25), and the same outputs given the same
weights where the layers are the same. It differs in three places, on purpose:

- torch's batch-norm defaults (momentum 0.1, eps 1e-5), not braindecode's port of Keras'
  (momentum 0.01, eps 1e-3);
- no max-norm constraint (braindecode bounds each spatial filter's norm at 1);
- "same" temporal padding (braindecode pads kernel // 2 on both sides: one sample longer).

Why (``benchmarks/eegnet_vs_braindecode.py``, results in ``benchmarks/results/``; same epochs,
split, training loop and seed): on the demo's 10-class simulated split this network reached top-1
0.97, braindecode's EEGNetv4 0.41, EEGNetv4 with torch's batch-norm defaults 0.85 and EEGNetv4
without the max-norm 0.41: braindecode's batch-norm settings cost the most (0.41 -> 0.85 with
torch's), and the rest (0.85 -> 0.97) is padding and initial weights (one split, one seed). On the real N170 recording (2 classes, 4 channels, leave-one-block-out) the three are
level: 0.540, 0.531 and 0.514.
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
