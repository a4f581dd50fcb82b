"""``rtdecode pregenerate`` and ``figure``: text-to-image reconstruction (:mod:`rtdecode.reconstruct`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rtdecode.cli_args import (
    add_blocks_option,
    add_command,
    add_device_option,
    add_events_option,
    add_model_option,
    add_pipeline_option,
    add_subject_option,
    positive,
    read_recording_for_model,
    refuse_to_replace,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``pregenerate`` and ``figure``."""
    p = add_command(
        sub,
        "pregenerate",
        _cmd_pregenerate,
        "generate images for every class of a model before a session",
        "Generate --per-class images for every class of a model bundle with a local diffusion\n"
        "pipeline (prompt: 'an image of a <class>') into a cache folder, as PNG files with an\n"
        "index.json (class, prompt, seed, steps, pipeline). During a session, cached classes are\n"
        "shown at once. Images already there with the same seed and settings are kept, so an\n"
        "interrupted run resumes. Nothing is downloaded.",
    )
    add_model_option(p)
    p.add_argument(
        "--per-class", type=positive(int), default=1, help="images per class (default: %(default)s)"
    )
    p.add_argument("--out", default=None, help="cache folder (default: MODEL/images)")
    _add_generator_options(p, required=True)

    p = add_command(
        sub,
        "figure",
        _cmd_figure,
        "draw the paper's Figure 2: seen images next to images of the decoded classes",
        "Decode RECORDING with the model, then draw a grid: one row per target class, the seen\n"
        "stimulus first, then for the first --trials trials of the class the image of the class the\n"
        "decoder predicted (generated with --pipeline, cached in MODEL/images, or the predicted class's\n"
        "calibration exemplar), the predicted class under it, green when right, red when wrong.\n"
        "Several subjects: repeat --model and give one recording per --model, in the same order.",
    )
    p.add_argument(
        "recordings", nargs="+", metavar="RECORDING", help=".xdf recording (or .pth with --subject)"
    )
    p.add_argument("--model", required=True, action="append", help="model bundle folder (repeatable)")
    p.add_argument("--out", required=True, help="output image (.png, .pdf, .svg)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out image")
    p.add_argument(
        "--classes", default=None, help="comma-separated target classes (default: the first --n-classes)"
    )
    p.add_argument(
        "--n-classes", type=positive(int), default=6, help="number of target classes (default: %(default)s)"
    )
    p.add_argument("--trials", type=positive(int), default=3, help="trials per class (default: %(default)s)")
    p.add_argument(
        "--images-dir", default=None, help="stimulus images (default: from the recording or the bundle)"
    )
    p.add_argument("--cache", default=None, help="image cache folder (default: MODEL/images)")
    add_subject_option(p)
    add_events_option(p)
    add_blocks_option(p)
    add_device_option(p, "device of the EEG decoder (default: auto)", flag="--decode-device")
    _add_generator_options(p, required=False)


def _add_generator_options(p: argparse.ArgumentParser, required: bool) -> None:
    add_pipeline_option(
        p,
        "diffusers pipeline folder, .safetensors/.ckpt checkpoint, or a model id already in the local "
        "Hugging Face cache (nothing is downloaded)"
        + ("" if required else "; without it the calibration exemplars are shown"),
        required=required,
    )
    p.add_argument(
        "--pipeline-config",
        default=None,
        metavar="DIR",
        help="for a single checkpoint file: a diffusers folder of the same architecture (its configs)",
    )
    p.add_argument(
        "--steps", type=int, default=None, help="denoising steps (default: 1 turbo, 4 LCM, else 25)"
    )
    p.add_argument(
        "--guidance", type=float, default=None, help="guidance scale (default: 0 turbo, 1 LCM, else 7.5)"
    )
    p.add_argument("--size", type=int, default=None, help="image side in pixels (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed of each class's first image (default: 0)")
    p.add_argument(
        "--prompt",
        default="an image of a {label}",
        help="prompt template with {label} (default: %(default)r)",
    )
    p.add_argument("--dtype", default="auto", help="auto (float16 on CUDA), float16, bfloat16, float32")
    add_device_option(p)


def _load_generator(args: argparse.Namespace):
    from rtdecode.reconstruct import Generator

    if not args.pipeline:
        return None
    return Generator.load(
        args.pipeline,
        steps=args.steps,
        guidance=args.guidance,
        size=args.size,
        seed=args.seed,
        dtype=args.dtype,
        device=args.device,
        prompt_template=args.prompt,
        config_dir=args.pipeline_config,
    )


def _cmd_pregenerate(args: argparse.Namespace) -> int:
    from rtdecode.io.bundle import load_bundle
    from rtdecode.reconstruct import default_cache_dir, pregenerate

    bundle = load_bundle(args.model)
    out = Path(args.out) if args.out else default_cache_dir(args.model)
    generator = _load_generator(args)
    cache, made = pregenerate(bundle.class_names, generator, out, per_class=args.per_class)
    print(f"{made} images generated, {len(cache.entries())} in {out} ({len(cache.classes())} classes)")
    return 0


def _cmd_figure(args: argparse.Namespace) -> int:
    import json

    from rtdecode.decoder import predict_recording
    from rtdecode.io.bundle import load_bundle
    from rtdecode.reconstruct import (
        ExemplarSource,
        ImageCache,
        ImageSources,
        default_cache_dir,
        find_exemplar_dir,
    )
    from rtdecode.reconstruct.figure import SubjectRun, reconstruction_figure

    refuse_to_replace(args.out, args.overwrite, "figure")
    if len(args.model) != len(args.recordings):
        raise ValueError(
            f"{len(args.model)} --model for {len(args.recordings)} recordings; give one --model per recording, "
            "in the same order"
        )
    generator = _load_generator(args)
    runs = []
    for i, (model_dir, recording_path) in enumerate(zip(args.model, args.recordings, strict=True)):
        bundle = load_bundle(model_dir)
        recording = read_recording_for_model(recording_path, args, bundle)
        predictions = predict_recording(bundle, recording, device=args.decode_device)
        images_dir = Path(args.images_dir) if args.images_dir else None
        if images_dir is None:
            images_dir = find_exemplar_dir(model_dir, bundle.extra, recording_path, recording.metadata)
        exemplars = ExemplarSource.from_folder(images_dir, bundle.class_names) if images_dir else None
        cache_dir = Path(args.cache) if args.cache else default_cache_dir(model_dir)
        cache = ImageCache(cache_dir if cache_dir.is_dir() or generator is not None else None)
        test_blocks = bundle.extra.get("test_blocks") or (bundle.extra.get("split") or {}).get("test_blocks")
        subject = bundle.extra.get("subject") or recording.metadata.get("subject")
        name = f"S{subject}" if subject is not None else f"run {i + 1}"
        runs.append(
            SubjectRun(
                name=name if all(r.name != name for r in runs) else f"{name} ({i + 1})",
                class_names=list(bundle.class_names),
                predictions=predictions,
                sources=ImageSources(generator, cache, exemplars),
                exemplars=exemplars,
                test_blocks=set(test_blocks) if test_blocks else None,
            )
        )
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    summary = reconstruction_figure(
        runs, args.out, classes=classes, n_classes=args.n_classes, trials_per_class=args.trials
    )
    print(json.dumps(summary))
    return 0
