"""``rtdecode gui`` and ``rtdecode calibrate-gui``: the Qt windows, reachable from the command line.

Registered through the ``rtdecode.commands`` entry-point group (pyproject.toml), so the core
never imports Qt; Qt and the windows are imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
import sys

from calibration.options import add_training_arguments
from rtdecode.cli_args import (
    add_adaptation_option,
    add_class_count_options,
    add_command,
    add_device_option,
    add_events_option,
    add_latency_option,
    add_pipeline_option,
    at_least,
    positive,
)

GUI_DESCRIPTION = """\
Open the live decoding window: choose the EEG and marker streams LSL can see (Refresh lists
them), a model bundle and, optionally, the calibration images to show when no image generator
is available; Connect & start decodes; Record writes the session to XDF. The status bar shows
the stream's health, the decode latency, where the model runs and the window's frame rate.

Example, with no hardware (two terminals):
  rtdecode simulate --live --name sim --loop --classes 10     # the demo's 10 classes
  rtdecode gui --model demo-output/calibration/model --stream sim --markers sim-markers --connect

The EEG and marker streams are those of one source: when several streams share a name (two
replays of one name, two amplifiers of one make), the marker stream of the chosen EEG stream's
source (same host, a source_id or name that extends the EEG's) is selected, the lists show each
one's source_id and the status line names the candidates; when nothing tells them apart, pick the
streams in the lists (Connect refuses the ambiguous names, listing the candidates).

Markers of classes the model does not know are named in a warning and left out of the accuracy.
With --adapt-alignment F the status bar shows the alignment adapting and to how many epochs.
"""

PRESENTER_DESCRIPTION = """\
Open the calibration presenter: shows the stimulus images on the paper's schedule (0.5 s per
image, 25 s blocks, 10 s breaks, random order; all editable), sends a JSON marker over LSL at
every onset (stream 'rtdecode-presenter'), records EEG + markers to OUT/session.xdf, then
trains the subject's model into OUT/calibration/ (report + model/). With --markers STREAM it
presents nothing and records another program's markers instead; plain codes (PsychoPy's "1",
"2"...) need --events to say their classes, e.g. --markers psychopy --events 1=house,2=face.

A short session, with a cross-subject base (`rtdecode pretrain`): --base BASE --trials-per-class N
shows N images of each class (N x classes images, drawn with --seed; the images' classes must be
the base's), then calibrates with the base: every trial of the session calibrates (the last ~20 %
of each class validate), the subject-only, zero-shot and fine-tuned models compete on those
validation trials and the best is saved. There is no test trial left, so the report's scores are
validation scores. The window says when the model is ready to decode, in seconds after the last
image (within a minute for 10 classes x 10 images at 128 channels on a 2-core CPU: the short
session trains no subject-only network, fine-tunes the base's networks for a few epochs and does
not distil). --base without --trials-per-class shows every image and tests on held-out blocks.

