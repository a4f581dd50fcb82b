"""How hard is the simulated subject? Calibration check for ``SimulationConfig.snr``.

Generates a full simulated session (40 classes x 50 images by default) and decodes it with the
project's own pieces: epochs through the live filter bank (:mod:`calibration.epochs`),
standardization fitted on the training blocks, and the ``logreg_standardized`` baseline, in
block-wise folds. Also reports the simulator's oracle (nearest true class-mean template), the
realized snr and the generation time. Prints a summary and writes JSON.

Usage::

    python benchmarks/simulator_difficulty.py [--snr 0.3 0.5] [--subject 1 2] [--folds 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from calibration.baselines import fit_logreg
from calibration.epochs import epochs_from_recording
from calibration.metrics import evaluate_predictions
from rtdecode.config import PipelineConfig
from rtdecode.signal.filters import design_filter_bank
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.config import DEFAULT_SNR, SimulationConfig
from rtdecode.sim.session import simulate_session
from rtdecode.sim.subject import SimulatedSubject


def class_dependent_rms(sim: SimulatedSubject, sos: np.ndarray) -> float:
    """RMS of the filtered noise-free class means minus their grand mean (occipito-parietal,
    50-450 ms): the numerator of ``snr`` for the classes this session actually has."""
    responses = signal.sosfilt(sos, sim.class_mean_responses(), axis=1)
    deviation = responses - responses.mean(axis=0)
    window = slice(int(round(0.05 * sim.sfreq)), int(round(0.45 * sim.sfreq)))
    channels = sim.montage.occipitoparietal_mask()
    return float(np.sqrt(np.mean(deviation[:, window][:, :, channels] ** 2)))


def evaluate(snr: float, folds: int, seed: int, subject: int) -> dict[str, Any]:
    config = SimulationConfig(snr=snr, seed=seed, subject=subject)
    t = time.perf_counter()
    recording = simulate_session(config, progress=False)
    generation_s = time.perf_counter() - t
    sim = SimulatedSubject(config)
    pipeline = PipelineConfig(sfreq=recording.sfreq)
    sos = design_filter_bank(pipeline)

    t = time.perf_counter()
    epochs = epochs_from_recording(recording, pipeline)
    filter_s = time.perf_counter() - t
    fold_of_block = np.arange(epochs.blocks.max() + 1) % folds
    top1, top5 = [], []
    t = time.perf_counter()
    for k in range(folds):
        test = fold_of_block[epochs.blocks] == k
        standardizer = Standardizer().fit(np.swapaxes(epochs.epochs[~test], 1, 2))
        x = np.swapaxes(standardizer.transform(np.swapaxes(epochs.epochs, 1, 2)), 1, 2).astype(np.float32)
        proba = fit_logreg(
            "logreg_standardized", x[~test], epochs.labels[~test], pipeline.sfreq, n_classes=config.n_classes
        )(x[test])
        metrics = evaluate_predictions(epochs.labels[test], proba, config.n_classes)
        top1.append(metrics["top1"])
        top5.append(metrics["top5"])
        print(
            f"  snr {snr}, subject {subject}: fold {k}: top-1 {top1[-1]:.3f} top-5 {top5[-1]:.3f}", flush=True
        )
    fit_s = time.perf_counter() - t
    oracle = sim.oracle_accuracy(epochs.epochs, epochs.image_ids, pipeline.epoch.tmin_s, sos)
    return {
        "snr": snr,
        "subject": subject,
        "seed": seed,
        "n_epochs": len(epochs),
        "dropped": epochs.dropped,
        "n_classes": int(config.n_classes),
        "chance": 1.0 / config.n_classes,
        "logreg_top1_mean": float(np.mean(top1)),
        "logreg_top1_folds": top1,
        "logreg_top5_mean": float(np.mean(top5)),
        "oracle_top1": oracle,
        "realized_snr": class_dependent_rms(sim, sos) / sim.background_band_rms(),
        "background_band_rms_uv_model": sim.background_band_rms(),
        "session_s": recording.duration_s,
        "generation_s": generation_s,
        "generation_x_realtime": recording.duration_s / generation_s,
        "filter_and_epoch_s": filter_s,
        "fit_s": fit_s,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, nargs="+", default=[DEFAULT_SNR])
    parser.add_argument("--folds", type=int, default=5, help="block-wise cross-validation folds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subject", type=int, nargs="+", default=[1])
    parser.add_argument("--out", type=Path, default=Path("bench-results/simulator_difficulty.json"))
    args = parser.parse_args(argv)

    results = []
    for snr, subject in [(snr, subject) for snr in args.snr for subject in args.subject]:
        r = evaluate(snr, args.folds, args.seed, subject)
        results.append(r)
        print(
            f"snr {snr}, subject {subject}: logreg top-1 {r['logreg_top1_mean']:.3f} (top-5 "
            f"{r['logreg_top5_mean']:.3f}), oracle {r['oracle_top1']:.3f}, chance {r['chance']:.3f}; "
            f"realized snr {r['realized_snr']:.2f}; {r['session_s']:.0f} s session generated in "
            f"{r['generation_s']:.1f} s",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "simulator_difficulty",
        "default_snr": DEFAULT_SNR,
        "folds": args.folds,
        "decoder": "calibration.baselines logreg_standardized on project epochs",
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
