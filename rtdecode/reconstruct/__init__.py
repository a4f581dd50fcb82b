"""Text-to-image reconstruction of decoded classes: generator, async image service, per-class cache.

The paper prompts Stable Diffusion with "an image of a <class>" for the class the EEG decoder
predicts. Here:

- :class:`Generator` wraps any diffusers text-to-image pipeline, loaded from a local folder, a
  single checkpoint file or the local Hugging Face cache, never downloaded
  (:mod:`~rtdecode.reconstruct.generator`);
- :class:`ImageService` answers every prediction with an image from worker threads, dropping stale
  requests (:mod:`~rtdecode.reconstruct.service`);
- :class:`ImageCache` / :func:`pregenerate` keep per-class PNGs with a JSON index, made before a
  session and shown at once (:mod:`~rtdecode.reconstruct.store`);
- without weights, :class:`ExemplarSource` shows the calibration stimuli of the predicted class
  (:mod:`~rtdecode.reconstruct.exemplars`);
- :func:`~rtdecode.reconstruct.figure.reconstruction_figure` draws the paper's Figure 2.

Importing this package imports neither torch nor diffusers; loading a generator does.
"""

from __future__ import annotations

from rtdecode.reconstruct.exemplars import ExemplarSource, find_exemplar_dir, placeholder_image
from rtdecode.reconstruct.generator import GenerationSettings, Generator, sampling_defaults
from rtdecode.reconstruct.names import DEFAULT_PROMPT, display_name, make_prompt
from rtdecode.reconstruct.service import SOURCES, GeneratedImage, ImageService, ImageSources
from rtdecode.reconstruct.store import CacheEntry, ImageCache, default_cache_dir, pregenerate

__all__ = [
    "DEFAULT_PROMPT",
    "SOURCES",
    "CacheEntry",
    "ExemplarSource",
    "GeneratedImage",
    "GenerationSettings",
    "Generator",
    "ImageCache",
    "ImageService",
    "ImageSources",
    "default_cache_dir",
    "display_name",
    "find_exemplar_dir",
    "make_prompt",
    "placeholder_image",
    "pregenerate",
    "sampling_defaults",
]
