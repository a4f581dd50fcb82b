"""``rtdecode study``: does distillation help? Subjects x seeds x networks, one report."""

from __future__ import annotations

import argparse

from calibration.options import add_batch_size_option, add_training_arguments, train_config
from rtdecode.cli_args import add_blocks_option, add_command, add_device_option, add_events_option, positive
from rtdecode.models import registry

DESCRIPTION = """\
Train every network on every subject's recording with several seeds, each once distilled from
the teacher and once on labels alone, and report whether distillation helps.

A seed sets the block split (whole blocks to train / validation / test) and the initial weights;
the distilled and plain runs of a (subject, seed, network) share both, so their top-1 difference
is paired trial by trial. Each recording is epoched and given its teacher targets once
(OUT/prepared/). Writes to OUT:
  study.md / study.json  Table 1 (mean (sd) across subjects), per-subject top-1 with 95 % intervals,
                         distilled minus not with 95 % intervals (bootstrap over test trials; t across subjects)
  study.png              per-subject bars with intervals, paired differences
  runs.jsonl             every run: metrics, test predictions, epochs, seconds

Without --ray the runs go one after the other here; with --ray each run is a Ray task.

With --transfer it is instead a learning curve of cross-subject transfer (calibration.transfer_study):
leave-one-subject-out, a base pretrained on the other subjects (each Euclidean-aligned to itself),
then for each N in --trials (calibration trials per class: the subject's first N of each class;
'all': every trial outside the held-out test blocks) subject-only (a new network, unaligned) vs
transfer (the base fine-tuned, the subject aligned on its calibration trials, no labels), each
distilled and not, scored on the rest of the session; the aligned zero-shot base once per subject.
Writes OUT/report.md, report.json, learning_curve.png; runs are journalled in
OUT/runs.partial.jsonl: the same command again continues a stopped study, and a study run with
other --trials adds its points to the same report.

Examples:
  for s in 1 2 3; do rtdecode simulate --subject $s --classes 10 --out sims/s$s.xdf; done
  rtdecode study sims/s1.xdf sims/s2.xdf sims/s3.xdf --seeds 3 --out runs/study
  rtdecode study sims/s*.xdf --seeds 3 --networks student,shallow_convnet --ray auto --out runs/study
  rtdecode study --transfer sims/s1.xdf sims/s2.xdf sims/s3.xdf --trials 2,5,10,20,all --out runs/transfer
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``study`` subcommand to the ``rtdecode`` parser."""
    p = add_command(
        sub,
        "study",
        run,
        "distilled vs not, across subjects x seeds x networks (sequential or on Ray)",
        DESCRIPTION,
    )
    p.add_argument("recordings", nargs="+", help="one calibration session (.xdf) per subject")
    add_events_option(p)
    add_blocks_option(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--seeds", type=positive(int), default=3, help="seeds 0..N-1 per subject (default: %(default)s)"
    )
    p.add_argument(
        "--networks",
        default=None,
        help=f"comma-separated networks, each trained distilled and not (default: {registry.PAPER_MODEL}, the "
        f"paper's student; with --transfer: templates,eegnet); known: {', '.join(registry.networks())}; "
        "with --transfer also templates (the shared-response templates: their mixing refitted, not distilled)",
    )
    p.add_argument(
        "--transfer",
        action="store_true",
        help="a learning curve of cross-subject transfer, leave-one-subject-out (see above)",
    )
    p.add_argument(
        "--trials",
        default="2,5,10,20,all",
        help="with --transfer: calibration trials per class, comma-separated, 'all' for the full "
        "session (default: %(default)s)",
    )
    p.add_argument(
        "--paths",
        default="subject,transfer",
        help="with --transfer: subject, subject-aligned, transfer (default: %(default)s)",
    )
    p.add_argument(
        "--recipes",
        default="all-layers",
        help="with --transfer: fine-tuning recipes all-layers, low-lr, head-first (default: %(default)s)",
    )
    p.add_argument(
        "--base-max-epochs",
        type=positive(int),
        default=None,
        help="with --transfer: the base's epoch cap (default: --max-epochs)",
    )
    add_training_arguments(p, baselines=False)
    add_batch_size_option(p, "training batch size (default: %(default)s)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per run (default: torch's choice here, 1 per Ray task)",
    )
    add_device_option(p, "auto (GPU when present), cpu, cuda ... (default: auto)")
    p.add_argument(
        "--ray",
        default=None,
        metavar="auto|local|ADDRESS",
        help="run each (subject, seed, network, kd) as a Ray task: auto joins the running cluster or "
        "starts one here, local starts one here, ADDRESS joins that cluster (default: sequential here)",
    )
    p.add_argument("--ray-cpus", type=int, default=None, help="CPUs of a Ray instance started here")
    p.add_argument(
        "--gpus-per-run", type=float, default=None, help="GPUs per Ray task when there are GPUs (default: 1)"
    )


