"""The shared-response templates against a timing offset between the EEG's stamps and the markers'.

A real amplifier's stamps come late by its transport delay: ``bench_timing.py`` shows that the
stream reader's time base removes the jitter of push-time stamps, not their mean delay (a few
milliseconds, different for every amplifier and driver). The templates match phase-locked
14-70 Hz waveforms, so the question is what such an offset costs them:

- **consistent**: the calibration trials and the decoded trials carry the same offset (a lab
  calibrating and decoding through the same amplifier and driver);
- **decoding only**: calibrated on exact times, decoded with the offset (a calibration recorded
  through another system, or the delay changed between calibration and live).

For one held-out simulated subject, a templates base pretrained on the others (``rtdecode
pretrain --models templates``), its markers moved by ``d`` ms (a positive ``d``: the EEG's stamps
are late, the epochs are cut ``d`` ms early), its first ``--trials-per-class`` trials per class
calibrate (aligned on them), top-1 on the trials after them.

Run:  python benchmarks/bench_templates_timing.py [--classes 10] [--subject 15] [--delays -5,0,1,2,5,10]
      [--work /tmp/rtdecode-transfer] [--json benchmarks/results/templates_timing.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import write_result  # noqa: E402 (a sibling script)
from bench_transfer import simulate  # noqa: E402 (a sibling script)

from calibration.transfer import aligned_standardizer, load_base, pretrain, subject_data
from calibration.transfer_calibrate import calibration_trials
from rtdecode.io import read_recording
from rtdecode.io.recording import Marker, Recording
from rtdecode.models.serving import model_input


def delayed(recording: Recording, delay_ms: float) -> Recording:
    """The recording with every marker ``delay_ms`` later (the EEG's stamps that much early)."""
    markers = [Marker(m.timestamp + delay_ms / 1000.0, m.text) for m in recording.markers]
    return dataclasses.replace(recording, markers=markers)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--sources", default="11,12,13,14", help="the base's simulated subjects")
    p.add_argument("--subject", type=int, default=15, help="the new subject")
    p.add_argument("--delays", default="-5,0,1,2,5,10", help="marker offsets in ms")
    p.add_argument("--trials-per-class", type=int, default=10)
    p.add_argument("--work", default="/tmp/rtdecode-transfer", help="where the sessions go")
    p.add_argument("--json", default="benchmarks/results/templates_timing.json")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sources = [int(s) for s in args.sources.split(",")]
    paths = simulate([*sources, args.subject], args.classes, work)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        pretrain([read_recording(path) for path in paths[:-1]], Path(folder) / "base", ("templates",))
        base = load_base(Path(folder) / "base")
    base_seconds = time.perf_counter() - started
    templates = base.models["templates"].model
    recording = read_recording(paths[-1])

    def trials_at(delay_ms: float):
        pipeline, epochs = next(
            iter(subject_data(delayed(recording, delay_ms), base.class_names, False).views.values())
        )
        trials = calibration_trials(epochs, args.trials_per_class)
        return pipeline, epochs, trials

    pipeline, epochs, trials = trials_at(0.0)
    exact_standardizer = aligned_standardizer(epochs.epochs[trials.calibration])
    x = model_input("raw_ct", epochs.epochs, exact_standardizer, pipeline)
    exact_model = templates.fit_subject(x[trials.calibration], epochs.labels[trials.calibration])
    rows = []
    for delay in [float(d) for d in args.delays.split(",")]:
        pipeline, epochs, trials = trials_at(delay)
        y = epochs.labels
        aligned = aligned_standardizer(epochs.epochs[trials.calibration])
        x = model_input("raw_ct", epochs.epochs, aligned, pipeline)
        consistent = templates.fit_subject(x[trials.calibration], y[trials.calibration])
        x_exact_scaling = model_input("raw_ct", epochs.epochs, exact_standardizer, pipeline)
        row = {
            "delay_ms": delay,
            "consistent_top1": float(np.mean(consistent.predict(x[trials.test]) == y[trials.test])),
            "decoding_only_top1": float(
                np.mean(exact_model.predict(x_exact_scaling[trials.test]) == y[trials.test])
            ),
            "n_test": len(trials.test),
        }
        rows.append(row)
        print(
            f"{delay:+5.1f} ms: consistent {row['consistent_top1']:.3f}, decoding only {row['decoding_only_top1']:.3f}"
            f" ({row['n_test']} trials)",
            flush=True,
        )
    write_result(
        {
            "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
            "classes": args.classes,
            "chance": 1.0 / args.classes,
            "sources": sources,
            "subject": args.subject,
            "trials_per_class": args.trials_per_class,
            "base_seconds": base_seconds,
            "selection": templates.selection_report(),
            "rows": rows,
        },
        args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
