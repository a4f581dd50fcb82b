"""How soon a short session is ready to decode: ``calibrate-gui --base BASE --trials-per-class N``.

What a lab does, headless (Qt offscreen): a cross-subject base from a few other simulated
subjects (``rtdecode pretrain``, once, before the session; reused from ``--base`` or from the work
folder), then the presenter with that base and ``N`` images per class on the paper's timing
(0.5 s images, 25 s blocks, 10 s breaks, in real time), the simulated subject following its
markers at the paper's montage (128 channels, 1000 Hz), recording, then calibrating with the base.
The figure is the one a lab waits on: seconds from the last image's onset to the window saying the
model is ready to decode (the saved bundle's seconds, from the report, next to it), with the
report's seconds per path and candidate so that the slow part is visible.

The machine is shared: the load average is printed next to the figures (and written to JSON). A
screenshot of the window in its ready state is written next to the JSON.

Run:  nice -n 5 python benchmarks/bench_short_calibration.py [--trials-per-class 10] [--classes 10]
          [--base runs/base] [--out benchmarks/results/short_calibration.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench_common import write_result  # noqa: E402 (a sibling script)

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 900.0  # the session (~1 min for 10 x 10) plus calibration on a loaded 2-core CPU


def _base(args: argparse.Namespace, work: Path) -> tuple[Path, dict]:
    """The base folder: ``--base``, or one pretrained here (once) from simulated subjects."""
    from calibration.train import TrainConfig
    from calibration.transfer import load_base, pretrain
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.session import simulate_session

    folder = Path(args.base) if args.base else work / f"base_{args.classes}c_{args.channels}ch"
    if not (folder / "base.json").is_file():
        subjects = [
            simulate_session(
                SimulationConfig(
                    n_classes=args.classes,
                    images_per_class=args.base_images_per_class,
                    n_channels=args.channels,
                    subject=s,
                    # One experiment: the same classes, images and evoked structure (seed) for
                    # everyone, each subject its own head, latencies and noise (subject).
                    seed=0,
                )
            )
            for s in range(2, 2 + args.base_subjects)
        ]
        t0 = time.perf_counter()
        pretrain(
            subjects, folder, train=TrainConfig(max_epochs=args.base_max_epochs, patience=3, progress=False)
        )
        print(f"pretrained the base in {time.perf_counter() - t0:.0f} s: {folder}")
    info = load_base(folder).info
    return folder, {
        "folder": str(folder),
        "subjects": len(info["subjects"]),
        "trials": [s["n_trials"] for s in info["subjects"]],
        "channels": len(info["channel_names"]),
        "models": list(info["models"]),
    }


def _run_presenter(args: argparse.Namespace, base: Path, out: Path, shot: Path) -> dict:
    """One short session in the presenter, as a lab runs it; returns the window's figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from gui.presenter import PresenterWindow
    from gui.presenter_session import TrainingOptions
    from gui.protocol import ProtocolConfig
    from rtdecode.sim.config import SimulationConfig

    sys.setswitchinterval(0.001)  # as `rtdecode calibrate-gui` runs
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    subject = SimulationConfig(
        n_classes=args.classes,
        images_per_class=args.trials_per_class,
        n_channels=args.channels,
        subject=args.subject,
        seed=0,  # the base's experiment (see _base)
    )
    window = PresenterWindow(
        out_dir=out,
        simulate=subject,
        protocol=ProtocolConfig(trials_per_class=args.trials_per_class),
        training=TrainingOptions(teacher=args.teacher),
        base=base,
    )
    window.show()
    window.start()
    deadline = time.monotonic() + WAIT_S
    cpu_at_end = None
    while window.state not in ("done", "failed") and time.monotonic() < deadline:
        app.processEvents()
        if cpu_at_end is None and window.state == "finishing":
            # CPU seconds of this process from here on: the recording's end and the calibration,
            # a figure the other users of the machine do not inflate as they do wall time.
            cpu_at_end = time.process_time()
        time.sleep(0.002)
    cpu_s = time.process_time() - cpu_at_end if cpu_at_end is not None else None
    if window.state != "done":
        raise SystemExit(f"the presenter ended {window.state!r}: {window.banner.text}")
    app.processEvents()
    window.grab().save(str(shot))
    ready = [
        line for line in window.log_view.toPlainText().splitlines() if line.startswith("ready to decode")
    ]
    figures = {
        "seconds_last_image_to_ready": float(ready[0].split()[3]),
        "cpu_seconds_end_of_session_to_ready": cpu_s,
        "n_images": len(window.session.schedule.trials),
        "onset_timing_ms": window.session.timing_summary(),
        "report": str(window.bundle_path.parent / "report.json"),
        "result": window.result.report,
    }
    window.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials-per-class", type=int, default=10)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--subject", type=int, default=9, help="the new subject (not one of the base's)")
    parser.add_argument("--teacher", default="auto", help="the presenter's --teacher (default: %(default)s)")
    parser.add_argument(
        "--base", default=None, help="an existing base folder (default: pretrain one in --work)"
    )
    parser.add_argument("--base-subjects", type=int, default=3)
    parser.add_argument("--base-images-per-class", type=int, default=20)
    parser.add_argument("--base-max-epochs", type=int, default=5)
    parser.add_argument("--work", default=str(ROOT / "bench-results" / "short_calibration"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "short_calibration.json"))
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base, base_info = _base(args, work)
    session = work / f"session_{time.strftime('%Y%m%d_%H%M%S')}"
    out = Path(args.out)
    load_before = os.getloadavg()
    figures = _run_presenter(args, base, session, out.with_name(out.stem + "_ready.png"))
    report = figures.pop("result")
    result = {
        "what": "calibrate-gui --base --trials-per-class: seconds from the last image's onset to ready to decode",
        "seconds_last_image_to_ready": figures["seconds_last_image_to_ready"],
        "seconds_last_image_to_bundle": report["seconds_to_bundle"],
        "seconds_preparing": report["seconds_preparing"],
        "cpu_seconds_end_of_session_to_ready": figures["cpu_seconds_end_of_session_to_ready"],
        "chosen": report["selection"]["chosen"],
        "validation": report["selection"]["validation"],
        "candidate_seconds": {c["key"]: c["seconds"] for c in report["candidates"]},
        "teacher": report["teacher"],
        "trials_per_class": args.trials_per_class,
        "classes": args.classes,
        "channels": args.channels,
        "sfreq": 1000.0,
        "n_images": figures["n_images"],
        "onset_timing_ms": figures["onset_timing_ms"],
        "base": base_info,
        "report": figures["report"],
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    write_result(result, out)
    print(
        f"ready to decode {result['seconds_last_image_to_ready']:.1f} s after the last image "
        f"(bundle saved at {result['seconds_last_image_to_bundle']:.1f} s; preparing {result['seconds_preparing']:.1f} s; "
        f"{result['cpu_seconds_end_of_session_to_ready']:.1f} CPU s); chosen {result['chosen']}"
    )
    for key, seconds in result["candidate_seconds"].items():
        print(f"  {key}: {seconds:.1f} s (validation {result['validation'][key]:.3f})")
    print(f"  load average before {load_before}, after {result['loadavg_after']} ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
