"""Real EEG: `rtdecode calibrate` on the eeg-notebooks N170 recording against the field's peer pipeline.

The recording (../shared/data/real/eegnb-n170-subject1.xdf: faces vs houses, Muse TP9/AF7/AF8/TP10,
256 Hz, 6 runs = 6 blocks) is calibrated twice with the product's defaults:

1. one block split (``--evaluation split``): the chosen model's top-1 on the held-out block;
2. leave-one-block-out (``--evaluation lobo``, the default for six blocks): mean top-1 and its
   95 % interval over the six held-out blocks.

The peer is the source's own analysis as a block-respecting decoder: pyriemann
XdawnCovariances(OAS) + TangentSpace + LogisticRegression on 1-30 Hz epochs of -0.1..0.8 s
(zero-phase 4th-order Butterworth per run, as MNE's IIR filter does; epochs with more than 75 uV
peak-to-peak rejected, in training and in test), fitted on the blocks the chosen classical model
is finally fitted on (training + validation) and tested on the same held-out block, and over the
same leave-one-block-out folds (fitted on every other block).
Targets (issue 11): the chosen model >= 0.60 on the held-out block and >= 0.64 leave-one-block-out.

Run:  python benchmarks/bench_real.py [--xdf FILE] [--out bench-results/real] [--max-epochs 100]
      [--baselines all] [--device auto] [--candidates eegnet,xdawn,lda]
Writes OUT/split/, OUT/lobo/ (reports and bundles) and OUT/real.json; prints the table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from pyriemann.estimation import XdawnCovariances
from pyriemann.tangentspace import TangentSpace
from scipy import signal
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from calibration.calibrate import ALL_BASELINES, CalibrationConfig, calibrate
from calibration.metrics import point
from calibration.train import TrainConfig
from rtdecode.io import read_recording
from rtdecode.io.recording import Recording

XDF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "eegnb-n170-subject1.xdf"
PEER_BAND_HZ, PEER_WINDOW_S, PEER_REJECT_UV = (1.0, 30.0), (-0.1, 0.8), 75.0


def peer_epochs(recording: Recording) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The source analysis's epochs: zero-phase 1-30 Hz per run, -0.1..0.8 s, 75 uV peak-to-peak rejection.

    Returns
    -------
    x : np.ndarray, shape (n, n_channels, n_times)
    y, blocks : np.ndarray, shape (n,), int
    """
    sfreq = recording.sfreq
    sos = signal.butter(4, PEER_BAND_HZ, btype="bandpass", fs=sfreq, output="sos")
    t = recording.timestamps
    # Runs are separated by timestamp gaps: filter each run on its own, as MNE filters each file.
    breaks = np.flatnonzero(np.diff(t) > 5.0 / sfreq) + 1
    filtered = np.concatenate(
        [signal.sosfiltfilt(sos, part, axis=0) for part in np.split(recording.data, breaks)], axis=0
    )
    n = int(round((PEER_WINDOW_S[1] - PEER_WINDOW_S[0]) * sfreq)) + 1
    x, y, blocks = [], [], []
    for onset, event in recording.stimulus_events():
        start = int(np.searchsorted(t, onset + PEER_WINDOW_S[0] - 0.5 / sfreq))
        if start + n > len(t) or t[start + n - 1] - t[start] > (n - 0.5) / sfreq:
            continue
        epoch = filtered[start : start + n]
        if np.ptp(epoch, axis=0).max() > PEER_REJECT_UV:
            continue
        x.append(epoch.T)
        y.append(int(event["label"]))
        blocks.append(int(event["block"]))
    return np.array(x), np.array(y), np.array(blocks)


def peer_top1(
    x: np.ndarray, y: np.ndarray, blocks: np.ndarray, train_blocks, test_blocks
) -> tuple[float, int]:
    """Top-1 of xDAWN + tangent space + LR fitted on ``train_blocks``, tested on ``test_blocks``."""
    train, test = np.isin(blocks, train_blocks), np.isin(blocks, test_blocks)
    model = make_pipeline(
        XdawnCovariances(estimator="oas"), TangentSpace(), LogisticRegression(max_iter=1000)
    )
    model.fit(x[train], y[train])
    return float(np.mean(model.predict(x[test]) == y[test])), int(test.sum())


