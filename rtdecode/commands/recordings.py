"""``rtdecode simulate``, ``info`` and ``predict``: recordings on disk, written, summarized, decoded."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from rtdecode.cli_args import (
    add_adaptation_option,
    add_blocks_option,
    add_class_count_options,
    add_command,
    add_device_option,
    add_events_option,
    add_jsonl_option,
    add_latency_option,
    add_model_option,
    add_recording_arguments,
    add_subject_option,
    at_least,
    positive,
    read_recording_for_model,
    recording_options,
    refuse_to_replace,
    with_latency,
)

log = logging.getLogger("rtdecode")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``simulate``, ``info`` and ``predict``."""
    p = add_command(
        sub,
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
    add_class_count_options(p, classes=40, classes_help="number of classes (default: %(default)s)")
    p.add_argument(
        "--line-freq", type=float, default=50.0, choices=[50.0, 60.0], help="mains frequency in Hz"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    p = add_command(
        sub,
        "info",
        _cmd_info,
        "summarize a recording",
        "Print a recording's summary: its streams (name, type, channels, rate, samples), the EEG\n"
        "duration, stimulus markers per class, every plain marker code with its count, blocks, and\n"
        "its timing on the smoothed time base that\n"
        "calibration and decoding use: effective sampling rate, timestamp jitter (SD of the raw stamps\n"
        "around the smoothed ones), pauses between runs (the stream stopped and resumed) and true gaps\n"
        "(samples not delivered; late chunks and pauses are not gaps).",
    )
    p.add_argument(
        "file", help="a recording: .xdf, a file MNE reads, an ImageNet-EEG .pth file or THINGS-EEG2 data"
    )
    add_events_option(p)
    add_subject_option(p)
    add_blocks_option(p)

    p = add_command(
        sub,
        "predict",
        _cmd_predict,
        "decode every stimulus of a recording with a model bundle",
        "Decode a recording offline, as fast as the machine allows, with exactly the features the live\n"
        "decoder computes for the same samples. One line per stimulus marker; with --jsonl, a JSON\n"
        "object with marker, label, topk ([class, probability]...), t_last_sample and latency_ms\n"
        "(compute time per epoch here). The accuracy against the markers' classes goes to stderr; markers\n"
        "of classes the model does not know are named in a warning and left out of it.",
    )
    add_recording_arguments(
        p, ".xdf file, a BrainVision/EDF/BDF/FIF/EEGLAB/BIDS file, or an ImageNet-EEG .pth file"
    )
    add_model_option(p)
    add_jsonl_option(p)
    add_subject_option(p)
    add_blocks_option(p)
    add_device_option(p)
    add_latency_option(p)
    add_adaptation_option(p)


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
    _print_summary(out, {})
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


def _cmd_info(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.exists():
        raise SystemExit(f"error: {path} does not exist")
    _print_summary(path, recording_options(args))
    return 0


def _print_summary(path: Path, options: dict[str, Any]) -> None:
    from rtdecode.io.summary import summarize_file

    print(summarize_file(path, **options))


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from rtdecode.decoder import predict_recording
    from rtdecode.io.bundle import load_bundle
    from rtdecode.scoring import ClassTally

    bundle = with_latency(load_bundle(args.model), args.latency_ms)
    recording = read_recording_for_model(args.recording, args, bundle)
    _check_decodable(recording, args.recording)
    predictions = predict_recording(bundle, recording, device=args.device, adaptation=args.adapt_alignment)
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
        from rtdecode.io.marker_mapping import marker_codes, no_stimuli_message

        raise ValueError(no_stimuli_message(marker_codes(recording.markers), path))
