"""STFT and wavelet TFDs against scipy and PyWavelets."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
from scipy import signal

from rtdecode.config import PipelineConfig
from rtdecode.signal.tfd import compute_tfd, stft_frequencies, tfd_shape


def _epochs(n_epochs=3, n_channels=5, seed=0):
    config = PipelineConfig()
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_epochs, config.epoch_samples, n_channels)), config


def test_stft_matches_scipy_on_every_channel_and_epoch():
    x, config = _epochs()
    config = config.with_overrides(tfd={"log_power": False})
    got = compute_tfd(x, config)
    _, _, z = signal.stft(
        x, fs=1000, window="hann", nperseg=40, noverlap=20, boundary=None, padded=False, axis=1
    )
    # scipy: (n_epochs, n_freqs, n_channels, n_frames) -> (n_epochs, n_channels, n_frames, n_freqs)
    expected = np.abs(z).transpose(0, 2, 3, 1)
    assert got.shape == expected.shape == (3, 5, 21, 21)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_stft_puts_a_sinusoid_in_its_bin_and_log_power_is_log1p():
    config = PipelineConfig()
    t = np.arange(config.epoch_samples) / config.sfreq
    x = np.sin(2 * np.pi * 50.0 * t)[:, None]
    raw = compute_tfd(x, config.with_overrides(tfd={"log_power": False}))
    freqs = stft_frequencies(config)
    assert freqs[np.argmax(raw[0].mean(axis=0))] == 50.0
    np.testing.assert_allclose(compute_tfd(x, config), np.log1p(raw), rtol=1e-5, atol=1e-6)


def test_wavelet_levels_match_pywavelets():
    x, config = _epochs(n_epochs=2, n_channels=3)
    config = config.with_overrides(tfd={"method": "wavelet", "log_power": False})
    got = compute_tfd(x, config)
    assert got.shape == (2,) + tfd_shape(config, 3)
    coeffs = pywt.wavedec(x[1, :, 2], "db4", level=4)
    for level, c in enumerate(coeffs):
        expected = np.interp(np.linspace(0, 1, got.shape[2]), np.linspace(0, 1, len(c)), np.abs(c))
        np.testing.assert_allclose(got[1, 2, :, level], expected, rtol=1e-4, atol=1e-5)


def test_single_epoch_gives_channels_time_frequency():
    x, config = _epochs(n_epochs=1, n_channels=7)
    assert compute_tfd(x[0], config).shape == tfd_shape(config, 7) == (7, 21, 21)


def test_wrong_epoch_length_and_too_deep_wavelet_are_refused():
    x, config = _epochs()
    with pytest.raises(ValueError, match="440 samples"):
        compute_tfd(x[:, :300], config)
    deep = config.with_overrides(tfd={"method": "wavelet", "wavelet_level": 9})
    with pytest.raises(ValueError, match="wavelet_level"):
        compute_tfd(x, deep)
