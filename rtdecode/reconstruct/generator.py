"""A diffusers text-to-image pipeline behind one small interface, loaded with nothing downloaded.

Where the weights come from (:meth:`Generator.load`):

- a **folder** holding a diffusers pipeline (``model_index.json`` and one folder per component, as
  written by ``save_pretrained`` or found in a Hugging Face snapshot);
- a **single checkpoint file** (``.safetensors``, or ``.ckpt`` read with ``weights_only``), loaded with
  ``from_single_file``; the component configurations come from ``config_dir`` (a diffusers folder of
  the same architecture, weights not needed) or from the matching repository in the local cache;
- a **model id** such as ``"stabilityai/sd-turbo"`` that is already in the local Hugging Face cache.

Every load runs with Hugging Face offline mode on (``HF_HUB_OFFLINE=1`` and ``local_files_only=True``),
so a missing file is a :class:`ValueError` that says how to get it, never a download.

Any pipeline that ``AutoPipelineForText2Image`` knows works (SD 1.x/2.x, SD-Turbo, SDXL(-Turbo),
LCM). Sampling defaults depend on the kind of model (:func:`sampling_defaults`):

============  =====  ========  ==========================================================
kind          steps  guidance  detected by
============  =====  ========  ==========================================================
turbo         1      0.0       "turbo" in the name, or an ancestral/Euler scheduler with
                               ``timestep_spacing="trailing"`` (the adversarially distilled
                               SD-Turbo / SDXL-Turbo configuration)
lcm           4      1.0       "lcm" in the name or an ``LCMScheduler`` (LCM / LCM-LoRA: one
                               step works but is blurry; guidance 1.0 turns classifier-free
                               guidance off; ``LatentConsistencyModelPipeline`` gets its own 8.0)
standard      25     7.5       anything else (the Stable Diffusion defaults)
============  =====  ========  ==========================================================

The image size defaults to the pipeline's native size, except SDXL-Turbo (trained at 512 x 512).
Images are seeded with a CPU ``torch.Generator``, so a seed gives the same starting noise on any device.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.reconstruct.names import DEFAULT_PROMPT, check_template, make_prompt
from rtdecode.weights import cached_file, hf_cache_dir, offline_mode, resolve_device

log = logging.getLogger(__name__)

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
_DTYPES = {
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}
# (steps, guidance) per kind of model; see the module docstring.
DEFAULTS = {"turbo": (1, 0.0), "lcm": (4, 1.0), "standard": (25, 7.5)}


@dataclass(frozen=True)
class GenerationSettings:
    """How images are sampled.

    Attributes
    ----------
    steps : int
        Denoising steps.
    guidance : float
        Classifier-free guidance scale (<= 1 turns it off).
    height, width : int
        Image size in pixels (multiples of 8).
    seed : int
        Seed of the first image of every class; further images use ``seed + k``.
    prompt_template : str
        Format string with ``{label}``, filled with the class's human-readable name.
    negative_prompt : str or None
        Used only with guidance > 1.
    kind : str
        ``"turbo"``, ``"lcm"`` or ``"standard"`` (what the defaults were chosen for).
    """

    steps: int
    guidance: float
    height: int
    width: int
    seed: int = 0
    prompt_template: str = DEFAULT_PROMPT
    negative_prompt: str | None = None
    kind: str = "standard"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        for side in ("height", "width"):
            value = getattr(self, side)
            if value < 8 or value % 8:
                raise ValueError(f"{side} must be a positive multiple of 8 pixels, got {value}")
        check_template(self.prompt_template)


class Generator:
    """A text-to-image pipeline and its sampling settings; one class name in, one image out.

    The pipeline is not thread-safe: one thread at a time generates (a lock enforces it), which
    in a live session is the generation worker of :class:`~rtdecode.reconstruct.ImageService`.

    Parameters
    ----------
    pipe : diffusers.DiffusionPipeline
        Anything called like a diffusers text-to-image pipeline (``prompt``, ``num_inference_steps``,
        ``guidance_scale``, ``height``, ``width``, ``generator``, ``output_type="np"``).
    settings : GenerationSettings
    name : str
        Short model name for status lines (``"sd-turbo"``).
    source : str
        Where it was loaded from (stored in the cache index).
    device, dtype : str
    """

    def __init__(
        self,
        pipe: Any,
        settings: GenerationSettings,
        name: str = "pipeline",
        source: str = "",
        device: str = "cpu",
        dtype: str = "float32",
    ) -> None:
        self.pipe = pipe
        self.settings = settings
        self.name = name
        self.source = source or name
        self.device = device
        self.dtype = dtype
        self._lock = threading.Lock()
        self._stream: Any = None
        try:
            self._step_callback = "callback_on_step_end" in inspect.signature(pipe.__call__).parameters
        except (TypeError, ValueError):
            self._step_callback = False

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        steps: int | None = None,
        guidance: float | None = None,
        size: int | tuple[int, int] | None = None,
        seed: int = 0,
        dtype: str = "auto",
        device: str = "auto",
        prompt_template: str = DEFAULT_PROMPT,
        negative_prompt: str | None = None,
        config_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
    ) -> Generator:
        """Load a pipeline from local files only (see the module docstring for ``source``).

        Parameters
        ----------
        source : str or Path
            Pipeline folder, single checkpoint file, or model id in the local HF cache.
        steps, guidance : optional
            Override the defaults of :func:`sampling_defaults`.
        size : int or (height, width), optional
            Image size; default the pipeline's native size (512 for SDXL-Turbo).
        seed : int
        dtype : {"auto", "float16", "bfloat16", "float32"}
            ``"auto"``: float16 on CUDA, float32 on the CPU.
        device : str
            ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        prompt_template, negative_prompt : str
        config_dir : str or Path, optional
            For a single checkpoint file: a diffusers folder with the matching configs.
        cache_dir : str or Path, optional
            Hugging Face cache to look in (default: the standard one, ``HF_HOME``).

        Raises
        ------
        ValueError
            The source does not exist, is not a pipeline, or is not in the local cache.
        """
        check_template(prompt_template)
        device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, device)
        started = time.perf_counter()
        pipe, name = load_pipeline(source, torch_dtype, config_dir=config_dir, cache_dir=cache_dir)
        pipe = pipe.to(device)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)  # a bar per image floods the log of a live session
        settings = sampling_defaults(pipe, name)
        if size is not None:
            height, width = (size, size) if isinstance(size, int) else size
            settings = replace(settings, height=int(height), width=int(width))
        settings = replace(
            settings,
            steps=settings.steps if steps is None else int(steps),
            guidance=settings.guidance if guidance is None else float(guidance),
            seed=int(seed),
            prompt_template=prompt_template,
            negative_prompt=negative_prompt,
        )
        dtype_name = str(torch_dtype).removeprefix("torch.")
        log.info(
            "loaded %s (%s) on %s in %.1f s: %s, %d step(s), guidance %g, %dx%d",
            name,
            type(pipe).__name__,
            device,
            time.perf_counter() - started,
            dtype_name,
            settings.steps,
            settings.guidance,
            settings.width,
            settings.height,
        )
        return cls(pipe, settings, name=name, source=str(source), device=device, dtype=dtype_name)

    @property
    def seed(self) -> int:
        return self.settings.seed

    def prompt(self, class_name: str) -> str:
        """The prompt for a class (human-readable name in the template)."""
        return make_prompt(class_name, self.settings.prompt_template)

    def describe(self) -> str:
        """``"sd-turbo on cuda"``."""
        return f"{self.name} on {self.device}"

    def index_fields(self) -> dict[str, Any]:
        """What the cache index records about how an image was made."""
        s = self.settings
        return {
            "pipeline": self.source,
            "model": self.name,
            "steps": s.steps,
            "guidance": s.guidance,
            "height": s.height,
            "width": s.width,
            "dtype": self.dtype,
        }

    def generate(
        self, class_name: str, seed: int | None = None, should_stop: Callable[[], bool] | None = None
    ) -> np.ndarray:
        """Generate one image for a class.

        Parameters
        ----------
        class_name : str
        seed : int, optional
            Default: the settings' seed.
        should_stop : callable, optional
            Polled after every denoising step (pipelines with ``callback_on_step_end``); when it
            returns True, :class:`InterruptedError` is raised and no image is made.

        Returns
        -------
        np.ndarray, shape (height, width, 3), uint8
        """
        import torch

        s = self.settings
        kwargs: dict[str, Any] = {
            "prompt": self.prompt(class_name),
            "num_inference_steps": s.steps,
            "guidance_scale": s.guidance,
            "height": s.height,
            "width": s.width,
            # CPU noise: a seed means the same image on any device.
            "generator": torch.Generator("cpu").manual_seed(int(s.seed if seed is None else seed)),
            "output_type": "np",
        }
        if s.negative_prompt and s.guidance > 1.0:
            kwargs["negative_prompt"] = s.negative_prompt
        if should_stop is not None and self._step_callback:

            def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
                if should_stop():
                    # Raising leaves the pipeline at once, skipping the remaining steps and the VAE.
                    raise InterruptedError(f"generation of {class_name!r} stopped")
                return tensors

            kwargs["callback_on_step_end"] = on_step_end
        with self._lock, torch.inference_mode(), self._side_stream():
            output = self.pipe(**kwargs)
        return to_uint8(output.images[0])

    @contextlib.contextmanager
    def _side_stream(self) -> Iterator[None]:
        # On a GPU, generate on a stream of its own: on the shared default stream every kernel of
        # the live decoder would queue behind a whole denoising step.
        if not self.device.startswith("cuda"):
            yield
            return
        import torch

        if self._stream is None:
            self._stream = torch.cuda.Stream(device=self.device)
        self._stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self._stream):
            yield
        self._stream.synchronize()

    def warmup(self) -> float:
        """Generate one throw-away image so that lazy CUDA initialization and kernel selection do
        not fall on the first real request; returns the seconds it took."""
        started = time.perf_counter()
        self.generate("warm-up")
        return time.perf_counter() - started

    def __repr__(self) -> str:
        return f"Generator({self.name!r}, device={self.device!r}, settings={asdict(self.settings)})"


def to_uint8(image: Any) -> np.ndarray:
    """A pipeline output image (float array in [0, 1], PIL image or uint8 array) as
    ``(H, W, 3)`` uint8."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.round(np.clip(np.nan_to_num(array.astype(np.float32)), 0.0, 1.0) * 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


