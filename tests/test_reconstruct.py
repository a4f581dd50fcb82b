"""Reconstruction: a real (tiny, random-weight) diffusers pipeline loaded offline, the image service
that never holds up decoding, the per-class cache, the exemplar fallback and the paper's Figure 2."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from rtdecode.reconstruct import (
    GenerationSettings,
    Generator,
    ImageCache,
    ImageService,
    display_name,
    make_prompt,
    pregenerate,
    sampling_defaults,
)

SORREL, PARACHUTE = "n02389026", "n03888257"
# diffusers' Euler scheduler still calls np.array(copy=False) on tensors.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:diffusers.*")


@pytest.fixture(scope="module")
def tiny_pipeline_dir(tmp_path_factory):
    """A tiny random-weight Stable Diffusion pipeline saved with save_pretrained."""
    from rtdecode.reconstruct.random_pipeline import build_random_pipeline

    root = tmp_path_factory.mktemp("diffusion")
    pipe = build_random_pipeline("tiny", root / "tokenizer", seed=0)
    pipe.save_pretrained(root / "tiny-sd")
    return root / "tiny-sd"


@pytest.fixture(scope="module")
def generator(tiny_pipeline_dir):
    return Generator.load(tiny_pipeline_dir, device="cpu")


@pytest.fixture()
def no_network(monkeypatch):
    """Fail (and record) every attempt to open a connection."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def _fake_generator(pipe, size: int = 8) -> Generator:
    return Generator(pipe, GenerationSettings(steps=1, guidance=0.0, height=size, width=size), name="fake")


