"""``rtdecode calibrate``: train and evaluate a subject-specific model from a recorded session."""

from __future__ import annotations

import argparse
from pathlib import Path

from calibration.options import (
    BASELINES,
    TEACHER_NONE,
    add_training_arguments,
    parse_baselines,
)

DESCRIPTION = """\
Train a subject-specific decoder from a calibration recording and save it as a model bundle.

Cuts epochs at the stimulus markers (after the same causal filters the live decoder runs),
splits by block (no block in both training and test), fits the teacher (open_clip image
encoder + linear classifier) on the stimulus images, trains the student CNN with knowledge
distillation and every baseline on the same split, and writes to OUT:
  model/               the bundle for `rtdecode live` / `rtdecode predict`
  report.md/.json      top-1/3/5, macro F1, kappa per model, chance level, oracle (simulated data)
  confusion.png        the student's confusion matrix on the test blocks
  learning_curves.png  loss and accuracy per epoch of every network

Examples:
  rtdecode calibrate session.xdf --out runs/s1
  rtdecode calibrate session.xdf --images session_images --teacher-weights /models/clip.safetensors --out runs/s1
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand to the ``rtdecode`` parser."""
    p = sub.add_parser(
        "calibrate",
        help="train and evaluate a subject-specific model from a recording",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recording", help="calibration session (.xdf)")
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
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="initialization seed (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--config", default=None, help="preprocessing config (.toml/.json); default: the paper's")
    p.set_defaults(handler=run)


def _baseline_names() -> tuple[str, ...]:
    # Spelled out in calibration.options rather than imported from the baselines: those pull in
    # torch, and this runs for every `rtdecode` invocation. A test keeps it equal to ALL_BASELINES.
    return BASELINES


def run(args: argparse.Namespace) -> int:
    """Handler of ``rtdecode calibrate``."""
    from calibration.calibrate import CalibrationConfig, calibrate
    from calibration.train import TrainConfig
    from rtdecode.config import PipelineConfig
    from rtdecode.io.xdf import read_xdf

    recording_path = Path(args.recording)
    recording = read_xdf(recording_path)
    images = args.images
    if images is None and recording.metadata.get("image_dir"):
        images = recording_path.parent / recording.metadata["image_dir"]
    distill = not args.no_distillation and args.teacher != TEACHER_NONE
    config = CalibrationConfig(
        pipeline=PipelineConfig.load(args.config) if args.config else PipelineConfig(sfreq=recording.sfreq),
        train=TrainConfig(
            alpha=args.alpha if distill else 1.0,
            temperature=args.temperature,
            max_epochs=args.max_epochs,
            patience=args.patience,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
        ),
        teacher_model=args.teacher,
        teacher_pretrained=args.teacher_weights,
        soft_target_folds=args.soft_target_folds,
        baselines=parse_baselines(args.baselines),
    )
    result = calibrate(recording, images if distill else None, args.out, config)
    print((result.out_dir / "report.md").read_text(encoding="utf-8"))
    print(f"model bundle: {result.out_dir / 'model'}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """The headless part of ``rtdecode demo`` (registered by gui.cli): simulate, calibrate, decode.

    ``args`` needs ``out``, ``classes``, ``images_per_class``, ``subject`` and the shared training
    options of :func:`calibration.options.add_training_arguments`. Writes ``OUT/subject<N>.xdf`` and ``OUT/calibration/``.
    """
    import numpy as np

    from rtdecode.decoder import predict_recording
    from rtdecode.io.bundle import load_bundle
    from rtdecode.io.summary import summarize_recording
    from rtdecode.io.xdf import read_xdf
    from rtdecode.streams.simulate import SimulationConfig, save_simulated_session

    out = Path(args.out)
    session = out / f"subject{args.subject}.xdf"
    config = SimulationConfig(
        n_classes=args.classes, images_per_class=args.images_per_class, subject=args.subject
    )
    print(
        f"[1/4] simulating subject {args.subject}: {args.classes} classes x {args.images_per_class} images -> {session}"
    )
    save_simulated_session(config, session, overwrite=True)
    recording = read_xdf(session)
    print(summarize_recording(recording))

    print("\n[2/4] calibrating (teacher, distilled student, baselines)...")
    run(
        argparse.Namespace(
            **{
                **vars(args),
                "recording": str(session),
                "out": str(out / "calibration"),
                "images": None,
                "no_distillation": False,
                "batch_size": 64,
                "seed": 0,
                "device": "auto",
                "config": None,
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
