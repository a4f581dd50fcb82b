"""ShallowConvNet is braindecode's ShallowFBCSPNet: same layers, and the same outputs on its weights."""

from __future__ import annotations

import pytest
import torch

from rtdecode.models.shallow_convnet import ShallowConvNet, ShallowConvNetConfig
from rtdecode.models.student import count_parameters


def test_forward_shape_and_a_clear_error_for_short_epochs():
    config = ShallowConvNetConfig(n_channels=8, n_classes=5, n_samples=200)
    model = ShallowConvNet(config).eval()
    assert model(torch.randn(3, 200, 8)).shape == (3, 5)
    assert config.n_pooled == (200 - 25 + 1 - 75) // 15 + 1
    with pytest.raises(ValueError, match="expects"):
        model(torch.randn(3, 8, 200))
    with pytest.raises(ValueError, match="at least 99 samples"):
        ShallowConvNetConfig(n_samples=60)


def test_equals_braindecodes_shallow_fbcsp_net_given_its_weights():
    braindecode = pytest.importorskip("braindecode.models")
    n_channels, n_classes, n_samples = 6, 4, 250
    torch.manual_seed(0)
    reference = braindecode.ShallowFBCSPNet(n_chans=n_channels, n_outputs=n_classes, n_times=n_samples).eval()
    ours = ShallowConvNet(
        ShallowConvNetConfig(n_channels=n_channels, n_classes=n_classes, n_samples=n_samples)
    )
    assert count_parameters(ours) == count_parameters(reference)
    state = reference.state_dict()
    classifier = state["final_layer.conv_classifier.weight"]
    ours.load_state_dict(
        {
            "conv_time.weight": state["conv_time_spat.conv_time.weight"],
            "conv_time.bias": state["conv_time_spat.conv_time.bias"],
            "conv_spat.weight": state["conv_time_spat.conv_spat.weight"],
            **{f"bnorm.{k}": state[f"bnorm.{k}"] for k in ("weight", "bias", "running_mean", "running_var")},
            "bnorm.num_batches_tracked": state["bnorm.num_batches_tracked"],
            # braindecode's final convolution over all pooled steps is our dense layer.
            "classifier.weight": classifier.reshape(n_classes, -1),
            "classifier.bias": state["final_layer.conv_classifier.bias"],
        }
    )
    ours.eval()
    x = torch.randn(5, n_samples, n_channels)
    with torch.no_grad():
        # braindecode takes (batch, channels, times); the engine (batch, times, channels).
        torch.testing.assert_close(ours(x), reference(x.transpose(1, 2)), rtol=1e-4, atol=1e-4)
