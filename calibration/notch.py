"""The notch of a calibration run: set from the recording's mains frequency, or checked against it."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from rtdecode.config import PipelineConfig
from rtdecode.io.recording import Recording
from rtdecode.signal.mains import detect_mains

log = logging.getLogger(__name__)

MAINS_CHOICES = ("auto", "config", "50", "60")
# The notch spans mains +- this many hertz (the paper's 49-51 Hz).
_NOTCH_HALF_WIDTH_HZ = 1.0


def notch_for(pipeline: PipelineConfig, mains_hz: float) -> PipelineConfig:
    """``pipeline`` with its notch on ``mains_hz`` (+-1 Hz) and enabled."""
    return pipeline.with_overrides(
        filter={
            "notch_low_hz": mains_hz - _NOTCH_HALF_WIDTH_HZ,
            "notch_high_hz": mains_hz + _NOTCH_HALF_WIDTH_HZ,
            "enabled_notch": True,
        }
    )


def choose_notch(
    recording: Recording, pipeline: PipelineConfig, mains: str, notes: list[str]
) -> tuple[PipelineConfig, dict[str, Any]]:
    """Detect the recording's mains frequency and decide the notch.

    Parameters
    ----------
    recording : Recording
    pipeline : PipelineConfig
        The configured preprocessing.
    mains : {"auto", "config", "50", "60"}
        ``"auto"``: the notch follows the detected mains (the configured notch when none is
        found). ``"config"``: the configured notch stays (an explicit config file); a detected
        mains elsewhere is a warning. ``"50"`` / ``"60"``: that notch, with a warning when the
        spectrum says otherwise.
    notes : list of str
        Receives the report's sentence about it.

    Returns
    -------
    pipeline : PipelineConfig
    report : dict
        ``detected_hz``, ``prominence_db``, ``notch_hz`` (low, high, or None when off) and ``source``.
    """
    if mains not in MAINS_CHOICES:
        raise ValueError(f"mains must be one of {MAINS_CHOICES}, got {mains!r}")
    estimate = detect_mains(recording.data, recording.sfreq)
    detected = estimate.frequency_hz
    source = "config"
    if mains in ("50", "60"):
        pipeline, source = notch_for(pipeline, float(mains)), f"--mains {mains}"
    elif mains == "auto" and detected is not None:
        pipeline, source = notch_for(pipeline, detected), "detected"
    f = pipeline.filter
    centre = (f.notch_low_hz + f.notch_high_hz) / 2 if f.enabled_notch else None
    where = f"{f.notch_low_hz:g}-{f.notch_high_hz:g} Hz" if f.enabled_notch else "off"
    if detected is None:
        notes.append(f"mains: no 50/60 Hz peak in the recording's spectrum; notch {where} ({source})")
    elif centre is not None and abs(centre - detected) > _NOTCH_HALF_WIDTH_HZ:
        message = (
            f"mains: the recording's spectrum shows {detected:g} Hz line noise but the notch is {where} "
            f"({source}); use --mains auto or a notch at {detected - 1:g}-{detected + 1:g} Hz"
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        notes.append("WARNING: " + message)
    else:
        notes.append(f"mains: {detected:g} Hz detected in the recording's spectrum; notch {where} ({source})")
    report = {
        **estimate.to_dict(),
        "detected_hz": detected,
        "notch_hz": [f.notch_low_hz, f.notch_high_hz] if f.enabled_notch else None,
        "source": source,
    }
    report.pop("frequency_hz")
    return pipeline, report
