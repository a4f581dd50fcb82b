"""Screenshots of both windows during a session on the simulated subject, and their numbers.

1. The calibration presenter runs a short session (128 channels, 1000 Hz) with the simulated
   subject following its markers, is photographed mid-block (``docs/presenter.png``), trains a
   model and is photographed again (``docs/presenter-trained.png``); the onset timing (marker
   timestamps vs. the schedule) is printed.
2. The live window decodes the same simulated subject, streaming its own protocol from another
   process (as an amplifier's LSL app would), with that model; its frame rate is measured with all 128 channels on screen and with the
   occipito-parietal group, and it is photographed (``docs/live-window.png``).

Run under a real X server for true rendering costs (Xvfb works)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py

Numbers go to stdout and to ``OUT/measurements.json`` (OUT: ``--out``, default a temp folder).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

log = logging.getLogger("screenshots")


def wait(predicate, timeout: float) -> bool:
    """Run the Qt event loop (a real one: timers fire on time) until ``predicate()`` or timeout."""
    from PySide6 import QtCore

    deadline = time.monotonic() + timeout
    loop = QtCore.QEventLoop()
    timer = QtCore.QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: loop.quit() if predicate() or time.monotonic() > deadline else None)
    timer.start()
    if not predicate():
        loop.exec()
    timer.stop()
    return bool(predicate())


def run_presenter(args, out: Path, docs: Path, measurements: dict) -> Path:
    from gui.presenter import PresenterWindow
    from gui.presenter_session import TrainingOptions
    from gui.protocol import ProtocolConfig
    from rtdecode.sim.config import SimulationConfig

    simulation = SimulationConfig(
        n_classes=args.classes, images_per_class=args.images_per_class, n_channels=128, snr=args.snr
    )
    protocol = ProtocolConfig(image_s=0.5, block_s=args.block_s, break_s=args.break_s, lead_in_s=1.0)
    window = PresenterWindow(
        out_dir=out / f"calibration-{uuid.uuid4().hex[:6]}",
        simulate=simulation,
        protocol=protocol,
        training=TrainingOptions(
            teacher=args.teacher, max_epochs=args.max_epochs, patience=args.patience, baselines="none"
        ),
    )
    window.resize(1600, 1000)
    window.show()
    wait(lambda: window.picker.choices or not window.picker.discoverer.busy, 5)
    window.start()
    if not wait(lambda: window.state == "presenting", 60):
        raise SystemExit(f"the presenter did not start: {window.banner.text}")
    n_trials = len(window.session.schedule.trials)
    # Mid-session, with an image on screen.
    wait(lambda: len(window.session.timing) >= n_trials // 2 and window.view.image is not None, 300)
    wait(lambda: window.view.image is not None and not window._in_break, 30)
    window.grab().save(str(docs / "presenter.png"))
    log.info("saved %s", docs / "presenter.png")
    if not wait(lambda: window.state in ("training", "done", "failed"), 600):
        raise SystemExit("the session did not end")
    timing = window.session.timing_summary()
    measurements["presenter_onsets"] = timing
    log.info("onset timing vs. schedule: %s", timing)
    if not wait(lambda: window.state in ("done", "failed"), 1800):
        raise SystemExit("training did not end")
    if window.state != "done":
        raise SystemExit(f"training failed: {window.banner.text}")
    window.grab().save(str(docs / "presenter-trained.png"))
    measurements["calibration"] = {
        k: window.result.report[k] for k in ("n_epochs", "n_test", "chance_top1", "seconds")
    }
    measurements["calibration"]["results"] = window.result.report["results"]
    bundle = window.bundle_path
    window.close()
    return bundle


def run_live(args, bundle: Path, out: Path, docs: Path, measurements: dict) -> None:
    from gui.live_window import LiveWindow

    name = f"sim-{uuid.uuid4().hex[:6]}"
    # The subject streams from its own process, as an amplifier's LSL app would.
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtdecode.cli",
            "simulate",
            "--live",
            "--loop",
            "--name",
            name,
            "--classes",
            str(args.classes),
            "--images-per-class",
            str(args.images_per_class),
            "--snr",
            str(args.snr),
        ]
    )
    window = LiveWindow(model=bundle, eeg=name, markers=f"{name}-markers", record_dir=out / "recordings")
    window.resize(1600, 1000)
    window.show()
    try:
        if not wait(lambda: any(c.name == name for c in window.picker.choices), 10):
            window.picker.refresh()
            wait(lambda: any(c.name == name for c in window.picker.choices), 10)
        window.start_session()
        if not wait(lambda: window.state == "running", 60):
            raise SystemExit(f"the live window did not start: {window.banner.text}")
        wait(lambda: window.n_predictions >= 3, 60)
        fps = {}
        for group in ("all", "occipito-parietal"):
            window.group_combo.setCurrentText(group)
            wait(lambda: False, 2.0)  # settle
            start_frames, start_predictions, started = (
                window.meter.frames,
                window.n_predictions,
                time.monotonic(),
            )
            wait(lambda: False, args.measure_s)
            elapsed = time.monotonic() - started
            fps[group] = {
                "channels": len(window.eeg_view.selected_channels),
                "fps": (window.meter.frames - start_frames) / elapsed,
                "ms_per_frame": window.meter.frame_ms,
                "max_ms_per_frame": window.meter.max_frame_ms,
                "predictions_per_s": (window.n_predictions - start_predictions) / elapsed,
            }
            log.info("frame rate with %s: %s", group, fps[group])
        measurements["live_window"] = fps
        measurements["decode_latency"] = window.latency_label.text()
        window.record_button.click()
        wait(lambda: window.recording_path is not None, 20)
        wait(lambda: False, 3.0)
        window.grab().save(str(docs / "live-window.png"))
        log.info("saved %s", docs / "live-window.png")
        window.stop_session()
        wait(lambda: window.state == "idle", 20)
    finally:
        window.close()
        sim.terminate()
        sim.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", default="docs", help="where the screenshots go (default: %(default)s)")
    parser.add_argument("--out", default=None, help="session files and measurements (default: a temp folder)")
    parser.add_argument("--model", default=None, help="use this bundle instead of calibrating one")
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--images-per-class", type=int, default=20)
    parser.add_argument("--snr", type=float, default=3.0, help="simulated evoked strength (demo: clear)")
    parser.add_argument("--block-s", type=float, default=10.0)
    parser.add_argument("--break-s", type=float, default=2.0)
    parser.add_argument("--teacher", default="efficientnet-lite0")
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--measure-s", type=float, default=10.0, help="seconds per frame-rate measurement")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sys.setswitchinterval(0.001)  # as `rtdecode calibrate-gui` does, for onset timing

    from gui.cli import _app

    app = _app()
    docs = Path(args.docs)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rtdecode-screenshots-"))
    docs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    measurements: dict = {"platform": app.platformName()}
    bundle = Path(args.model) if args.model else run_presenter(args, out, docs, measurements)
    run_live(args, bundle, out, docs, measurements)
    (out / "measurements.json").write_text(json.dumps(measurements, indent=2))
    print(json.dumps(measurements, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
