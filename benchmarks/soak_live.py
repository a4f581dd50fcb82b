"""Memory of a long live session: `rtdecode live --jsonl` on a looped, push-stamped stream.

Writes a short simulated session (128 channels at 1000 Hz) and a full-size random-weight model
bundle, serves the session with ``rtdecode replay --loop --emulate-driver`` (an amplifier
connector: jittered push-time stamps, +50 ppm clock) and decodes it with ``rtdecode live --jsonl``
as a user would, both as subprocesses. The resident memory (VmRSS) of the `live` process is
sampled every ``--every`` seconds; the growth after the first ``--settle`` minutes is what must
stay flat (target: under 20 MB over 60 minutes).

Run:  python benchmarks/soak_live.py [--minutes 60] [--every 30] [--out bench-results/soak_live.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from bench_common import random_bundle, write_result  # noqa: E402 (a sibling script)

from rtdecode.io.bundle import save_bundle
from rtdecode.io.xdf import write_xdf
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def prepare(folder: Path) -> tuple[Path, Path, float]:
    """A looping source file and a model bundle for it; returns their paths and the file's length."""
    recording = simulate_session(SimulationConfig(n_classes=10, images_per_class=10), progress=False)
    source = folder / "session.xdf"
    write_xdf(source, recording)
    model = save_bundle(random_bundle(recording, 10), folder / "model")
    return source, model, recording.duration_s


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=60.0, help="session length (default: %(default)s)")
    parser.add_argument(
        "--every", type=float, default=30.0, help="seconds between samples (default: %(default)s)"
    )
    parser.add_argument("--settle", type=float, default=5.0, help="minutes not judged (default: %(default)s)")
    parser.add_argument("--out", default="bench-results/soak_live.json")
    args = parser.parse_args(argv)

    cli = [sys.executable, "-m", "rtdecode.cli"]
    name = f"soak-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        source, model, loop_s = prepare(Path(tmp))
        replay = subprocess.Popen(
            [*cli, "replay", str(source), "--loop", "--emulate-driver", "--name", name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        predictions = Path(tmp) / "predictions.jsonl"
        with predictions.open("w") as sink:
            live = subprocess.Popen(
                [
                    *cli,
                    "live",
                    "--model",
                    str(model),
                    "--stream",
                    name,
                    "--markers",
                    f"{name}-markers",
                    "--jsonl",
                ],
                stdout=sink,
                stderr=subprocess.DEVNULL,
            )
            samples: list[dict] = []
            started = time.monotonic()
            try:
                while (elapsed := time.monotonic() - started) < args.minutes * 60:
                    if live.poll() is not None or replay.poll() is not None:
                        raise RuntimeError("the live or replay process ended early")
                    n_predictions = sum(1 for _ in predictions.open())
                    samples.append({"t_s": elapsed, "rss_mb": rss_mb(live.pid), "predictions": n_predictions})
                    print(
                        f"{elapsed / 60:6.1f} min  RSS {samples[-1]['rss_mb']:7.1f} MB  {n_predictions} predictions",
                        flush=True,
                    )
                    time.sleep(args.every)
            finally:
                live.terminate()
                replay.terminate()
                live.wait(10)
                replay.wait(10)
    settled = [s for s in samples if s["t_s"] >= args.settle * 60]
    rss = np.array([s["rss_mb"] for s in settled])
    t = np.array([s["t_s"] for s in settled]) / 60
    growth = float(rss[-1] - rss[0]) if len(rss) > 1 else 0.0
    slope = float(np.polyfit(t, rss, 1)[0]) if len(rss) > 2 else 0.0
    result = {
        "minutes": args.minutes,
        "loop_length_s": loop_s,
        "load_average": os.getloadavg(),
        "rss_start_mb": samples[0]["rss_mb"] if samples else None,
        "rss_after_settle_mb": float(rss[0]) if len(rss) else None,
        "rss_end_mb": float(rss[-1]) if len(rss) else None,
        "growth_after_settle_mb": growth,
        "slope_mb_per_min": slope,
        "predictions": samples[-1]["predictions"] if samples else 0,
        "samples": samples,
        "target": {"growth_after_settle_mb": 20.0},
        "meets_target": growth < 20.0,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
