"""EEGNet at the recording's rate: 4 ms input bins inside the network (``input_bin``), and EEGNet
bundles written before the field serving exactly as they did."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from calibration.baselines import RAW_BIN_S, bin_time
from calibration.networks import build_network
from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import ModelBundle, load_bundle, save_bundle
from rtdecode.models import registry
from rtdecode.models.eegnet import INPUT_STEP_S, EEGNet, EEGNetConfig
from rtdecode.signal.standardize import Standardizer


@pytest.mark.parametrize(
    ("sfreq", "input_bin", "kernel"),
    [(1000.0, 4, 16), (500.0, 2, 32), (512.0, 2, 32), (256.0, 1, 64), (250.0, 1, 64), (128.0, 1, 64)],
)
def test_at_rate_bins_to_4_ms_and_keeps_the_kernel_span(sfreq, input_bin, kernel):
    config = EEGNetConfig().at_rate(sfreq)
    assert (config.input_bin, config.kernel_length) == (input_bin, kernel)
    assert config.at_rate(sfreq) == config  # a config already at its rate stays as it is
    # The same 4 ms as the raw_binned view of the LSTM and 1D CNN baselines.
    assert INPUT_STEP_S == RAW_BIN_S


def test_calibration_builds_eegnet_at_the_recordings_rate():
    spec = registry.get("eegnet")
    net = build_network(spec, (440, 128), 40, sfreq=1000.0)
    assert (net.config.input_bin, net.config.kernel_length, net.config.n_samples) == (4, 16, 440)
    # Later layers see the same 4 ms steps as the unbinned network: the same 13 x 16 head features.
    assert net.head.in_features == 16 * (440 // 32)
    assert net(torch.zeros(2, 440, 128)).shape == (2, 40)
    # Without a rate (old callers) the config's defaults stay: no binning.
    assert build_network(spec, (440, 128), 40).config.input_bin == 1


def test_the_binning_is_bin_time_of_the_raw_view():
    torch.manual_seed(0)
    net = EEGNet(EEGNetConfig(n_channels=4, n_classes=3, n_samples=230).at_rate(1000.0)).eval()
    x = np.random.default_rng(1).standard_normal((2, 230, 4)).astype(np.float32)
    binned = torch.from_numpy(bin_time(x, 4).astype(np.float32))  # (2, 57, 4): the remainder dropped
    with torch.no_grad():
        z = net.separable(net.spatial(net.temporal(binned.transpose(1, 2).unsqueeze(1))))
        z = torch.nn.functional.adaptive_avg_pool2d(z, (1, 230 // 32))
        expected = net.head(z.flatten(1))
        np.testing.assert_allclose(net(torch.from_numpy(x)).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_an_eegnet_bundle_from_before_input_bin_serves_as_it_did(tmp_path):
    torch.manual_seed(0)
    config = EEGNetConfig(n_channels=4, n_classes=3, n_samples=230)
    net = EEGNet(config).eval()
    pipeline = PipelineConfig(sfreq=500.0)
    standardizer = Standardizer().fit(np.ones((2, 4, 10)) * np.arange(10))
    bundle = ModelBundle(
        net, config, pipeline, standardizer, ["a", "b", "c"], ["E0", "E1", "E2", "E3"], 500.0
    )
    folder = save_bundle(bundle, tmp_path / "m")
    meta = json.loads((folder / "bundle.json").read_text())
    # What format 3 wrote: no input_bin in the config.
    del meta["model_config"]["input_bin"]
    (folder / "bundle.json").write_text(json.dumps({**meta, "format": 3}))
    loaded = load_bundle(folder)
    assert loaded.model_config.input_bin == 1 and loaded.model_config.kernel_length == 64
    # The layers and weights of the network before the field (commit 9786ae7).
    assert loaded.model.temporal[1].weight.shape == (8, 1, 1, 64) and loaded.model.head.in_features == 112
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 230, 4)).astype(np.float32))
    with torch.no_grad():
        logits = loaded.model(x).numpy()
    # The logits that commit's EEGNet gave for this seed and input.
    reference = [
        [-0.09108990430831909, 0.006691391579806805, 0.07191560417413712],
        [-0.0999128445982933, 0.021915176883339882, 0.0718243420124054],
    ]
    np.testing.assert_allclose(logits, reference, rtol=1e-5, atol=1e-6)
