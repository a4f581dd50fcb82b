"""Out-of-fold teacher targets, their statistics, and the one teacher rule of every entry point."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.image_encoder import MissingWeightsError
from calibration.soft_targets import fit_linear, out_of_fold_logits, softmax, target_statistics
from calibration.teacher_choice import resolve_teacher


def _embeddings(n_classes=4, per_class=10, d=8, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, d)) * 2
    y = np.repeat(np.arange(n_classes), per_class)
    return centers[y] + spread * rng.normal(size=(len(y), d)), y


def test_out_of_fold_logits_never_score_an_image_with_a_head_fitted_on_it():
    x, y = _embeddings()
    oof = out_of_fold_logits(x, y, 4, folds=5, seed=1)
    in_fold_weight, in_fold_bias = fit_linear(x.astype(np.float64), y, 4, 1.0)
    in_fold = softmax(x @ in_fold_weight.T + in_fold_bias)
    # The head that saw every image is more confident about them than heads that did not.
    assert target_statistics(softmax(oof))["mean_max_prob"] < target_statistics(in_fold)["mean_max_prob"]
    # Recompute one fold by hand: the same stratified split, a head fitted on the other folds.
    from sklearn.model_selection import StratifiedKFold

    train, test = next(StratifiedKFold(5, shuffle=True, random_state=1).split(x, y))
    w, b = fit_linear(x[train].astype(np.float64), y[train], 4, 1.0)
    np.testing.assert_allclose(oof[test], x[test] @ w.T + b, rtol=1e-5, atol=1e-4)


def test_out_of_fold_logits_refuse_a_single_fold():
    x, y = _embeddings()
    with pytest.raises(ValueError, match="folds must be >= 2"):
        out_of_fold_logits(x, y, 4, folds=1)


def test_target_statistics_of_one_hot_and_uniform_rows():
    one_hot = np.eye(4)[[0, 1, 2, 3]]
    stats = target_statistics(one_hot, np.array([0, 1, 2, 3]))
    assert stats["mean_max_prob"] == 1.0 and stats["mean_entropy_fraction"] == pytest.approx(0, abs=1e-9)
    assert stats["accuracy"] == 1.0 and stats["mean_true_class_prob"] == 1.0
    uniform = np.full((3, 4), 0.25)
    stats = target_statistics(uniform)
    assert stats["mean_entropy_nats"] == pytest.approx(np.log(4)) and stats[
        "mean_entropy_fraction"
    ] == pytest.approx(1)


def test_higher_temperature_flattens_targets():
    logits = np.array([[4.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    cold, hot = target_statistics(softmax(logits, 1.0)), target_statistics(softmax(logits, 4.0))
    assert (
        hot["mean_max_prob"] < cold["mean_max_prob"] and hot["mean_entropy_nats"] > cold["mean_entropy_nats"]
    )
    with pytest.raises(ValueError, match="temperature"):
        softmax(logits, 0.0)


def test_teacher_rule_auto_without_clip_weights_is_pretrained_efficientnet(tmp_path):
    choice = resolve_teacher("auto", None, cache_dir=tmp_path)  # an empty cache
    assert choice.model_name == "efficientnet-lite0" and choice.pretrained == "imagenet"
    assert "shipped" in choice.source and not choice.random


def test_teacher_rule_given_clip_weights_win(tmp_path):
    weights = tmp_path / "clip.safetensors"
    weights.write_bytes(b"")
    choice = resolve_teacher("auto", weights, cache_dir=tmp_path)
    assert choice.model_name == "ViT-B-32" and choice.pretrained == str(weights)


def test_teacher_rule_finds_clip_in_the_hugging_face_cache(tmp_path):
    # The cache layout huggingface_hub reads: models--org--repo/{refs,snapshots/<rev>/<file>}.
    repo = tmp_path / "models--timm--vit_base_patch32_clip_224.openai"
    (repo / "snapshots" / "abc").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc")
    (repo / "snapshots" / "abc" / "open_clip_model.safetensors").write_bytes(b"0")
    choice = resolve_teacher("auto", None, cache_dir=tmp_path)
    assert (choice.model_name, choice.pretrained) == ("ViT-B-32", "openai")
    assert "Hugging Face cache" in choice.source


def test_teacher_rule_random_and_none_only_when_asked(tmp_path):
    assert resolve_teacher("random").random
    assert resolve_teacher("ViT-B-32", "random").random
    assert resolve_teacher("none") is None
    with pytest.raises(MissingWeightsError, match="--teacher-weights"):
        resolve_teacher("ViT-B-32", None, cache_dir=tmp_path)


def test_embeddings_are_cached_by_encoder_and_image_content(tmp_path, tiny_model_name):
    from PIL import Image

    from calibration.image_encoder import load_image_encoder
    from calibration.soft_targets import cached_embeddings

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(paths[-1])
    with pytest.warns(UserWarning, match="random"):
        encoder = load_image_encoder(tiny_model_name, None, "cpu")
    first = cached_embeddings(encoder, paths, cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    encoder.embed = None  # a second call must not embed again
    np.testing.assert_array_equal(cached_embeddings(encoder, paths, cache=tmp_path / "cache"), first)
    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(paths[0])  # new content, new key
    with pytest.raises(TypeError):
        cached_embeddings(encoder, paths, cache=tmp_path / "cache")


def test_teacher_soft_targets_embed_the_stimuli_and_report_out_of_fold(tmp_path, tiny_model_name):
    import json

    from PIL import Image

    from calibration.soft_targets import teacher_soft_targets

    # 3 classes x 6 images of one colour each, shown twice: trials repeat their image's targets.
    colours = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230]], dtype=np.uint8)
    rng = np.random.default_rng(0)
    image_labels = np.repeat(np.arange(3), 6)
    for k, label in enumerate(image_labels):
        pixels = np.clip(colours[label] + rng.normal(0, 10, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"img{k:02d}.png")
    image_ids = [f"img{k:02d}" for k in range(len(image_labels))] * 2
    labels = np.tile(image_labels, 2)
    with pytest.warns(UserWarning, match="random"):
        report, soft = teacher_soft_targets(
            image_ids, labels, tmp_path, 3, tiny_model_name, "random", temperature=2.0, folds=3, device="cpu"
        )
    assert soft.shape == (len(image_ids), 3) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(soft[:18], soft[18:])
    assert report["used"] and report["pretrained"] is False
    assert report["encoder"] == f"open_clip:{tiny_model_name}" and report["embed_dim"] == 16
    assert report["n_images"] == 18 and report["folds"] == 3 and report["temperature"] == 2.0
    assert 0.0 <= report["held_out_accuracy"] <= 1.0
    assert 1 / 3 <= report["mean_max_soft_target"] <= 1.0 and "targets_at_T1" in report
    json.dumps(report)
    assert teacher_soft_targets(image_ids, labels, tmp_path, 3, "none") == (
        {"used": False, "reason": "--teacher none: trained on labels only"},
        None,
    )
