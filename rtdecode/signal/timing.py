"""One time base for a regularly sampled stream: raw LSL stamps in, smoothed gap-aware stamps out.

Real amplifier connectors push chunks without timestamps, so liblsl stamps each chunk's last
sample at push time and back-dates the others at the nominal rate: chunk boundaries jitter by
milliseconds either way, and the device clock runs tens of ppm off the nominal rate. Cutting
epochs on those raw stamps, or calling every late chunk a gap, is wrong. :class:`TimeBase`
fits the stamps against the sample index, ``t = t_ref + x / sfreq + alpha + beta * x``
(``x`` the sample's position on the device's own sample clock), by exponentially weighted
least squares (half-life :data:`HALF_LIFE_S`), with a prior that pulls ``beta`` towards the
nominal rate as strongly as :data:`PRIOR_S` seconds of data would, so the first second of a
session is already stable and an hour of clock drift is followed. Every sample is stamped with
the fit of the samples before it (causal), so the same rule serves the live reader chunk by
chunk and offline reading on the whole array, with the same result for any chunking.

Gaps are samples the device did not deliver: the sample count falls behind elapsed time, i.e.
a raw stamp lies more than ``max(GAP_SD_FACTOR * jitter SD, GAP_MIN_PERIODS periods)`` after
the fit's prediction. The stamps jump there at once (so the filter restarts at the gap); the
size is measured over the next :data:`REFINE_S` seconds and at least :data:`REFINE_CHUNKS`
pushes (one huge chunk that came late must not pass for a gap) as the mean offset of the
samples on the new line, then reported. The line after a gap gets its own intercept and keeps
the rate. A suspect chunk followed by samples back on the old line only came late: it is
reported as ``late`` at once and the stamps catch up within about its length (so is a shift
under half the detection threshold: jitter cannot tell such a small hole from a late chunk; a
counter channel can). A stamp far *before* the prediction (a clock reset, a restarted source)
is a ``reset``: a new fit starts; its first sample is placed two periods after the last stamp
so time stays increasing and the filter restarts there, and the stamps after it slew down to the
new line. No sample is ever dropped: every raw stamp gets a smoothed stamp, and smoothed stamps
always increase. Between these events the smoothed stamps follow the fit's corrections at a
bounded rate (:data:`SLEW_PERIODS`), so the time base steps by more than 1.5 periods only at
gaps, resets and late chunks: that is where the filter restarts.

A hole of at least :data:`PAUSE_S` seconds (``pause_s``), or one that a block marker announced
(:meth:`TimeBase.announce_pause`: a ``block_end`` at most :data:`ANNOUNCED_PAUSE_SLACK_S` before
it), is a ``pause`` instead: the stream stopped and resumed (the pause between two runs of a
session, a recorder paused, runs of another day in one file). A device does not lose seconds of
samples and then go on: such a stretch is no data loss, so a pause claims no missing samples
(reported by its duration only) and the time base never counts more samples as lost than a few
seconds of the stream. It is handled like a gap otherwise: the stamps jump, the filter restarts.

The constant part of the transport delay (the mean time from a sample's acquisition to its
push) cannot be seen in the stamps; a lab that measured it shifts EEG time with
``PipelineConfig.acquisition_latency_ms``, applied where epochs are cut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

# Half-life of the exponential forgetting of the fit, seconds: long enough that the intercept
# averages thousands of chunks, short enough to follow the slow drift of a device clock.
HALF_LIFE_S = 60.0
# The nominal rate weighs as much as this many seconds of data in the slope estimate: the
# first seconds cannot resolve tens of ppm, so the nominal rate is the better guess there.
PRIOR_S = 5.0
# Jitter SD assumed before any data, seconds, with the weight of INITIAL_SD_WEIGHT_S of samples.
INITIAL_SD_S = 0.005
INITIAL_SD_WEIGHT_S = 0.5
# A raw stamp this many jitter SDs (and at least GAP_MIN_PERIODS periods) after the
# prediction means the device did not deliver samples.
GAP_SD_FACTOR = 10.0
GAP_MIN_PERIODS = 3.0
# A stretch without samples at least this long (seconds) is a pause between runs, not lost data:
# amplifier links drop milliseconds to a second, a session's runs are tens of seconds apart.
PAUSE_S = 5.0
# A hole that starts at most this long (seconds) after an announced pause (a block_end marker),
# or that contains it, is that pause, whatever its length: the stream stopped at the block_end.
# Short, so that a hole in the rest between two blocks of a stream that ran on is still a gap.
ANNOUNCED_PAUSE_SLACK_S = 1.0
# Seconds of samples after a suspected gap whose median offset fixes its size.
REFINE_S = 0.5
# ... and over at least this many pushed chunks (seen where the raw stamps' step leaves the
# nominal period, which liblsl back-dates within a chunk), unless the stamps are exact or
# 3 * REFINE_S show no boundary.
REFINE_CHUNKS = 5
# Smoothed stamps increase by at least this fraction of a period.
MIN_STEP_PERIODS = 0.01
# Between gaps, the smoothed stamps follow the fit's corrections (large only in the first second)
# by at most this fraction of a period per sample, so the time base never has a step that looks
# like a gap (> 1.5 periods) where no sample is missing.
SLEW_PERIODS = 0.1
# Longest run processed with one set of cumulative sums (bounds lambda**-n).
_BLOCK = 4096


class Gap(NamedTuple):
    """A stretch of samples the device did not deliver.

    Attributes
    ----------
    index : int
        Index of the first sample *after* the gap (in delivered samples).
    start_time, end_time : float
        Smoothed stamps of the samples before and after the gap, seconds.
    missing_samples : int
        Samples not delivered (at least 1).
    """

    index: int
    start_time: float
    end_time: float
    missing_samples: int


@dataclass(frozen=True)
class TimeEvent:
    """Something the time base found in the stamps.

    Attributes
    ----------
    kind : {"gap", "pause", "late", "reset"}
        ``gap``: samples were not delivered; ``pause``: the stream stopped and resumed (at
        least ``pause_s`` without samples, or a pause announced by a block marker); ``late``: a
        chunk came late but no sample was missing; ``reset``: the stamps jumped back (clock
        reset or restarted source).
    index : int
        Index (in delivered samples since the start) of the first sample after the event.
    start_time, end_time : float
        Smoothed stamps of the samples before and after the event.
    missing_samples : int
        Samples the device did not deliver (0 for ``pause``, ``late`` and ``reset``).
    """

    kind: str
    index: int
    start_time: float
    end_time: float
    missing_samples: int = 0

    def as_gap(self) -> Gap:
        """This event as a :class:`Gap` (for ``kind == "gap"``)."""
        return Gap(self.index, float(self.start_time), float(self.end_time), self.missing_samples)

    def describe(self) -> str:
        """One sentence for logs and status bars."""
        if self.kind == "gap":
            ms = (self.end_time - self.start_time) * 1000
            return f"{self.missing_samples} samples not delivered ({ms:.0f} ms gap); filter restarted"
        if self.kind == "pause":
            seconds = self.end_time - self.start_time
            return f"pause between runs: no samples for {seconds:.1f} s (not lost data); filter restarted"
        if self.kind == "late":
            return "a chunk arrived late but complete (no sample missing)"
        return "timestamps jumped back (clock reset or restarted source); new time base, filter restarted"


@dataclass
class _Refinement:
    """State while the size of a suspected gap is measured."""

    offset_before: float  # sample-clock offset before the gap
    index: int  # delivered index of the first sample after it
    start_time: float  # smoothed stamp of the last sample before it
    remaining: int = 0
    chunks: int = 1
    offsets: list[float] = field(default_factory=list)
    samples: list[tuple[int, float]] = field(default_factory=list)  # (delivered index, raw stamp)


class TimeBase:
    """Causal dejittering, rate estimation and gap detection for one regularly sampled stream.

    Parameters
    ----------
    sfreq : float
        Nominal sampling rate in Hz.
    pause_s : float
        A stretch without samples at least this long is a pause between runs, not a gap
        (``inf``: every hole is a gap).

    Examples
    --------
    >>> base = TimeBase(1000.0)
    >>> smoothed = base.process(raw_chunk_stamps)  # doctest: +SKIP
    >>> base.take_events(), base.effective_rate, base.jitter_s  # doctest: +SKIP
    """

    def __init__(self, sfreq: float, pause_s: float = PAUSE_S) -> None:
        if not (math.isfinite(sfreq) and sfreq > 0):
            raise ValueError(f"sfreq must be a positive rate in Hz, got {sfreq!r}")
        if not pause_s > 0:
            raise ValueError(f"pause_s must be a duration > 0 in seconds (inf: no pauses), got {pause_s!r}")
        self.sfreq = float(sfreq)
        self.pause_s = float(pause_s)
        self._announced: list[float] = []  # stamps of block_end markers: pauses may follow
        self.period = 1.0 / self.sfreq
        self.lam = 0.5 ** (1.0 / (HALF_LIFE_S * self.sfreq))
        n_prior = PRIOR_S * self.sfreq
        self.prior = n_prior**3 / 12.0  # sum of (x - mean)^2 over n_prior samples
        self.block = max(64, min(_BLOCK, int(HALF_LIFE_S * self.sfreq / 8)))
        self.delivered = 0
        self.gaps: list[Gap] = []
        self._events: list[TimeEvent] = []
        self._offset = 0.0  # sample-clock position minus delivered index (missing samples so far)
        self._last_out = -math.inf
        self._catching_up = False  # taking back a jump made for a chunk that only came late
        self._refine: _Refinement | None = None
        self._jitter_w = INITIAL_SD_WEIGHT_S * self.sfreq
        self._jitter_ss = INITIAL_SD_S**2 * self._jitter_w
        self._new_segment()

    # -- public -----------------------------------------------------------------------------
    @property
    def effective_rate(self) -> float:
        """Sampling rate of the device clock estimated by the fit, Hz (nominal before any data)."""
        if self._s[0] == 0:
            return self.sfreq
        return 1.0 / (self.period + self._solve()[1])

    @property
    def jitter_s(self) -> float:
        """Recent SD of raw stamps around the fit, seconds."""
        return math.sqrt(self._jitter_ss / self._jitter_w)

    def announce_pause(self, after: float) -> None:
        """Say that the stream may pause after stamp ``after`` (a ``block_end`` marker's time).

        A hole that starts at most :data:`ANNOUNCED_PAUSE_SLACK_S` after it (or contains it) is
        then a ``pause``, however short. Call it before the samples after the hole arrive.
        """
        self._announced.append(float(after))

    def take_events(self) -> list[TimeEvent]:
        """Events found since the last call (gaps are reported once their size is measured)."""
        out, self._events = self._events, []
        return out

    def process(self, raw: np.ndarray) -> np.ndarray:
        """Smoothed stamps for the next samples of the stream.

        Parameters
        ----------
        raw : np.ndarray, shape (n_samples,)
            Raw (clock-corrected) LSL stamps of the next samples, in delivery order.

        Returns
        -------
        np.ndarray, shape (n_samples,), float64
            Smoothed stamps, strictly increasing across calls.
        """
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim != 1:
            raise ValueError(f"raw stamps must be one-dimensional (n_samples,), got shape {raw.shape}")
        if not np.all(np.isfinite(raw)):
            raise ValueError("raw stamps contain NaN or infinite values; LSL never delivers those")
        out = np.empty_like(raw)
        i = 0
        while i < len(raw):
            if self._refine is None and self._s[0] > 0 and not self._pending:
                done = self._quiet_run(raw[i : i + self.block], out[i : i + self.block])
                i += done
                if done:
                    continue
            self._one(raw[i], out, i)
            i += 1
        return out

    # -- the fit ----------------------------------------------------------------------------
    def _new_segment(self, keep_slope: bool = False) -> None:
        """Forget the intercept; with ``keep_slope`` the slope's information carries over.

        Weighted sums over normal samples: 1, x, x^2, u, x*u (u = t - t_ref - x/sfreq), then the
        carried slope prior's precision ``Pc`` and ``Pc * beta_c``, which decay like the data.
        """
        carried = np.zeros(2)
        if keep_slope and self._s[0] > 0:
            s0, sx, sxx, _, _, pc, _ = self._s
            beta = self._solve()[1]
            precision = sxx - sx * sx / s0 + pc
            carried = np.array([precision, precision * beta])
        self._s = np.concatenate([np.zeros(5), carried])
        self._t_ref = 0.0
        self._x_ref = 0.0
        self._pending = False

    def _solve(self) -> tuple[float, float]:
        return _line(self._s, self.prior)

    def _predict(self, x: float) -> float:
        alpha, beta = self._solve()
        return self._t_ref + x * self.period + alpha + beta * x

    def _threshold(self, period: float) -> float:
        return max(GAP_SD_FACTOR * self.jitter_s, GAP_MIN_PERIODS * period)

    def _x(self, delivered: int, offset: float) -> float:
        return delivered + offset - self._x_ref

    def _add(self, x: float, t: float, residual: float | None) -> None:
        u = t - self._t_ref - x * self.period
        self._s = self.lam * self._s + np.array([1.0, x, x * x, u, x * u, 0.0, 0.0])
        if residual is not None:
            self._jitter_w = self.lam * self._jitter_w + 1.0
            self._jitter_ss = self.lam * self._jitter_ss + residual * residual

    def _recenter(self) -> None:
        """Move the x origin to the newest sample so the sums stay small."""
        d = self.delivered + self._offset - self._x_ref
        s0, sx, sxx, su, sxu, pc, pcb = self._s
        self._s = np.array([s0, sx - d * s0, sxx - 2 * d * sx + d * d * s0, su, sxu - d * su, pc, pcb])
        self._x_ref += d
        self._t_ref += d * self.period

    def _emit_out(self, value: float, jump: bool = False, fast_back: bool = False) -> float:
        """The smoothed stamp for a fit value: a jump at gaps and resets, else slew-limited.

        ``fast_back`` (while a suspected gap is measured) lets the stamps almost stop, so that a
        jump made for a chunk that only came late is taken back within as many samples.
        """
        if jump or not math.isfinite(self._last_out):
            value = max(value, self._last_out + MIN_STEP_PERIODS * self.period)
            self._last_out = value
            return value
        fast_back = fast_back or self._catching_up
        period = np.array([self.period + self._solve()[1]])
        return float(self._follow(np.array([value]), period, fast_back)[0])

    def _follow(self, targets: np.ndarray, periods: np.ndarray, fast_back: bool = False) -> np.ndarray:
        """Stamps ``(n,)`` that move towards ``targets`` by at most SLEW_PERIODS of a period a sample."""
        limit = SLEW_PERIODS * self.period
        low = -(1.0 - MIN_STEP_PERIODS) * self.period if fast_back else -limit
        steps = np.diff(np.concatenate([[self._last_out], targets])) - periods
        if np.all((steps <= limit) & (steps >= low)):  # the usual case: the fit itself is smooth
            out = targets.copy()
        else:
            out = np.empty_like(targets)
            last = self._last_out
            for j, (target, period) in enumerate(zip(targets.tolist(), periods.tolist(), strict=True)):
                last += period + min(max(target - last - period, low), limit)
                out[j] = last
        self._last_out = float(out[-1])
        self._catching_up = self._catching_up and abs(out[-1] - targets[-1]) > limit
        return out

    # -- sample by sample: start of a segment, suspected gaps, resets -------------------------
    def _one(self, t: float, out: np.ndarray, i: int) -> None:
        k = self.delivered
        if self._s[0] == 0:  # first sample of a segment
            self._t_ref, self._x_ref = t, k + self._offset
            self._add(0.0, t, None)
            out[i] = self._emit_out(t, jump=True)
        elif self._refine is not None:
            out[i] = self._refining(t, k)
        else:
            self._pending = False
            x = self._x(k, self._offset)
            predicted = self._predict(x)
            residual = t - predicted
            period = self.period + self._solve()[1]
            if residual > self._threshold(period):
                before = self._last_out
                self._refine = _Refinement(
                    offset_before=self._offset,
                    index=k,
                    start_time=before,
                    remaining=max(1, int(REFINE_S * self.sfreq)),
                )
                out[i] = self._refining(t, k, jump=True)
            elif residual < -self._threshold(period):
                before = self._last_out
                self._new_segment(keep_slope=True)
                self._t_ref, self._x_ref = t, k + self._offset
                self._add(0.0, t, None)
                # Two periods on, so the filter restarts; later stamps slew down to the new line.
                out[i] = self._emit_out(before + 2 * self.period, jump=True)
                self._events.append(TimeEvent("reset", k, before, out[i]))
            else:
                self._add(x, t, residual)
                out[i] = self._emit_out(predicted)
        self.delivered += 1

    def _refining(self, t: float, k: int, jump: bool = False) -> float:
        r = self._refine
        assert r is not None
        x_old = self._x(k, r.offset_before)
        period = self.period + self._solve()[1]
        offset = (t - self._predict(x_old)) / period
        if len(r.offsets) and offset < self._threshold(period) / period / 2:
            # Back on the old line: the suspect chunk only came late. Say so now, so that the
            # stamps return at once instead of after the whole measuring window.
            self._refine = None
            self._offset = r.offset_before
            self._events.append(TimeEvent("late", r.index, r.start_time, r.start_time + self.period))
            self._pending = True
            self._catching_up = True
            return self._emit_out(self._predict(x_old))
        if r.samples and abs(t - r.samples[-1][1] - self.period) > 1e-7:
            r.chunks += 1
        r.offsets.append(offset)
        r.samples.append((k, t))
        self._offset = r.offset_before + float(np.median(r.offsets))
        value = self._emit_out(self._predict(self._x(k, self._offset)), jump=jump, fast_back=True)
        r.remaining -= 1
        window = int(REFINE_S * self.sfreq)
        if r.remaining <= 0 and (
            r.chunks >= REFINE_CHUNKS
            or max(r.offsets) - min(r.offsets) < 0.05  # exact stamps (a file, a replay): no jitter to average
            or r.remaining <= -2 * window
        ):
            self._finish_refinement()
        return value

    def _finish_refinement(self) -> None:
        r = self._refine
        assert r is not None
        self._refine = None
        offsets = np.asarray(r.offsets)
        # Samples stamped late just before the hole (pushed after it began) do not lie on the
        # line after it: measure without them.
        tolerance = self._threshold(self.period) / self.period
        around = np.median(offsets)
        on_line = np.abs(offsets - around) <= tolerance
        missing = float(np.mean(offsets[on_line]))  # a mean, like the fit it is compared with
        # A shift well under the detection threshold is jitter (a chunk that came late), not a
        # hole: a gap that small could not have been told from jitter in the first place.
        if missing >= max(0.5, tolerance / 2):
            # The line after the gap gets its own intercept, fitted on the samples since the
            # gap; the device clock's rate carries over.
            self._offset = r.offset_before + missing
            self._new_segment(keep_slope=True)
            fitting = [kt for kt, keep in zip(r.samples, on_line, strict=True) if keep]
            first_k, first_t = fitting[0]
            self._t_ref, self._x_ref = first_t, first_k + self._offset
            for k, t in fitting:
                self._add(self._x(k, self._offset), t, None)
            end_time = r.start_time + (missing + 1) * self.period  # where the refined line puts it
            if self._is_pause(r.start_time, end_time):
                event = TimeEvent("pause", r.index, r.start_time, end_time)
            else:
                event = TimeEvent("gap", r.index, r.start_time, end_time, int(round(missing)))
                self.gaps.append(event.as_gap())
        else:
            self._offset = r.offset_before
            self._catching_up = True
            event = TimeEvent("late", r.index, r.start_time, r.start_time + self.period)
        self._events.append(event)
        self._pending = True  # the next sample is checked on its own before quiet runs resume

    def _is_pause(self, start_time: float, end_time: float) -> bool:
        """Whether the hole between these stamps is a pause between runs rather than lost samples."""
        self._announced = [a for a in self._announced if a >= start_time - ANNOUNCED_PAUSE_SLACK_S]
        if any(a <= end_time for a in self._announced):
            return True
        return end_time - start_time >= self.pause_s

    # -- vectorized: a run of normal samples ----------------------------------------------------
    def _quiet_run(self, raw: np.ndarray, out: np.ndarray) -> int:
        """Process samples while none is a suspected gap or reset; returns how many."""
        if abs(self.delivered + self._offset - self._x_ref) > self.block:
            self._recenter()
        n = len(raw)
        x = self._x(self.delivered, self._offset) + np.arange(n, dtype=np.float64)
        u = raw - self._t_ref - x * self.period
        powers = self.lam ** np.arange(n + 1, dtype=np.float64)  # lambda^j
        inverse = 1.0 / powers[:n]  # lambda^-k
        zeros = np.zeros(n)
        values = np.stack([np.ones(n), x, x * x, u, x * u, zeros, zeros])  # (7, n)
        # sums before sample j: lambda^j * S + sum_{k<j} lambda^(j-1-k) v_k
        partial = np.concatenate([np.zeros((7, 1)), np.cumsum(values * inverse, axis=1)[:, :-1]], axis=1)
        sums = self._s[:, None] * powers[None, :n] + partial * (powers[:n] / self.lam)[None, :]
        alpha, beta = _line(sums, self.prior)
        predicted = self._t_ref + x * self.period + alpha + beta * x
        residual = raw - predicted
        # jitter SD before each sample, the same recursion
        jw = (
            self._jitter_w * powers[:n]
            + np.concatenate([[0.0], np.cumsum(inverse)[:-1]]) * powers[:n] / self.lam
        )
        r2 = residual * residual
        jss = self._jitter_ss * powers[:n] + (
            np.concatenate([[0.0], np.cumsum(r2 * inverse)[:-1]]) * powers[:n] / self.lam
        )
        threshold = np.maximum(GAP_SD_FACTOR * np.sqrt(jss / jw), GAP_MIN_PERIODS * (self.period + beta))
        unusual = np.flatnonzero(np.abs(residual) > threshold)
        m = int(unusual[0]) if len(unusual) else n
        if m == 0:
            self._pending = True
            return 0
        # state after sample m - 1
        last = m - 1
        self._s = sums[:, last] * self.lam + values[:, last]
        self._jitter_w = jw[last] * self.lam + 1.0
        self._jitter_ss = jss[last] * self.lam + r2[last]
        out[:m] = self._follow(predicted[:m], self.period + beta[:m], self._catching_up)
        self.delivered += m
        if m < n:
            self._pending = True
        return m


class SmoothedTime(NamedTuple):
    """The time base of a whole recording (see :func:`smooth_timestamps`).

    Attributes
    ----------
    timestamps : np.ndarray, shape (n_samples,), float64
        Smoothed stamps, strictly increasing.
    events : list of TimeEvent
        Gaps, pauses, late chunks and resets, in order.
    effective_rate : float
        Device sampling rate estimated at the end, Hz.
    jitter_s : float
        SD of the raw stamps around the smoothed ones, seconds (0 for exact stamps), estimated
        robustly (1.4826 x median absolute deviation) so that one stalled push does not dominate.
    largest_deviation_s : float
        The largest |raw - smoothed|, seconds.
    """

    timestamps: np.ndarray
    events: list[TimeEvent]
    effective_rate: float
    jitter_s: float
    largest_deviation_s: float = 0.0

    @property
    def gaps(self) -> list[Gap]:
        """The true gaps only (samples not delivered)."""
        return [e.as_gap() for e in self.events if e.kind == "gap"]

    @property
    def pauses(self) -> list[TimeEvent]:
        """The pauses between runs (the stream stopped and resumed), in order."""
        return [e for e in self.events if e.kind == "pause"]

    def has_break(self, start: int, stop: int) -> bool:
        """Whether a true gap, a pause or a reset lies between samples ``start`` and ``stop - 1``.

        A chunk that only came late is no break: no sample is missing around it.
        """
        return any(start < e.index < stop for e in self.events if e.kind in ("gap", "pause", "reset"))


def smooth_timestamps(
    raw: np.ndarray, sfreq: float, *, pause_s: float = PAUSE_S, announced_pauses: Sequence[float] = ()
) -> SmoothedTime:
    """Run :class:`TimeBase` over a whole recording's raw stamps, as the live reader would.

    Parameters
    ----------
    raw : np.ndarray, shape (n_samples,)
        Raw LSL stamps (clock-corrected, not dejittered), in acquisition order.
    sfreq : float
        Nominal sampling rate in Hz.
    pause_s : float
        A stretch without samples at least this long is a pause between runs, not a gap.
    announced_pauses : sequence of float
        Stamps of the recording's ``block_end`` markers (see :meth:`TimeBase.announce_pause`).

    Returns
    -------
    SmoothedTime
    """
    base = TimeBase(sfreq, pause_s)
    for after in announced_pauses:
        base.announce_pause(after)
    smoothed = base.process(raw)
    if len(smoothed) < 2:
        return SmoothedTime(smoothed, base.take_events(), base.effective_rate, 0.0)
    deviation = np.asarray(raw, dtype=np.float64) - smoothed
    jitter = 1.4826 * float(np.median(np.abs(deviation - np.median(deviation))))
    return SmoothedTime(
        smoothed, base.take_events(), base.effective_rate, jitter, float(np.abs(deviation).max())
    )


def _line(sums: np.ndarray, prior: float) -> tuple:
    """Intercept and slope of the weighted fit from its sums ``(7,)`` or ``(7, n)``.

    Minimizes ``sum w (u - alpha - beta x)^2 + prior beta^2 + Pc (beta - beta_c)^2``: the
    nominal-rate prior and the slope carried over a gap or reset.
    """
    s0, sx, sxx, su, sxu, pc, pcb = sums
    curvature = sxx + prior + pc
    det = s0 * curvature - sx * sx
    alpha = (curvature * su - sx * (sxu + pcb)) / det
    beta = (s0 * (sxu + pcb) - sx * su) / det
    return alpha, beta
