from __future__ import annotations

import pytest

from rtdecode.config import PipelineConfig


def test_defaults_are_the_papers():
    c = PipelineConfig()
    assert (c.filter.notch_low_hz, c.filter.notch_high_hz) == (49.0, 51.0)
    assert (c.filter.band_low_hz, c.filter.band_high_hz, c.filter.order) == (14.0, 70.0, 2)
    assert (c.epoch.tmin_s, c.epoch.tmax_s) == (0.020, 0.460)
    assert (c.tfd.method, c.tfd.window_s, c.tfd.hop_s, c.tfd.wavelet) == ("stft", 0.040, 0.020, "db4")
    assert c.epoch_samples == 440 and c.stft_window_samples == 40 and c.stft_hop_samples == 20


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_round_trip_through_files(tmp_path, suffix):
    c = PipelineConfig(sfreq=500.0).with_overrides(
        filter={"notch_low_hz": 59.0, "notch_high_hz": 61.0, "drift_highpass_hz": 0.0},
        tfd={"method": "wavelet", "wavelet_level": 3},
    )
    path = tmp_path / f"cfg{suffix}"
    c.save(path)
    assert PipelineConfig.load(path) == c


def test_partial_toml_keeps_defaults_for_missing_keys():
    c = PipelineConfig.from_toml("[epoch]\ntmax_s = 0.5\n")
    assert c.epoch.tmax_s == 0.5 and c.epoch.tmin_s == 0.020 and c.filter == PipelineConfig().filter


@pytest.mark.parametrize(
    "text, message",
    [
        ("[filter]\nband_high_hz = 600.0\n", "Nyquist"),
        ("[filter]\nbogus = 1\n", "unknown keys"),
        ("[epoch]\ntmin_s = 0.5\ntmax_s = 0.1\n", "tmax_s"),
        ('[tfd]\nmethod = "fft"\n', "stft"),
        ("[filter]\ndrift_highpass_hz = 20.0\n", "drift_highpass_hz"),
    ],
)
def test_bad_configs_are_refused_with_a_message(text, message):
    with pytest.raises(ValueError, match=message):
        PipelineConfig.from_toml(text)
