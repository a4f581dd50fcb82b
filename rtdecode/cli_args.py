"""Arguments shared by every ``rtdecode`` subcommand (core, calibration, gui): checks and builders.

Each ``type=`` function turns a bad value into argparse's own error, which names the option,
the value and what is expected (``argument --timeout: must be > 0, got -5``); the subcommand
never starts. :func:`refuse_to_replace` is the one rule for outputs that already exist.

The ``add_*`` builders define an option once (name, type, default) for every command that
offers it; a command whose help says something of its own passes ``help=``. Calibration-only
option groups are in :mod:`calibration.options`. No heavy import here: this runs for every
``rtdecode --help``.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("rtdecode")


def _number(kind: type, text: str) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if isinstance(value, float) and math.isnan(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value


def at_least(minimum: float, kind: type = float) -> Callable[[str], float | int]:
    """``type=`` for a number ``>= minimum`` (``kind`` int or float)."""

    def check(text: str) -> float | int:
        value = _number(kind, text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum:g}, got {text}")
        return value

    check.__name__ = kind.__name__  # argparse names the type in some messages
    return check


def positive(kind: type = float) -> Callable[[str], float | int]:
    """``type=`` for a number ``> 0`` (``kind`` int or float); infinity is refused."""

    def check(text: str) -> float | int:
        value = _number(kind, text)
        if not 0 < value < math.inf:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    check.__name__ = kind.__name__
    return check


def fraction(text: str) -> float:
    """``type=`` for a number in [0, 1]."""
    value = _number(float, text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def refuse_to_replace(path: str | Path, overwrite: bool, what: str = "output") -> None:
    """Raise ``FileExistsError`` when ``path`` exists and ``--overwrite`` was not given.

    Checked before any work starts, so a long run never ends by failing to save, and an
    existing file is replaced only when the user said so.
    """
    path = Path(path)
    if overwrite:
        return
    if path.is_dir() and not any(path.iterdir()):
        return  # an empty folder holds nothing to lose
    if path.exists():
        raise FileExistsError(
            f"{what} {path} already exists; pass --overwrite to replace it, or choose another path"
        )


def device(text: str) -> str:
    """``type=`` for a torch device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    A CUDA device is checked against the GPUs torch sees (torch is imported only then, so
    ``--help`` and the CPU paths stay fast); otherwise torch's own error comes much later
    and reads like a bug ("Found no NVIDIA driver", "Invalid device string").
    """
    value = text.strip().lower()
    if value in ("auto", "cpu", "mps"):
        return value
    match = re.fullmatch(r"cuda(?::(\d+))?", value)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} asked for, but torch sees no CUDA GPU here; use cpu or auto"
        )
    if int(match.group(1) or 0) >= count:
        raise argparse.ArgumentTypeError(
            f"{text!r} asked for, but torch sees {count} CUDA GPU(s): cuda:0 to cuda:{count - 1}"
        )
    return value


def latency_ms(text: str) -> float:
    """``type=`` for an acquisition latency: a finite number of milliseconds under 1000 in size."""
    value = _number(float, text)
    if not (math.isfinite(value) and abs(value) < 1000):
        raise argparse.ArgumentTypeError(f"must be a delay in ms under 1000 in size, got {text}")
    return value


def add_latency_option(p: argparse.ArgumentParser) -> None:
    """``--latency-ms``: the EEG stream's acquisition latency, shared by live, gui, predict, calibrate."""
    p.add_argument(
        "--latency-ms",
        type=latency_ms,
        default=None,
        metavar="MS",
        help="the EEG stream's acquisition latency in ms (how much later than the stimulus its samples "
        "are stamped, e.g. measured with a photodiode); EEG time is shifted back by it where epochs are "
        "cut (default: the model's setting, 0 unless calibrated with one)",
    )


def with_latency(bundle, latency_ms: float | None):
    """``bundle`` with its pipeline's acquisition latency replaced when ``latency_ms`` is given."""
    if latency_ms is not None:
        bundle.pipeline = bundle.pipeline.replace(acquisition_latency_ms=float(latency_ms))
    return bundle


def forgetting(text: str) -> float | str | None:
    """``type=`` for ``--adapt-alignment``: a forgetting factor in (0, 1], ``off`` (None) or ``bundle``."""
    value = text.strip().lower()
    if value == "off":
        return None
    if value == "bundle":
        return "bundle"  # rtdecode.decoder.FROM_BUNDLE, not imported: this module stays light
    number = _number(float, text)
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(
            f"must be a forgetting factor in (0, 1] (e.g. 0.02, a time constant of ~50 epochs), off or "
            f"bundle; got {text}"
        )
    return number