Examples:
  rtdecode calibrate-gui --simulate --classes 5 --out runs/sim1      # no hardware needed
  rtdecode calibrate-gui --stream MyAmp --images stimuli/ --out runs/s1
  rtdecode calibrate-gui --stream MyAmp --images stimuli/ --base runs/base --trials-per-class 10 --out runs/s2
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gui`` subcommand."""
    p = add_command(
        sub,
        "gui",
        run_gui,
        "live decoding window (streams, EEG view, prediction, image, recording)",
        GUI_DESCRIPTION,
    )
    p.add_argument("--model", default=None, help="model bundle folder to preselect")
    p.add_argument("--stream", default=None, help="EEG stream to preselect (name, name=, type=, source_id=)")
    p.add_argument("--markers", default=None, help="marker stream to preselect")
    p.add_argument("--images", default=None, help="calibration images folder (images.tsv + images/)")
    add_pipeline_option(
        p,
        "diffusion weights: diffusers folder, checkpoint file or a model id in the local Hugging Face "
        "cache (nothing is downloaded); without it the calibration exemplars are shown",
    )
    p.add_argument("--record-dir", default="recordings", help="where Record writes (default: %(default)s)")
    add_device_option(p, "decoder device: auto, cpu, cuda ... (default: auto)")
    p.add_argument("--connect", action="store_true", help="connect and start as soon as the streams appear")
    add_latency_option(p)
    add_events_option(p)
    add_adaptation_option(p)


def register_presenter(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate-gui`` subcommand."""
    p = add_command(
        sub,
        "calibrate-gui",
        run_presenter,
        "calibration presenter: show images, mark onsets, record, train",
        PRESENTER_DESCRIPTION,
    )
    p.add_argument("--out", default="calibration-session", help="output folder (default: %(default)s)")
    p.add_argument("--images", default=None, help="stimulus folder: images.tsv + images/<image_id>.png")
    p.add_argument("--stream", default=None, help="EEG stream to record")
    p.add_argument("--markers", default=None, help="record this external marker stream instead of presenting")
    add_events_option(
        p,
        help="with --markers: which of that presenter's plain marker codes are stimuli of which class "
        "(CODE=CLASS pairs '1=house,2=face', a mapping file, or a pattern 'stim/{class}/{image}'; "
        "as `rtdecode calibrate --events`)",
    )
    p.add_argument(
        "--simulate", action="store_true", help="the simulated subject is the EEG source (no hardware)"
    )
    add_class_count_options(
        p,
        classes=10,
        classes_help="--simulate: classes (default: %(default)s)",
        images_help="--simulate: images per class (default: %(default)s)",
    )
    p.add_argument(
        "--channels", type=positive(int), default=128, help="--simulate: channels (default: %(default)s)"
    )
    p.add_argument("--image-s", type=positive(), default=0.5, help="seconds per image (default: %(default)s)")
    p.add_argument(
        "--block-s", type=positive(), default=25.0, help="block length in s (default: %(default)s)"
    )
    p.add_argument(
        "--break-s", type=at_least(0), default=10.0, help="break after a block in s (default: %(default)s)"
    )
    p.add_argument(
        "--blocks", type=positive(int), default=None, help="stop after this many blocks (default: all images)"
    )
    p.add_argument("--seed", type=int, default=0, help="presentation order seed (default: %(default)s)")
    g = p.add_argument_group("a short session with a cross-subject base")
    g.add_argument(
        "--base",
        default=None,
        help="a base folder from `rtdecode pretrain`: the session is calibrated with it (its classes must "
        "be the images' classes)",
    )
    g.add_argument(
        "--trials-per-class",
        type=at_least(2, int),
        default=None,
        metavar="N",
        help="with --base: show N images of each class and calibrate on all of them (no test trial: the "
        "report's scores are validation scores); default: every image, held-out blocks tested",
    )
    add_training_arguments(p)
    p.add_argument("--start", action="store_true", help="start the session at once")
    p.add_argument("--fullscreen", action="store_true", help="open the stimulus screen full screen")


DEMO_DESCRIPTION = """\
The main job on the embedded simulated subject, no hardware needed:

  1. simulate a calibration session (EEG + JSON markers to XDF, stimulus images to a folder)
     and print its summary;
  2. calibrate: teacher (--teacher auto: CLIP weights from the local Hugging Face cache, else
     efficientnet-lite0 ImageNet features shipped with the install) on the stimulus images, the
     student CNN distilled from its out-of-fold soft targets and the candidate pipelines on the
     same block split (comparison baselines with --baselines quick or all);
     print the report (top-1/3/5, macro F1, kappa, chance, the simulator's oracle);
  3. decode the session with the saved bundle, as `rtdecode predict` would;
  4. stream the same simulated subject live over LSL and open the live decoding window on it
     (skipped with --no-gui or when there is no display; the command to open it is printed).

The default is a 10-class subset of the paper's 40 (50 images each, about 6 minutes of EEG) so
that it finishes in about 4 minutes on an idle 2-core CPU (the README's measurement);
--classes 40 runs the paper's protocol.
"""


