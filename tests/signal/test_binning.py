"""Band power in time bins: each band's power lands in its own rows, in its own time bins."""

from __future__ import annotations

import numpy as np

from rtdecode.signal.binning import band_power

SFREQ = 1000.0


def test_each_oscillation_s_power_is_in_its_band_only_and_where_it_is_in_time():
    t = np.arange(500) / SFREQ  # 500 ms: 20, 38 and 60 Hz fall on the FFT's frequencies
    amplitudes = np.array([2.0, 3.0, 5.0])
    waves = amplitudes[:, None] * np.cos(2 * np.pi * np.array([20.0, 38.0, 60.0])[:, None] * t)
    epochs = np.stack([waves.T, 2 * waves.T])  # (2 epochs, 500 samples, 3 channels)
    bands = [(14.0, 30.0), (30.0, 45.0), (45.0, 70.0), (300.0, 900.0)]  # the last above Nyquist
    power = band_power(epochs, SFREQ, bands, width=20)
    assert power.shape == (2, 4 * 25, 3) and power.dtype == np.float32
    per_band = power.reshape(2, 4, 25, 3).mean(axis=2)  # (epoch, band, channel)
    expected = np.zeros((4, 3))
    expected[[0, 1, 2], [0, 1, 2]] = amplitudes**2 / 2  # channel k oscillates in band k only
    np.testing.assert_allclose(per_band[0], expected, atol=1e-4)
    np.testing.assert_allclose(per_band[1], 4 * expected, atol=1e-4)  # twice the amplitude
    # A burst in the second half only: its power is in the second half's bins.
    burst = epochs[:1].copy()
    burst[:, :250] = 0.0
    halves = band_power(burst, SFREQ, bands[:1], width=20)[0, :, 0]
    assert halves[:10].mean() < 0.05 * halves[15:].mean()


def test_no_band_gives_no_row():
    assert band_power(np.ones((3, 100, 2)), SFREQ, [], width=20).shape == (3, 0, 2)
