"""The distillation loss and training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from calibration.train import TrainConfig, distillation_loss, predict_proba, seed_everything, train_classifier


def test_loss_is_the_papers_formula():
    torch.manual_seed(0)
    logits = torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    teacher = torch.softmax(torch.randn(8, 5) / 2.0, dim=1)
    alpha, temperature = 0.3, 2.0
    got = distillation_loss(logits, labels, teacher, alpha, temperature)
    ce = -torch.log_softmax(logits, 1)[torch.arange(8), labels].mean()
    student_t = torch.softmax(logits / temperature, 1)
    kl = (teacher * (torch.log(teacher) - torch.log(student_t))).sum(1).mean()
    assert float(got) == pytest.approx(float(alpha * ce + (1 - alpha) * temperature**2 * kl), rel=1e-5)
    assert float(distillation_loss(logits, labels, teacher, 1.0, temperature)) == pytest.approx(
        float(ce), rel=1e-6
    )


def _toy(n=300, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[np.arange(n), y] += 2.5
    return x, y


def _model(d=6, k=3):
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, k))


def test_training_learns_stops_early_and_repeats_with_the_seed():
    x, y = _toy()
    config = TrainConfig(max_epochs=40, patience=5, lr=1e-2, progress=False, seed=1)
    seed_everything(1)
    m1 = _model()
    torch.manual_seed(123)  # the loop reseeds its own shuffling and dropout
    h1 = train_classifier(m1, x[:200], y[:200], x[200:], y[200:], config)
    seed_everything(1)
    m2 = _model()
    torch.manual_seed(999)
    h2 = train_classifier(m2, x[:200], y[:200], x[200:], y[200:], config)
    assert h1.val_acc == h2.val_acc and h1.best_epoch == h2.best_epoch
    assert max(h1.val_acc) > 0.85
    assert len(h1.val_acc) <= 40
    # the restored weights are the best epoch's
    acc = np.mean(predict_proba(m1, x[200:]).argmax(1) == y[200:])
    assert acc == pytest.approx(h1.val_acc[h1.best_epoch])


def test_teacher_targets_move_the_student():
    x, y = _toy()
    wrong = np.eye(3)[(y[:200] + 1) % 3].astype(np.float32)  # a teacher that is always wrong
    config = TrainConfig(max_epochs=15, patience=50, lr=1e-2, progress=False, alpha=0.0)
    model = _model()
    # Validation scored against the teacher's mapping, so early stopping keeps what it taught.
    train_classifier(model, x[:200], y[:200], x[200:], (y[200:] + 1) % 3, config, teacher_probs=wrong)
    pred = predict_proba(model, x[:200]).argmax(1)
    assert np.mean(pred == (y[:200] + 1) % 3) > 0.8  # with alpha = 0 it follows the teacher


def test_bad_inputs_are_refused():
    x, y = _toy(n=20)
    with pytest.raises(ValueError, match="teacher_probs"):
        train_classifier(_model(), x, y, x, y, TrainConfig(progress=False), teacher_probs=np.ones((3, 3)))


def test_precision_choice():
    from calibration.train import autocast_dtype, cpu_has_native_bf16

    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "fp32") is None and autocast_dtype(cpu, "bf16") is torch.bfloat16
    assert autocast_dtype(cpu, "auto") is (torch.bfloat16 if cpu_has_native_bf16() else None)
    with pytest.raises(ValueError, match="precision"):
        autocast_dtype(cpu, "fp16")


def test_bf16_training_of_a_convolutional_net_learns_and_returns_contiguous_weights():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    x = rng.normal(size=(120, 4, 6, 6)).astype(np.float32)
    x[:, 0] += (2 * y - 1)[:, None, None] * 1.5
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2)
    )
    config = TrainConfig(max_epochs=20, patience=20, lr=1e-2, progress=False, precision="bf16", threads=1)
    threads = torch.get_num_threads()
    h = train_classifier(model, x[:80], y[:80], x[80:], y[80:], config)
    assert max(h.val_acc) > 0.85
    assert torch.get_num_threads() == threads  # restored
    assert all(p.is_contiguous() for p in model.parameters())
