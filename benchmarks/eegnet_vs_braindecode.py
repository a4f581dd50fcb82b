"""The project's EEGNet vs braindecode's EEGNetv4, trained the same way on calibration's own path.

Both networks get what ``rtdecode calibrate`` gave its EEGNet candidate before its 4 ms input bins
(the unbinned 1 kHz network, Adam 1e-3; calibrate now bins and trains at 2e-3): the recording's
paper view (notch chosen from the recording's mains, causal filter bank, standardization fitted on
the training blocks), calibration's evaluation (one block split, or leave-one-block-out for
recordings of at most ``LOBO_MAX_BLOCKS`` blocks), the same seed before each model is built, and
:func:`calibration.train.train_classifier` with EEGNet's learning rate (Adam 1e-3, batch 64,
early stopping on the validation block). Variants:

- ``project``: :class:`rtdecode.models.eegnet.EEGNet`;
- ``braindecode``: ``braindecode.models.EEGNet`` with its defaults (EEGNetv4: max-norm 1 on the
  depthwise spatial filters, batch norm momentum 0.01 and eps 1e-3, symmetric padding);
- ``braindecode_torch_bn``: the same with torch's batch-norm defaults (momentum 0.1, eps 1e-5);
- ``braindecode_no_maxnorm``: braindecode's defaults without the max-norm constraint;
- ``braindecode_torch_bn_project_init``: torch's batch-norm defaults and the project's initial
  weights copied in: what is left to differ is braindecode's padding (and a max-norm that the
  project's initial spatial filters, of norm about 0.6, do not reach).

The ablations say which of braindecode's differences moves the score. Prints a table and
writes JSON.

Usage::

    python benchmarks/eegnet_vs_braindecode.py SESSION.xdf [--variants project braindecode ...]
        [--max-epochs 60] [--threads 2] [--out benchmarks/results/eegnet_vs_braindecode_NAME.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from calibration.calibrate import LOBO_MAX_BLOCKS, CalibrationConfig
from calibration.epochs import epochs_from_recording
from calibration.fitting import View
from calibration.metrics import evaluate_predictions
from calibration.notch import choose_notch
from calibration.splits import block_split, leave_one_block_out
from calibration.train import TrainConfig, predict_proba, seed_everything, train_classifier
from rtdecode.config import PipelineConfig
from rtdecode.io import read_recording
from rtdecode.models.eegnet import EEGNet, EEGNetConfig

# The step the comparison ran at: braindecode's usual, and calibrate's EEGNet's before its input bins.
EEGNET_LR = 1e-3

VARIANTS = (
    "project",
    "braindecode",
    "braindecode_torch_bn",
    "braindecode_no_maxnorm",
    "braindecode_torch_bn_project_init",
)
# The project's EEGNet layers -> braindecode's (the same tensors, the dense head reshaped).
PROJECT_TO_BRAINDECODE = {
    "temporal.1.": "conv_temporal.",
    "temporal.2.": "bnorm_temporal.",
    "spatial.0.weight": "conv_spatial.parametrizations.weight.original",
    "spatial.1.": "bnorm_1.",
    "separable.1.": "conv_separable_depth.",
    "separable.2.": "conv_separable_point.",
    "separable.3.": "bnorm_2.",
    "head.": "final_layer.conv_classifier.",
}


class ChannelsFirst(nn.Module):
    """braindecode's network behind the project's input order: ``(batch, n_samples, n_channels)``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x.transpose(1, 2))


def build(variant: str, n_channels: int, n_classes: int, n_samples: int) -> nn.Module:
    """The network of ``variant`` for epochs ``(n, n_samples, n_channels)``."""
    if variant == "project":
        return EEGNet(EEGNetConfig(n_channels=n_channels, n_classes=n_classes, n_samples=n_samples))
    import warnings

    from braindecode.models import EEGNet as BraindecodeEEGNet

    torch_bn = {"batch_norm_momentum": 0.1, "batch_norm_eps": 1e-5}
    changes: dict[str, Any] = {
        "braindecode": {},
        "braindecode_torch_bn": torch_bn,
        # renorm with this bound never rescales a filter: the constraint is off.
        "braindecode_no_maxnorm": {"conv_spatial_max_norm": 1e9},
        "braindecode_torch_bn_project_init": torch_bn,
    }[variant]
    # Drawn first, so that its initial weights are the project variant's (same seed).
    project = build("project", n_channels, n_classes, n_samples) if variant.endswith("project_init") else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notice about the (default) conv classifier
        network = BraindecodeEEGNet(n_chans=n_channels, n_outputs=n_classes, n_times=n_samples, **changes)
    if project is not None:
        target = network.state_dict()
        copied = {}
        for name, tensor in project.state_dict().items():
            prefix = next(p for p in PROJECT_TO_BRAINDECODE if name.startswith(p))
            key = PROJECT_TO_BRAINDECODE[prefix] + name[len(prefix) :]
            copied[key] = tensor.reshape(target[key].shape)
        network.load_state_dict(copied)
    return ChannelsFirst(network)


