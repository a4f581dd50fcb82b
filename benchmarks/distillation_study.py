"""Does distillation help? Simulated subjects x seeds, the student distilled vs not, one report.

Simulates subjects 1..N (same images for all, each its own brain and noise), then runs
``rtdecode study`` on them (sequential here, or ``--ray auto``) and writes its report
(``study.md``, ``study.json``, ``study.png``) into ``--out``. The default is the paper's full
protocol (40 classes x 50 images) with the calibration's training defaults: 30 runs took 47 min
with ``--ray local`` on an idle 2-core CPU (2 runs at once, 1 thread each).

Run:  nice -n 10 python benchmarks/distillation_study.py [--subjects 5] [--classes 40] [--seeds 3]
          [--networks student] [--max-epochs 60] [--patience 8] [--temperature 1] [--ray local]
          [--out bench-results/distillation_study]
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subjects", type=int, default=5)
    p.add_argument("--classes", type=int, default=40)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--networks", default="student")
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ray", default=None)
    p.add_argument("--work", default="/tmp/rtdecode-distillation-study", help="where the sessions go")
    p.add_argument("--out", default=str(ROOT / "bench-results" / "distillation_study"))
    args = p.parse_args(argv)

    import logging

    from calibration.study import StudyConfig, run_sequential, run_study
    from calibration.study_ray import RayExecutor
    from calibration.study_report import study_markdown
    from calibration.train import TrainConfig
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.session import save_simulated_session

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    work = Path(args.work)
    sessions = []
    for subject in range(1, args.subjects + 1):
        path = work / f"s{subject}_{args.classes}c.xdf"
        if not path.exists():
            save_simulated_session(SimulationConfig(n_classes=args.classes, subject=subject), path)
        sessions.append(path)
    config = StudyConfig(
        networks=tuple(args.networks.split(",")),
        seeds=tuple(range(args.seeds)),
        train=TrainConfig(
            temperature=args.temperature,
            max_epochs=args.max_epochs,
            patience=args.patience,
            threads=args.threads,
            progress=False,
        ),
    )
    executor = run_sequential if args.ray is None else RayExecutor(args.ray)
    report = run_study(sessions, args.out, config, executor=executor)
    print(study_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
