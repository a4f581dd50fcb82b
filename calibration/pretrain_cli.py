"""``rtdecode pretrain``: a cross-subject base from other subjects' recordings."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from calibration.options import add_batch_size_option, add_training_arguments, distills, train_config
from rtdecode.cli_args import (
    add_blocks_option,
    add_command,
    add_device_option,
    add_events_option,
    recording_options,
    refuse_to_replace,
)
from rtdecode.models import registry

DESCRIPTION = """\
Fit a cross-subject base on recordings of other subjects, once; then a new subject is calibrated
in a minute from a few trials with `rtdecode calibrate NEW --base BASE --trials-per-class N`.

Each recording is prepared as `calibrate` does (the live filters, the paper's 14-70 Hz view and the
0.5-30 Hz ERP view), each subject's epochs are aligned to that subject's own mean spatial
covariance (Euclidean alignment, no labels needed), the subjects are pooled, and every model asked
for is fitted on the pool: the networks early-stop on each subject's last block, the classical
pipelines use every trial. Channels are matched by name (those not in every recording are left
out); the rates must agree. BASE receives base.json (subjects, classes, channels, seconds), one
model bundle per model and the pooled aligned ERP trials the classical pipelines are refitted with.

Examples:
  rtdecode pretrain s11.xdf s12.xdf s13.xdf s14.xdf --out runs/base
  rtdecode pretrain sub-02.vhdr sub-03.vhdr --events 1=house,2=face --out runs/base
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``pretrain`` subcommand to the ``rtdecode`` parser."""
    p = add_command(
        sub, "pretrain", run, "fit a cross-subject base on other subjects' recordings", DESCRIPTION
    )
    p.add_argument(
        "recordings",
        nargs="+",
        help="recordings of other subjects, one per subject, in any format calibrate reads (two or more to learn what subjects share)",
    )
    p.add_argument("--out", required=True, help="the base's folder")
    p.add_argument(
        "--models",
        default=",".join(("eegnet", "student", "xdawn", "lda")),
        help=f"comma-separated models to pretrain (default: %(default)s); known: {', '.join(registry.transferable())}",
    )
    add_events_option(p)
    p.add_argument(
        "--images",
        default=None,
        help="folder of the stimulus images (<image_id>.png) of every recording, for the teacher's soft targets "
        "(default: each recording's own image folder when it names one, e.g. a simulated session's)",
    )
    add_blocks_option(p)
    add_training_arguments(p)
    add_batch_size_option(p, "EEG epochs per training step (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default: %(default)s)")
    add_device_option(p, "auto (GPU when present), cpu, cuda ...")
    p.add_argument("--overwrite", action="store_true", help="replace a base already in --out")


def run(args: argparse.Namespace) -> int:
    """Handler of ``rtdecode pretrain``."""
    from calibration.transfer import BASE_FILE, pretrain
    from rtdecode.io import read_recording

    started = time.perf_counter()
    out = Path(args.out)
    refuse_to_replace(out / BASE_FILE, args.overwrite, "base")
    recordings = [read_recording(path, **recording_options(args)) for path in args.recordings]
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    train = train_config(args, batch_size=args.batch_size, seed=args.seed, device=args.device)
    folders = [
        _image_folder(args, Path(path), recording)
        for path, recording in zip(args.recordings, recordings, strict=True)
    ]
    teacher = _teacher(args, folders, train) if distills(args) and any(folders) else None
    base = pretrain(recordings, out, models, train=train, teacher=teacher)
    print(
        f"base of {len(base.info['subjects'])} subjects, {len(base.class_names)} classes, "
        f"{len(base.channel_names)} channels in {out} ({time.perf_counter() - started:.0f} s):"
    )
    for name, info in base.info["models"].items():
        selection = info.get("selection")
        chosen = (
            f"; {selection['chosen']['components']} evoked and {selection['chosen']['power_components']} power "
            f"components, ridge {selection['chosen']['ridge']:g}, each trial's latency searched "
            f"+-{selection['chosen'].get('trial_shift_ms', 0.0):g} ms ({selection['how']})"
            + (
                f"; the subjects' latencies {selection['source_latencies_ms']} ms"
                if selection.get("source_latencies_ms")
                else ""
            )
            if selection
            else ""
        )
        print(
            f"  {registry.display_name(name)}: pooled validation top-1 {info['pooled_validation_top1']:.3f}, "
            f"{info['seconds']:.0f} s{chosen}"
        )
    return 0


def _image_folder(args: argparse.Namespace, path: Path, recording) -> Path | None:
    """Where a recording's stimulus images are: --images, else the folder the recording names."""
    if args.images:
        return Path(args.images)
    named = recording.metadata.get("image_dir")
    return path.parent / named if named and (path.parent / named).is_dir() else None


def _teacher(args: argparse.Namespace, folders: list[Path | None], train):
    """``teacher(i, epochs)`` for :func:`calibration.transfer.pretrain`: out-of-fold soft targets of recording i."""
    from calibration.soft_targets import teacher_soft_targets

    def soft_targets(i: int, epochs):
        if folders[i] is None:
            return None
        report, soft = teacher_soft_targets(
            epochs.image_ids,
            epochs.labels,
            folders[i],
            len(epochs.class_names),
            teacher=args.teacher,
            weights=args.teacher_weights,
            temperature=train.temperature,
            folds=args.soft_target_folds,
            seed=args.seed,
            device=args.device,
        )
        return soft if report.get("used") else None

    return soft_targets
