"""`rtdecode info`'s timing lines: pauses between runs are not gaps; lost samples are."""

from __future__ import annotations

import json

import numpy as np

from rtdecode.io.recording import Recording
from rtdecode.io.summary import summarize_recording

SFREQ = 250.0


def _two_runs(with_block_markers: bool) -> Recording:
    first = 10.0 + np.arange(2500) / SFREQ  # 10 s
    second = 80.0 + np.arange(2500) / SFREQ  # 60 s later
    markers = []
    if with_block_markers:
        for block, (start, end) in enumerate([(first[0], first[-1]), (second[0], second[-1])]):
            markers += [(start, json.dumps({"event": "block_start", "block": block}))]
            markers += [(end, json.dumps({"event": "block_end", "block": block}))]
    stamps = np.concatenate([first, second])
    return Recording(np.zeros((len(stamps), 2)), stamps, SFREQ, ["a", "b"], markers)


def test_a_pause_between_blocks_is_not_a_gap():
    text = summarize_recording(_two_runs(with_block_markers=True))
    assert "20.0 s recorded over 80.0 s (1 pauses between blocks)" in text
    assert "pauses between blocks: 1" in text and "gaps: none" in text


def test_a_hole_without_block_markers_is_a_gap_with_its_size():
    text = summarize_recording(_two_runs(with_block_markers=False))
    assert "gaps: 1, 15000 samples not delivered" in text and "pauses" not in text
