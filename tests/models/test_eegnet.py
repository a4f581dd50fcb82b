"""The project's EEGNet against braindecode's EEGNetv4 (skipped when braindecode is not installed:
``pip install -e '.[peers]'``): the same layers and parameters, the same outputs where the two
networks are the same, and the differences the module's docstring names."""

from __future__ import annotations

import warnings

import pytest
import torch

from rtdecode.models.eegnet import EEGNet, EEGNetConfig

braindecode_models = pytest.importorskip("braindecode.models")

N_CHANNELS, N_CLASSES, N_SAMPLES = 16, 5, 440


def _pair(**braindecode_changes) -> tuple[EEGNet, torch.nn.Module]:
    torch.manual_seed(0)
    ours = EEGNet(EEGNetConfig(n_channels=N_CHANNELS, n_classes=N_CLASSES, n_samples=N_SAMPLES)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notice about the (default) conv classifier
        theirs = braindecode_models.EEGNet(
            n_chans=N_CHANNELS, n_outputs=N_CLASSES, n_times=N_SAMPLES, **braindecode_changes
        ).eval()
    return ours, theirs


# Our layer -> braindecode's (with the spatial filters' max-norm parametrization).
SAME_LAYERS = {
    "temporal.1.weight": "conv_temporal.weight",
    "temporal.2": "bnorm_temporal",
    "spatial.0.weight": "conv_spatial.parametrizations.weight.original",
    "spatial.1": "bnorm_1",
    "separable.1.weight": "conv_separable_depth.weight",
    "separable.2.weight": "conv_separable_point.weight",
    "separable.3": "bnorm_2",
    "head.weight": "final_layer.conv_classifier.weight",
    "head.bias": "final_layer.conv_classifier.bias",
}


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return dict(module.state_dict())


def test_same_layers_and_parameter_count_as_braindecode_eegnetv4():
    ours, theirs = _pair()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    mine, other = _state(ours), _state(theirs)
    for name, their_name in SAME_LAYERS.items():
        if name.endswith(("weight", "bias")):
            # The dense head is braindecode's (1, n_out_time) convolution classifier, flattened.
            assert mine[name].numel() == other[their_name].numel(), name
            assert mine[name].reshape(other[their_name].shape).shape == other[their_name].shape
        else:
            for part in ("weight", "bias", "running_mean", "running_var"):
                assert mine[f"{name}.{part}"].shape == other[f"{their_name}.{part}"].shape, name
    # Hyperparameters the docstring says are braindecode's: F1 8, D 2, F2 16, kernel 64, separable 16.
    assert tuple(ours.temporal[1].weight.shape) == (8, 1, 1, theirs.kernel_length)
    assert ours.separable[1].weight.shape[-1] == theirs.depthwise_kernel_length == 16
    assert ours.config.dropout == theirs.drop_prob


def test_what_differs_from_braindecode_is_what_the_docstring_says():
    ours, theirs = _pair()
    for ours_bn, theirs_bn in ((ours.temporal[2], theirs.bnorm_temporal), (ours.spatial[1], theirs.bnorm_1)):
        # torch's batch-norm defaults here; braindecode's port of Keras' (momentum 0.99 -> 0.01, eps 1e-3).
        assert (ours_bn.momentum, ours_bn.eps) == (0.1, 1e-5)
        assert (theirs_bn.momentum, theirs_bn.eps) == (0.01, 1e-3)
    # braindecode bounds each spatial filter's norm at 1; ours has no constraint.
    assert theirs.conv_spatial.max_norm == 1 and not hasattr(ours.spatial[0], "parametrizations")
    # Padding: ours keeps the length ("same"); braindecode pads kernel // 2 on both sides (one more sample).
    x = torch.zeros(1, 1, N_CHANNELS, N_SAMPLES)
    assert ours.temporal(x).shape[-1] == N_SAMPLES
    assert theirs.bnorm_temporal(theirs.conv_temporal(x)).shape[-1] == N_SAMPLES + 1


def test_same_outputs_as_braindecode_where_the_networks_are_the_same():
    # braindecode with torch's batch-norm settings, weights copied from ours (spatial filters of
    # norm below 1, so its max-norm leaves them alone): each block computes the same numbers.
    ours, theirs = _pair(batch_norm_momentum=0.1, batch_norm_eps=1e-5)
    with torch.no_grad():
        ours.spatial[0].weight.mul_(0.5 / ours.spatial[0].weight.flatten(1).norm(dim=1).max())
        for module in (ours.temporal[2], ours.spatial[1], ours.separable[3]):  # non-trivial statistics
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.uniform_(0.5, 1.5)
            module.bias.uniform_(-0.5, 0.5)
    mine = _state(ours)
    copied = {}
    for name, their_name in SAME_LAYERS.items():
        keys = (
            [name]
            if name.endswith(("weight", "bias"))
            else [
                f"{name}.{p}"
                for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
            ]
        )
        for key in keys:
            target = their_name + key[len(name) :]
            copied[target] = mine[key].reshape(_state(theirs)[target].shape)
    theirs.load_state_dict(copied)

    x = torch.randn(3, N_SAMPLES, N_CHANNELS)
    with torch.no_grad():
        # Temporal filters + batch norm: braindecode's output is ours one sample later (its left pad is one longer).
        z_ours = ours.temporal(x.transpose(1, 2).unsqueeze(1))
        z_theirs = theirs.bnorm_temporal(theirs.conv_temporal(x.transpose(1, 2).unsqueeze(1)))
        torch.testing.assert_close(z_ours, z_theirs[..., 1:], rtol=1e-5, atol=1e-5)
        # Spatial filters, batch norm, ELU on the same input.
        spatial_theirs = torch.nn.Sequential(theirs.conv_spatial, theirs.bnorm_1, theirs.elu_1)
        torch.testing.assert_close(ours.spatial[:3](z_ours), spatial_theirs(z_ours), rtol=1e-5, atol=1e-5)
        # Pointwise filters + batch norm, and the dense head on the same features.
        h = torch.randn(3, 16, 1, 13)
        point_theirs = torch.nn.Sequential(theirs.conv_separable_point, theirs.bnorm_2)
        torch.testing.assert_close(ours.separable[2:4](h), point_theirs(h), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours.head(h.flatten(1)), theirs.final_layer(h), rtol=1e-5, atol=1e-5)
