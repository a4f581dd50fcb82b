"""Fixtures of the GUI tests: a live simulated subject with a unique stream name, a tiny bundle."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from rtdecode.sim.config import SimulationConfig  # noqa: E402
from rtdecode.sim.subject import SimulatedSubject  # noqa: E402
from tests.bundles import make_bundle  # noqa: E402, F401  (the GUI tests import it from here)

# 16 channels, 3 classes, short blocks: small enough to decode in real time on a busy CPU.
SIM = SimulationConfig(
    n_classes=3, images_per_class=4, n_channels=16, image_s=0.5, block_s=2.0, break_s=0.5, lead_in_s=0.5
)


def unique(prefix: str) -> str:
    """A stream name no other test (or test run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def subject() -> SimulatedSubject:
    return SimulatedSubject(SIM)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, subject) -> Path:
    """A tiny bundle for the simulated subject, with its stimulus images next to it."""
    run = tmp_path_factory.mktemp("run")
    subject.write_images(run / "stimuli")
    return make_bundle(run / "model", subject.channel_names, subject.class_names)
