"""Limits at the simulator's edge: classes that do not exist and sessions that cannot fit in memory
are refused with a message naming the value, the limit and the fix, before any work is done."""

from __future__ import annotations

import time

import pytest

import rtdecode.sim.session as session_module
from rtdecode.cli import main
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import (
    available_memory_bytes,
    estimated_session_bytes,
    save_simulated_session,
    simulate_session,
)

# 40 classes x 10 million images: about 2e11 samples, far beyond any machine's memory.
HUGE = SimulationConfig(images_per_class=10_000_000)


@pytest.mark.parametrize("n_classes", [0, 41, 100_000])
def test_config_refuses_classes_beyond_the_packaged_40(n_classes):
    with pytest.raises(
        ValueError, match=rf"^n_classes must be 1-40 \(the packaged ImageNet-EEG classes\), got {n_classes}$"
    ):
        SimulationConfig(n_classes=n_classes)
    assert SimulationConfig(n_classes=40).n_classes == 40


def test_images_per_class_must_be_positive():
    with pytest.raises(ValueError, match="images_per_class must be at least 1, got 0"):
        SimulationConfig(images_per_class=0)


def test_the_estimate_follows_the_session_size():
    paper = SimulationConfig()
    # 1402 s at 1 kHz: float32 samples on 128 channels plus the timestamps, about 0.75 GB.
    assert paper.session_samples == 1_402_000
    assert 0.7e9 < estimated_session_bytes(paper) < 0.8e9
    assert estimated_session_bytes(SimulationConfig(n_channels=64)) < estimated_session_bytes(paper)
    assert estimated_session_bytes(SimulationConfig(minutes=2.0)) < estimated_session_bytes(paper) / 10


def test_available_memory_is_read_on_this_machine():
    available = available_memory_bytes()
    assert available is None or available > 0


def test_a_session_too_large_for_memory_is_refused_before_it_is_generated():
    start = time.perf_counter()
    with pytest.raises(ValueError) as refused:
        simulate_session(HUGE)
    assert time.perf_counter() - start < 5  # refused from the config alone, nothing generated
    message = str(refused.value)
    assert "40 classes x 10000000 images" in message and "needs about" in message
    assert "GB available" in message and "--images-per-class" in message


def test_save_refuses_before_writing_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "available_memory_bytes", lambda: 1_000_000)
    config = SimulationConfig(n_classes=2, images_per_class=5, break_s=1.0)
    out = tmp_path / "run" / "s.xdf"
    with pytest.raises(ValueError, match=r"needs about 0\.0 GB of memory, more than the 0\.0 GB available"):
        save_simulated_session(config, out)
    assert not (tmp_path / "run").exists()
    # Where the available memory cannot be read, nothing is refused.
    monkeypatch.setattr(session_module, "available_memory_bytes", lambda: None)
    assert simulate_session(config).n_samples == config.session_samples


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["simulate", "--classes", "41"], "error: n_classes must be 1-40"),
        (["simulate", "--classes", "100000"], "error: n_classes must be 1-40"),
        (["simulate", "--images-per-class", "10000000"], "error: a simulated session of 40 classes"),
        (["demo", "--no-gui", "--classes", "41"], "error: n_classes must be 1-40"),
    ],
)
def test_the_commands_print_one_error_line(argv, expected, tmp_path, capsys):
    out = ["--out", str(tmp_path / ("s.xdf" if argv[0] == "simulate" else "demo"))]
    start = time.perf_counter()
    assert main(argv + out) == 1
    assert time.perf_counter() - start < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(expected), err
    assert list(tmp_path.iterdir()) == []