def run(
    path: Path, variants: tuple[str, ...], max_epochs: int, threads: int, out: Path | None = None
) -> dict[str, Any]:
    """Train and test every variant; the JSON (``out``) is rewritten after each one."""
    recording = read_recording(path)
    config = CalibrationConfig()
    notes: list[str] = []
    pipeline, _ = choose_notch(recording, PipelineConfig(sfreq=recording.sfreq), config.mains, notes)
    epochs = epochs_from_recording(recording, pipeline)
    n_classes = len(epochs.class_names)
    if len(np.unique(epochs.blocks)) <= LOBO_MAX_BLOCKS:
        evaluation, splits = "lobo", leave_one_block_out(epochs.blocks)
    else:
        split = block_split(epochs.blocks, config.test_fraction, config.val_fraction, config.split_seed)
        evaluation, splits = "split", [split]
    changes = {"alpha": 1.0, "lr": EEGNET_LR, "max_epochs": max_epochs, "threads": threads, "progress": False}
    train = TrainConfig(**{**config.train.to_dict(), **changes})
    print(
        f"{path.name}: {len(epochs)} epochs {epochs.epochs.shape[1:]} (samples, channels), {n_classes} classes, "
        f"{len(np.unique(epochs.blocks))} blocks, {evaluation} ({len(splits)} fold(s)); notch {pipeline.filter.notch_low_hz:g}-"
        f"{pipeline.filter.notch_high_hz:g} Hz"
    )
    results: dict[str, Any] = {}
    result = {
        "session": str(path),
        "epochs": len(epochs),
        "epoch_shape_samples_channels": list(epochs.epochs.shape[1:]),
        "classes": n_classes,
        "evaluation": evaluation,
        "train": {
            "lr": train.lr,
            "batch_size": train.batch_size,
            "max_epochs": max_epochs,
            "patience": train.patience,
        },
        "threads": threads,
        "variants": results,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "braindecode": _version("braindecode"),
        },
    }
    views = [View.of(pipeline, epochs, s.train_blocks, s.val_blocks, s.test_blocks) for s in splits]
    for variant in variants:
        folds = []
        for split, view in zip(splits, views, strict=True):
            x, y = view.standardized, view.y
            seed_everything(train.seed)  # same initial draw for every variant, as calibration does
            model = build(variant, x.shape[2], n_classes, x.shape[1])
            history = train_classifier(
                model, x[view.train], y[view.train], x[view.val], y[view.val], train, description=variant
            )
            metrics = evaluate_predictions(y[view.test], predict_proba(model, x[view.test]), n_classes)
            folds.append(
                {
                    "test_blocks": split.test_blocks,
                    "top1": metrics["top1"],
                    "balanced_accuracy": metrics.get("balanced_accuracy"),
                    "best_epoch": history.best_epoch,
                    "epochs_run": len(history.val_acc),
                    "seconds": round(history.seconds, 1),
                }
            )
            print(
                f"  {variant:24s} test blocks {split.test_blocks}: top-1 {metrics['top1']:.3f} "
                f"(best epoch {history.best_epoch}, {len(history.val_acc)} run, {history.seconds:.0f} s)",
                flush=True,
            )
        results[variant] = {
            "top1_mean": float(np.mean([f["top1"] for f in folds])),
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "folds": folds,
        }
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("session", type=Path, help="calibration recording (.xdf)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: only print)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.session, tuple(args.variants), args.max_epochs, args.threads, args.out)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print()
    for name, r in result["variants"].items():
        print(f"{name:24s} top-1 {r['top1_mean']:.3f} ({r['parameters']} parameters)")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
