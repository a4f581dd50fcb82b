"""The causal filter bank: scipy agreement, frequency response, state across chunks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from rtdecode.config import PipelineConfig
from rtdecode.signal.filters import CausalFilterBank, design_filter_bank, frequency_response_db


def _reference_sos(sfreq: float, notch: tuple[float, float]) -> np.ndarray:
    return np.concatenate(
        [
            signal.butter(2, notch, btype="bandstop", fs=sfreq, output="sos"),
            signal.butter(2, [14, 70], btype="bandpass", fs=sfreq, output="sos"),
            signal.butter(2, 9, btype="highpass", fs=sfreq, output="sos"),
        ]
    )


def test_whole_array_matches_scipy_sosfilt_with_steady_state_start():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 16)) * 20 + rng.normal(size=16) * 300  # EEG-like DC offsets
    config = PipelineConfig()
    sos = _reference_sos(1000.0, (49, 51))
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    expected, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    got = CausalFilterBank(config, 16).process(x)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-9)


def test_sections_are_float64_and_match_scipy_design_for_60hz_notch():
    config = PipelineConfig().with_overrides(filter={"notch_low_hz": 59.0, "notch_high_hz": 61.0})
    sos = design_filter_bank(config)
    assert sos.dtype == np.float64
    np.testing.assert_allclose(sos, _reference_sos(1000.0, (59, 61)))


@pytest.mark.parametrize("notch", [(49.0, 51.0), (59.0, 61.0)])
def test_frequency_response_meets_the_spec(notch):
    config = PipelineConfig().with_overrides(filter={"notch_low_hz": notch[0], "notch_high_hz": notch[1]})
    line = (notch[0] + notch[1]) / 2
    assert frequency_response_db(config, np.array([line]))[0] <= -30
    low = np.linspace(0.01, 5.0, 200)
    assert frequency_response_db(config, low).max() <= -30
    # Pass band 20-60 Hz, leaving out the notch itself (its -3 dB edges are its corners by design).
    passband = np.linspace(20, 60, 401)
    passband = passband[np.abs(passband - line) > 3]
    assert frequency_response_db(config, passband).min() >= -3


def test_measured_attenuation_of_sinusoids_matches_design():
    config = PipelineConfig()
    t = np.arange(20000) / 1000.0
    bank = CausalFilterBank(config, 3)
    x = np.stack([np.sin(2 * np.pi * f * t) for f in (2.0, 35.0, 50.0)], axis=1)
    y = bank.process(x)[10000:]  # after the transient
    gain_db = 20 * np.log10(y.std(axis=0) / x[10000:].std(axis=0))
    assert gain_db[0] < -30 and gain_db[2] < -30
    assert abs(gain_db[1]) < 1


def test_state_is_carried_and_reset_starts_fresh():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 4))
    config = PipelineConfig()
    whole = CausalFilterBank(config, 4).process(x)
    bank = CausalFilterBank(config, 4)
    parts = np.concatenate([bank.process(x[:1]), bank.process(x[1:1234]), bank.process(x[1234:])])
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-12)
    bank.reset()
    np.testing.assert_allclose(bank.process(x), whole, rtol=1e-12, atol=1e-12)


def test_wrong_channel_count_is_refused_with_the_expected_shape():
    bank = CausalFilterBank(PipelineConfig(), 8)
    with pytest.raises(ValueError, match=r"\(n_samples, 8\)"):
        bank.process(np.zeros((10, 7)))


def test_segmented_filter_restarts_at_gaps_and_bad_samples_the_same_in_any_chunking():
    from rtdecode.signal.filters import SegmentedFilter

    rng = np.random.default_rng(5)
    n = 6000
    x = rng.normal(scale=10, size=(n, 3)) + 200.0
    ts = 10.0 + np.arange(n) / 1000.0
    ts[3000:] += 0.25  # a gap
    x[1500:1510, 1] = np.nan  # a NaN run
    ts[4500] = ts[4499]  # a duplicated timestamp
    config = PipelineConfig()
    whole = SegmentedFilter(config, 3).process(x, ts)
    assert np.isnan(whole[1500:1510]).all() and np.isnan(whole[4500]).all()
    # Each good segment equals a fresh filter started at its first sample.
    fresh = CausalFilterBank(config, 3)
    np.testing.assert_allclose(whole[3000:4500], fresh.process(x[3000:4500]), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(
        whole[1510:3000], CausalFilterBank(config, 3).process(x[1510:3000]), rtol=1e-5, atol=1e-3
    )
    streamed, start, bank = [], 0, SegmentedFilter(config, 3)
    while start < n:
        size = int(rng.integers(1, 501))
        streamed.append(bank.process(x[start : start + size], ts[start : start + size]))
        start += size
    np.testing.assert_array_equal(np.isnan(np.concatenate(streamed)), np.isnan(whole))
    np.testing.assert_allclose(np.concatenate(streamed), whole, rtol=1e-5, atol=1e-4, equal_nan=True)


def test_block_boundaries_in_any_chunking_match_scipy():
    rng = np.random.default_rng(9)
    x = rng.normal(scale=20, size=(2000, 5)) + 50.0
    config = PipelineConfig()
    sos = design_filter_bank(config)
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    expected, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    bank, parts, start = CausalFilterBank(config, 5), [], 0
    for size in [1, 63, 64, 65, 127, 128, 129, 200, 7] * 4:
        parts.append(bank.process(x[start : start + size]))
        start += size
    parts.append(bank.process(x[start:]))
    np.testing.assert_allclose(np.concatenate(parts), expected, rtol=1e-10, atol=1e-9)
