"""The paper's student: a residual CNN on EEG time-frequency images.

Input ``(batch, channels, time, frequency)``: EEG electrodes are the input planes of a 2D CNN
over the spectrogram, so every filter mixes electrodes and looks at a local time-frequency patch.
Residual blocks with growing filters, global average pooling and a fully-connected head; about
1.1-1.2 M parameters at 128 electrodes and 40 classes (the paper's budget).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class StudentConfig:
    """Architecture of :class:`StudentCNN` (stored in the model bundle to rebuild it).

    Attributes
    ----------
    n_channels : int
        EEG electrodes (input planes).
    n_classes : int
        Output classes.
    widths : tuple of int
        Filters of the stem and of each residual stage; stages after the first halve the
        time-frequency resolution.
    dropout : float
        Dropout before the classifier.
    """

    n_channels: int = 128
    n_classes: int = 40
    widths: tuple[int, ...] = (64, 64, 128, 224)
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> StudentConfig:
        data = dict(data)
        data["widths"] = tuple(data["widths"])
        return cls(**data)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projected) shortcut."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_planes, out_planes, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_planes),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False), nn.BatchNorm2d(out_planes)
            )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class StudentCNN(nn.Module):
    """Residual CNN classifier of EEG TFDs.

    Parameters
    ----------
    config : StudentConfig

    Notes
    -----
    ``forward`` takes ``(batch, n_channels, n_time, n_freqs)`` float32 and returns logits
    ``(batch, n_classes)``. Any time-frequency size works (global average pooling).
    """

    def __init__(self, config: StudentConfig) -> None:
        super().__init__()
        self.config = config
        stem, *stages = config.widths
        self.stem = nn.Sequential(
            nn.BatchNorm2d(config.n_channels),  # puts every electrode's log-spectra on one scale
            nn.Conv2d(config.n_channels, stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
        )
        blocks, planes = [], stem
        for i, width in enumerate(stages):
            blocks.append(ResidualBlock(planes, width, stride=1 if i == 0 else 2))
            planes = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(config.dropout),
            nn.Linear(planes, config.n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
