"""Metrics against independent computations; block splits never share a block."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from calibration.metrics import evaluate_predictions, summarize_across_subjects
from calibration.splits import block_split


def test_topk_f1_kappa_match_hand_computations():
    rng = np.random.default_rng(0)
    n, k = 400, 10
    y = rng.integers(0, k, n)
    proba = rng.random((n, k))
    proba[np.arange(n), y] += rng.random(n) * 0.8  # some signal
    m = evaluate_predictions(y, proba)
    ranks = (-proba).argsort(axis=1)
    for top in (1, 3, 5):
        assert m[f"top{top}"] == pytest.approx(np.mean([y[i] in ranks[i, :top] for i in range(n)]))
    pred = proba.argmax(1)
    assert m["top1"] == pytest.approx(accuracy_score(y, pred))
    # Cohen's kappa by its definition
    po = np.mean(pred == y)
    pe = sum(np.mean(pred == c) * np.mean(y == c) for c in range(k))
    assert m["kappa"] == pytest.approx((po - pe) / (1 - pe))
    f1s = []
    for c in range(k):
        tp = np.sum((pred == c) & (y == c))
        prec = tp / max(np.sum(pred == c), 1)
        rec = tp / max(np.sum(y == c), 1)
        f1s.append(0 if prec + rec == 0 else 2 * prec * rec / (prec + rec))
    assert m["f1_macro"] == pytest.approx(np.mean(f1s))
    assert m["chance_top1"] == pytest.approx(0.1) and m["chance_top5"] == pytest.approx(0.5)


def test_perfect_and_chance_predictions():
    y = np.repeat(np.arange(4), 25)
    perfect = np.eye(4)[y]
    m = evaluate_predictions(y, perfect)
    assert m["top1"] == 1.0 and m["kappa"] == pytest.approx(1.0) and m["f1_macro"] == pytest.approx(1.0)
    constant = np.tile([1.0, 0, 0, 0], (100, 1))
    assert evaluate_predictions(y, constant)["kappa"] == pytest.approx(0.0)


def test_summary_across_subjects_mean_and_sample_sd():
    per = {1: {"top1": 0.2}, 2: {"top1": 0.4}, 3: {"top1": 0.3}}
    s = summarize_across_subjects(per)
    assert s["top1"]["mean"] == pytest.approx(0.3)
    assert s["top1"]["sd"] == pytest.approx(np.std([0.2, 0.4, 0.3], ddof=1))


def test_block_split_keeps_blocks_whole_and_is_seeded():
    blocks = np.repeat(np.arange(20), 50)
    split = block_split(blocks, 0.2, 0.1, seed=3)
    parts = [set(blocks[split.train]), set(blocks[split.val]), set(blocks[split.test])]
    assert parts[0].isdisjoint(parts[1]) and parts[0].isdisjoint(parts[2]) and parts[1].isdisjoint(parts[2])
    assert len(split.test_blocks) == 4 and len(split.val_blocks) == 2
    assert len(split.train) + len(split.val) + len(split.test) == len(blocks)
    again = block_split(blocks, 0.2, 0.1, seed=3)
    assert np.array_equal(again.test, split.test)
    assert not np.array_equal(block_split(blocks, 0.2, 0.1, seed=4).test, split.test)


def test_block_split_refuses_too_few_blocks():
    with pytest.raises(ValueError, match="at least 3 blocks"):
        block_split(np.zeros(10, dtype=int))


def test_leave_one_block_out_never_puts_a_block_on_two_sides():
    from calibration.splits import leave_one_block_out

    blocks = np.repeat([3, 0, 7, 1, 4], [10, 12, 9, 11, 8])
    folds = leave_one_block_out(blocks)
    assert sorted(b for f in folds for b in f.test_blocks) == [0, 1, 3, 4, 7]  # each block tested once
    for fold in folds:
        parts = [set(fold.train_blocks), set(fold.val_blocks), set(fold.test_blocks)]
        assert set.union(*parts) == {0, 1, 3, 4, 7} and sum(map(len, parts)) == 5
        for index, part in zip((fold.train, fold.val, fold.test), parts, strict=True):
            assert set(blocks[index].tolist()) == part
        assert len(fold.train) + len(fold.val) + len(fold.test) == len(blocks)
        assert not set(fold.train) & set(fold.test) and not set(fold.val) & set(fold.test)
    with pytest.raises(ValueError, match="at least 3 blocks"):
        leave_one_block_out(np.array([0, 0, 1]))


def test_fold_summary_is_the_mean_with_a_student_t_interval():
    from scipy import stats

    from calibration.metrics import summarize_folds

    folds = [{"top1": v, "roc_auc": a} for v, a in [(0.6, 0.7), (0.7, float("nan")), (0.65, 0.8)]]
    summary = summarize_folds(folds)
    values = np.array([0.6, 0.7, 0.65])
    low, high = stats.t.interval(0.95, 2, loc=values.mean(), scale=stats.sem(values))
    assert summary["top1"]["mean"] == pytest.approx(0.65)
    assert (summary["top1"]["ci_low"], summary["top1"]["ci_high"]) == pytest.approx((low, high))
    assert summary["roc_auc"]["n_folds"] == 2  # the undefined fold is left out
