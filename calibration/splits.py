"""Block-respecting train/validation/test splits.

Random trial-level splits of block-design EEG leak the slow, block-specific state of the
recording into the test set and inflate accuracy (Li et al. 2018/2021; Palazzo et al. 2020).
Here every block goes wholly to one split.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Where the blocks of a recording without block markers can come from (rtdecode.io.blocks).
_BLOCKS_HINT = (
    "--blocks pauses:SECONDS (shorter pauses between runs), --blocks markers:CODE (markers that start "
    "a run), --blocks times:SECONDS,... (run starts from the first sample) or --blocks runs:N (N runs of "
    "consecutive trials)"
)


class Split(NamedTuple):
    """Indices into the epoch arrays, and the blocks each part holds."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_blocks: list[int]
    val_blocks: list[int]
    test_blocks: list[int]


def block_split(
    blocks: np.ndarray, test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0
) -> Split:
    """Assign whole blocks to train, validation and test.

    Parameters
    ----------
    blocks : np.ndarray, shape (n_epochs,), int
        Block number of every epoch.
    test_fraction, val_fraction : float
        Approximate share of *blocks* (at least one each) for test and validation.
    seed : int
        Which blocks go where (the assignment is a seeded permutation of the blocks).

    Returns
    -------
    Split
    """
    blocks = np.asarray(blocks)
    unique = np.unique(blocks)
    if len(unique) < 3:
        raise ValueError(
            f"a block-respecting split needs at least 3 blocks (train, validation, test), got {len(unique)}; "
            f"record a longer session, or say where its runs start: {_BLOCKS_HINT}"
        )
    order = np.random.default_rng(seed).permutation(unique)
    n_test = max(1, int(round(test_fraction * len(unique))))
    n_val = max(1, int(round(val_fraction * len(unique))))
    if n_test + n_val >= len(unique):
        n_test, n_val = 1, 1
    test_b, val_b, train_b = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return Split(
        train=np.flatnonzero(np.isin(blocks, train_b)),
        val=np.flatnonzero(np.isin(blocks, val_b)),
        test=np.flatnonzero(np.isin(blocks, test_b)),
        train_blocks=sorted(int(b) for b in train_b),
        val_blocks=sorted(int(b) for b in val_b),
        test_blocks=sorted(int(b) for b in test_b),
    )


def leave_one_block_out(blocks: np.ndarray) -> list[Split]:
    """One split per block: that block is the test set, the next block (cyclically) validates.

    Parameters
    ----------
    blocks : np.ndarray, shape (n_epochs,), int
        Block number of every epoch.

    Returns
    -------
    list of Split
        ``len(unique(blocks))`` splits; every block is the test block of exactly one, and in each
        split a block lies wholly in one of train, validation and test.
    """
    blocks = np.asarray(blocks)
    unique = [int(b) for b in np.unique(blocks)]
    if len(unique) < 3:
        raise ValueError(
            f"leave-one-block-out needs at least 3 blocks (train, validation, test), got {len(unique)}; "
            f"record a longer session, or say where its runs start: {_BLOCKS_HINT}"
        )
    splits = []
    for k, test_block in enumerate(unique):
        val_block = unique[(k + 1) % len(unique)]
        train_b = [b for b in unique if b not in (test_block, val_block)]
        splits.append(
            Split(
                train=np.flatnonzero(np.isin(blocks, train_b)),
                val=np.flatnonzero(blocks == val_block),
                test=np.flatnonzero(blocks == test_block),
                train_blocks=train_b,
                val_blocks=[val_block],
                test_blocks=[test_block],
            )
        )
    return splits
