"""The one weights helper: local Hugging Face cache, offline mode for a load only, device choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rtdecode.weights import cached_file, cached_snapshot, hf_cache_dir, offline_mode, resolve_device

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _fill_cache(cache: Path, repo_id: str, files: dict[str, str]) -> Path:
    """A hub cache holding ``repo_id`` as `hf download` leaves it."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for name, text in files.items():
        (snapshot / name).write_text(text)
    return snapshot


def test_offline_mode_is_on_inside_and_restored_after(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(RuntimeError, match="inside"), offline_mode():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
        assert hf_constants.HF_HUB_OFFLINE is True
        raise RuntimeError("inside")
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"
    assert hf_constants.HF_HUB_OFFLINE is False


def test_hf_cache_dir_follows_the_environment_at_call_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hf_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "explicit"))
    assert hf_cache_dir() == tmp_path / "explicit"
    assert hf_cache_dir(tmp_path / "given") == tmp_path / "given"


def test_cached_files_and_snapshots_come_from_the_cache_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    snapshot = _fill_cache(tmp_path / "hub", "org/repo", {"model_index.json": "{}"})
    assert cached_file("org/repo", "model_index.json", tmp_path / "hub") == str(snapshot / "model_index.json")
    assert cached_file("org/repo", "missing.json", tmp_path / "hub") is None
    assert cached_file("org/other", "model_index.json", tmp_path / "hub") is None
    assert cached_snapshot("org/repo", tmp_path / "hub") == snapshot
    assert cached_snapshot("org/other", tmp_path / "hub") is None
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # the default: the environment's cache
    assert cached_file("org/repo", "model_index.json") == str(snapshot / "model_index.json")


def test_resolve_device() -> None:
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU; use --device cpu"):
            resolve_device("cuda:0")
