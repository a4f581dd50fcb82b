"""Distillation training loop, shared by the student and the neural baselines.

L = alpha * CE(student, label) + (1 - alpha) * T^2 * KL(teacher_T || student_T)

With ``alpha = 1`` (or no teacher targets) this is plain cross-entropy training, which is how
the no-distillation comparison and the neural baselines are trained: one loop for all.
"""

from __future__ import annotations

import copy
import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from calibration.defaults import DEFAULT_MAX_EPOCHS, DEFAULT_PATIENCE
from calibration.metrics import class_weights
from rtdecode.weights import resolve_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings (the paper's: Adam, lr 3e-4, early stopping, clipping, max epochs).

    Attributes
    ----------
    alpha : float
        Weight of the hard-label cross-entropy; ``1 - alpha`` weights the distillation term.
    temperature : float
        Softmax temperature T of both teacher and student in the KL term.
    lr, weight_decay : float
        Adam settings.
    batch_size, max_epochs, patience : int
        ``patience`` epochs without validation improvement stop training; the best weights
        (by validation accuracy, then loss) are restored.
    grad_clip : float
        Maximum gradient norm.
    seed : int
        Seeds torch, numpy and Python; with ``deterministic`` on, CPU runs repeat exactly.
    device : str
        ``"auto"`` picks CUDA when present, else CPU.
    balance_classes : bool
        Weight the label loss by :func:`calibration.metrics.class_weights` when the training
        classes are imbalanced, so the majority class is not a free win.
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bfloat16 autocast on a CPU with native bfloat16 (AVX512-BF16 or AMX), where
        it trains the student about twice as fast; float32 elsewhere (GPUs included).
    threads : int, optional
        torch threads while training (``None``: torch's default). Results repeat exactly only
        at the same thread count.
    """

    alpha: float = 0.5
    temperature: float = 1.0
    lr: float = 3e-4
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = DEFAULT_MAX_EPOCHS
    patience: int = DEFAULT_PATIENCE
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    deterministic: bool = True
    progress: bool = True
    balance_classes: bool = True
    precision: str = "auto"
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainHistory:
    """Per-epoch curves and the epoch whose weights were kept."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    best_epoch: int = -1
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), read from /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for plain float32.

    Raises
    ------
    ValueError
        Unknown ``precision``.
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    if precision == "fp32" or (precision == "auto" and (device.type != "cpu" or not cpu_has_native_bf16())):
        return None
    return torch.bfloat16


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def _memory_format(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    # Channels-last 4-D batches let oneDNN's convolutions skip layout reorders on the CPU
    # (about 10 % per step for the student, measured in benchmarks/bench_calibrate.py).
    if x.ndim == 4 and device.type == "cpu":
        return x.contiguous(memory_format=torch.channels_last)
    return x


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed every generator training touches."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def distillation_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_probs: torch.Tensor | None,
    alpha: float,
    temperature: float,
    class_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """The paper's loss.

    Parameters
    ----------
    logits : torch.Tensor, shape (batch, n_classes)
        Student outputs.
    labels : torch.Tensor, shape (batch,), int64
    teacher_probs : torch.Tensor, shape (batch, n_classes), or None
        Teacher soft targets at temperature ``temperature`` (rows sum to 1). ``None`` means
        plain cross-entropy.
    class_weight : torch.Tensor, shape (n_classes,), optional
        Weights of the label term's classes (imbalanced data).
    """
    ce = F.cross_entropy(logits, labels, weight=class_weight)
    if teacher_probs is None or alpha >= 1.0:
        return ce
    log_student = F.log_softmax(logits / temperature, dim=1)
    kl = F.kl_div(log_student, teacher_probs, reduction="batchmean")
    return alpha * ce + (1.0 - alpha) * temperature**2 * kl


def train_classifier(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    config: TrainConfig,
    teacher_probs: np.ndarray | None = None,
    description: str = "train",
) -> TrainHistory:
    """Train ``model`` in place with early stopping on the validation split.

    Parameters
    ----------
    model : nn.Module
        Maps a float32 batch shaped like ``x_train[i:j]`` to logits ``(batch, n_classes)``.
    x_train, x_val : np.ndarray, shape (n, ...)
        Inputs (e.g. TFDs ``(n, channels, time, freq)`` or raw ``(n, time, channels)``).
    y_train, y_val : np.ndarray, shape (n,), int
        Class indices.
    config : TrainConfig
    teacher_probs : np.ndarray, shape (n_train, n_classes), optional
        Soft targets for the training examples; ``None`` trains without distillation.
    description : str
        Label of the progress bar.

    Returns
    -------
    TrainHistory
        The model holds the best validation weights when this returns.
    """
    import time

    if len(x_train) == 0 or len(x_val) == 0:
        raise ValueError(f"need training and validation examples, got {len(x_train)} and {len(x_val)}")
    if teacher_probs is not None and len(teacher_probs) != len(x_train):
        raise ValueError(f"teacher_probs has {len(teacher_probs)} rows for {len(x_train)} training examples")
    seed_everything(config.seed, config.deterministic)
    device = torch.device(resolve_device(config.device))
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    dtype = autocast_dtype(device, config.precision)
    model.to(device)
    if device.type == "cpu" and np.asarray(x_train).ndim == 4:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    xt = torch.as_tensor(np.asarray(x_train, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y_train, dtype=np.int64))
    pt = None if teacher_probs is None else torch.as_tensor(np.asarray(teacher_probs, dtype=np.float32))
    generator = torch.Generator().manual_seed(config.seed)
    weights = class_weights(y_train, int(np.max(y_train)) + 1) if config.balance_classes else None
    weight_t: torch.Tensor | None = None

    history = TrainHistory()
    best_key, best_state, stale = (-1.0, -np.inf), copy.deepcopy(model.state_dict()), 0
    started = time.perf_counter()
    bar = tqdm(range(config.max_epochs), desc=description, disable=not config.progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(xt), generator=generator)
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start : start + config.batch_size]
            if len(idx) < 2 and len(order) > 1:
                continue  # batch norm cannot use a batch of one
            xb, yb = _memory_format(xt[idx].to(device), device), yt[idx].to(device)
            with _autocast(device, dtype):
                logits = model(xb)
            logits = logits.float()  # the losses in float32 whatever the forward ran in
            if weights is not None and weight_t is None:
                weight_t = torch.zeros(logits.shape[1], device=device)
                weight_t[: len(weights)] = torch.as_tensor(weights, dtype=torch.float32)
            loss = distillation_loss(
                logits,
                yb,
                None if pt is None else pt[idx].to(device),
                config.alpha,
                config.temperature,
                weight_t,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            total += len(idx)
        # Validation in float32, as the saved model is used live: the kept epoch is the best one there.
        val_probs = predict_proba(model, x_val, batch_size=256, device=device)
        val_loss = float(F.nll_loss(torch.log(torch.as_tensor(val_probs) + 1e-12), torch.as_tensor(y_val)))
        val_acc = float(np.mean(val_probs.argmax(1) == np.asarray(y_val)))
        history.train_loss.append(loss_sum / max(total, 1))
        history.train_acc.append(correct / max(total, 1))
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        bar.set_postfix(
            loss=f"{history.train_loss[-1]:.3f}", acc=f"{history.train_acc[-1]:.2f}", val_acc=f"{val_acc:.3f}"
        )
        if (val_acc, -val_loss) > best_key:
            best_key, best_state, stale = (val_acc, -val_loss), copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale += 1
            if stale >= config.patience:
                # 1-based, as the learning-curve plot and the report count epochs.
                log.info(
                    "%s: early stop at epoch %d (best %d)", description, epoch + 1, history.best_epoch + 1
                )
                break
    bar.close()
    model.load_state_dict(best_state)
    model.to(memory_format=torch.contiguous_format)  # bundles and the live decoder expect the default layout
    torch.set_num_threads(previous_threads)
    history.seconds = time.perf_counter() - started
    return history


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    x: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """Class probabilities, shape (n, n_classes), float32, in evaluation mode.

    ``precision`` as in :class:`TrainConfig`; float32 by default, as the live decoder runs.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    dtype = autocast_dtype(device, precision)
    model.eval()
    out = []
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(np.asarray(x[start : start + batch_size], dtype=np.float32), device=device)
        with _autocast(device, dtype):
            logits = model(xb)
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, 0), dtype=np.float32)
