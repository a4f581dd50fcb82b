"""Fixtures of the GUI tests: a live simulated subject with a unique stream name, a tiny bundle."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from rtdecode.streams.simulate import SimulatedSubject, SimulationConfig  # noqa: E402

# 16 channels, 3 classes, short blocks: small enough to decode in real time on a busy CPU.
SIM = SimulationConfig(
    n_classes=3, images_per_class=4, n_channels=16, image_s=0.5, block_s=2.0, break_s=0.5, lead_in_s=0.5
)


def unique(prefix: str) -> str:
    """A stream name no other test (or test run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_bundle(
    folder: Path, channel_names: list[str], class_names: list[str], sfreq: float = 1000.0
) -> Path:
    """Save a random-weight student for these channels and classes; returns the bundle folder."""
    import torch

    from rtdecode.config import PipelineConfig
    from rtdecode.io.bundle import ModelBundle, save_bundle
    from rtdecode.models.student import StudentCNN, StudentConfig
    from rtdecode.signal.standardize import Standardizer

    torch.manual_seed(0)
    n = len(channel_names)
    config = StudentConfig(n_channels=n, n_classes=len(class_names), widths=(8, 8))
    bundle = ModelBundle(
        StudentCNN(config).eval(),
        config,
        PipelineConfig(sfreq=sfreq),
        Standardizer(mean=np.zeros(n), std=np.full(n, 5.0)),
        list(class_names),
        list(channel_names),
        sfreq,
    )
    return save_bundle(bundle, folder)


@pytest.fixture(scope="session")
def subject() -> SimulatedSubject:
    return SimulatedSubject(SIM)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, subject) -> Path:
    """A tiny bundle for the simulated subject, with its stimulus images next to it."""
    run = tmp_path_factory.mktemp("run")
    subject.write_images(run / "stimuli")
    return make_bundle(run / "model", subject.channel_names, subject.class_names)