def resolve_dtype(dtype: str, device: str) -> Any:
    """The torch dtype for a name; ``"auto"`` is float16 on CUDA and float32 elsewhere."""
    import torch

    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of auto, {', '.join(sorted(set(_DTYPES)))}")
    resolved = getattr(torch, _DTYPES[dtype])
    if device == "cpu" and resolved == torch.float16:
        log.warning("float16 on the CPU is slow and some operations lack it; using float32")
        return torch.float32
    return resolved


def sampling_defaults(pipe: Any, name: str) -> GenerationSettings:
    """Steps, guidance and size suited to a pipeline (table in the module docstring).

    Parameters
    ----------
    pipe : diffusers pipeline (or any object with ``scheduler`` and optionally ``unet``, ``vae_scale_factor``)
    name : str
        The model's name or path.
    """
    kind = model_kind(pipe, name)
    steps, guidance = DEFAULTS[kind]
    if kind == "lcm" and type(pipe).__name__ == "LatentConsistencyModelPipeline":
        guidance = 8.0  # its guidance is an embedding, not classifier-free guidance; this is its own default
    side = native_size(pipe)
    if kind == "turbo" and side >= 1024:
        side = 512  # SDXL-Turbo was trained at 512 x 512 although its UNet's native size is 1024
    return GenerationSettings(steps=steps, guidance=guidance, height=side, width=side, kind=kind)


