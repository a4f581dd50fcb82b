"""Epoching: the live filter path, time-locked cutting, and counted rejections."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.epochs import epochs_from_recording, filter_continuous
from rtdecode.config import PipelineConfig
from rtdecode.io.markers import block_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording
from rtdecode.signal.preprocess import filter_recording


def _recording(n_seconds=40, n_channels=4, seed=0):
    rng = np.random.default_rng(seed)
    n = n_seconds * 1000
    data = rng.normal(scale=5.0, size=(n, n_channels)).astype(np.float32)
    ts = 100.0 + np.arange(n) / 1000.0
    markers = []
    for k, onset in enumerate(np.arange(2.0, n_seconds - 1.0, 1.0)):
        block = int(onset // 10)
        markers.append(Marker(ts[0] + onset, stimulus_marker(f"img{k}", k % 2, ["cat", "dog"][k % 2], block)))
    markers.append(Marker(ts[0] + 1.0, block_marker("block_start", 0)))
    return Recording(data, ts, 1000.0, [f"C{i}" for i in range(n_channels)], markers)


def test_clean_recording_is_filtered_like_the_live_path_and_cut_at_markers():
    rec = _recording()
    config = PipelineConfig()
    ep = epochs_from_recording(rec, config)
    assert len(ep) == 37 and ep.dropped == {}
    assert ep.class_names == ["cat", "dog"]
    assert ep.epochs.shape == (37, 440, 4)
    filtered = filter_recording(rec.data, config)
    start = int(round((2.0 + 0.020) * 1000))
    np.testing.assert_allclose(ep.epochs[0], filtered[start : start + 440], rtol=1e-5, atol=1e-4)
    assert list(np.unique(ep.blocks)) == [0, 1, 2, 3]


def test_bad_epochs_are_dropped_and_counted_by_reason():
    rec = _recording()
    rec.data[5100:5110, 1] = np.nan  # inside the epoch of the stimulus at 5 s
    rec.data[8000:8600, 2] = 0.0  # a flat channel during the 8 s epoch
    rec.data[12100, 0] = 1e5  # a saturating spike in the 12 s epoch
    # a 0.2 s gap inside the 20 s epoch: timestamps jump, samples are missing
    keep = np.ones(rec.n_samples, bool)
    keep[20200:20400] = False
    rec = Recording(rec.data[keep], rec.timestamps[keep], 1000.0, rec.channel_names, rec.markers)
    ep = epochs_from_recording(rec, PipelineConfig())
    assert ep.dropped.get("nan") == 1
    assert ep.dropped.get("flat") == 1
    assert ep.dropped.get("saturated", 0) >= 1
    assert ep.dropped.get("gap", 0) >= 1
    assert len(ep) + sum(ep.dropped.values()) == 37
    assert np.all(np.isfinite(ep.epochs))


def test_filter_restarts_after_a_gap_like_the_live_reader():
    rec = _recording(n_seconds=10)
    keep = np.ones(rec.n_samples, bool)
    keep[5000:5300] = False
    rec = Recording(rec.data[keep], rec.timestamps[keep], 1000.0, rec.channel_names, rec.markers)
    out = filter_continuous(rec, PipelineConfig())
    config = PipelineConfig()
    np.testing.assert_allclose(out[5000:], filter_recording(rec.data[5000:], config), rtol=1e-5, atol=1e-4)


def test_wrong_rate_is_refused():
    with pytest.raises(ValueError, match="sfreq=1000.0"):
        epochs_from_recording(_recording(n_seconds=5), PipelineConfig(sfreq=500.0))