def run(args: argparse.Namespace) -> int:
    """Handler of ``rtdecode study``."""
    from calibration.study import StudyConfig, run_sequential, run_study
    from calibration.study_report import study_markdown

    if args.seeds < 1:
        raise ValueError(f"--seeds {args.seeds}: give at least 1")
    default = "templates,eegnet" if args.transfer else registry.PAPER_MODEL
    networks = tuple(
        registry.canonical(n.strip()) for n in (args.networks or default).split(",") if n.strip()
    )
    executor = run_sequential
    if args.ray is not None:
        from calibration.study_ray import RayExecutor

        executor = RayExecutor(args.ray, cpus=args.ray_cpus, gpus_per_run=args.gpus_per_run)
    if args.transfer:
        return _run_transfer(args, networks, executor)
    config = StudyConfig(
        networks=networks,
        seeds=tuple(range(args.seeds)),
        train=train_config(
            args, batch_size=args.batch_size, device=args.device, threads=args.threads, progress=False
        ),
        teacher=args.teacher,
        teacher_weights=args.teacher_weights,
        soft_target_folds=args.soft_target_folds,
        events=None if args.events is None else args.events.to_dict(),
        blocks=None if args.blocks is None else args.blocks.to_dict(),
    )
    report = run_study(args.recordings, args.out, config, executor=executor)
    print(study_markdown(report))
    print(f"report: {args.out}/study.md, study.json, study.png")
    return 0


def _run_transfer(args: argparse.Namespace, networks: tuple[str, ...], executor) -> int:
    """``rtdecode study --transfer``."""
    from calibration.transfer_study import TransferStudyConfig, run_transfer_study
    from calibration.transfer_study_report import transfer_markdown

    def words(text: str) -> tuple[str, ...]:
        return tuple(w.strip() for w in text.split(",") if w.strip())

    try:
        trials = tuple(None if t == "all" else int(t) for t in words(args.trials))
    except ValueError as err:
        raise ValueError(f"--trials {args.trials!r}: give numbers and 'all', e.g. 2,5,10,20,all") from err
    config = TransferStudyConfig(
        networks=networks,
        seeds=tuple(range(args.seeds)),
        trials=trials,
        paths=words(args.paths),
        recipes=words(args.recipes),
        train=train_config(
            args, batch_size=args.batch_size, device=args.device, threads=args.threads, progress=False
        ),
        base_max_epochs=args.base_max_epochs,
        teacher=args.teacher,
        teacher_weights=args.teacher_weights,
        soft_target_folds=args.soft_target_folds,
        events=None if args.events is None else args.events.to_dict(),
        blocks=None if args.blocks is None else args.blocks.to_dict(),
    )
    report = run_transfer_study(args.recordings, args.out, config, executor=executor)
    print(transfer_markdown(report))
    print(f"report: {args.out}/report.md, report.json, learning_curve.png")
    return 0
