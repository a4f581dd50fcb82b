"""Argument checks shared by every ``rtdecode`` subcommand (core, calibration, gui).

Each ``type=`` function turns a bad value into argparse's own error, which names the option,
the value and what is expected (``argument --timeout: must be > 0, got -5``); the subcommand
never starts. :func:`refuse_to_replace` is the one rule for outputs that already exist.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path


def _number(kind: type, text: str) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if isinstance(value, float) and math.isnan(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value


def at_least(minimum: float, kind: type = float) -> Callable[[str], float | int]:
    """``type=`` for a number ``>= minimum`` (``kind`` int or float)."""

    def check(text: str) -> float | int:
        value = _number(kind, text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum:g}, got {text}")
        return value

    check.__name__ = kind.__name__  # argparse names the type in some messages
    return check


def positive(kind: type = float) -> Callable[[str], float | int]:
    """``type=`` for a number ``> 0`` (``kind`` int or float); infinity is refused."""

    def check(text: str) -> float | int:
        value = _number(kind, text)
        if not 0 < value < math.inf:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    check.__name__ = kind.__name__
    return check


def fraction(text: str) -> float:
    """``type=`` for a number in [0, 1]."""
    value = _number(float, text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def refuse_to_replace(path: str | Path, overwrite: bool, what: str = "output") -> None:
    """Raise ``FileExistsError`` when ``path`` exists and ``--overwrite`` was not given.

    Checked before any work starts, so a long run never ends by failing to save, and an
    existing file is replaced only when the user said so.
    """
    path = Path(path)
    if overwrite:
        return
    if path.is_dir() and not any(path.iterdir()):
        return  # an empty folder holds nothing to lose
    if path.exists():
        raise FileExistsError(
            f"{what} {path} already exists; pass --overwrite to replace it, or choose another path"
        )


def device(text: str) -> str:
    """``type=`` for a torch device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    A CUDA device is checked against the GPUs torch sees (torch is imported only then, so
    ``--help`` and the CPU paths stay fast); otherwise torch's own error comes much later
    and reads like a bug ("Found no NVIDIA driver", "Invalid device string").
    """
    value = text.strip().lower()
    if value in ("auto", "cpu", "mps"):
        return value
    match = re.fullmatch(r"cuda(?::(\d+))?", value)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} asked for, but torch sees no CUDA GPU here; use cpu or auto"
        )
    if int(match.group(1) or 0) >= count:
        raise argparse.ArgumentTypeError(
            f"{text!r} asked for, but torch sees {count} CUDA GPU(s): cuda:0 to cuda:{count - 1}"
        )
    return value


def latency_ms(text: str) -> float:
    """``type=`` for an acquisition latency: a finite number of milliseconds under 1000 in size."""
    value = _number(float, text)
    if not (math.isfinite(value) and abs(value) < 1000):
        raise argparse.ArgumentTypeError(f"must be a delay in ms under 1000 in size, got {text}")
    return value


def add_latency_option(p: argparse.ArgumentParser) -> None:
    """``--latency-ms``: the EEG stream's acquisition latency, shared by live, gui, predict, calibrate."""
    p.add_argument(
        "--latency-ms",
        type=latency_ms,
        default=None,
        metavar="MS",
        help="the EEG stream's acquisition latency in ms (how much later than the stimulus its samples "
        "are stamped, e.g. measured with a photodiode); EEG time is shifted back by it where epochs are "
        "cut (default: the model's setting, 0 unless calibrated with one)",
    )


def with_latency(bundle, latency_ms: float | None):
    """``bundle`` with its pipeline's acquisition latency replaced when ``latency_ms`` is given."""
    if latency_ms is not None:
        bundle.pipeline = bundle.pipeline.replace(acquisition_latency_ms=float(latency_ms))
    return bundle
