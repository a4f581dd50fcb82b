"""``rtdecode live``, ``replay`` and ``record``: the commands at the LSL edge."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rtdecode.cli_args import (
    add_adaptation_option,
    add_blocks_option,
    add_command,
    add_device_option,
    add_duration_option,
    add_events_option,
    add_jsonl_option,
    add_latency_option,
    add_model_option,
    add_recording_arguments,
    add_subject_option,
    add_timeout_option,
    at_least,
    positive,
    recording_options,
    refuse_to_replace,
    with_latency,
)

log = logging.getLogger("rtdecode")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``live``, ``replay`` and ``record``."""
    p = add_command(
        sub,
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
        "Streams are given as a name, name=X, type=Y or source_id=Z. The EEG and marker streams are\n"
        "those of one source: when a query matches several streams (two outlets of one name), the\n"
        "marker stream on the EEG stream's host whose source_id or name extends the EEG's is taken,\n"
        "the candidates and the choice are logged, and when nothing tells them apart the command\n"
        "stops with the list; --source-id or --host names the source. A marker of a class the model\n"
        "does not know is named in a warning (once per class) and left out of the accuracy logged at the end.\n"
        "Plain marker codes (a presenter's '1', '2') are read with --events, or with the mapping the model\n"
        "was calibrated with.\n"
        "With --adapt-alignment F, each epoch updates the model's spatial alignment before it is decoded\n"
        "(unsupervised: channel gains and impedances may change during a session); the number of\n"
        "epochs it has adapted to is logged at the end.",
    )
    add_model_option(p)
    p.add_argument("--stream", default="type=EEG", help="EEG stream (default: %(default)s)")
    p.add_argument("--markers", default="type=Markers", help="marker stream (default: %(default)s)")
    _add_source_options(p)
    add_events_option(p)
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
    add_jsonl_option(p)
    add_duration_option(p, "stop after this many seconds (default: until Ctrl-C)")
    add_timeout_option(p)
    add_device_option(p)
    add_latency_option(p)
    add_adaptation_option(p)

    p = add_command(
        sub,
        "replay",
        _cmd_replay,
        "serve a recording as live LSL streams",
        "Replay a recording as an EEG outlet (float32, microvolts, channel labels) and a marker\n"
        "outlet NAME-markers, at real-time pace or faster, until its end (or forever with --loop).\n"
        "A stream of either name already on the network is warned about (consumers that choose by\n"
        "name may mix the two sources); without --source-id this replay then gets a source_id of its\n"
        "own, so that `rtdecode live --source-id` can tell them apart.\n"
        "Timestamps start at the local LSL clock and keep the original spacing (of the smoothed time\n"
        "base) at any speed, so epochs cut by timestamp are the recorded ones. Takes an .xdf file, or\n"
        "an ImageNet-EEG .pth file with --subject. Markers are served as recorded; with --events, the\n"
        "plain codes it maps are served as the project's JSON stimulus markers; with --blocks, each\n"
        "stimulus marker names the block that rule gives it.\n\n"
        "--emulate-driver makes the EEG outlet behave like a real amplifier connector, to test a\n"
        "pipeline against real-world timing: a driver wakes every 10-30 ms, takes what the device\n"
        "delivered 1-8 ms before and pushes it without timestamps (liblsl stamps it at push time),\n"
        "the device clock runs --clock-ppm off the nominal rate, and --drop withholds samples.",
    )
    add_recording_arguments(
        p,
        "an .xdf recording, a BrainVision/EDF/BDF/FIF/EEGLAB/BIDS file, or an ImageNet-EEG .pth file "
        "(with --subject)",
    )
    p.add_argument(
        "--speed",
        type=at_least(0),
        default=1.0,
        help="1 real time, 4 four times faster, 0 as fast as possible (needs --wait-for-consumer)",
    )
    p.add_argument("--loop", action="store_true", help="start again at the end until Ctrl-C")
    p.add_argument("--name", default="rtdecode-replay", help="EEG stream name (default: %(default)s)")
    p.add_argument(
        "--source-id",
        default=None,
        help="EEG source_id (default: rtdecode-replay-NAME, or a unique one when that is in use)",
    )
    add_subject_option(p, "subject to replay from an ImageNet-EEG file")
    add_blocks_option(p)
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

    p = add_command(
        sub,
        "record",
        _cmd_record,
        "record LSL streams to an XDF file",
        "Record LSL streams (EEG, markers, anything) to XDF with their clock offsets, like\n"
        "LabRecorder. Each STREAM is name=X, type=Y, source_id=Z or a bare name; by default the\n"
        "EEG stream and the Markers streams of its source (with several EEG streams, the most\n"
        "recently started; marker streams of another EEG source are left out, and the choice is\n"
        "logged). Named streams are those of one source too, as in `rtdecode live`; --source-id or\n"
        "--host names the source. Writing starts once every stream is connected; the file is flushed\n"
        "every second; Ctrl-C stops and finalizes it.",
    )
    p.add_argument("--out", required=True, help="output .xdf file")
    p.add_argument("streams", nargs="*", metavar="STREAM", help="streams to record (default: EEG + Markers)")
    _add_source_options(p)
    add_duration_option(p, "stop after this many seconds (default: Ctrl-C)")
    add_timeout_option(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def _add_source_options(p: argparse.ArgumentParser) -> None:
    """``--source-id`` and ``--host``: which source's streams, when several sources match."""
    p.add_argument(
        "--source-id",
        default=None,
        metavar="ID",
        help="take the source whose EEG stream has this source_id (its markers: ID-markers when present)",
    )
    p.add_argument(
        "--host",
        default=None,
        help="take the source on this host (a marker stream only on another computer is still taken)",
    )


def _loss(text: str) -> tuple[float, int]:
    """``T:N`` -> (seconds, samples) for ``replay --drop``."""
    try:
        at, count = text.split(":")
        return float(at), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected T:N (seconds:samples, e.g. 20:100), got {text!r}"
        ) from None


