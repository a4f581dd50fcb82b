"""Pretrained weights on this machine: the local Hugging Face cache, offline, and the compute device.

Nothing downloads at run time (DESIGN.md, principle 5): every weight the project loads (the
teacher's image encoder, the diffusion pipeline) comes from a local file or folder the user
names, or from the local Hugging Face cache read with offline mode on. Calibration and
reconstruction both find their weights through this module, so the cache location, the offline
switch and the device rule are one rule.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def hf_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The Hugging Face hub cache: ``cache_dir`` when given, else the one the environment names now.

    huggingface_hub fixes its cache path when first imported; this reads the same variables at
    call time (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``), so a
    changed environment is honoured.
    """
    if cache_dir is not None:
        return Path(cache_dir)
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.environ.get("HF_HOME") or os.path.join(xdg, "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


@contextlib.contextmanager
def offline_mode() -> Iterator[None]:
    """Hugging Face offline mode for the duration of a load: no network call is even attempted.

    Sets ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` and huggingface_hub's own flag (which
    it reads only when first imported, so modules already loaded need it set directly), and
    restores all three on exit: the rest of the process keeps the settings it started with.
    """
    import huggingface_hub.constants as hf_constants

    saved_env = {key: os.environ.get(key) for key in _OFFLINE_VARIABLES}
    saved = hf_constants.HF_HUB_OFFLINE
    for key in _OFFLINE_VARIABLES:
        os.environ[key] = "1"
    hf_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hf_constants.HF_HUB_OFFLINE = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def cached_file(repo_id: str, filename: str, cache_dir: str | os.PathLike | None = None) -> str | None:
    """The local path of ``filename`` of the repository ``repo_id`` in the Hugging Face cache.

    Reads the cache's folders only (``models--org--repo/refs/main`` -> ``snapshots/<commit>/``):
    no hub call, online or not.

    Parameters
    ----------
    repo_id : str
        ``"org/repo"``.
    filename : str
        Path of the file inside the repository, e.g. ``"model_index.json"``.
    cache_dir : str or path, optional
        The hub cache; default :func:`hf_cache_dir`.

    Returns
    -------
    str or None
        The file's path, or ``None`` when the cache does not hold it.
    """
    from huggingface_hub import try_to_load_from_cache

    cache = hf_cache_dir(cache_dir)
    try:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache)
    except ValueError as err:  # a malformed repository id or file name cannot be in the cache
        log.debug("%s/%s cannot be in the cache %s: %s", repo_id, filename, cache, err)
        return None
    # The hub also answers with a marker object for "known not to exist"; only a path counts.
    return found if isinstance(found, str) else None


def cached_snapshot(repo_id: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The local folder of the newest cached snapshot of ``repo_id``, or ``None`` when absent.

    Parameters
    ----------
    repo_id : str
        ``"org/repo"``.
    cache_dir : str or path, optional
        The hub cache; default :func:`hf_cache_dir`.
    """
    from huggingface_hub import snapshot_download

    cache = hf_cache_dir(cache_dir)
    try:
        with offline_mode():
            return Path(snapshot_download(repo_id, cache_dir=cache, local_files_only=True))
    except Exception as err:  # the hub raises several types for "not cached"
        log.debug("%s not in the cache %s: %s", repo_id, cache, err)
        return None


def resolve_device(device: str = "auto") -> str:
    """The torch device to compute on.

    Parameters
    ----------
    device : str
        ``"auto"`` (CUDA when torch sees a GPU, else the CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ``"mps"``...

    Returns
    -------
    str
        ``"auto"`` resolved; any other value as given.

    Raises
    ------
    ValueError
        A CUDA device is asked for but torch sees no CUDA GPU.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU; use --device cpu")
    return device
