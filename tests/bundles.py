"""Tiny random-weight model bundles for tests that need a model but not a trained one."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_bundle(
    folder: Path,
    channel_names: list[str],
    class_names: list[str],
    sfreq: float = 1000.0,
    align: bool = False,
) -> Path:
    """Save a random-weight student for these channels and classes; returns the bundle folder.

    ``align``: the standardizer records a calibration covariance (the identity, ``align="track"``)
    as calibrated bundles do, so that live adaptation can start from it; without it the bundle is
    one from before live adaptation.
    """
    import torch

    from rtdecode.config import PipelineConfig
    from rtdecode.io.bundle import ModelBundle, save_bundle
    from rtdecode.models.student import StudentCNN, StudentConfig
    from rtdecode.signal.standardize import Standardizer

    torch.manual_seed(0)
    n = len(channel_names)
    identity = np.eye(n).tolist()
    alignment = (
        {"whiten": False, "shrinkage": 1e-3, "reference": identity, "target": identity} if align else None
    )
    config = StudentConfig(n_channels=n, n_classes=len(class_names), widths=(8, 8))
    bundle = ModelBundle(
        StudentCNN(config).eval(),
        config,
        PipelineConfig(sfreq=sfreq),
        Standardizer.from_dict({"mean": np.zeros(n), "std": np.full(n, 5.0), "alignment": alignment}),
        list(class_names),
        list(channel_names),
        sfreq,
    )
    return save_bundle(bundle, folder)
