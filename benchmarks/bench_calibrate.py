"""How long calibration takes: the paper's full protocol through ``calibrate``.

Simulates (or reads) one session of 40 classes x 50 images, runs ``rtdecode calibrate`` on it with
its own defaults (``--extra-args`` adds options, e.g. ``--baselines cnn2d_stft`` for the distilled
student's comparison without distillation), and reports, from the run's own histories:

- seconds per training epoch of each network (wall time of its loop / epochs run);
- time to convergence: seconds until the epoch whose weights were kept (the best validation one);
- test top-1 of every model of the report (networks, classical decoders, baselines, oracle);
- total calibration time (epoching, features, teacher, the networks, evaluation, report, bundle),
  and the CPU seconds the process used (user + system, its threads together): on a shared
  machine wall time grows with the others' load, CPU time much less;
- inference time per trial at batch 1: the bundle's model input of one epoch + one forward pass,
  on one torch thread (as the live decoder runs it).

The machine is shared: the load average is printed next to the figures (and written to JSON).

Run:  nice -n 10 python benchmarks/bench_calibrate.py [--session S.xdf] [--classes 40]
          [--out bench-results/calibrate.json] [--no-step-comparison]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bench_common import write_result  # noqa: E402 (a sibling script)

ROOT = Path(__file__).resolve().parents[1]


def _session(args: argparse.Namespace, work: Path) -> Path:
    if args.session:
        return Path(args.session)
    from rtdecode.sim.config import SimulationConfig
    from rtdecode.sim.session import save_simulated_session

    path = work / f"subject{args.subject}_{args.classes}c.xdf"
    if not path.exists():
        config = SimulationConfig(n_classes=args.classes, images_per_class=50, subject=args.subject)
        save_simulated_session(config, path, overwrite=True)
    return path


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _inference_ms(model_dir: Path, epochs: np.ndarray, repeats: int = 200) -> float:
    """Median ms for model input + forward of one epoch at batch 1, one torch thread.

    Through :func:`rtdecode.models.serving.serve`, as the live decoder runs whichever model
    the bundle holds (the student's TFDs, EEGNet's or a classical decoder's epochs).
    """
    from rtdecode.io.bundle import load_bundle
    from rtdecode.models.serving import serve

    served = serve(load_bundle(model_dir), device="cpu")
    torch.set_num_threads(1)
    times = []
    for i in range(repeats):
        epoch = epochs[i % len(epochs)][None]
        start = time.perf_counter()
        served.probabilities(served.features(epoch))
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def _step_comparison(features: np.ndarray, n_classes: int, rounds: int = 3, steps: int = 4) -> dict:
    """ms per training example of the student, float32 vs bfloat16 autocast + channels-last.

    The two settings alternate within each round on the same batches, so a shared machine's
    load changes hit both alike; the minimum over rounds is what the code can do.
    """
    from calibration.train import _autocast, _memory_format, autocast_dtype, cpu_has_native_bf16
    from rtdecode.models.student import StudentCNN, StudentConfig

    device = torch.device("cpu")
    x = torch.from_numpy(np.ascontiguousarray(features[:64]))
    y = torch.arange(64) % n_classes
    setups = {}
    for name, precision, channels_last in (("fp32", "fp32", False), ("bf16+channels_last", "bf16", True)):
        torch.manual_seed(0)
        model = StudentCNN(StudentConfig(n_channels=x.shape[1], n_classes=n_classes))
        xb = x
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            xb = _memory_format(x, device)
        setups[name] = (
            model,
            torch.optim.Adam(model.parameters(), 3e-4),
            xb,
            autocast_dtype(device, precision),
        )
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(rounds):
        for name, (model, opt, xb, dtype) in setups.items():
            start = time.perf_counter()
            for _ in range(steps):
                with _autocast(device, dtype):
                    logits = model(xb)
                loss = torch.nn.functional.cross_entropy(logits.float(), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            times[name].append(1000.0 * (time.perf_counter() - start) / (steps * len(y)))
    best = {name: min(t) for name, t in times.items()}
    return {
        "ms_per_example_min": best,
        "ms_per_example_all": times,
        "speedup": best["fp32"] / best["bf16+channels_last"],
        "cpu_native_bf16": cpu_has_native_bf16(),
        "torch_threads": torch.get_num_threads(),
    }


def _steps_only(args: argparse.Namespace, work: Path) -> int:
    from calibration.epochs import epochs_from_recording
    from rtdecode.io import read_recording
    from rtdecode.io.bundle import load_bundle
    from rtdecode.signal.preprocess import epoch_features

    bundle = load_bundle(work / f"run_{args.classes}c" / "model")
    sample = epochs_from_recording(read_recording(_session(args, work)), bundle.pipeline).epochs[:64]
    load_before = os.getloadavg()
    steps = _step_comparison(
        epoch_features(sample, bundle.standardizer, bundle.pipeline), len(bundle.class_names)
    )
    steps.update({"loadavg_before": load_before, "loadavg_after": os.getloadavg()})
    print(json.dumps(steps, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(steps, indent=2), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--session", default=None, help="calibration session (.xdf); default: simulate one")
    p.add_argument("--classes", type=int, default=40)
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--work", default="/tmp/rtdecode-bench-calibrate", help="where sessions and runs go")
    p.add_argument("--out", default=str(ROOT / "bench-results" / "calibrate.json"))
    p.add_argument("--label", default="", help="free text stored with the figures (e.g. 'before')")
    p.add_argument(
        "--extra-args", default="", help="extra `rtdecode calibrate` options, e.g. '--max-epochs 30'"
    )
    p.add_argument(
        "--no-step-comparison",
        action="store_true",
        help="skip the student's float32 vs bfloat16 training-step comparison after the run",
    )
    p.add_argument(
        "--steps-only",
        action="store_true",
        help="only the float32 vs bfloat16 training-step comparison, on the bundle of an earlier run",
    )
    args = p.parse_args(argv)
    work = Path(args.work)
    if args.steps_only:
        return _steps_only(args, work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    session = _session(args, work)
    run_dir = work / f"run_{args.classes}c"

    from rtdecode.cli import main as rtdecode_main

    cli = ["calibrate", str(session), "--out", str(run_dir), "--overwrite", *args.extra_args.split()]
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    code = rtdecode_main(cli)
    total, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    if code:
        return code
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    networks = {}
    for name, h in report["histories"].items():
        n = len(h["train_loss"])
        per_epoch = h["seconds"] / max(n, 1)
        networks[name] = {
            "epochs_run": n,
            "best_epoch": h["best_epoch"] + 1,
            "seconds_training": h["seconds"],
            "seconds_per_epoch": per_epoch,
            "seconds_to_convergence": per_epoch * (h["best_epoch"] + 1),
            "test_top1": report["results"][name]["top1"],
        }
    from calibration.epochs import epochs_from_recording
    from rtdecode.io import read_recording

    recording = read_recording(session)
    from rtdecode.io.bundle import load_bundle

    bundle = load_bundle(run_dir / "model")
    sample = epochs_from_recording(recording, bundle.pipeline).epochs[:200]
    from rtdecode.signal.preprocess import epoch_features

    steps = None
    if not args.no_step_comparison:
        steps = _step_comparison(
            epoch_features(sample[:64], bundle.standardizer, bundle.pipeline), len(bundle.class_names)
        )
    result = {
        "label": args.label,
        "session": str(session),
        "n_classes": report["n_classes"],
        "n_epochs": report["n_epochs"],
        "n_train": report["n_train"],
        "calibrate_args": cli[1:],
        "total_calibration_s": total,
        "cpu_seconds": cpu,
        "report_seconds": report["seconds"],
        "chosen": report["selection"]["chosen"],
        "networks": networks,
        "test_top1": {name: r.get("top1") for name, r in report["results"].items()},
        "teacher": {k: report["teacher"].get(k) for k in ("encoder", "weights", "pretrained")},
        "inference_ms_per_trial_batch1": _inference_ms(run_dir / "model", sample),
        "training_step_fp32_vs_bf16": steps,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    print(f"\ncalibration of {result['n_epochs']} trials ({result['n_classes']} classes)")
    for name, n in networks.items():
        print(
            f"  {name:18s} {n['seconds_per_epoch']:6.2f} s/epoch, {n['epochs_run']:3d} epochs run, "
            f"best {n['best_epoch']:3d}, converged after {n['seconds_to_convergence']:6.1f} s, "
            f"top-1 {n['test_top1']:.3f}"
        )
    for name, top1 in result["test_top1"].items():
        if name not in networks:
            print(f"  {name:18s} top-1 {top1 if top1 is None else f'{top1:.3f}'}")
    print(f"  total calibration   {total:7.1f} s ({cpu:.0f} CPU seconds); chosen: {result['chosen']}")
    print(
        f"  inference at batch 1 {result['inference_ms_per_trial_batch1']:.2f} ms per trial (features + forward)"
    )
    if steps is not None:
        print(
            "  student training step: "
            + ", ".join(f"{k} {v:.2f} ms/example" for k, v in steps["ms_per_example_min"].items())
            + f" (x{steps['speedup']:.2f})"
        )
    print(f"  load average before {load_before}, after {result['loadavg_after']} ({os.cpu_count()} CPUs)")
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
