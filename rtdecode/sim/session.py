"""Offline sessions of the simulated subject: generate one, or write it to disk with its images.

A session is the subject's :class:`~rtdecode.sim.subject.SignalGenerator` run over its whole
schedule. Its size follows from the config alone, so a session that would not fit in memory is
refused before anything is generated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.io.recording import Marker, Recording
from rtdecode.sim.config import SimulationConfig, to_samples
from rtdecode.sim.subject import SimulatedSubject

# Memory per image besides its samples: latent vector, identifier, lookup entry, schedule event
# and marker (measured: about 1.5 kB while the latent space is built).
BYTES_PER_IMAGE = 2048


def simulate_session(
    config: SimulationConfig | None = None,
    t0: float = 0.0,
    progress: bool | None = None,
    chunk_s: float = 10.0,
) -> Recording:
    """Generate a whole session offline.

    Parameters
    ----------
    config : SimulationConfig, optional
        Defaults to the paper's full protocol (about 1400 s).
    t0 : float
        LSL timestamp of the first sample; sample ``n`` is at ``t0 + n / sfreq``.
    progress : bool, optional
        Show a tqdm bar; by default only for sessions over 10 s on a terminal.
    chunk_s : float
        Generation chunk length (memory vs. overhead; the samples do not depend on it).

    Returns
    -------
    Recording
        ``data`` ``(n_samples, n_channels)`` float32 in microvolts, markers at every block
        boundary and image onset, and metadata (subject, seed, snr, simulator config, class names).

    Raises
    ------
    ValueError
        When the session would not fit in the memory available now (see
        :func:`check_session_memory`).
    """
    cfg = config if config is not None else SimulationConfig()
    check_session_memory(cfg)
    subject = SimulatedSubject(cfg)
    total = subject.session_samples()
    data = np.empty((total, subject.n_channels), dtype=np.float32)
    bar = _progress_bar(total, cfg.sfreq, progress)
    position = 0
    for chunk in subject.stream(max(1, to_samples(chunk_s, cfg.sfreq))):
        data[position : position + len(chunk)] = chunk
        position += len(chunk)
        bar.update(len(chunk))
    bar.close()
    markers = [Marker(t0 + event.onset_s, event.marker) for event in subject.schedule()]
    return Recording(
        data=data,
        timestamps=t0 + np.arange(total) / cfg.sfreq,
        sfreq=cfg.sfreq,
        channel_names=subject.channel_names,
        markers=markers,
        metadata=subject.metadata(),
    )


def save_simulated_session(config: SimulationConfig, out: str | Path, overwrite: bool = False) -> Path:
    """Simulate a session and write it to disk: the XDF file and its stimulus images.

    The images go to ``<out stem>_images/`` next to the file (``images/<image_id>.png`` and
    ``images.tsv``); the recording's metadata names that folder (``image_dir``) so that
    calibration finds it. Returns the image folder. Refuses, before writing anything, a session
    that would not fit in memory (:func:`check_session_memory`).
    """
    from rtdecode.io.xdf import write_xdf

    check_session_memory(config)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    image_dir = out.with_name(out.stem + "_images")
    recording = simulate_session(config)
    SimulatedSubject(config).write_images(image_dir)
    recording.metadata["image_dir"] = image_dir.name
    write_xdf(out, recording, overwrite=overwrite)
    return image_dir


def estimated_session_bytes(config: SimulationConfig) -> int:
    """Memory an offline session of ``config`` needs, in bytes (an estimate, on the high side).

    The float32 samples and float64 timestamps (and the two temporaries that compute them), plus
    about 2 kB per image for its latent vector, identifier, schedule entry and marker.
    """
    per_sample = 4 * config.n_channels + 3 * 8
    return config.session_samples * per_sample + config.n_images * BYTES_PER_IMAGE


def check_session_memory(config: SimulationConfig) -> None:
    """Refuse a session that would not fit in the memory available now.

    Raises
    ------
    ValueError
        Naming the estimate (:func:`estimated_session_bytes`), the memory available and what to
        lower. Nothing is refused where the available memory cannot be read.
    """
    available = available_memory_bytes()
    needed = estimated_session_bytes(config)
    if available is None or needed <= available:
        return
    minutes = config.session_samples / config.sfreq / 60
    raise ValueError(
        f"a simulated session of {config.n_classes} classes x {config.images_per_class} images "
        f"({minutes:,.0f} min of {config.n_channels} channels at {config.sfreq:g} Hz) needs about "
        f"{_gigabytes(needed)} of memory, more than the {_gigabytes(available)} available; lower "
        f"images_per_class, n_classes, n_channels or minutes "
        f"(--images-per-class, --classes, --minutes on the command line)"
    )


def available_memory_bytes() -> int | None:
    """Memory the system can give this process now, in bytes; None where it cannot tell.

    psutil where it is installed; otherwise Linux's ``MemAvailable`` (free memory plus the
    page cache it can reclaim), then the free pages ``os.sysconf`` reports.
    """
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:,.1f} GB"


def _progress_bar(total: int, sfreq: float, progress: bool | None) -> Any:
    from tqdm import tqdm

    if progress is None:
        # tqdm's disable=None turns the bar off when stderr is not a terminal.
        disable = None if total / sfreq > 10 else True
    else:
        disable = not progress
    return tqdm(total=total, unit="sample", unit_scale=True, desc="simulating", disable=disable)