def model_kind(pipe: Any, name: str) -> str:
    """``"turbo"``, ``"lcm"`` or ``"standard"`` from the name and the scheduler."""
    lowered = name.lower()
    scheduler = getattr(pipe, "scheduler", None)
    scheduler_class = type(scheduler).__name__ if scheduler is not None else ""
    config = getattr(scheduler, "config", {}) or {}
    get = config.get if hasattr(config, "get") else lambda key, default=None: default
    if "lcm" in lowered or scheduler_class == "LCMScheduler" or "LatentConsistency" in type(pipe).__name__:
        return "lcm"
    if "turbo" in lowered:
        return "turbo"
    # SD-Turbo and SDXL-Turbo ship (ancestral) Euler with trailing timesteps; zero-terminal-SNR
    # models also use trailing spacing but need many steps, so they are excluded.
    if (scheduler_class.startswith("EulerAncestral") or scheduler_class.startswith("EulerDiscrete")) and get(
        "timestep_spacing"
    ) == "trailing":
        if not get("rescale_betas_zero_snr", False):
            return "turbo"
    return "standard"


def native_size(pipe: Any) -> int:
    """The pipeline's native image side in pixels (UNet sample size x VAE scale factor), or 512."""
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    sample = getattr(getattr(denoiser, "config", None), "sample_size", None)
    if isinstance(sample, list | tuple):
        sample = sample[0]
    factor = getattr(pipe, "vae_scale_factor", 8)
    if not isinstance(sample, int) or not isinstance(factor, int):
        return 512
    return int(sample * factor)


def model_name(source: str | Path) -> str:
    """A short name for status lines: ``.../models--stabilityai--sd-turbo/snapshots/abc`` -> ``"sd-turbo"``."""
    text = str(source).rstrip("/\\")
    for part in reversed(Path(text).parts):
        if part.startswith("models--"):
            return part.split("--")[-1]
    path = Path(text)
    if path.suffix.lower() in SINGLE_FILE_SUFFIXES:
        return path.stem
    return path.name or text