def run(args: argparse.Namespace) -> dict:
    recording = read_recording(args.xdf)
    out = Path(args.out)
    baselines = ALL_BASELINES if args.baselines == "all" else tuple(b for b in args.baselines.split(",") if b)
    train = TrainConfig(max_epochs=args.max_epochs, device=args.device, progress=False)
    candidates = tuple(c for c in args.candidates.split(",") if c)
    x, y, blocks = peer_epochs(recording)
    summary: dict = {"xdf": str(args.xdf), "peer_epochs": len(y)}

    started = time.perf_counter()
    split = calibrate(
        recording,
        None,
        out / "split",
        CalibrationConfig(train=train, baselines=baselines, candidates=candidates, evaluation="split"),
    )
    part = split.report["split"]
    chosen = split.report["selection"]["chosen"]
    # The peer sees the blocks the chosen classical model was finally fitted on: training + validation.
    peer, n_peer = peer_top1(x, y, blocks, part["train_blocks"] + part["val_blocks"], part["test_blocks"])
    summary["split"] = {
        "seconds": time.perf_counter() - started,
        "test_blocks": part["test_blocks"],
        "chosen": chosen,
        "chosen_top1": split.report["results"][chosen]["top1"],
        "chosen_n": split.report["results"][chosen]["n"],
        "peer_top1": peer,
        "peer_n": n_peer,
        "results": {k: v.get("top1") for k, v in split.report["results"].items()},
        "balanced_accuracy": {k: v.get("balanced_accuracy") for k, v in split.report["results"].items()},
    }

    started = time.perf_counter()
    lobo = calibrate(
        recording,
        None,
        out / "lobo",
        CalibrationConfig(train=train, baselines=baselines, candidates=candidates, evaluation="lobo"),
    )
    chosen = lobo.report["selection"]["chosen"]
    folds = lobo.report["split"]["folds"]
    everything = sorted(set(blocks.tolist()))
    peer_folds = [
        peer_top1(x, y, blocks, [b for b in everything if b not in f["test_blocks"]], f["test_blocks"])[0]
        for f in folds
    ]
    summary["lobo"] = {
        "seconds": time.perf_counter() - started,
        "chosen": chosen,
        "chosen_top1": lobo.report["results"][chosen]["top1"],
        "peer_top1_mean": float(np.mean(peer_folds)),
        "peer_top1_folds": peer_folds,
        "results": {k: v.get("top1") for k, v in lobo.report["results"].items()},
    }
    return summary


def print_table(summary: dict) -> None:
    s, lo = summary["split"], summary["lobo"]
    print(f"\nheld-out block {s['test_blocks']} (one split) and leave-one-block-out over 6 blocks; top-1\n")
    print("| model | held-out block | leave-one-block-out mean [95 % interval] |")
    print("|---|---|---|")
    for name in sorted(set(s["results"]) | set(lo["results"])):
        a = s["results"].get(name)
        b = lo["results"].get(name)
        cell_a = f"{a:.3f}" if isinstance(a, float) else "failed"
        cell_b = (
            f"{b['mean']:.3f} [{b['ci_low']:.3f}, {b['ci_high']:.3f}]" if isinstance(b, dict) else "failed"
        )
        print(f"| {name} | {cell_a} | {cell_b} |")
    print(
        f"| peer xDAWN+TS+LR, 1-30 Hz zero-phase, -0.1..0.8 s | {s['peer_top1']:.3f} (n={s['peer_n']}) | "
        f"{lo['peer_top1_mean']:.3f} |"
    )
    print(
        f"\nchosen (split): {s['chosen']} {s['chosen_top1']:.3f} (n={int(s['chosen_n'])}), target >= 0.60; "
        f"chosen (lobo): {lo['chosen']} {point(lo['chosen_top1']):.3f}, target >= 0.64"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--xdf", type=Path, default=XDF)
    parser.add_argument("--out", default="bench-results/real")
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--baselines", default="all", help="'all', or a comma-separated list ('' for none)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--candidates", default="eegnet,xdawn,lda", help="comma-separated candidates")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    summary = run(args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "real.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    print_table(summary)


if __name__ == "__main__":
    main()
