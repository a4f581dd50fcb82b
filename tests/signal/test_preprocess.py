"""Offline is streaming: the whole-recording path equals the chunk-by-chunk path."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.config import PipelineConfig
from rtdecode.signal.filters import CausalFilterBank
from rtdecode.signal.preprocess import cut_epochs, epoch_features, epoch_start_index, filter_recording
from rtdecode.signal.standardize import Standardizer


def _continuous(n_samples=30000, n_channels=8, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 1000.0
    x = rng.normal(scale=10.0, size=(n_samples, n_channels))
    x += 40 * np.sin(2 * np.pi * 50 * t)[:, None] + np.cumsum(rng.normal(size=(n_samples, 1)), axis=0)
    return x.astype(np.float32), 1000.0 + t  # LSL clocks rarely start at 0


@pytest.mark.parametrize("method", ["stft", "wavelet"])
def test_random_chunks_give_the_same_filtered_samples_and_features(method):
    config = PipelineConfig().with_overrides(tfd={"method": method})
    x, ts = _continuous()
    rng = np.random.default_rng(42)
    bank = CausalFilterBank(config, x.shape[1])
    pieces, start = [], 0
    while start < len(x):
        size = int(rng.integers(1, 501))
        pieces.append(bank.process(x[start : start + size]))
        start += size
    streamed = np.concatenate(pieces)
    offline = filter_recording(x, config)
    np.testing.assert_allclose(streamed, offline, rtol=1e-9, atol=1e-9)

    standardizer = Standardizer.fit(offline[:20000])
    onsets = ts[0] + np.arange(1.0, 28.0, 0.5)
    epochs_off, kept_off = cut_epochs(offline, ts, onsets, config)
    epochs_on, kept_on = cut_epochs(streamed, ts, onsets, config)
    np.testing.assert_array_equal(kept_on, kept_off)
    np.testing.assert_allclose(
        epoch_features(epochs_on, standardizer, config),
        epoch_features(epochs_off, standardizer, config),
        rtol=1e-5,
        atol=1e-5,
    )


def test_epochs_are_cut_by_timestamp_not_by_sample_count():
    config = PipelineConfig()
    ts = 50.0 + np.arange(2000) / 1000.0
    ts[1000:] += 0.3  # a 300 ms gap: counting samples would put the epoch 300 samples late
    data = np.arange(2000, dtype=float)[:, None]
    onset = ts[1000] - 0.020
    assert epoch_start_index(ts, onset, config) == 1000
    epochs, kept = cut_epochs(data, ts, np.array([onset, ts[-1]]), config)
    assert list(kept) == [0]  # the second onset runs past the data
    np.testing.assert_array_equal(epochs[0, :, 0], np.arange(1000, 1440))


def test_standardizer_stats_are_frozen_and_round_trip():
    rng = np.random.default_rng(3)
    train = rng.normal(loc=5, scale=[1, 2, 3], size=(10000, 3))
    s = Standardizer.fit(train)
    np.testing.assert_allclose(s.mean, train.mean(axis=0))
    np.testing.assert_allclose(s.std, train.std(axis=0))
    z = s.apply(train)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-10)
    online = rng.normal(loc=0, scale=1, size=(500, 3))
    np.testing.assert_allclose(s.apply(online), (online - train.mean(0)) / train.std(0))
    again = Standardizer.from_dict(s.to_dict())
    np.testing.assert_array_equal(again.mean, s.mean)
    np.testing.assert_array_equal(again.std, s.std)


def test_flat_channel_does_not_explode_and_channel_mismatch_is_refused():
    x = np.zeros((100, 2))
    x[:, 1] = np.arange(100)
    s = Standardizer.fit(x)
    assert np.all(np.isfinite(s.apply(x)))
    with pytest.raises(ValueError, match="channels"):
        s.apply(np.zeros((5, 3)))
