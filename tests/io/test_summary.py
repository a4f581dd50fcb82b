"""`rtdecode info`'s timing lines: pauses between runs are not gaps; lost samples are."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtdecode.io.blocks import BlockRule
from rtdecode.io.recording import Recording
from rtdecode.io.summary import summarize_recording

SFREQ = 250.0


def _runs(starts: list[float], run_s: float = 10.0, block_markers: bool = False) -> Recording:
    """Runs of ``run_s`` seconds starting at ``starts`` (LSL seconds), a stimulus every 0.5 s."""
    runs = [start + np.arange(int(run_s * SFREQ)) / SFREQ for start in starts]
    markers = []
    for block, run in enumerate(runs):
        markers += [(t, json.dumps({"event": "stimulus", "label": 0, "class": "a"})) for t in run[50::125]]
        if block_markers:
            markers += [(run[0], json.dumps({"event": "block_start", "block": block}))]
            markers += [(run[-1], json.dumps({"event": "block_end", "block": block}))]
    stamps = np.concatenate(runs)
    return Recording(np.zeros((len(stamps), 2)), stamps, SFREQ, ["a", "b"], markers)


DAY = 86400.0


@pytest.mark.parametrize(
    ("starts", "block_markers", "rule", "expected", "absent"),
    [
        # 60 s between two runs, block markers around it: a pause
        (
            [10.0, 80.0],
            True,
            None,
            ["20.0 s recorded over 80.0 s (1 pause between runs)", "gaps: none"],
            ["gaps: 1"],
        ),
        # the same without block markers: still a pause between runs, never 15000 samples lost
        ([10.0, 80.0], False, None, ["pauses between runs: 1, 60.0 s", "gaps: none"], ["not delivered"]),
        # runs a day apart (a file of two sessions): no absurd sample count
        (
            [10.0, 30.0, 30.0 + DAY],
            False,
            None,
            ["pauses between runs: 2", "gaps: none", "blocks: 3 (pauses between runs: at least 5 s without"],
            ["not delivered"],
        ),
        # 2 s without samples, announced by block markers: a pause however short
        ([10.0, 22.0], True, None, ["pauses between runs: 1, 2.0 s", "gaps: none"], ["not delivered"]),
        # ... and without them: samples the device did not deliver, with their number
        ([10.0, 22.0], False, None, ["gaps: 1, 500 samples not delivered"], ["pauses between runs:"]),
        # a longer shortest pause (--blocks pauses:30): a 10 s hole is lost data again
        (
            [10.0, 30.0],
            False,
            BlockRule("pauses", pause_s=30.0),
            ["gaps: 1, 2500 samples"],
            ["pauses between runs:"],
        ),
    ],
)
def test_pauses_between_runs_are_not_gaps(starts, block_markers, rule, expected, absent):
    recording = _runs(starts, block_markers=block_markers)
    recording.block_rule = rule
    text = summarize_recording(recording)
    for line in expected:
        assert line in text, text
    for line in absent:
        assert line not in text, text
