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

    standardizer = Standardizer().fit(offline[:20000].T)
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
    # (n_epochs, n_channels, n_times): the field's order, the channel axis second to last.
    train = rng.normal(loc=5, scale=[1, 2, 3], size=(100, 100, 3)).transpose(0, 2, 1)
    s = Standardizer()
    assert s.fit(train) is s
    per_channel = train.transpose(1, 0, 2).reshape(3, -1)
    np.testing.assert_allclose(s.mean_, per_channel.mean(axis=1))
    np.testing.assert_allclose(s.std_, per_channel.std(axis=1))
    z = s.transform(train)
    assert z.shape == train.shape
    np.testing.assert_allclose(z.mean(axis=(0, 2)), 0, atol=1e-10)
    np.testing.assert_array_equal(Standardizer().fit_transform(train), z)
    online = rng.normal(loc=0, scale=1, size=(3, 500))  # one continuous (n_channels, n_times) stretch
    expected = (online - per_channel.mean(1)[:, None]) / per_channel.std(1)[:, None]
    np.testing.assert_allclose(s.transform(online), expected)
    assert s.transform(online.astype(np.float32)).dtype == np.float32
    again = Standardizer.from_dict(s.to_dict())
    np.testing.assert_array_equal(again.mean_, s.mean_)
    np.testing.assert_array_equal(again.std_, s.std_)


def test_standardizer_reads_the_statistics_every_bundle_stores():
    # Bundles of every format store {"mean": [...], "std": [...]} under "standardizer".
    stored = {"mean": [1.0, -2.0], "std": [2.0, 0.5]}
    s = Standardizer.from_dict(stored)
    assert s.to_dict() == stored
    np.testing.assert_allclose(s.transform(np.array([[3.0], [-1.0]])), [[1.0], [2.0]])


def test_standardizer_is_a_scikit_learn_transformer():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    assert clone(Standardizer(align="whiten")).get_params() == {"align": "whiten"}
    with pytest.raises(NotFittedError):
        Standardizer().transform(np.zeros((2, 3, 4)))


def test_flat_channel_does_not_explode_and_channel_mismatch_is_refused():
    x = np.zeros((2, 100))
    x[1] = np.arange(100)
    s = Standardizer().fit(x)
    assert np.all(np.isfinite(s.transform(x)))
    with pytest.raises(ValueError, match="3 channels .* the standardizer 2"):
        s.transform(np.zeros((3, 5)))
