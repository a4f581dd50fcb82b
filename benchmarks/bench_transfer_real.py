"""Real EEG, cross-subject: N170 subject 1 calibrated from a few trials on a base from subject 2.

Both recordings are the eeg-notebooks N170 experiment (faces vs houses, Muse TP9/AF7/AF8/TP10,
256 Hz; ../shared/data/real/README.md). Subject 2 (two runs, 395 trials) is the base
(``rtdecode pretrain``); subject 1 (six runs, 1174 trials) is the new subject, calibrated with
``rtdecode calibrate --base`` on its first N trials per class (N = 25, 50 by default) and
tested on all its later trials, block by block. The report of each run compares, on the same
trials: subject-only (calibration's candidates on the N trials alone), the base aligned to
subject 1 without its labels (zero-shot) and the base fine-tuned / refitted with its N trials.
Subject-only with all trials is ``rtdecode calibrate`` on the whole recording (leave-one-run-out),
run here as well unless ``--skip-full``.

Run:  python benchmarks/bench_transfer_real.py [--trials 25,50] [--out bench-results/transfer-real]
Writes OUT/base/, OUT/n<N>/ (reports, bundles) and benchmarks/results/transfer_real.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from bench_common import write_result  # noqa: E402 (a sibling script)

from calibration.calibrate import CalibrationConfig, calibrate
from calibration.train import TrainConfig
from calibration.transfer import pretrain
from calibration.transfer_calibrate import calibrate_with_base
from rtdecode.io import read_recording

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--new", default=str(REAL / "eegnb-n170-subject1.xdf"))
    parser.add_argument("--source", nargs="+", default=[str(REAL / "eegnb-n170-subject2.xdf")])
    parser.add_argument("--trials", default="25,50", help="trials per class of the short sessions")
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "transfer-real"))
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--skip-full", action="store_true", help="do not rerun subject-only on all trials")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "transfer_real.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    train = TrainConfig(max_epochs=args.max_epochs, progress=False)
    t0 = time.perf_counter()
    base = pretrain([read_recording(p) for p in args.source], out / "base", train=train)
    result: dict = {
        "base": {"sources": args.source, "seconds": time.perf_counter() - t0, "models": base.info["models"]},
        "new_subject": args.new,
        "runs": {},
        "cpu_count": os.cpu_count(),
    }
    config = CalibrationConfig(train=train)
    for n in [int(v) for v in args.trials.split(",")]:
        started = time.perf_counter()
        recording = read_recording(args.new)
        report = calibrate_with_base(
            recording, base, None, out / f"n{n}", config, trials_per_class=n, started=started
        ).report
        result["runs"][n] = {
            "n_train": report["n_train"],
            "n_val": report["n_val"],
            "n_test": report["n_test"],
            "chosen": report["selection"]["chosen"],
            "seconds_to_bundle": report["seconds_to_bundle"],
            "candidates": report["candidates"],
            "roc_auc": {k: v.get("roc_auc") for k, v in report["results"].items() if "roc_auc" in v},
            "load_average": os.getloadavg(),
        }
        print(f"\nN = {n} trials per class (test: {report['n_test']} later trials)")
        for c in report["candidates"]:
            print(
                f"  {c['key']:<80} val {c['validation']:.3f}  test top-1 {c['test_top1']:.3f}  "
                f"{c['seconds_to_bundle']:.1f} s to bundle"
            )
        print(f"  chosen: {report['selection']['chosen']}  ({report['seconds_to_bundle']:.1f} s in all)")
    if not args.skip_full:
        started = time.perf_counter()
        full = calibrate(read_recording(args.new), None, out / "full", config, started=started).report
        chosen = full["selection"]["chosen"]
        result["subject_only_all_trials"] = {
            "evaluation": full["evaluation"],
            "chosen": chosen,
            "top1": full["results"][chosen]["top1"],
            "seconds_to_bundle": full["seconds_to_bundle"],
        }
        print(
            f"\nsubject-only, all trials ({full['evaluation']}): {chosen} {full['results'][chosen]['top1']}"
        )
    write_result(result, args.json)


if __name__ == "__main__":
    main()
