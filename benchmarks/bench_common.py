"""What the benchmark scripts share: writing their JSON, and a random-weight full-size model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def write_result(result: Any, path: str | Path) -> Path:
    """Write a benchmark's result as indented JSON (numpy scalars as numbers) and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {out}")
    return out


def random_bundle(recording, n_classes: int):
    """A full-size student with random weights for ``recording``'s channels (speed does not
    depend on the weights), unit standardization at 5 microvolts, the paper's pipeline."""
    import torch

    from rtdecode.config import PipelineConfig
    from rtdecode.io.bundle import ModelBundle
    from rtdecode.models.student import StudentCNN, StudentConfig
    from rtdecode.signal.standardize import Standardizer

    torch.manual_seed(0)
    config = StudentConfig(n_channels=recording.n_channels, n_classes=n_classes)
    return ModelBundle(
        StudentCNN(config).eval(),
        config,
        PipelineConfig(sfreq=recording.sfreq),
        Standardizer.from_dict(
            {"mean": np.zeros(recording.n_channels), "std": np.full(recording.n_channels, 5.0)}
        ),
        [f"class {i}" for i in range(n_classes)],
        recording.channel_names,
        recording.sfreq,
    )
