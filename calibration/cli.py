"""``rtdecode calibrate``: train and evaluate a subject-specific model from a recorded session."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from calibration.options import (
    DEFAULT_BATCH_SIZE,
    add_batch_size_option,
    add_training_arguments,
    distills,
    parse_baselines,
    train_config,
)
from rtdecode.cli_args import (
    add_blocks_option,
    add_command,
    add_device_option,
    add_latency_option,
    add_recording_arguments,
    add_subject_option,
    recording_options,
    refuse_to_replace,
)
from rtdecode.models import registry

DESCRIPTION = """\
Train a subject-specific decoder from a calibration recording and save it as a model bundle.

Cuts epochs at the stimulus markers (after the same causal filters the live decoder runs),
splits by block (no block in both training and test), fits the teacher (open_clip image
encoder + linear classifier) on the stimulus images, trains the student CNN with knowledge
distillation, the candidate pipelines (EEGNet, xDAWN + tangent space and shrinkage LDA on
0.5-30 Hz ERP epochs) and the comparison baselines asked for (--baselines; none by default) on
the same split, keeps the best on the validation
blocks (--preset paper keeps the paper's student), and writes to OUT:
  model/               the bundle for `rtdecode live` / `rtdecode predict`
  report.md/.json      top-1/3/5, macro F1, kappa, balanced accuracy, ROC AUC (2 classes) per model,
                       chance and majority-class levels, the model chosen and why, oracle (simulated data)
  confusion.png        the chosen model's confusion matrix on the test blocks
  learning_curves.png  loss and accuracy per epoch of every network

With a cross-subject base (`rtdecode pretrain`), a new subject needs few trials: --base BASE compares
the subject's own models (subject-only), the base aligned to the subject without its labels
(zero-shot) and the base fine-tuned on its trials, and keeps the best on validation trials;
--trials-per-class N trains on the first N trials of each class and tests on the rest.

Examples:
  rtdecode calibrate session.xdf --out runs/s1
  rtdecode calibrate new_subject.xdf --base runs/base --trials-per-class 10 --out runs/new
  rtdecode calibrate session.xdf --images session_images --teacher-weights /models/clip.safetensors --out runs/s1
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand to the ``rtdecode`` parser."""
    p = add_command(
        sub, "calibrate", run, "train and evaluate a subject-specific model from a recording", DESCRIPTION
    )
    add_recording_arguments(
        p,
        "calibration session: .xdf, or BrainVision (.vhdr), EDF/BDF, FIF, EEGLAB (.set) or a file in a "
        "BIDS dataset (read with MNE); say which plain marker codes are which class with --events",
    )
    add_subject_option(p)
    add_blocks_option(p)
    p.add_argument("--out", required=True, help="output folder for the bundle and the report")
    p.add_argument(
        "--images",
        default=None,
        help="folder of stimulus images named <image_id>.png (default: the folder named in the recording, "
        "e.g. <stem>_images next to a simulated session)",
    )
    p.add_argument(
        "--no-distillation",
        action="store_true",
        help="train the student on labels only (same as --teacher none)",
    )
    add_training_arguments(p)
    add_batch_size_option(p, "EEG epochs (trials) per training step of every network (default: %(default)s)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the weight initialization and batch order; the same seed gives the same model "
        "(default: %(default)s)",
    )
    add_device_option(p, "auto (GPU when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--config", default=None, help="preprocessing config (.toml/.json); default: the paper's")
    add_latency_option(p)
    p.add_argument("--overwrite", action="store_true", help="replace the model and report already in --out")
    p.add_argument(
        "--preset",
        type=registry.canonical,  # older names -> the registry's
        choices=registry.presets(),
        default="auto",
        help="which pipeline the bundle holds: 'auto' (default) keeps the best on the validation blocks among "
        "the paper's student (14-70 Hz STFT CNN) and the --candidates ("
        + "; ".join(registry.get(name).readable for name in registry.candidates())
        + f"); '{registry.PAPER_MODEL}' keeps the paper's student; {registry.aliases_help(registry.presets())}",
    )
    p.add_argument(
        "--evaluation",
        choices=("auto", "split", "lobo"),
        default="auto",
        help="'split': one block split; 'lobo': leave-one-block-out cross-validation (mean and 95 %% interval "
        "per model, bundle refitted on all blocks); 'auto' (default): lobo for recordings of at most 8 blocks",
    )
    p.add_argument(
        "--candidates",
        default=",".join(registry.candidates(default_only=True)),
        help="comma-separated pipelines compared with the paper's student, or 'none' (default: %(default)s); "
        f"known: {', '.join(registry.candidates())}",
    )
    g = p.add_argument_group("cross-subject transfer (a base from `rtdecode pretrain`)")
    g.add_argument(
        "--base",
        default=None,
        help="a base folder from `rtdecode pretrain`: its models, aligned to this subject, compete with the "
        "subject-only ones (zero-shot and fine-tuned)",
    )
    g.add_argument(
        "--trials-per-class",
        type=int,
        default=None,
        metavar="N",
        help="with --base: train on the first N trials of each class in time order (a short session), test on "
        "the rest block by block; default: every trial outside the held-out test blocks",
    )
    g.add_argument(
        "--short",
        action="store_true",
        help="with --base: the short-session settings of `calibrate-gui --base` that keep a 10-class, 128-channel "
        "session to about a minute on 2 cores: subject-only xDAWN alone, the base's networks fine-tuned for at most "
        "5 epochs, its classical pipelines zero-shot only, no distillation",
    )
    g.add_argument(
        "--align-on",
        choices=("calibration", "recording"),
        default="calibration",
        help="with --base: the subject's alignment (no labels) from its calibration trials (default: what a "
        "live session has) or from every trial of the recording",
    )
    p.add_argument(
        "--mains",
        choices=("auto", "config", "50", "60"),
        default=None,
        help="notch: 'auto' follows the 50/60 Hz line noise found in the recording (default without "
        "--config), 'config' keeps the config's notch (default with --config; a mismatch is a warning), "
        "or 50 / 60",
    )


def run(args: argparse.Namespace) -> int:
    """Handler of ``rtdecode calibrate``."""
    import time

    from calibration.calibrate import CalibrationConfig, calibrate
    from rtdecode.config import PipelineConfig
    from rtdecode.io import read_recording

    started = time.perf_counter()  # the recording has ended: the time to a served model counts from here
    recording_path, out = Path(args.recording), Path(args.out)
    base_folder = getattr(args, "base", None)
    if getattr(args, "trials_per_class", None) is not None and base_folder is None:
        raise ValueError(
            "--trials-per-class needs --base (a short session is calibrated from a cross-subject base)"
        )
    if getattr(args, "short", False) and base_folder is None:
        raise ValueError(
            "--short needs --base (the short-session settings calibrate from a cross-subject base)"
        )
    base = None
    if base_folder is not None:
        from calibration.transfer import load_base

        base = load_base(base_folder)
    for existing in (out / "model", out / "report.md"):
        refuse_to_replace(existing, getattr(args, "overwrite", False), "calibration output")
    recording = read_recording(recording_path, **recording_options(args))
    images = args.images
    if images is None and recording.metadata.get("image_dir"):
        images = recording_path.parent / recording.metadata["image_dir"]
    distill = distills(args)
    if images is not None and distill and not Path(images).is_dir():
        source = "--images" if args.images else f"the image folder named in {recording_path}"
        raise ValueError(
            f"{source} {images} is not a folder: give the stimulus images with --images DIR, "
            "or train without the teacher with --teacher none"
        )
    pipeline = PipelineConfig.load(args.config) if args.config else PipelineConfig(sfreq=recording.sfreq)
    if args.latency_ms is not None:
        pipeline = pipeline.replace(acquisition_latency_ms=args.latency_ms)
    config = CalibrationConfig(
        pipeline=pipeline,
        train=train_config(args, batch_size=args.batch_size, seed=args.seed, device=args.device),
        teacher_model=args.teacher,
        teacher_pretrained=args.teacher_weights,
        soft_target_folds=args.soft_target_folds,
        baselines=parse_baselines(args.baselines),
        mains=getattr(args, "mains", None) or ("config" if args.config else "auto"),
        preset=getattr(args, "preset", "auto"),
        evaluation=getattr(args, "evaluation", "auto"),
        candidates=_candidates(getattr(args, "candidates", ",".join(registry.candidates(default_only=True)))),
    )
    created = not out.exists()
    try:
        if base is not None:
            from calibration.transfer_calibrate import calibrate_with_base, short_session_config

            fine_tune = None
            if args.short:
                config, fine_tune = short_session_config(config, base)
                distill = False
            result = calibrate_with_base(
                recording,
                base,
                images if distill else None,
                out,
                config,
                trials_per_class=args.trials_per_class,
                align_on=args.align_on,
                started=started,
                subject_student=not args.short,
                fine_tune=fine_tune,
            )
        else:
            result = calibrate(recording, images if distill else None, out, config, started=started)
    except BaseException:
        if created and out.is_dir():
            shutil.rmtree(out)  # made by this run and holding only this run's partial outputs
        raise
    print((result.out_dir / "report.md").read_text(encoding="utf-8"))
    print(f"model bundle: {result.out_dir / 'model'}")
    return 0


def _candidates(text: str) -> tuple[str, ...]:
    if text == "none":
        return ()
    return tuple(c.strip() for c in text.split(",") if c.strip())


def run_demo(args: argparse.Namespace) -> int:
    """The headless part of ``rtdecode demo`` (registered by gui.cli): simulate, calibrate, decode.

    ``args`` needs ``out``, ``classes``, ``images_per_class``, ``subject`` and the shared training
    options of :func:`calibration.options.add_training_arguments`. Writes ``OUT/subject<N>.xdf`` and ``OUT/calibration/``.
    """
    import numpy as np

    from rtdecode.decoder import predict_recording
    from rtdecode.io import read_recording
    from rtdecode.io.bundle import load_bundle
    from rtdecode.io.summary import summarize_recording
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.session import save_simulated_session

    out = Path(args.out)
    session = out / f"subject{args.subject}.xdf"
    overwrite = bool(getattr(args, "overwrite", False))
    refuse_to_replace(session, overwrite, "demo session")
    refuse_to_replace(out / "calibration" / "model", overwrite, "demo model")
    config = SimulationConfig(
        n_classes=args.classes, images_per_class=args.images_per_class, subject=args.subject
    )
    print(
        f"[1/4] simulating subject {args.subject}: {args.classes} classes x {args.images_per_class} images -> {session}"
    )
    save_simulated_session(config, session, overwrite=overwrite)
    recording = read_recording(session)
    print(summarize_recording(recording))

    print("\n[2/4] calibrating (teacher, distilled student, candidate pipelines)...")
    run(
        argparse.Namespace(
            **{
                **vars(args),
                "recording": str(session),
                # The demo's --subject is the simulated subject, not a reader option of its session file.
                "subject": None,
                "out": str(out / "calibration"),
                "images": None,
                "no_distillation": False,
                "batch_size": DEFAULT_BATCH_SIZE,
                "seed": 0,
                "device": "auto",
                "config": None,
                "overwrite": overwrite,
                "mains": None,
                "latency_ms": None,
            }
        )
    )

    print("[3/4] decoding the session with the saved bundle (what `rtdecode predict` does)...")
    bundle = load_bundle(out / "calibration" / "model")
    predictions = predict_recording(bundle, recording)
    correct = np.mean([p.index == p.marker["label"] for p in predictions])
    print(
        f"{len(predictions)} epochs decoded; top-1 on the whole session (training blocks included) "
        f"{correct:.3f}, chance {1 / len(bundle.class_names):.3f}; "
        f"mean compute {np.mean([p.latency_ms for p in predictions]):.2f} ms per epoch"
    )
    print(f"\nEverything is in {out}/: the session, calibration/report.md, the plots and calibration/model/.")
    return 0
