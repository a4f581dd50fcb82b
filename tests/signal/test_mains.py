"""Mains frequency from the spectrum of simulated 50 Hz and 60 Hz recordings, and the notch it sets."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.notch import choose_notch
from rtdecode.config import PipelineConfig
from rtdecode.signal.mains import detect_mains
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session


@pytest.fixture(scope="module", params=[50.0, 60.0])
def recording(request):
    config = SimulationConfig(
        n_classes=2, images_per_class=20, n_channels=8, sfreq=256.0, line_freq=request.param, seed=2
    )
    return request.param, simulate_session(config)


def test_detects_the_simulated_mains(recording):
    line, rec = recording
    estimate = detect_mains(rec.data, rec.sfreq)
    assert estimate.frequency_hz == line
    other = 110.0 - line
    assert estimate.prominence_db[line] > estimate.prominence_db[other] + 6


def test_no_mains_in_clean_noise_and_nothing_above_nyquist():
    rng = np.random.default_rng(0)
    assert detect_mains(rng.standard_normal((20_000, 4)), 256.0).frequency_hz is None
    assert set(detect_mains(rng.standard_normal((20_000, 4)), 120.0).prominence_db) == {50.0}


def test_auto_notch_follows_the_recording_and_an_explicit_mismatch_warns(recording):
    line, rec = recording
    notes: list[str] = []
    paper = PipelineConfig(sfreq=rec.sfreq)  # 49-51 Hz
    pipeline, report = choose_notch(rec, paper, "auto", notes)
    assert (pipeline.filter.notch_low_hz, pipeline.filter.notch_high_hz) == (line - 1, line + 1)
    assert report["detected_hz"] == line and report["source"] == "detected"
    assert f"{line:g} Hz detected" in notes[0]
    if line == 60.0:
        with pytest.warns(UserWarning, match="60 Hz line noise"):
            kept, report = choose_notch(rec, paper, "config", notes)
        assert kept.filter.notch_low_hz == 49.0 and notes[-1].startswith("WARNING")
    with pytest.raises(ValueError, match="mains must be one of"):
        choose_notch(rec, paper, "55", notes)
