"""The ``rtdecode`` command: one entry point, one subcommand per job.

Heavy modules (torch, diffusers, Qt) are imported inside the subcommand that needs them, so
``rtdecode --help`` and the light subcommands start fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rtdecode.cli_args import add_latency_option, at_least, device, positive, refuse_to_replace, with_latency

log = logging.getLogger("rtdecode")


def _cmd_simulate(args: argparse.Namespace) -> int:
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.session import save_simulated_session

    config = SimulationConfig(
        subject=args.subject,
        seed=args.seed,
        snr=args.snr if args.snr is not None else SimulationConfig().snr,
        minutes=args.minutes,
        n_classes=args.classes,
        images_per_class=args.images_per_class,
        line_freq=args.line_freq,
    )
    if args.live:
        return _simulate_live(config, args)
    if not args.out:
        raise SystemExit("error: give --out FILE.xdf (or --live to stream in real time)")
    out = Path(args.out)
    if out.suffix.lower() != ".xdf":
        raise SystemExit(f"error: --out must end in .xdf, got {out}")
    refuse_to_replace(out, args.overwrite, "recording")
    image_dir = save_simulated_session(config, out, overwrite=args.overwrite)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and stimulus images in {image_dir}/")
    _print_summary(out)
    return 0


def _simulate_live(config, args: argparse.Namespace) -> int:
    import time

    from rtdecode.sim.live import LiveSimulator

    follow = None
    if args.follow:
        from rtdecode.streams.lsl_utils import resolve_stream
        from rtdecode.streams.reader import MarkerReader

        follow = MarkerReader(resolve_stream(args.follow, timeout=args.timeout)).start()
    sim = LiveSimulator(config, name=args.name, follow=follow, loop=args.loop)
    mode = f"following markers of {args.follow!r}" if follow else f"its own protocol ({args.name}-markers)"
    log.info(
        "streaming simulated subject %d as %r: %d channels at %g Hz, %s; Ctrl-C stops",
        config.subject,
        args.name,
        sim.subject.n_channels,
        config.sfreq,
        mode,
    )
    sim.start()
    try:
        while not sim.join(timeout=0.5):
            time.sleep(0.1)
    except KeyboardInterrupt:
        log.info("stopped after %d samples, %d markers", sim.samples_pushed, sim.markers_pushed)
    finally:
        sim.stop()
        if follow is not None:
            follow.stop()
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from rtdecode.decoder import predict_recording
    from rtdecode.io.bundle import load_bundle
    from rtdecode.known_classes import ClassTally
    from rtdecode.streams.player import replay_source

    bundle = with_latency(load_bundle(args.model), args.latency_ms)
    recording = replay_source(args.recording, subject=args.subject, events=getattr(args, "events", None))
    _check_decodable(recording, args.recording)
    predictions = predict_recording(bundle, recording, device=args.device)
    if not predictions:
        raise ValueError(
            f"0 epochs decoded: every one of the {len(recording.stimulus_events())} stimulus epochs in "
            f"{args.recording} runs past the data or holds bad samples (-v lists them)"
        )
    tally = ClassTally(bundle.class_names)
    for p in predictions:
        print(json.dumps(p.to_json()) if args.jsonl else f"{p.onset:.3f}  {p.label:24s} {p.topk[0][1]:.3f}")
        tally.add(p)
    sys.stdout.flush()  # a closed pipe (`| head`) shows here, not at exit
    if tally.unknown:
        log.warning("%s", tally.mismatch_text())
        log.info("%d epochs decoded; %s", len(predictions), tally.accuracy_text())
        return 0
    from rtdecode.scoring import accuracy_by_split

    chance = 1 / len(bundle.class_names)
    names = {
        "held_out": "held-out (test) blocks",
        "training": "training blocks (seen in calibration)",
        "all": "all epochs"
        + (
            " (the bundle was refitted on every block: none is held out)"
            if bundle.extra.get("evaluation") == "lobo"
            else ""
        ),
    }
    for part, score in accuracy_by_split(predictions, bundle.extra.get("test_blocks")).items():
        log.info(
            "%s: %d epochs, top-1 %.3f, balanced accuracy %.3f (chance %.3f)",
            names[part],
            score["n"],
            score["top1"],
            score["balanced_accuracy"],
            chance,
        )
    return 0


def _check_decodable(recording, path: str) -> None:
    """Refuse a recording with nothing to decode, saying what is missing."""
    if recording.n_samples == 0:
        raise ValueError(
            f"{path} holds 0 EEG samples: nothing to decode (was the recording stopped at once?)"
        )
    if not recording.stimulus_events():
        raise ValueError(
            f"{path} has no stimulus markers ({len(recording.markers)} marker(s), none with "
            '"event": "stimulus"), so there is no epoch to decode; record the marker stream with the '
            "EEG, or decode without markers with `rtdecode live --mode sliding`"
        )


def _cmd_live(args: argparse.Namespace) -> int:
    import json
    import threading

    from rtdecode.decoder import OnlineDecoder
    from rtdecode.io.bundle import load_bundle
    from rtdecode.known_classes import ClassTally
    from rtdecode.streams.lsl_utils import StreamQuery, resolve_queries
    from rtdecode.streams.reader import MarkerReader, StreamReader

    bundle = with_latency(load_bundle(args.model), args.latency_ms)
    queries = [StreamQuery.parse(args.stream)]
    if args.mode == "marker":
        queries.append(StreamQuery.parse(args.markers))
    # Both at once, so that when both are missing the error names both.
    infos = resolve_queries(queries, timeout=args.timeout)
    markers = MarkerReader(infos[1]).start() if args.mode == "marker" else None
    reader = StreamReader(infos[0], bundle.pipeline)
    reader.start()
    lock = threading.Lock()
    tally = ClassTally(bundle.class_names)

    def emit(prediction) -> None:
        with lock:
            unknown = tally.add(prediction)
            if unknown is not None:
                log.warning(
                    "a marker names %r, a class the model does not know (it knows %d: %s); such trials are "
                    "left out of the accuracy, and all of them are listed when decoding stops",
                    unknown,
                    len(tally.class_names),
                    ", ".join(tally.class_names[:10]) + (" ..." if len(tally.class_names) > 10 else ""),
                )
            if args.jsonl:
                print(json.dumps(prediction.to_json()), flush=True)
            else:
                best = ", ".join(f"{name} {p:.2f}" for name, p in prediction.topk[:3])
                print(f"{prediction.label:24s} [{best}]  {prediction.latency_ms:.1f} ms", flush=True)

    try:
        decoder = OnlineDecoder(
            bundle,
            reader,
            markers,
            mode=args.mode,
            hop_s=args.hop,
            smoothing=args.smoothing,
            device=args.device,
            on_prediction=emit,
        ).start()
    except ValueError:
        reader.stop()
        if markers is not None:
            markers.stop()
        raise
    log.info("decoding %r (%s mode) with %s; Ctrl-C stops", reader.name, args.mode, args.model)
    import time

    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        # The reader logs its health events itself, repeated ones summarized once a second.
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        decoder.stop()
        reader.stop()
        if markers is not None:
            markers.stop()
        if tally.unknown:
            log.warning("%s", tally.mismatch_text())
        if tally.known or tally.unknown:
            log.info("%s", tally.accuracy_text())
        log.info("stopped; skipped epochs: %s", decoder.skipped or "none")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.exists():
        raise SystemExit(f"error: {path} does not exist")
    _print_summary(path)
    return 0


def _print_summary(path: Path) -> None:
    from rtdecode.io.summary import summarize_xdf

    print(summarize_xdf(path))


def _cmd_replay(args: argparse.Namespace) -> int:
    import math
    import time

    from rtdecode.streams.player import DriverEmulation, Player, replay_source

    if args.speed == 0 and not args.wait_for_consumer:
        raise ValueError(
            "--speed 0 pushes the whole recording at once and exits, before any consumer can connect "
            "to the new streams; add --wait-for-consumer S (e.g. 10), or give a speed such as 10"
        )
    recording = replay_source(args.recording, subject=args.subject, events=getattr(args, "events", None))
    driver = None
    if args.emulate_driver:
        driver = DriverEmulation(seed=args.driver_seed, clock_ppm=args.clock_ppm, losses=tuple(args.drop))
    elif args.drop:
        raise ValueError("--drop needs --emulate-driver (only the emulated amplifier withholds samples)")
    player = Player(
        recording,
        args.name,
        speed=args.speed,
        loop=args.loop,
        source_id=args.source_id,
        wait_for_consumers=args.wait_for_consumer,
        driver=driver,
    )
    pace = "as fast as possible" if math.isinf(player.speed) else f"{player.speed:g}x real time"
    log.info(
        "serving EEG stream %r (%d channels, %g Hz, %.1f s%s) and marker stream %r (%d markers) at %s "
        "from %s",
        player.name,
        recording.n_channels,
        recording.sfreq,
        recording.duration_s,
        ", looping" if player.loop else "",
        player.marker_name,
        len(recording.markers),
        pace,
        args.recording,
    )
    try:
        player.start()
        next_report = time.monotonic() + 10.0
        while not player.join(timeout=0.5):
            if time.monotonic() >= next_report:
                p = player.progress()
                log.info(
                    "replayed %.1f / %.1f s (pass %d), %d markers, consumers: %s",
                    p.position_s,
                    p.duration_s,
                    p.loop + 1,
                    p.markers_pushed,
                    "yes" if player.have_consumers() else "none",
                )
                next_report += 10.0
        done = player.progress()
        log.info("replay finished: %d samples, %d markers", done.samples_pushed, done.markers_pushed)
        time.sleep(1.0)  # consumers receive the last chunks before the outlets disappear
    except KeyboardInterrupt:
        log.info("replay stopped (Ctrl-C)")
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        player.close()
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    import signal
    import time

    from rtdecode.streams.recorder import Recorder, StreamNotFoundError

    out = Path(args.out)
    if out.suffix.lower() != ".xdf":
        raise SystemExit(f"error: --out must end in .xdf, got {out}")
    refuse_to_replace(out, args.overwrite, "recording")
    recorder = Recorder(out, args.streams or None, resolve_timeout=args.timeout, overwrite=args.overwrite)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a polite kill finalizes the file like Ctrl-C

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        try:
            recorder.start()
        except StreamNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        log.info(
            "recording to %s; %s", out, "Ctrl-C to stop" if args.duration is None else f"{args.duration:g} s"
        )
        end = time.monotonic() + (args.duration if args.duration is not None else float("inf"))
        next_report = time.monotonic() + 10.0
        try:
            while time.monotonic() < end and not recorder.failed:
                time.sleep(max(0.0, min(0.25, end - time.monotonic())))
                if time.monotonic() >= next_report:
                    log.info("recorded %s", ", ".join(f"{s.name!r}: {s.n_samples}" for s in recorder.stats()))
                    next_report += 10.0
        except KeyboardInterrupt:
            log.info("stopping (interrupted); finalizing %s", out)
        try:
            stats = recorder.stop()
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"wrote {out}")
    for s in stats:
        note = f"  ({s.error})" if s.error else ""
        print(f"  {s.name} [{s.type}]: {s.n_samples} samples, {s.n_clock_offsets} clock offsets{note}")
    return 0


def _add_stream_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``replay`` and ``record`` subcommands (LSL edges)."""
    p = add(
        "replay",
        _cmd_replay,
        "serve a recording as live LSL streams",
        "Replay a recording as an EEG outlet (float32, microvolts, channel labels) and a marker\n"
        "outlet NAME-markers, at real-time pace or faster, until its end (or forever with --loop).\n"
        "Timestamps start at the local LSL clock and keep the original spacing (of the smoothed time\n"
        "base) at any speed, so epochs cut by timestamp are the recorded ones. Takes an .xdf file, or\n"
        "an ImageNet-EEG .pth file with --subject.\n\n"
        "--emulate-driver makes the EEG outlet behave like a real amplifier connector, to test a\n"
        "pipeline against real-world timing: a driver wakes every 10-30 ms, takes what the device\n"
        "delivered 1-8 ms before and pushes it without timestamps (liblsl stamps it at push time),\n"
        "the device clock runs --clock-ppm off the nominal rate, and --drop withholds samples.",
    )
    p.add_argument(
        "recording",
        help="an .xdf recording, a BrainVision/EDF/BDF/FIF/EEGLAB/BIDS file, or an ImageNet-EEG .pth file "
        "(with --subject)",
    )
    p.add_argument(
        "--events",
        default=None,
        help="for BrainVision/EDF/BDF/FIF/EEGLAB/BIDS files (read with MNE): stimulus codes and classes, "
        "e.g. 'S1=house,S2=face'",
    )
    p.add_argument(
        "--speed",
        type=at_least(0),
        default=1.0,
        help="1 real time, 4 four times faster, 0 as fast as possible (needs --wait-for-consumer)",
    )
    p.add_argument("--loop", action="store_true", help="start again at the end until Ctrl-C")
    p.add_argument("--name", default="rtdecode-replay", help="EEG stream name (default: %(default)s)")
    p.add_argument("--source-id", default=None, help="EEG source_id (default: rtdecode-replay-NAME)")
    p.add_argument("--subject", type=int, default=None, help="subject to replay from an ImageNet-EEG file")
    p.add_argument(
        "--wait-for-consumer",
        type=at_least(0),
        default=0.0,
        metavar="S",
        help="wait up to S seconds for consumers of both streams before pushing (default: push at once)",
    )
    p.add_argument(
        "--emulate-driver",
        action="store_true",
        help="push like an amplifier connector: jittered push-time stamps, device clock drift",
    )
    p.add_argument(
        "--clock-ppm",
        type=float,
        default=50.0,
        help="--emulate-driver: device clock error in ppm (default: %(default)s)",
    )
    p.add_argument(
        "--driver-seed",
        type=int,
        default=0,
        help="--emulate-driver: seed of the timing (default: %(default)s)",
    )
    p.add_argument(
        "--drop",
        type=_loss,
        action="append",
        default=[],
        metavar="T:N",
        help="--emulate-driver: withhold N samples T seconds into the recording (repeatable)",
    )

    p = add(
        "record",
        _cmd_record,
        "record LSL streams to an XDF file",
        "Record LSL streams (EEG, markers, anything) to XDF with their clock offsets, like\n"
        "LabRecorder. Each STREAM is name=X, type=Y, source_id=Z or a bare name; by default the\n"
        "first EEG stream and every Markers stream. Writing starts once every stream is\n"
        "connected; the file is flushed every second; Ctrl-C stops and finalizes it.",
    )
    p.add_argument("--out", required=True, help="output .xdf file")
    p.add_argument("streams", nargs="*", metavar="STREAM", help="streams to record (default: EEG + Markers)")
    p.add_argument(
        "--duration", type=positive(), default=None, help="stop after this many seconds (default: Ctrl-C)"
    )
    p.add_argument(
        "--timeout",
        type=positive(),
        default=10.0,
        help="seconds to wait for the streams (default: %(default)s)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


# Reconstruction: pregenerate / figure (rtdecode.reconstruct) -----------------------------------


def _add_generator_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument(
        "--pipeline",
        required=required,
        default=None,
        metavar="PATH",
        help="diffusers pipeline folder, .safetensors/.ckpt checkpoint, or a model id already in the local "
        "Hugging Face cache (nothing is downloaded)"
        + ("" if required else "; without it the calibration exemplars are shown"),
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
    p.add_argument("--device", type=device, default="auto", help="auto (GPU when present), cpu, cuda ...")


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
    from rtdecode.streams.player import replay_source

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
        recording = replay_source(recording_path, subject=args.subject)
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


def _add_reconstruct_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``pregenerate`` and ``figure`` subcommands (text-to-image reconstruction)."""
    p = add(
        "pregenerate",
        _cmd_pregenerate,
        "generate images for every class of a model before a session",
        "Generate --per-class images for every class of a model bundle with a local diffusion\n"
        "pipeline (prompt: 'an image of a <class>') into a cache folder, as PNG files with an\n"
        "index.json (class, prompt, seed, steps, pipeline). During a session, cached classes are\n"
        "shown at once. Images already there with the same seed and settings are kept, so an\n"
        "interrupted run resumes. Nothing is downloaded.",
    )
    p.add_argument("--model", required=True, help="model bundle folder (from rtdecode calibrate)")
    p.add_argument(
        "--per-class", type=positive(int), default=1, help="images per class (default: %(default)s)"
    )
    p.add_argument("--out", default=None, help="cache folder (default: MODEL/images)")
    _add_generator_options(p, required=True)

    p = add(
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
    p.add_argument("--subject", type=int, default=None, help="subject to read from an ImageNet-EEG file")
    p.add_argument(
        "--decode-device", type=device, default="auto", help="device of the EEG decoder (default: auto)"
    )
    _add_generator_options(p, required=False)


def _loss(text: str) -> tuple[float, int]:
    """``T:N`` -> (seconds, samples) for ``replay --drop``."""
    try:
        at, count = text.split(":")
        return float(at), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected T:N (seconds:samples, e.g. 20:100), got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtdecode",
        description=(
            "Real-time decoding of visual categories from EEG over Lab Streaming Layer, after "
            "Ferrante et al. (CNN student on EEG spectrograms distilled from a CLIP teacher)."
        ),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also log debug messages, library messages and tracebacks to stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str, description: str):
        p = sub.add_parser(
            name,
            help=help_text,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(handler=handler)
        return p

    p = add(
        "simulate",
        _cmd_simulate,
        "write a simulated calibration session to XDF",
        "Simulate a subject watching images under the paper's protocol (40 classes x 50 images,\n"
        "0.5 s each, 25 s blocks, 10 s breaks) and write EEG (128 channels, 1000 Hz, microvolts)\n"
        "and JSON stimulus markers to an XDF file, plus the stimulus images to <OUT stem>_images/.\n"
        "Much faster than real time. The same seed gives the same session.",
    )
    p.add_argument("--out", default=None, help="output .xdf file (not with --live)")
    p.add_argument(
        "--live", action="store_true", help="stream in real time over LSL instead of writing a file"
    )
    p.add_argument("--name", default="rtdecode-sim", help="--live: EEG stream name (markers: NAME-markers)")
    p.add_argument(
        "--follow",
        default=None,
        metavar="STREAM",
        help="--live: respond to the images announced by this external marker stream (a stimulus presenter) "
        "instead of running the simulated protocol",
    )
    p.add_argument("--loop", action="store_true", help="--live: restart the protocol when it ends")
    p.add_argument(
        "--timeout",
        type=positive(),
        default=10.0,
        help="--follow: seconds to wait for the stream (default: 10)",
    )
    p.add_argument("--subject", type=int, default=1, help="subject number (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the experiment (default: %(default)s)")
    p.add_argument(
        "--minutes",
        type=positive(),
        default=None,
        help="truncate the session to about this many minutes (whole blocks)",
    )
    p.add_argument(
        "--snr",
        type=at_least(0),
        default=None,
        help="signal-to-noise of the evoked responses (default: simulator's)",
    )
    p.add_argument(
        "--classes", type=positive(int), default=40, help="number of classes (default: %(default)s)"
    )
    p.add_argument(
        "--images-per-class", type=positive(int), default=50, help="images per class (default: %(default)s)"
    )
    p.add_argument(
        "--line-freq", type=float, default=50.0, choices=[50.0, 60.0], help="mains frequency in Hz"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    p = add(
        "info",
        _cmd_info,
        "summarize a recording",
        "Print a recording's summary: its streams (name, type, channels, rate, samples), the EEG\n"
        "duration, stimulus markers per class, blocks, and its timing on the smoothed time base that\n"
        "calibration and decoding use: effective sampling rate, timestamp jitter (SD of the raw stamps\n"
        "around the smoothed ones) and true gaps (samples not delivered; late chunks are not gaps).",
    )
    p.add_argument("file", help="an .xdf file")

    p = add(
        "predict",
        _cmd_predict,
        "decode every stimulus of a recording with a model bundle",
        "Decode a recording offline, as fast as the machine allows, with exactly the features the live\n"
        "decoder computes for the same samples. One line per stimulus marker; with --jsonl, a JSON\n"
        "object with marker, label, topk ([class, probability]...), t_last_sample and latency_ms\n"
        "(compute time per epoch here). The accuracy against the markers' classes goes to stderr; markers\n"
        "of classes the model does not know are named in a warning and left out of it.",
    )
    p.add_argument(
        "recording",
        help=".xdf file, a BrainVision/EDF/BDF/FIF/EEGLAB/BIDS file, or an ImageNet-EEG .pth file",
    )
    p.add_argument(
        "--events",
        default=None,
        help="for BrainVision/EDF/BDF/FIF/EEGLAB/BIDS files (read with MNE): stimulus codes and classes, "
        "e.g. 'S1=house,S2=face'",
    )
    p.add_argument("--model", required=True, help="model bundle folder (from rtdecode calibrate)")
    p.add_argument("--jsonl", action="store_true", help="print JSON lines")
    p.add_argument("--subject", type=int, default=None, help="subject to read from an ImageNet-EEG file")
    p.add_argument("--device", type=device, default="auto", help="auto (GPU when present), cpu, cuda ...")
    add_latency_option(p)

    p = add(
        "live",
        _cmd_live,
        "decode a live LSL stream",
        "Decode a live EEG stream. Marker-locked mode: one prediction per stimulus marker once its\n"
        "epoch has fully arrived. Sliding mode: every --hop seconds, the latest epoch, no markers.\n"
        "The stream's rate, channel count and names are checked against the bundle first.\n"
        "With --jsonl, one JSON object per prediction on stdout (marker, label, topk, t_last_sample,\n"
        "latency_ms: from the push at the source of the chunk that carried the epoch's last sample,\n"
        "its LSL stamp, to the prediction; latency_arrival_ms: from its arrival here); logs on stderr.\n"
        "Timestamps: jittered push-time stamps are smoothed on one time base (effective rate\n"
        "estimated); only samples the device did not deliver count as gaps.\n"
        "Streams are given as a name, name=X, type=Y or source_id=Z. A marker of a class the model\n"
        "does not know is named in a warning (once per class) and left out of the accuracy logged at the end.",
    )
    p.add_argument("--model", required=True, help="model bundle folder (from rtdecode calibrate)")
    p.add_argument("--stream", default="type=EEG", help="EEG stream (default: %(default)s)")
    p.add_argument("--markers", default="type=Markers", help="marker stream (default: %(default)s)")
    p.add_argument("--mode", choices=["marker", "sliding"], default="marker", help="default: %(default)s")
    p.add_argument(
        "--hop", type=positive(), default=0.25, help="sliding mode step in seconds (default: %(default)s)"
    )
    p.add_argument(
        "--smoothing",
        type=at_least(0, int),
        default=0,
        help="average the last N predictions for display (default: %(default)s, off)",
    )
    p.add_argument("--jsonl", action="store_true", help="print JSON lines")
    p.add_argument(
        "--duration",
        type=positive(),
        default=None,
        help="stop after this many seconds (default: until Ctrl-C)",
    )
    p.add_argument(
        "--timeout",
        type=positive(),
        default=10.0,
        help="seconds to wait for the streams (default: %(default)s)",
    )
    p.add_argument("--device", type=device, default="auto", help="auto (GPU when present), cpu, cuda ...")
    add_latency_option(p)
    _add_stream_commands(add)
    _add_reconstruct_commands(add)
    _add_plugin_commands(sub)
    for command in sub.choices.values():
        # `rtdecode predict ... -v` works too (errors suggest -v); SUPPRESS keeps a -v given
        # before the subcommand from being reset to False by the subparser's default.
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as `rtdecode -v`"
        )
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    """Subcommands contributed by the other top-level packages (calibration, gui).

    rtdecode must not import them (dependencies point one way), so they register themselves
    through the ``rtdecode.commands`` entry point group declared in pyproject.toml; each entry
    point is a function that adds its subparsers.
    """
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="rtdecode.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as error:  # a broken optional part must not break the whole CLI
            log.warning("subcommand %s unavailable: %s", entry.name, error)
            continue
        register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    from rtdecode.cli_errors import configure_output, run_command

    parser = build_parser()
    args = parser.parse_args(argv)
    configure_output(args.verbose)
    if args.command is None:
        parser.print_help()
        return 2
    return run_command(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
