"""Shared test settings: headless Qt, no network for model hubs."""

from __future__ import annotations

import os
import tempfile

# Set before any test imports Qt or huggingface_hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Image-embedding cache of the teacher: a fresh folder per test run, never the user's.
os.environ.setdefault("RTDECODE_CACHE", tempfile.mkdtemp(prefix="rtdecode-test-cache-"))


import json  # noqa: E402

import pytest  # noqa: E402

TINY = "rtdecode-test-tiny-vit"
# A ViT small enough to build in milliseconds; the text tower is required by open_clip's CLIP.
TINY_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_model_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Name of a tiny random-weight open_clip model registered for the tests."""
    import open_clip

    folder = tmp_path_factory.mktemp("open_clip_configs")
    (folder / f"{TINY}.json").write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(folder / f"{TINY}.json")
    return TINY