class _SlowPipe:
    """Stands in for a pipeline that takes ``seconds`` per image; pixels encode the prompt."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls: list[str] = []

    def __call__(self, prompt, height, width, **kwargs):
        self.calls.append(prompt)
        time.sleep(self.seconds)
        return SimpleNamespace(images=[np.full((height, width, 3), len(self.calls) % 256, np.uint8)])


def test_synsets_get_human_names_in_prompts():
    assert display_name(SORREL) == "sorrel"
    assert display_name("anemone fish") == "anemone fish"
    assert make_prompt(PARACHUTE) == "an image of a parachute"
    assert make_prompt("anemone fish", "a photo of an {label}, 35 mm") == "a photo of an anemone fish, 35 mm"
    with pytest.raises(ValueError, match=r"\{label\}"):
        make_prompt(SORREL, "a photo")
    with pytest.raises(ValueError, match="does not format"):
        make_prompt(SORREL, "{label} at {place}")


def test_the_tokenizer_is_clips_real_bpe(generator):
    from open_clip.tokenizer import SimpleTokenizer

    text = "an image of a sorrel, anemone fish"
    ids = generator.pipe.tokenizer(text)["input_ids"]
    reference = SimpleTokenizer()
    assert ids == [reference.sot_token_id, *reference.encode(text), reference.eot_token_id]
    assert generator.pipe.tokenizer.model_max_length == 77


def test_a_pipeline_folder_loads_offline_with_turbo_defaults_and_seeded_images(generator, tiny_pipeline_dir):
    assert type(generator.pipe).__name__ == "StableDiffusionPipeline"
    # Euler with trailing timesteps is the SD-Turbo configuration: one step, no guidance.
    assert (generator.settings.kind, generator.settings.steps, generator.settings.guidance) == (
        "turbo",
        1,
        0.0,
    )
    assert generator.describe() == "tiny-sd on cpu"
    a = generator.generate(SORREL, seed=1)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, generator.generate(SORREL, seed=1))
    assert np.any(a != generator.generate(SORREL, seed=2))
    assert np.any(a != generator.generate(PARACHUTE, seed=1))  # the prompt reaches the UNet

    small = Generator.load(tiny_pipeline_dir, device="cpu", steps=2, guidance=3.0, size=32, seed=5)
    assert (small.settings.steps, small.settings.guidance, small.seed) == (2, 3.0, 5)
    assert small.generate(SORREL).shape == (32, 32, 3)


def test_a_generation_stops_between_steps_when_asked(generator):
    from dataclasses import replace

    slow = Generator(generator.pipe, replace(generator.settings, steps=30), name="slow")
    steps = []
    started = time.perf_counter()
    with pytest.raises(InterruptedError):
        slow.generate(SORREL, should_stop=lambda: steps.append(1) or len(steps) >= 2)
    assert len(steps) == 2 and time.perf_counter() - started < 2.0


def test_sampling_defaults_follow_the_kind_of_model():
    def pipe(scheduler: str, spacing: str = "leading", sample_size: int = 64, cls: str = "Pipe"):
        scheduler_obj = type(scheduler, (), {"config": {"timestep_spacing": spacing}})()
        unet = SimpleNamespace(config=SimpleNamespace(sample_size=sample_size))
        return type(cls, (), {"scheduler": scheduler_obj, "unet": unet, "vae_scale_factor": 8})()

    def summary(p, name):
        s = sampling_defaults(p, name)
        return s.kind, s.steps, s.guidance, s.height

    assert summary(pipe("PNDMScheduler"), "runwayml/stable-diffusion-v1-5") == ("standard", 25, 7.5, 512)
    assert summary(pipe("EulerDiscreteScheduler"), "/models/stabilityai--sd-turbo") == ("turbo", 1, 0.0, 512)
    # SDXL-Turbo: trailing ancestral Euler, native 1024 but trained at 512.
    assert summary(pipe("EulerAncestralDiscreteScheduler", "trailing", 128), "x") == ("turbo", 1, 0.0, 512)
    assert summary(pipe("LCMScheduler"), "my-model") == ("lcm", 4, 1.0, 512)
    assert summary(pipe("LCMScheduler", cls="LatentConsistencyModelPipeline"), "m")[2] == 8.0


def test_missing_weights_are_a_clear_error_and_nothing_is_downloaded(tmp_path, no_network):
    with pytest.raises(ValueError, match="does not exist.*nothing is downloaded"):
        Generator.load(tmp_path / "no-such-pipeline", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no model_index.json"):
        Generator.load(tmp_path / "empty", device="cpu")
    with pytest.raises(
        ValueError, match="not in the local Hugging Face cache.*hf download stabilityai/sd-turbo"
    ):
        Generator.load("stabilityai/sd-turbo", device="cpu", cache_dir=tmp_path / "empty-hf-cache")
    import torch
    from safetensors.torch import save_file

    save_file(
        {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(320, 4, 3, 3)},
        tmp_path / "m.safetensors",
    )
    with pytest.raises(ValueError, match="single file.*config_dir"):
        Generator.load(tmp_path / "m.safetensors", device="cpu")
    assert no_network == []


def test_a_model_id_loads_from_the_local_hugging_face_cache(tiny_pipeline_dir, tmp_path, no_network):
    # The hub cache layout: models--ORG--NAME/{refs/main, snapshots/<commit>/...}.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-sd-turbo"
    shutil.copytree(tiny_pipeline_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    generator = Generator.load("someone/tiny-sd-turbo", device="cpu", cache_dir=tmp_path / "hub")
    assert generator.describe() == "tiny-sd-turbo on cpu" and generator.settings.kind == "turbo"
    assert generator.generate(SORREL).shape == (64, 64, 3)
    assert no_network == []


def test_stale_requests_are_dropped_and_the_newest_is_always_served():
    pipe = _SlowPipe(0.15)
    names = [f"class {i}" for i in range(10)]
    got = []
    service = ImageService(names, _fake_generator(pipe), on_image=got.append, warmup=False).start()
    try:
        for name in names:
            service.request(name)
            time.sleep(0.01)
        service.request("not a class")  # logged, ignored
        assert service.wait_idle(10)
    finally:
        service.stop()
    assert service.requested == 10
    assert service.produced + service.dropped == 10
    assert service.dropped >= 5 and len(pipe.calls) <= 4  # not one generation per request
    assert got[-1].class_name == "class 9" and got[-1].source == "generated"
    shown = [names.index(image.class_name) for image in got]
    assert shown == sorted(shown)  # the display never goes back to an older request


def test_a_cached_class_does_not_wait_for_a_generation_in_progress(tmp_path):
    started, release = threading.Event(), threading.Event()

    class BlockingPipe:
        def __call__(self, height, width, **kwargs):
            started.set()
            release.wait(10)
            return SimpleNamespace(images=[np.zeros((height, width, 3), np.float32)])

    cached = np.full((8, 8, 3), 200, np.uint8)
    ImageCache(tmp_path).add("b", cached, "an image of a b", 0)
    got = []
    service = ImageService(
        ["a", "b"], _fake_generator(BlockingPipe()), tmp_path, on_image=got.append, warmup=False
    )
    service.start()
    try:
        service.request("a")
        assert started.wait(5)
        asked = time.perf_counter()
        service.request("b")
        while not got and time.perf_counter() - asked < 5:
            time.sleep(0.005)
        waited = time.perf_counter() - asked
        release.set()
        assert service.wait_idle(5)
    finally:
        release.set()
        service.stop()
    assert waited < 1.0
    assert [(g.class_name, g.source) for g in got] == [("b", "cache")]
    np.testing.assert_array_equal(got[0].image, cached)
    # "a" finished after "b" was shown: not displayed, but kept in the cache for next time.
    assert (service.produced, service.dropped) == (1, 1)
    assert ImageCache(tmp_path).has("a")


def test_pregenerated_images_are_indexed_and_served_from_the_cache(generator, tmp_path):
    folder = tmp_path / "cache"
    cache, made = pregenerate([SORREL, "cat"], generator, folder, per_class=2, progress=False)
    assert made == 4
    index = json.loads((folder / "index.json").read_text())
    assert index["format"] == 1 and len(index["images"]) == 4
    sorrel = [e for e in index["images"] if e["class_name"] == SORREL]
    assert {e["seed"] for e in sorrel} == {0, 1}
    for entry in sorrel:
        assert entry["label"] == "sorrel" and entry["prompt"] == "an image of a sorrel"
        assert entry["steps"] == 1 and entry["guidance"] == 0.0 and entry["pipeline"] == generator.source
        png = np.asarray(Image.open(folder / entry["file"]))
        np.testing.assert_array_equal(png, generator.generate(SORREL, entry["seed"]))
    assert pregenerate([SORREL, "cat"], generator, folder, per_class=2, progress=False)[1] == 0  # resumes

    got = []
    service = ImageService([SORREL, "cat", "dog"], generator, folder, on_image=got.append, warmup=False)
    service.start()
    try:
        for name in ("cat", "dog"):
            service.request(name)
            assert service.wait_idle(10)
        service.request("dog")
        assert service.wait_idle(10)
        service.variety = True
        service.request("cat")
        assert service.wait_idle(10)
    finally:
        service.stop()
    assert [(g.class_name, g.source) for g in got] == [
        ("cat", "cache"),
        ("dog", "generated"),
        ("dog", "cache"),
        ("cat", "generated"),
    ]
    assert got[0].seconds < 0.5 and got[0].prompt == "an image of a cat" and got[0].seed == 0
    cat = [e for e in index["images"] if e["class_name"] == "cat" and e["seed"] == 0][0]
    np.testing.assert_array_equal(got[0].image, np.asarray(Image.open(folder / cat["file"])))
    assert got[3].seed != 0  # variety: a new seed although cached
    assert "diffusion: tiny-sd on cpu" in service.status() and "cache 3/3 classes" in service.status()


def test_without_weights_the_calibration_exemplar_is_shown(tmp_path):
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.subject import SimulatedSubject

    subject = SimulatedSubject(
        SimulationConfig(n_classes=3, images_per_class=2, n_channels=16, image_size=32)
    )
    index = subject.write_images(tmp_path / "stimuli")
    rows = [line.split("\t") for line in index.read_text().splitlines()[1:]]
    names = list(subject.class_names)
    first = {}
    for _, _, class_name, _, file in rows:
        first.setdefault(class_name, tmp_path / "stimuli" / file)

    got = []
    service = ImageService(
        names + ["unseen"], exemplar_dir=tmp_path / "stimuli" / "images", on_image=got.append
    )
    service.start()
    try:
        for name in (names[1], "unseen", "no such class"):
            service.request(name)
            assert service.wait_idle(5)
    finally:
        service.stop()
    assert service.status() == "no diffusion weights: showing calibration exemplars"
    assert [(g.class_name, g.source) for g in got] == [(names[1], "exemplar"), ("unseen", "placeholder")]
    np.testing.assert_array_equal(got[0].image, np.asarray(Image.open(first[names[1]]).convert("RGB")))
    assert got[0].prompt is None
    gray = got[1].image
    assert gray.shape == (256, 256, 3) and gray.dtype == np.uint8 and np.median(gray) == 128

    bare = ImageService(names, exemplar_dir=tmp_path / "missing")
    assert bare.status() == "no diffusion weights and no exemplar images: showing placeholders"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A tiny simulated session on disk (XDF + stimulus images) and a random-weight bundle for it."""
    import torch

    from rtdecode.config import PipelineConfig
    from rtdecode.io.bundle import ModelBundle, save_bundle
    from rtdecode.io.xdf import read_xdf
    from rtdecode.models.student import StudentCNN, StudentConfig
    from rtdecode.signal.standardize import Standardizer
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.session import save_simulated_session

    root = tmp_path_factory.mktemp("session")
    xdf = root / "s.xdf"
    config = SimulationConfig(
        n_classes=3, images_per_class=4, n_channels=16, seed=3, lead_in_s=1.0, image_size=32
    )
    save_simulated_session(config, xdf)
    recording = read_xdf(xdf)
    torch.manual_seed(0)
    student = StudentConfig(n_channels=16, n_classes=3, widths=(8, 8))
    bundle = ModelBundle(
        StudentCNN(student).eval(),
        student,
        PipelineConfig(sfreq=recording.sfreq),
        Standardizer.from_dict({"mean": np.zeros(16), "std": np.full(16, 5.0)}),
        list(recording.metadata["class_names"]),
        recording.channel_names,
        recording.sfreq,
        extra={"subject": 1},
    )
    save_bundle(bundle, root / "model")
    return SimpleNamespace(xdf=xdf, model=root / "model", class_names=bundle.class_names)


def test_figure_and_pregenerate_commands(session, tiny_pipeline_dir, tmp_path, capsys):
    from rtdecode.cli import main

    out = tmp_path / "grid.png"
    argv = ["figure", "--model", str(session.model), str(session.xdf), "--out", str(out), "--trials", "2"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows"] == 3 and summary["trials"] == 6 and summary["sources"] == {"exemplar": 6}
    with Image.open(out) as image:
        assert image.format == "PNG" and image.height > 300

    assert main(["pregenerate", "--model", str(session.model), "--pipeline", str(tiny_pipeline_dir)]) == 0
    index = json.loads((session.model / "images" / "index.json").read_text())
    assert sorted(e["class_name"] for e in index["images"]) == sorted(session.class_names)
    name = session.class_names[1]
    assert main([*argv, "--classes", name.upper(), "--overwrite"]) == 0  # names match case-insensitively
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows"] == 1 and summary["sources"] == {"cache": 2}

    assert main(["pregenerate", "--model", str(session.model), "--pipeline", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main([*argv, "--classes", "zebra", "--overwrite"]) == 1
    assert "not in the model" in capsys.readouterr().err