def add_adaptation_option(p: argparse.ArgumentParser) -> None:
    """``--adapt-alignment``: live, unsupervised adaptation of the spatial alignment (live, gui, predict)."""
    p.add_argument(
        "--adapt-alignment",
        type=forgetting,
        default="bundle",
        metavar="F|off",
        help="adapt the spatial alignment to the incoming EEG without labels, to follow channel gain and "
        "impedance changes or electrode shifts during the session: before each epoch (sliding mode: each "
        "window) is decoded, its spatial covariance enters a running mean with weight F (0 < F <= 1; time "
        "constant ~1/F epochs: 0.02 follows a change within ~50 epochs, about 25 s at 2 stimuli a second), "
        "and the channels are rescaled and re-whitened to the calibration's covariance. off: the calibrated "
        "alignment, unchanged. bundle (default): the model's setting, off unless calibration chose one. "
        "Needs a model calibrated since live adaptation exists",
    )


# -- option builders ------------------------------------------------------------------------

DEVICE_HELP = "auto (GPU when present), cpu, cuda ..."
EVENTS_HELP = (
    "which plain marker codes are stimuli of which class, for markers a presenter sends as strings or "
    "numbers (PsychoPy, Presentation, BrainVision...): CODE=CLASS pairs ('1=house,2=face'), a mapping file "
    "(mapping.tsv of CODE<tab>CLASS lines, or .json), or a pattern for hierarchical codes "
    "('stim/{class}/{image}' reads stim/face/023 as class face, image 023). The project's JSON markers need "
    "none; a model remembers the mapping it was calibrated with"
)
SUBJECT_HELP = "subject to read from an ImageNet-EEG file"
TIMEOUT_HELP = "seconds to wait for the streams (default: %(default)s)"
IMAGES_PER_CLASS_HELP = "images per class (default: %(default)s)"


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], int | None],
    help_text: str,
    description: str,
) -> argparse.ArgumentParser:
    """Add subcommand ``name``: its line in ``rtdecode --help``, its description kept as written, its handler.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser, for its arguments.
    """
    p = sub.add_parser(
        name, help=help_text, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.set_defaults(handler=handler)
    return p


def add_device_option(p: argparse.ArgumentParser, help: str = DEVICE_HELP, *, flag: str = "--device") -> None:
    """``--device`` (or ``flag``): a torch device checked by :func:`device`, ``auto`` by default."""
    p.add_argument(flag, type=device, default="auto", help=help)


def add_model_option(p: argparse.ArgumentParser) -> None:
    """``--model``: the model bundle a command decodes with (required)."""
    p.add_argument("--model", required=True, help="model bundle folder (from rtdecode calibrate)")


def marker_mapping(text: str):
    """``type=`` for ``--events``: a :class:`~rtdecode.io.marker_mapping.MarkerMapping` (pairs,
    mapping file or pattern), so that a malformed mapping fails before any work starts."""
    from rtdecode.io.marker_mapping import MarkerMapping

    try:
        return MarkerMapping.parse(text)
    except (ValueError, OSError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_events_option(p: argparse.ArgumentParser, help: str = EVENTS_HELP) -> None:
    """``--events``: which plain marker codes are stimuli of which class (files and streams)."""
    p.add_argument("--events", type=marker_mapping, default=None, metavar="MAPPING", help=help)


def add_recording_arguments(p: argparse.ArgumentParser, help: str) -> None:
    """The positional ``recording`` and ``--events`` (the classes of its plain marker codes)."""
    p.add_argument("recording", help=help)
    add_events_option(p)


def add_subject_option(p: argparse.ArgumentParser, help: str = SUBJECT_HELP) -> None:
    """``--subject``: which subject of a multi-subject file (ImageNet-EEG) to read, and the other
    options of the dataset formats (THINGS-EEG2's ``--session`` and ``--trust-file``)."""
    p.add_argument("--subject", type=int, default=None, help=help)
    p.add_argument(
        "--session",
        type=int,
        default=None,
        help="session to read from a THINGS-EEG2 subject or dataset folder",
    )
    p.add_argument(
        "--trust-file",
        action="store_true",
        help="read a THINGS-EEG2 .npy file although it holds pickled Python objects (only files you trust)",
    )


def block_rule(text: str):
    """``type=`` for ``--blocks``: a :class:`~rtdecode.io.blocks.BlockRule` (checked here)."""
    from rtdecode.io.blocks import BlockRule

    try:
        return BlockRule.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_blocks_option(p: argparse.ArgumentParser) -> None:
    """``--blocks``: how a recording's stimuli are grouped into blocks, when its markers do not say."""
    p.add_argument(
        "--blocks",
        type=block_rule,
        default=None,
        metavar="RULE",
        help="where the blocks (runs) of a recording start, overriding its block markers: 'pauses' or "
        "'pauses:SECONDS' (stretches without samples or stimuli at least that long; by default 5 s without "
        "samples, 2 s without stimuli), 'markers:CODE[,CODE...]' (markers that start a block), "
        "'times:SECONDS[,SECONDS...]' (from the first sample) or 'runs:N' (N runs of consecutive trials). "
        "Default: the block markers, else the pauses between runs, else 6 runs of consecutive trials; a "
        "model remembers the rule it was calibrated with",
    )


def recording_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reader options of :func:`rtdecode.io.read_recording` that a command's flags give.

    The one mapping from flags to reader options: ``--events`` (a
    :class:`~rtdecode.io.marker_mapping.MarkerMapping`), ``--subject``, ``--session``,
    ``--trust-file`` and ``--blocks``, where the command has them; a flag not given is left out (None), so a format
    that cannot use it is not asked to.
    """
    options = {
        "events": getattr(args, "events", None),
        "subject": getattr(args, "subject", None),
        "session": getattr(args, "session", None),
        "trust_file": True if getattr(args, "trust_file", False) else None,
        "blocks": getattr(args, "blocks", None),
    }
    return {key: value for key, value in options.items() if value is not None}


def read_recording_for_model(path: str | Path, args: argparse.Namespace, bundle: Any):
    """The recording a command decodes with ``bundle``, its stimulus labels in the model's order.

    Read with the command's reader options (:func:`recording_options`). Without ``--events``, a
    file whose markers hold no stimulus is read again with the mapping the model was calibrated
    with (:attr:`~rtdecode.io.bundle.ModelBundle.marker_mapping`), so a model calibrated on plain
    codes decodes another file of them as it is. Without ``--blocks``, the blocks come from the
    rule the model was calibrated with (:attr:`~rtdecode.io.bundle.ModelBundle.block_rule`), so
    that the held-out blocks of its own recording are the ones calibration held out; a rule that
    does not fit this file (its run marker missing, times past its end) is warned about, and the
    default rule used.
    """
    from rtdecode.io import read_recording
    from rtdecode.io.formats import detect_format
    from rtdecode.io.markers import STIMULUS

    options = recording_options(args)
    if "events" in options:
        options["events"] = options["events"].with_classes(bundle.class_names)
    remembered = bundle.block_rule if "blocks" not in options else None
    if remembered is not None:
        options["blocks"] = remembered
    recording = read_recording(path, **options)
    mapping = bundle.marker_mapping
    has_stimuli = any(event.get("event") == STIMULUS for _, event in recording.events())
    if mapping is not None and "events" not in options and not has_stimuli:
        if "events" in detect_format(path).options:
            log.info("%s: markers read with the model's mapping (--events %s)", path, mapping.spec)
            recording = read_recording(path, **options, events=mapping)
    if remembered is not None:
        try:
            recording.blocks()
        except ValueError as error:
            # Another file of the kind may lack the calibration file's run markers or length.
            log.warning(
                "%s: the model's block rule (--blocks %s) does not fit it (%s); its blocks come from the "
                "default rule (pass --blocks to choose)",
                path,
                remembered.spec,
                error,
            )
            recording.block_rule = None
        else:
            log.info("%s: blocks by the model's rule (--blocks %s)", path, remembered.spec)
    return recording


def add_timeout_option(p: argparse.ArgumentParser, help: str = TIMEOUT_HELP) -> None:
    """``--timeout``: seconds to wait for LSL streams to appear (10 by default)."""
    p.add_argument("--timeout", type=positive(), default=10.0, help=help)


def add_duration_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--duration``: stop after this many seconds (default: until Ctrl-C)."""
    p.add_argument("--duration", type=positive(), default=None, help=help)


def add_jsonl_option(p: argparse.ArgumentParser) -> None:
    """``--jsonl``: one JSON object per prediction on stdout."""
    p.add_argument("--jsonl", action="store_true", help="print JSON lines")


def add_class_count_options(
    p: argparse.ArgumentParser,
    *,
    classes: int,
    classes_help: str,
    images_help: str = IMAGES_PER_CLASS_HELP,
) -> None:
    """``--classes`` (default ``classes``) and ``--images-per-class`` (default 50) of a simulated protocol."""
    p.add_argument("--classes", type=positive(int), default=classes, help=classes_help)
    p.add_argument("--images-per-class", type=positive(int), default=50, help=images_help)


def add_pipeline_option(p: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    """``--pipeline PATH``: local diffusion weights for the class images (nothing is downloaded)."""
    p.add_argument("--pipeline", required=required, default=None, metavar="PATH", help=help)
