"""The student network and the model bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import ModelBundle, load_bundle, save_bundle
from rtdecode.models.student import StudentCNN, StudentConfig, count_parameters
from rtdecode.signal.standardize import Standardizer


def test_parameter_count_is_the_papers_budget():
    n = count_parameters(StudentCNN(StudentConfig(n_channels=128, n_classes=40)))
    assert 1_100_000 <= n <= 1_200_000


@pytest.mark.parametrize(
    "channels, classes, shape", [(128, 40, (21, 21)), (63, 8, (21, 21)), (8, 3, (21, 5))]
)
def test_adapts_to_channels_classes_and_input_size(channels, classes, shape):
    model = StudentCNN(StudentConfig(n_channels=channels, n_classes=classes)).eval()
    out = model(torch.randn(2, channels, *shape))
    assert out.shape == (2, classes)


def test_bundle_round_trip_gives_identical_predictions(tmp_path):
    torch.manual_seed(0)
    config = StudentConfig(n_channels=8, n_classes=3, widths=(16, 16, 32))
    model = StudentCNN(config).eval()
    pipeline = PipelineConfig().with_overrides(filter={"notch_low_hz": 59.0, "notch_high_hz": 61.0})
    std = Standardizer.from_dict({"mean": np.arange(8.0), "std": np.ones(8) * 2})
    bundle = ModelBundle(
        model, config, pipeline, std, ["a", "b", "c"], [f"E{i}" for i in range(8)], 1000.0, {"top1": 0.5}
    )
    save_bundle(bundle, tmp_path / "m")
    loaded = load_bundle(tmp_path / "m")
    x = np.random.default_rng(0).normal(size=(4, 8, 21, 21)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_proba(x), bundle.predict_proba(x), rtol=1e-6)
    assert loaded.pipeline == pipeline and loaded.class_names == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.standardizer.mean_, std.mean_)
    assert loaded.predict_proba(x[0]).shape == (3,)
    # No pickle anywhere: weights are safetensors, metadata JSON.
    meta = json.loads((tmp_path / "m" / "bundle.json").read_text())
    assert meta["format"] == 4 and meta["architecture"] == "student" == loaded.architecture


def test_not_a_bundle_and_newer_format_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a model bundle"):
        load_bundle(tmp_path)
    config = StudentConfig(n_channels=2, n_classes=2, widths=(4, 4))
    bundle = ModelBundle(
        StudentCNN(config),
        config,
        PipelineConfig(),
        Standardizer.from_dict({"mean": np.zeros(2), "std": np.ones(2)}),
        ["a", "b"],
        ["x", "y"],
        1000.0,
    )
    save_bundle(bundle, tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    meta["format"] = 99
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="newer rtdecode"):
        load_bundle(tmp_path / "b")