def load_pipeline(
    source: str | Path,
    torch_dtype: Any,
    config_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[Any, str]:
    """Load a text-to-image pipeline from local files; returns ``(pipeline, short name)``.

    Raises
    ------
    ValueError
        Naming the source and how to make it available; nothing is downloaded.
    """
    text = str(source)
    path = Path(text).expanduser()
    with offline_mode():
        if path.is_dir():
            return _from_folder(path, torch_dtype), model_name(path)
        if path.is_file():
            return _from_single_file(path, torch_dtype, config_dir, cache_dir), model_name(path)
        if _looks_like_repo_id(text):
            return _from_cache(text, torch_dtype, cache_dir), model_name(text)
    raise ValueError(
        f"diffusion pipeline {text!r} does not exist: give a diffusers pipeline folder (with "
        "model_index.json), a .safetensors/.ckpt checkpoint file, or a model id already in the local "
        "Hugging Face cache (e.g. stabilityai/sd-turbo); nothing is downloaded at run time"
    )


def _looks_like_repo_id(text: str) -> bool:
    parts = text.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not text.startswith((".", "~"))
        and Path(text).suffix.lower() not in SINGLE_FILE_SUFFIXES
    )


def _from_folder(path: Path, torch_dtype: Any) -> Any:
    from diffusers import AutoPipelineForText2Image

    if not (path / "model_index.json").exists():
        raise ValueError(
            f"{path} is not a diffusers pipeline folder (no model_index.json); give the folder written by "
            "save_pretrained or a snapshot folder of the Hugging Face cache, or a single .safetensors file"
        )
    return _with_fp16_variant_fallback(
        lambda **extra: AutoPipelineForText2Image.from_pretrained(
            str(path), dtype=torch_dtype, local_files_only=True, **extra
        ),
        str(path),
    )


def _from_cache(repo_id: str, torch_dtype: Any, cache_dir: str | Path | None) -> Any:
    from diffusers import AutoPipelineForText2Image

    # The lookup and the load read the same cache, the one the environment names now.
    cache = hf_cache_dir(cache_dir)
    if cached_file(repo_id, "model_index.json", cache) is None:
        raise ValueError(
            f"{repo_id} is not in the local Hugging Face cache ({cache}) and nothing is downloaded at run "
            f"time; download it once on a machine with internet (`hf download {repo_id}`) and copy the "
            "cache, or give a local pipeline folder or checkpoint file with --pipeline"
        )
    return _with_fp16_variant_fallback(
        lambda **extra: AutoPipelineForText2Image.from_pretrained(
            repo_id, dtype=torch_dtype, local_files_only=True, cache_dir=cache, **extra
        ),
        repo_id,
    )


def _with_fp16_variant_fallback(load: Callable[..., Any], what: str) -> Any:
    # Some caches hold only the fp16 variant files (diffusion_pytorch_model.fp16.safetensors).
    try:
        return load()
    except (OSError, ValueError) as error:
        first = error
    try:
        return load(variant="fp16")
    except (OSError, ValueError):
        pass
    raise ValueError(
        f"could not load the diffusion pipeline {what}: {first}; check that all of its component files "
        "are present (a partial download loads nothing)"
    ) from first


def _from_single_file(
    path: Path, torch_dtype: Any, config_dir: str | Path | None, cache_dir: str | Path | None
) -> Any:
    if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
        raise ValueError(
            f"{path} is a file but not a checkpoint ({', '.join(SINGLE_FILE_SUFFIXES)}); give a .safetensors "
            "or .ckpt file, or a diffusers pipeline folder"
        )
    pipeline_class = _single_file_class(path, config_dir)
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "local_files_only": True, "cache_dir": cache_dir}
    if config_dir is not None:
        if not (Path(config_dir) / "model_index.json").exists():
            raise ValueError(
                f"config_dir {config_dir} is not a diffusers pipeline folder (no model_index.json); give "
                "the folder of a pipeline with the same architecture as the checkpoint"
            )
        kwargs["config"] = str(config_dir)
    try:
        return pipeline_class.from_single_file(str(path), **kwargs)
    except Exception as error:  # diffusers raises many types here; all mean "cannot build it offline"
        raise ValueError(
            f"could not build a pipeline from the single file {path} offline ({type(error).__name__}: "
            f"{error}). A single checkpoint holds weights but not the component configs: pass a diffusers "
            "folder of the same architecture as config_dir (--pipeline-config; weights not needed), or "
            "have the matching base repository (e.g. stable-diffusion-v1-5/stable-diffusion-v1-5) in "
            "the local Hugging Face cache"
        ) from error


def _single_file_class(path: Path, config_dir: str | Path | None) -> Any:
    import json

    import diffusers

    if config_dir is not None and (Path(config_dir) / "model_index.json").exists():
        name = json.loads((Path(config_dir) / "model_index.json").read_text(encoding="utf-8"))["_class_name"]
        return getattr(diffusers, name)
    keys: list[str] = []
    if path.suffix.lower() == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
    is_xl = any(k.startswith("conditioner.embedders.1") for k in keys) or "xl" in path.name.lower()
    return diffusers.StableDiffusionXLPipeline if is_xl else diffusers.StableDiffusionPipeline
