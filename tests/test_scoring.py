"""Held-out blocks are scored apart from the blocks a model was trained on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rtdecode.scoring import accuracy_by_split


def _p(label, index, block):
    return SimpleNamespace(marker={"label": label, "block": block}, index=index)


def test_held_out_and_training_blocks_are_separate():
    preds = [_p(0, 0, 1), _p(1, 1, 1), _p(0, 0, 2), _p(1, 0, 2), _p(1, 0, 2), _p(0, 0, 2)]
    scores = accuracy_by_split(preds, [2])
    assert scores["training"] == {"n": 2.0, "top1": 1.0, "balanced_accuracy": 1.0}
    assert scores["held_out"]["n"] == 4 and scores["held_out"]["top1"] == pytest.approx(0.5)
    # Always "0" on the held-out block: class 0 recall 1, class 1 recall 0.
    assert scores["held_out"]["balanced_accuracy"] == pytest.approx(0.5)
    assert set(accuracy_by_split(preds, None)) == {"all"}
    assert accuracy_by_split([SimpleNamespace(marker=None, index=0)], [1]) == {}