def register_demo(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand (simulate, calibrate, decode, then the live window)."""
    p = add_command(
        sub,
        "demo",
        run_demo,
        "run the main job on the simulated subject (simulate, calibrate, decode live)",
        DEMO_DESCRIPTION,
    )
    p.add_argument("--out", default="demo-output", help="output folder (default: %(default)s)")
    add_class_count_options(p, classes=10, classes_help="number of classes, up to 40 (default: %(default)s)")
    p.add_argument("--subject", type=int, default=1, help="simulated subject (default: %(default)s)")
    add_training_arguments(p)
    p.add_argument("--no-gui", action="store_true", help="stop after decoding the file; open no window")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the session and model of an earlier demo in --out"
    )


def _has_display() -> bool:
    """A window the user can see (offscreen Qt, as in the tests, does not count)."""
    import os

    from gui.display import display_problem

    visible = (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32")
    )
    return bool(visible) and display_problem() is None


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``rtdecode demo``."""
    from pathlib import Path

    from calibration.cli import run_demo as calibrate_demo

    calibrate_demo(args)
    out = Path(args.out)
    model, images = out / "calibration" / "model", out / f"subject{args.subject}_images"
    command = (
        f"rtdecode simulate --live --name sim --loop --classes {args.classes} --images-per-class "
        f"{args.images_per_class} --subject {args.subject}   # and in a second terminal:\n"
        f"  rtdecode gui --model {model} --stream sim --markers sim-markers --images {images} --connect"
    )
    if args.no_gui or not _has_display():
        print(f"\nNo window (no display or --no-gui). To decode the subject live:\n  {command}")
        return 0

    import uuid

    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.live import LiveSimulator

    print("[4/4] streaming the simulated subject live and opening the decoding window (close it to end)...")
    name = f"demo-sim-{uuid.uuid4().hex[:6]}"
    config = SimulationConfig(
        n_classes=args.classes, images_per_class=args.images_per_class, subject=args.subject
    )
    simulator = LiveSimulator(config, name=name, loop=True).start()
    try:
        return run_gui(
            argparse.Namespace(
                model=str(model),
                stream=name,
                markers=f"{name}-markers",
                images=str(images),
                record_dir=str(out / "recordings"),
                device="auto",
                pipeline=None,
                connect=True,
            )
        )
    finally:
        simulator.stop()


def _app():
    """The QApplication (created once), with pyqtgraph's fast settings."""
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("rtdecode")
    pg.setConfigOptions(antialias=False, foreground="k")
    return app


def _require_display() -> None:
    """Refuse in one line, before Qt aborts the process with its own advice, when no window can open."""
    from gui.display import display_problem

    problem = display_problem()
    if problem is not None:
        raise SystemExit(f"error: {problem}")


def run_gui(args: argparse.Namespace) -> int:
    """Handler of ``rtdecode gui``."""
    _require_display()
    app = _app()
    from gui.live_window import LiveWindow

    window = LiveWindow(
        model=args.model,
        eeg=args.stream,
        markers=args.markers,
        exemplar_dir=args.images,
        record_dir=args.record_dir,
        device=args.device,
        pipeline=args.pipeline,
        latency_ms=getattr(args, "latency_ms", None),
        events=getattr(args, "events", None),
        adaptation=getattr(args, "adapt_alignment", "bundle"),
    )
    if args.connect:
        # Connect once the first listing has filled the stream choices.
        def connect_once(_: int) -> None:
            window.picker.listed.disconnect(connect_once)
            window.start_session()

        window.picker.listed.connect(connect_once)
    window.show()
    return app.exec()


def run_presenter(args: argparse.Namespace) -> int:
    """Handler of ``rtdecode calibrate-gui``."""
    from gui.presenter_session import TrainingOptions
    from gui.protocol import ProtocolConfig

    if args.trials_per_class is not None and args.base is None:
        raise SystemExit(
            "error: --trials-per-class needs --base (a few trials per class are calibrated from a cross-subject base)"
        )
    protocol = ProtocolConfig(
        image_s=args.image_s,
        block_s=args.block_s,
        break_s=args.break_s,
        max_blocks=args.blocks,
        seed=args.seed,
        trials_per_class=args.trials_per_class,
    )
    simulate = None
    if args.simulate:
        from rtdecode.sim.config import SimulationConfig

        simulate = SimulationConfig(
            n_classes=args.classes, images_per_class=args.images_per_class, n_channels=args.channels
        )
    # A thread waiting for the GIL gets it within 1 ms instead of 5: the GUI thread's onsets
    # compete with the recorder's and the simulator's Python threads.
    sys.setswitchinterval(0.001)
    _require_display()
    app = _app()
    from gui.presenter import PresenterWindow

    window = PresenterWindow(
        out_dir=args.out,
        stimuli_dir=args.images,
        simulate=simulate,
        eeg=args.stream,
        external_markers=args.markers,
        protocol=protocol,
        training=TrainingOptions(
            teacher=args.teacher,
            teacher_weights=args.teacher_weights,
            max_epochs=args.max_epochs,
            patience=args.patience,
            baselines=args.baselines,
            alpha=args.alpha,
            temperature=args.temperature,
            soft_target_folds=args.soft_target_folds,
        ),
        base=args.base,
        events=args.events,
    )
    window.show()
    if args.fullscreen:
        window.toggle_full_screen()
    if args.start:
        if args.simulate or args.stream:
            window.start()
        else:
            # The EEG stream may be typed only after the first listing: start once it is done.
            def start_once(_: int) -> None:
                window.picker.listed.disconnect(start_once)
                window.start()

            window.picker.listed.connect(start_once)
    return app.exec()