def _cmd_live(args: argparse.Namespace) -> int:
    import json
    import time

    from rtdecode.io.bundle import load_bundle
    from rtdecode.streams.live_session import LiveSession

    bundle = with_latency(load_bundle(args.model), args.latency_ms)

    def emit(prediction) -> None:  # in the decode worker, after the session has counted it
        if args.jsonl:
            print(json.dumps(prediction.to_json()), flush=True)
        else:
            best = ", ".join(f"{name} {p:.2f}" for name, p in prediction.topk[:3])
            ms = prediction.latency_ms
            latency = "latency not measurable" if ms is None else f"{ms:.1f} ms"
            print(f"{prediction.label:24s} [{best}]  {latency}", flush=True)

    session = LiveSession(
        bundle,
        stream=args.stream,
        markers=args.markers,
        events=args.events,
        mode=args.mode,
        hop_s=args.hop,
        smoothing=args.smoothing,
        device=args.device,
        source_id=args.source_id,
        host=args.host,
        timeout=args.timeout,
        on_prediction=emit,
        adaptation=args.adapt_alignment,
    )
    with session:
        log.info("decoding %r (%s mode) with %s; Ctrl-C stops", session.reader.name, args.mode, args.model)
        if session.adaptation is not None:
            log.info(
                "the spatial alignment adapts to the stream (f=%g, time constant ~%.0f epochs)",
                session.adaptation,
                1 / session.adaptation,
            )
        deadline = time.monotonic() + args.duration if args.duration else None
        try:
            # The reader logs its health events itself, repeated ones summarized once a second.
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    tally = session.tally
    if tally.unknown:
        log.warning("%s", tally.mismatch_text())
    if tally.known or tally.unknown:
        log.info("%s", tally.accuracy_text())
    log.info("stopped; skipped epochs: %s", session.decoder.skipped or "none")
    if session.adaptation is not None:
        log.info("%s", session.decoder.decoder.adaptation_text())
    if session.mode == "marker" and session.decoder.unmatched and not (tally.known or tally.unknown):
        print(f"error: {_no_stimuli(session)}", file=sys.stderr)
        return 1
    return 0


def _no_stimuli(session) -> str:
    """Why a marker-locked session decoded nothing although markers came: the codes and the option."""
    from rtdecode.io.marker_mapping import format_codes, no_stimuli_message

    where = f"marker stream {session.marker_reader.name!r}"
    codes = session.decoder.unmatched
    if session.mapping is None:
        return no_stimuli_message(codes, where)
    return (
        f"none of the codes of --events {session.mapping.spec} came on {where}; it sent {format_codes(codes)}"
    )


def _cmd_replay(args: argparse.Namespace) -> int:
    import math
    import time

    from rtdecode.io import read_recording
    from rtdecode.streams.lsl_utils import outlet_source_id
    from rtdecode.streams.player import DriverEmulation, Player, marker_stream_name

    if args.speed == 0 and not args.wait_for_consumer:
        raise ValueError(
            "--speed 0 pushes the whole recording at once and exits, before any consumer can connect "
            "to the new streams; add --wait-for-consumer S (e.g. 10), or give a speed such as 10"
        )
    recording = read_recording(args.recording, **recording_options(args))
    if args.blocks is not None:
        recording.markers = recording.markers_with_blocks()
        blocks, source = recording.blocks()
        log.info("stimulus markers name their blocks: %d (%s)", len(set(blocks.tolist())), source)
    driver = None
    if args.emulate_driver:
        driver = DriverEmulation(seed=args.driver_seed, clock_ppm=args.clock_ppm, losses=tuple(args.drop))
    elif args.drop:
        raise ValueError("--drop needs --emulate-driver (only the emulated amplifier withholds samples)")
    # A second outlet of this name is warned about (and gets a source_id of its own) before it exists.
    source_id = outlet_source_id(
        [args.name, marker_stream_name(args.name)],
        args.source_id,
        f"rtdecode-replay-{args.name}",
        what="replay",
    )
    player = Player(
        recording,
        args.name,
        speed=args.speed,
        loop=args.loop,
        source_id=source_id,
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
    recorder = Recorder(
        out,
        args.streams or None,
        resolve_timeout=args.timeout,
        source_id=args.source_id,
        host=args.host,
        overwrite=args.overwrite,
    )

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
