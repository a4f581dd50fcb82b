"""The smoothed time base on stamps made the way liblsl stamps a connector's chunks at push time."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.signal.timing import Gap, TimeBase, smooth_timestamps

SFREQ = 1000.0


def pushed_stamps(seconds, ppm=50.0, seed=0, losses=(), late=(), sfreq=SFREQ, ppm_per_hour=0.0):
    """Raw stamps of an amplifier connector, as liblsl assigns them.

    The device samples at ``sfreq * (1 + ppm)`` (``ppm`` drifting by ``ppm_per_hour``, as a
    warming crystal does); a driver wakes every 10-30 ms, takes what was
    delivered 1-8 ms before and pushes it without stamps: liblsl stamps the last sample at push
    time and back-dates the others at the nominal rate.

    Returns
    -------
    truth : (n,) true acquisition times of the delivered samples
    raw : (n,) their stamps
    chunks : list of int, the pushed chunk sizes
    """
    rng = np.random.default_rng(seed)
    rate = sfreq * (1 + ppm * 1e-6)
    n = int(seconds * rate)
    hours = np.arange(n) / rate / 3600
    periods = 1.0 / (sfreq * (1 + (ppm + ppm_per_hour * hours) * 1e-6))
    truth = 100.0 + np.concatenate([[0.0], np.cumsum(periods[:-1])])
    delivered = np.ones(n, dtype=bool)
    for at, count in losses:
        delivered[int(at * rate) : int(at * rate) + count] = False
    raw, chunks, now, next_sample = np.empty(n), [], 100.0, 0
    while next_sample < n:
        now += rng.uniform(0.010, 0.030)
        delay = rng.uniform(0.001, 0.008)
        push = now + (0.060 if any(abs(now - 100.0 - t) < 0.015 for t in late) else 0.0)
        stop = int(np.searchsorted(truth, now - delay, side="right"))
        index = np.arange(next_sample, stop)[delivered[next_sample:stop]]
        if len(index):
            raw[index] = push - (len(index) - 1 - np.arange(len(index))) / sfreq
            chunks.append(len(index))
        next_sample = max(next_sample, stop)
    return truth[delivered], raw[delivered], chunks


def chunked(base: TimeBase, raw: np.ndarray, chunks: list[int]) -> np.ndarray:
    out, start = [], 0
    for size in chunks:
        out.append(base.process(raw[start : start + size]))
        start += size
    return np.concatenate(out)


@pytest.mark.parametrize("ppm, seed", [(50.0, 0), (-100.0, 1), (100.0, 2)])
def test_push_time_jitter_becomes_well_under_a_millisecond(ppm, seed):
    truth, raw, chunks = pushed_stamps(60, ppm=ppm, seed=seed)
    base = TimeBase(SFREQ)
    smoothed = chunked(base, raw, chunks)
    error = smoothed - truth
    error -= np.median(error)  # the constant transport delay is invisible in stamps
    elapsed = truth - truth[0]
    raw_error = raw - truth
    assert np.std(raw_error - np.median(raw_error)) > 1.5e-3  # the input really is jittered
    assert np.percentile(np.abs(error[(elapsed > 1) & (elapsed < 10)]), 99) < 2e-3
    assert np.percentile(np.abs(error[elapsed > 10]), 99) < 0.5e-3
    assert abs(base.effective_rate / SFREQ - 1 - ppm * 1e-6) < 5e-6
    assert 1e-3 < base.jitter_s < 4e-3
    assert base.take_events() == [] and base.gaps == []
    # no step that looks like a gap (where the filter would restart), not even in the first second
    assert 0 < np.diff(smoothed).min() and np.diff(smoothed).max() < 1.5 / SFREQ


def test_an_hour_of_drifting_clock_is_followed():
    truth, raw, chunks = pushed_stamps(3600, ppm=50.0, seed=6, ppm_per_hour=-40.0)
    sizes = [sum(chunks[i : i + 50]) for i in range(0, len(chunks), 50)]  # about a second per call
    base = TimeBase(SFREQ)
    smoothed = chunked(base, raw, sizes)
    error = smoothed - truth
    error -= np.median(error)
    elapsed = truth - truth[0]
    assert np.percentile(np.abs(error[elapsed > 60]), 99) < 0.5e-3
    assert abs(base.effective_rate / SFREQ - 1 - 10e-6) < 3e-6  # 50 - 40 ppm at the end
    assert base.gaps == []


def test_withheld_samples_and_an_outage_are_the_only_gaps_with_their_sizes():
    truth, raw, chunks = pushed_stamps(40, seed=3, losses=((8.0, 100), (15.0, 2000)))
    base = TimeBase(SFREQ)
    smoothed = chunked(base, raw, chunks)
    events = base.take_events()
    assert [e.kind for e in events] == ["gap", "gap"]
    assert abs(events[0].missing_samples - 100) <= 2 and abs(events[1].missing_samples - 2000) <= 2
    # found where they are (within the chunk that straddles the hole)
    hole = [int(np.searchsorted(truth, 100.0 + 8.0)), int(np.searchsorted(truth, 100.0 + 15.0))]
    assert all(abs(e.index - h) <= 40 for e, h in zip(events, hole, strict=True))
    # after a gap the line restarts its intercept (keeping the rate): as good as at the start
    error = smoothed - truth
    error -= np.median(error)
    assert np.percentile(np.abs(error[(truth > 100.0 + 18.0) & (truth < 100.0 + 27.0)]), 99) < 2e-3
    assert np.percentile(np.abs(error[truth > 100.0 + 28.0]), 99) < 0.5e-3
    assert [(g.index, g.missing_samples) for g in base.gaps] == [(e.index, e.missing_samples) for e in events]
    # the time base steps past 1.5 periods exactly there, so the filter restarts there and only there
    assert (np.flatnonzero(np.diff(smoothed) > 1.5 / SFREQ) + 1).tolist() == [e.index for e in events]


def test_any_chunking_gives_the_same_time_base():
    _, raw, chunks = pushed_stamps(30, seed=4, losses=((10.0, 300),))
    whole = smooth_timestamps(raw, SFREQ)
    live = chunked(TimeBase(SFREQ), raw, chunks)
    sizes = np.random.default_rng(0).integers(1, 700, size=len(raw)).tolist()
    random = chunked(TimeBase(SFREQ), raw, sizes)
    np.testing.assert_allclose(live, whole.timestamps, rtol=0, atol=1e-9)
    np.testing.assert_allclose(random[: len(raw)], whole.timestamps, rtol=0, atol=1e-9)
    assert len(whole.gaps) == 1


def test_exact_stamps_pass_through_and_removed_samples_are_exact_gaps():
    sfreq = 250.0
    full = 50.0 + np.arange(5000) / sfreq
    kept = np.delete(full, np.r_[1000:1005, 3000:3300])
    result = smooth_timestamps(kept, sfreq)
    np.testing.assert_allclose(result.timestamps, kept, rtol=0, atol=1e-9)
    expected = [Gap(1000, full[999], full[1005], 5), Gap(2995, full[2999], full[3300], 300)]
    assert [(g.index, g.missing_samples) for g in result.gaps] == [
        (g.index, g.missing_samples) for g in expected
    ]
    np.testing.assert_allclose([g[1:3] for g in result.gaps], [g[1:3] for g in expected], rtol=0, atol=1e-9)
    assert result.jitter_s < 1e-9 and result.effective_rate == pytest.approx(sfreq, rel=1e-9)


def test_a_late_but_complete_chunk_is_not_a_gap():
    truth, raw, chunks = pushed_stamps(20, seed=5, late=(8.0,))
    base = TimeBase(SFREQ)
    smoothed = chunked(base, raw, chunks)
    kinds = [e.kind for e in base.take_events()]
    assert kinds == ["late"] and base.gaps == []
    assert len(smoothed) == len(raw) and np.all(np.diff(smoothed) > 0)
    # the jump made for the late chunk is taken back within a tenth of a second
    error = smoothed - truth
    error -= np.median(error)
    elapsed = truth - 100.0
    assert np.abs(error[(elapsed > 8.15) & (elapsed < 20)]).max() < 1e-3


def test_stamps_that_jump_back_start_a_new_time_base_and_keep_every_sample():
    sfreq = 500.0
    first = 10.0 + np.arange(1000) / sfreq
    second = 5.0 + np.arange(1000) / sfreq  # the source's clock was reset
    base = TimeBase(sfreq)
    smoothed = base.process(np.concatenate([first, second]))
    assert [e.kind for e in base.take_events()] == ["reset"]
    assert len(smoothed) == 2000 and np.all(np.diff(smoothed) > 0)
    # the new segment starts two periods after the last sample before it (the filter restarts),
    # then slews back towards the new clock without ever stepping like a gap again
    assert smoothed[1000] - smoothed[999] == pytest.approx(2 / sfreq)
    steps = np.diff(smoothed[1000:]) * sfreq
    assert np.all((steps >= 0.9 - 1e-9) & (steps <= 1.1))
    second_only = TimeBase(sfreq)
    second_only.process(first[-300:])
    reset_again = second_only.process(np.concatenate([second, 5.0 + np.arange(1000, 40000) / sfreq]))
    np.testing.assert_allclose(reset_again[-100:], 5.0 + np.arange(39900, 40000) / sfreq, atol=1e-6)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="sfreq"):
        TimeBase(0.0)
    with pytest.raises(ValueError, match="NaN"):
        TimeBase(100.0).process(np.array([1.0, np.nan]))


def test_one_huge_late_chunk_after_a_stall_is_not_a_gap():
    # A connector stalled 430 ms: one chunk pushed that late, then 480 samples in one chunk pushed
    # 30 ms late, then normal pushes again (seen in a LabRecorder-style file under heavy load).
    truth, raw, chunks = pushed_stamps(20, seed=8)
    stalled = int(np.searchsorted(truth, 108.0))
    sizes = np.cumsum(chunks)
    first = int(np.searchsorted(sizes, stalled, side="right"))
    a_end, b_end = sizes[first], sizes[first] + 480
    raw = raw.copy()
    raw[sizes[first - 1] : a_end] += 0.430
    raw[a_end:b_end] = raw[b_end - 1] + 0.030 - (b_end - 1 - np.arange(a_end, b_end)) / SFREQ
    sizes_live = chunks[:first] + [a_end - sizes[first - 1], b_end - a_end, len(raw) - b_end]
    base = TimeBase(SFREQ)
    smoothed = chunked(base, raw, sizes_live)
    assert [e.kind for e in base.take_events()] == ["late"] and base.gaps == []
    error = smoothed - truth
    error -= np.median(error)
    assert np.abs(error[truth > 109.0]).max() < 1e-3


def test_breaks_are_true_gaps_and_resets_not_late_chunks():
    _, raw, _ = pushed_stamps(20, seed=5, late=(8.0,), losses=((14.0, 200),))
    result = smooth_timestamps(raw, SFREQ)
    late = [e.index for e in result.events if e.kind == "late"]
    gap = [e.index for e in result.events if e.kind == "gap"]
    assert len(late) == 1 and len(gap) == 1
    assert not result.has_break(late[0] - 100, late[0] + 100)  # epochs over a late chunk are whole
    assert result.has_break(gap[0] - 100, gap[0] + 100) and not result.has_break(gap[0], gap[0] + 100)


@pytest.mark.parametrize(
    ("hole_s", "announced", "kind"),
    [
        (0.3, False, "gap"),  # a link dropped 300 samples: they are counted
        (4.0, False, "gap"),  # under PAUSE_S: still lost data
        (6.0, False, "pause"),  # the stream stopped and resumed: a pause between runs
        (86400.0, False, "pause"),  # runs a day apart: never 86 million samples "not delivered"
        (0.3, True, "pause"),  # a block_end marker announced it: a pause however short
    ],
)
def test_a_long_or_announced_hole_is_a_pause_between_runs_claiming_no_samples(hole_s, announced, kind):
    first = 100.0 + np.arange(20_000) / SFREQ
    second = first[-1] + hole_s + np.arange(1, 10_001) / SFREQ
    raw = np.concatenate([first, second])
    whole = smooth_timestamps(raw, SFREQ, announced_pauses=[first[-1]] if announced else [])
    base = TimeBase(SFREQ)
    if announced:
        base.announce_pause(first[-1])
    live = chunked(base, raw, [20] * (len(raw) // 20))
    np.testing.assert_allclose(live, whole.timestamps, rtol=0, atol=1e-9)  # live and offline alike
    events = whole.events
    assert [e.kind for e in events] == [kind] and events[0].index == len(first)
    assert events[0].end_time - events[0].start_time == pytest.approx(hole_s + 1 / SFREQ, abs=1e-6)
    if kind == "pause":
        assert whole.gaps == [] and base.gaps == [] and events[0].missing_samples == 0
        assert whole.pauses == events and "pause between runs" in events[0].describe()
    else:
        assert whole.pauses == [] and abs(whole.gaps[0].missing_samples - hole_s * SFREQ) <= 1
    assert whole.has_break(len(first) - 1, len(first) + 1)  # the filter restarts there either way


def test_an_announcement_after_the_hole_or_long_before_it_changes_nothing():
    first = 100.0 + np.arange(5000) / SFREQ
    second = first[-1] + 0.3 + np.arange(1, 2001) / SFREQ
    raw = np.concatenate([first, second])
    for when in (second[500], first[-1] - 60.0):
        assert [e.kind for e in smooth_timestamps(raw, SFREQ, announced_pauses=[when]).events] == ["gap"]
    with pytest.raises(ValueError, match="pause_s"):
        TimeBase(SFREQ, pause_s=0.0)
