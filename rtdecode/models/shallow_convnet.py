"""ShallowConvNet (Schirrmeister et al. 2017), the field's band-power CNN, for serving and training.

Input ``(batch, n_samples, n_channels)`` standardized epochs (samples as rows, like the rest of the
engine). A temporal convolution (40 filters of 25 samples) learns band-pass filters, a spatial
convolution over all electrodes (40 filters) mixes them, then batch norm, squaring, mean pooling
(75 samples, stride 15) and a log give the log band power of each filter in overlapping windows;
dropout and a dense layer classify. This is braindecode's ``ShallowFBCSPNet`` with its defaults:
the same layers, initialization (Xavier, zero biases) and batch-norm momentum, its final
convolution written as the equivalent dense layer (the test copies braindecode's weights into it
and compares the outputs). Kernel lengths are in samples, as in braindecode (tuned at 250 Hz).

Schirrmeister, R. T. et al. (2017). Deep learning with convolutional neural networks for EEG
decoding and visualization. Human Brain Mapping 38(11), 5391-5420.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

# braindecode's SafeLog floor: log(max(x, eps)) keeps a silent channel from giving -inf.
_LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class ShallowConvNetConfig:
    """Architecture of :class:`ShallowConvNet` (stored in the bundle to rebuild it).

    Attributes
    ----------
    n_channels, n_classes, n_samples : int
        Electrodes, classes and samples per epoch.
    n_filters_time, filter_time_length : int
        Temporal filters and their length in samples.
    n_filters_spat : int
        Spatial filters.
    pool_time_length, pool_time_stride : int
        Mean pooling of the squared signal, in samples.
    dropout : float
    """

    n_channels: int = 128
    n_classes: int = 40
    n_samples: int = 440
    n_filters_time: int = 40
    filter_time_length: int = 25
    n_filters_spat: int = 40
    pool_time_length: int = 75
    pool_time_stride: int = 15
    dropout: float = 0.5

    def __post_init__(self) -> None:
        shortest = self.filter_time_length + self.pool_time_length - 1
        if self.n_samples < shortest:
            raise ValueError(
                f"ShallowConvNet needs epochs of at least {shortest} samples (temporal filter "
                f"{self.filter_time_length} + pool {self.pool_time_length} - 1), got n_samples={self.n_samples}; "
                "use longer epochs or shorter filter_time_length / pool_time_length"
            )

    @property
    def n_pooled(self) -> int:
        """Time steps after the pooling."""
        after_conv = self.n_samples - self.filter_time_length + 1
        return (after_conv - self.pool_time_length) // self.pool_time_stride + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ShallowConvNetConfig:
        return cls(**data)


class ShallowConvNet(nn.Module):
    """ShallowConvNet classifier of raw epochs.

    Parameters
    ----------
    config : ShallowConvNetConfig

    Notes
    -----
    ``forward`` takes ``(batch, n_samples, n_channels)`` float32 and returns logits
    ``(batch, n_classes)``.
    """

    def __init__(self, config: ShallowConvNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        # (batch, 1, time, channels): braindecode's own internal layout, so its weights fit as they are.
        self.conv_time = nn.Conv2d(1, c.n_filters_time, (c.filter_time_length, 1))
        # No bias: the batch norm right after it has one.
        self.conv_spat = nn.Conv2d(c.n_filters_time, c.n_filters_spat, (1, c.n_channels), bias=False)
        self.bnorm = nn.BatchNorm2d(c.n_filters_spat, momentum=0.1)
        self.pool = nn.AvgPool2d((c.pool_time_length, 1), stride=(c.pool_time_stride, 1))
        self.drop = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.n_filters_spat * c.n_pooled, c.n_classes)
        for layer in (self.conv_time, self.conv_spat, self.classifier):
            nn.init.xavier_uniform_(layer.weight, gain=1)
        nn.init.zeros_(self.conv_time.bias)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.config.n_samples or x.shape[2] != self.config.n_channels:
            raise ValueError(
                f"ShallowConvNet expects (batch, {self.config.n_samples}, {self.config.n_channels}), "
                f"got {tuple(x.shape)}"
            )
        z = self.bnorm(self.conv_spat(self.conv_time(x.unsqueeze(1))))
        z = torch.log(torch.clamp(self.pool(z * z), min=_LOG_FLOOR))
        return self.classifier(self.drop(z).flatten(1))
