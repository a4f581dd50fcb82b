"""Stream reader: one acquisition thread per LSL inlet, filtering on arrival into a ring buffer.

The acquisition thread owns the inlet. It pulls chunks as soon as samples arrive, converts
their timestamps to the local clock (LSL clock synchronization), smooths them with the
stream's :class:`~rtdecode.signal.timing.TimeBase` (dejittered stamps, effective rate, true
gaps; no sample is ever dropped for its timestamp), runs the causal
:class:`~rtdecode.signal.filters.SegmentedFilter` (which restarts at true gaps and NaN samples),
and writes raw and filtered samples, smoothed and raw stamps and arrival times into a
preallocated ring buffer. Readers copy what they need under a lock held only for that copy, each
with its own position. Health problems (gaps, NaN, flat or saturated channels, a lost stream,
its return) become :class:`StreamEvent` objects in a bounded queue and counters in
:class:`StreamHealth`; repeated events of one kind are logged at most once a second, with a count.
A pause between runs (a long stretch without samples, or one a ``block_end`` marker announced
through :meth:`StreamReader.announce_pause`) is no gap: it is noted, not warned; a stream that
falls silent at a block_end is still reported lost (it may not come back), but as a note.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from rtdecode.config import PipelineConfig
from rtdecode.io.markers import BLOCK_END, marker_text, parse_marker
from rtdecode.signal.filters import SegmentedFilter
from rtdecode.signal.timing import ANNOUNCED_PAUSE_SLACK_S, TimeBase
from rtdecode.worker import BackgroundWorker

log = logging.getLogger(__name__)

# A stream silent for this long (seconds) is reported lost.
LOST_AFTER_S = 1.0
# Flat/saturation checks look at this much recent signal (seconds), this often.
HEALTH_WINDOW_S = 1.0
FLAT_UV = 1e-3
SATURATED_UV = 500.0
# Events kept for a consumer that drains them (the GUI, `live`); older ones are dropped.
MAX_EVENTS = 1000
# Repeated events of one kind are logged at most this often (seconds), with a count.
LOG_EVERY_S = 1.0
# Events that are no problem: logged at INFO, the others are warnings.
_NOTES = ("reconnected", "late", "pause")


class StreamEvent(NamedTuple):
    """A health event: what happened, when (local LSL clock), and a sentence about it."""

    kind: str  # gap, pause, late, reset, nan, lost, reconnected, flat, saturated
    time: float
    detail: str


@dataclass
class StreamHealth:
    """Counters of one reader, updated by its acquisition thread."""

    samples: int = 0
    chunks: int = 0
    gaps: int = 0
    missing_samples: int = 0
    pauses: int = 0  # pauses between runs (no samples lost)
    late_chunks: int = 0
    resets: int = 0
    nan_samples: int = 0
    lost: int = 0
    connected: bool = False
    measured_rate_hz: float = 0.0  # samples per second of arrival time, recent
    effective_rate_hz: float = 0.0  # the device clock's rate, from the time base
    jitter_ms: float = 0.0  # SD of raw stamps around the smoothed time base
    last_arrival: float = 0.0
    flat_channels: list[str] = field(default_factory=list)
    saturated_channels: list[str] = field(default_factory=list)


class Window(NamedTuple):
    """Samples copied out of the ring buffer.

    Attributes
    ----------
    raw, filtered : np.ndarray, shape (n, n_channels), float32
    timestamps : np.ndarray, shape (n,), float64
        Smoothed local-clock LSL timestamps (the time base epochs are cut on).
    arrival : np.ndarray, shape (n,), float64
        Local clock when each sample's chunk was pulled.
    start : int
        Absolute position (samples since the reader started) of the first row.
    raw_timestamps : np.ndarray, shape (n,), float64
        The stamps as LSL delivered them (clock-corrected); liblsl back-dates a pushed chunk's
        samples from its push time.
    pushed : np.ndarray, shape (n,), float64
        When the chunk that carried each sample was pushed at the source: the newest raw stamp of
        its pull (for latency).
    """

    raw: np.ndarray
    filtered: np.ndarray
    timestamps: np.ndarray
    arrival: np.ndarray
    start: int
    raw_timestamps: np.ndarray
    pushed: np.ndarray


class RingBuffer:
    """Fixed-size circular store of the most recent samples, addressed by absolute position.

    Written by one thread, read by many: the lock is held only while copying.
    """

    def __init__(self, capacity: int, n_channels: int) -> None:
        self.capacity = int(capacity)
        self.raw = np.zeros((capacity, n_channels), dtype=np.float32)
        self.filtered = np.zeros((capacity, n_channels), dtype=np.float32)
        self.timestamps = np.zeros(capacity, dtype=np.float64)
        self.raw_timestamps = np.zeros(capacity, dtype=np.float64)
        self.pushed = np.zeros(capacity, dtype=np.float64)
        self.arrival = np.zeros(capacity, dtype=np.float64)
        self.total = 0  # samples ever written; the newest is at position total - 1
        self.lock = threading.Lock()
        self.new_data = threading.Condition(self.lock)

    @property
    def oldest(self) -> int:
        """Absolute position of the oldest sample still held."""
        return max(0, self.total - self.capacity)

    def write(
        self,
        raw: np.ndarray,
        filtered: np.ndarray,
        timestamps: np.ndarray,
        arrival: float,
        raw_timestamps: np.ndarray | None = None,
    ) -> None:
        """Append samples ``(n, n_channels)`` with smoothed (and raw, default: the same) stamps."""
        n = len(timestamps)
        if n == 0:
            return
        if raw_timestamps is None:
            raw_timestamps = timestamps
        if n > self.capacity:  # keep only what fits
            raw, filtered, timestamps, raw_timestamps = (
                raw[-self.capacity :],
                filtered[-self.capacity :],
                timestamps[-self.capacity :],
                raw_timestamps[-self.capacity :],
            )
            with self.lock:
                self.total += n - self.capacity
            n = self.capacity
        with self.new_data:
            idx = (self.total + np.arange(n)) % self.capacity
            self.raw[idx] = raw
            self.filtered[idx] = filtered
            self.timestamps[idx] = timestamps
            self.raw_timestamps[idx] = raw_timestamps
            self.pushed[idx] = raw_timestamps.max()
            self.arrival[idx] = arrival
            self.total += n
            self.new_data.notify_all()

    def read(self, start: int, stop: int) -> Window:
        """Copy absolute positions ``[start, stop)``; ``start`` is clipped to what is still held."""
        with self.lock:
            start = max(start, self.oldest)
            stop = min(stop, self.total)
            idx = np.arange(start, max(start, stop)) % self.capacity
            return Window(
                self.raw[idx].copy(),
                self.filtered[idx].copy(),
                self.timestamps[idx].copy(),
                self.arrival[idx].copy(),
                start,
                self.raw_timestamps[idx].copy(),
                self.pushed[idx].copy(),
            )

    def position_of(self, timestamp: float) -> int:
        """Absolute position of the first held sample with a timestamp >= ``timestamp``."""
        with self.lock:
            start, stop = self.oldest, self.total
            idx = np.arange(start, stop) % self.capacity
            return start + int(np.searchsorted(self.timestamps[idx], timestamp, side="left"))

    def wait(self, after_total: int, timeout: float) -> int:
        """Block until more than ``after_total`` samples were written (or timeout); returns total."""
        with self.new_data:
            self.new_data.wait_for(lambda: self.total > after_total, timeout=timeout)
            return self.total


def _lsl():
    import pylsl

    return pylsl


def channel_labels(info) -> list[str]:
    """Channel labels from a StreamInfo's ``desc/channels``; ``ch1``... where absent."""
    labels = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty() and len(labels) < info.channel_count():
        labels.append(channel.child_value("label") or f"ch{len(labels) + 1}")
        channel = channel.next_sibling("channel")
    return labels + [f"ch{i + 1}" for i in range(len(labels), info.channel_count())]


class StreamReader(BackgroundWorker):
    """Acquire an EEG stream into a ring buffer, filtering causally on arrival.

    Parameters
    ----------
    info : pylsl.StreamInfo
        The resolved stream (see :func:`rtdecode.streams.lsl_utils.resolve_stream`).
    pipeline : PipelineConfig
        Filter settings (its ``sfreq`` must equal the stream's nominal rate).
    buffer_s : float
        Seconds of signal the ring buffer holds.
    lost_after_s : float
        Silence after which the stream is reported lost.
    """

    def __init__(
        self, info, pipeline: PipelineConfig, buffer_s: float = 60.0, lost_after_s: float = LOST_AFTER_S
    ):
        if info.nominal_srate() <= 0:
            raise ValueError(
                f"stream {info.name()!r} has an irregular rate; an EEG stream needs a nominal rate"
            )
        super().__init__(f"acquire-{info.name()}")
        self.info = info
        self.name = info.name()
        self.sfreq = float(info.nominal_srate())
        self.n_channels = int(info.channel_count())
        self.pipeline = pipeline
        self.buffer = RingBuffer(int(buffer_s * self.sfreq), self.n_channels)
        self.health = StreamHealth()
        self.events: deque[StreamEvent] = deque(maxlen=MAX_EVENTS)
        self.lost_after_s = lost_after_s
        self._filter = SegmentedFilter(pipeline, self.n_channels)
        self._time = TimeBase(self.sfreq)
        self._inlet = None
        self._labels: list[str] | None = None
        self._log_state: dict[str, tuple[float, int]] = {}
        self._recent_arrivals: deque[tuple[float, int]] = deque(maxlen=50)
        self._next_health_check = 0.0
        # block_end stamps from the decode worker; the acquisition thread hands them to the time base
        self._announced: deque[float] = deque()
        self._pause_after = -np.inf  # the newest announced pause
        self._last_stamp = -np.inf  # the newest smoothed stamp

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, open_timeout: float = 10.0) -> StreamReader:
        """Open the inlet (waiting up to ``open_timeout``) and start the acquisition thread."""
        pylsl = _lsl()
        self._inlet = pylsl.StreamInlet(
            self.info, max_buflen=360, recover=True, processing_flags=pylsl.proc_clocksync
        )
        try:
            self._inlet.open_stream(timeout=open_timeout)
            full = self._inlet.info(timeout=open_timeout)
        except Exception as error:  # pylsl raises TimeoutError or its own error types
            raise ValueError(
                f"could not connect to stream {self.name!r} within {open_timeout:g} s: {error}"
            ) from error
        self._labels = channel_labels(full)
        # The first clock-offset measurement takes a few round trips; done here, it does not
        # hold back the first pull.
        try:
            self._inlet.time_correction(timeout=open_timeout)
        except Exception as error:
            log.warning(
                "%s: first clock synchronization failed (%s); it is retried on the first pull",
                self.name,
                error,
            )
        self.health.connected = True
        self._start_thread()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the acquisition thread and close the inlet."""
        super().stop(timeout)
        if self._inlet is not None:
            try:
                self._inlet.close_stream()
            except Exception:  # closing a lost inlet may raise; nothing left to do
                pass

    def __enter__(self) -> StreamReader:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def channel_names(self) -> list[str]:
        """Channel labels from the stream's metadata."""
        if self._labels is None:
            self._labels = channel_labels(self.info)
        return self._labels

    # -- reading ----------------------------------------------------------------------------
    def read(self, start: int, stop: int | None = None) -> Window:
        """Copy samples from absolute position ``start`` to ``stop`` (default: the newest)."""
        return self.buffer.read(start, self.buffer.total if stop is None else stop)

    def announce_pause(self, after: float) -> None:
        """A ``block_end`` marker at stamp ``after``: the stream may pause there between two runs.

        The hole in the stamps after it is then a pause, not samples not delivered (see
        :meth:`rtdecode.signal.timing.TimeBase.announce_pause`), and the silence a note.
        Safe to call from any thread (the marker reader calls it as markers arrive).
        """
        self._announced.append(float(after))

    def drain_events(self) -> list[StreamEvent]:
        """Health events since the last call (the newest :data:`MAX_EVENTS` at most)."""
        out = []
        while True:
            try:
                out.append(self.events.popleft())
            except IndexError:
                return out

    # -- acquisition thread ----------------------------------------------------------------
    def _run(self) -> None:
        pylsl = _lsl()
        max_samples = max(1, int(self.sfreq))  # up to one second per pull
        last_data = pylsl.local_clock()
        while not self._stop.is_set():
            try:
                # min_samples=1: return as soon as anything arrived, instead of waiting out the
                # timeout for max_samples (which held every sample ~25 ms in the inlet).
                samples, timestamps = self._inlet.pull_chunk(
                    timeout=0.05, max_samples=max_samples, min_samples=1, as_numpy=True
                )
            except pylsl.LostError:
                samples, timestamps = None, []
            now = pylsl.local_clock()
            self._flush_log_counts(now)
            while self._announced:
                after = self._announced.popleft()
                self._time.announce_pause(after)
                self._pause_after = max(self._pause_after, after)
            if len(timestamps) == 0:
                if self.health.connected and now - last_data > self.lost_after_s:
                    self.health.connected = False
                    self.health.lost += 1
                    silent = f"no samples from {self.name!r} for {now - last_data:.1f} s"
                    if self._pause_after >= self._last_stamp - ANNOUNCED_PAUSE_SLACK_S:
                        # It stopped at a block_end: most likely the pause between two runs.
                        self._emit(
                            "lost",
                            now,
                            f"{silent}, since a block_end marker: a pause between runs?",
                            note=True,
                        )
                    else:
                        self._emit("lost", now, silent)
                continue
            if not self.health.connected:
                self.health.connected = True
                self._emit("reconnected", now, f"{self.name!r} is back after {now - last_data:.1f} s")
            last_data = now
            self._ingest(np.asarray(samples, dtype=np.float32), np.asarray(timestamps, dtype=np.float64), now)

    def _ingest(self, samples: np.ndarray, timestamps: np.ndarray, now: float) -> None:
        """Time-stamp, check, filter and store one pulled chunk; every sample is kept."""
        smoothed = self._time.process(timestamps)
        for event in self._time.take_events():
            if event.kind == "gap":
                self.health.gaps += 1
                self.health.missing_samples += event.missing_samples
            elif event.kind == "pause":
                self.health.pauses += 1
            elif event.kind == "late":
                self.health.late_chunks += 1
            else:
                self.health.resets += 1
            self._emit(event.kind, now, event.describe())
        bad = ~np.all(np.isfinite(samples), axis=1)
        if bad.any():
            self.health.nan_samples += int(bad.sum())
            self._emit(
                "nan", now, f"{int(bad.sum())} samples with NaN/Inf values (filter restarted after them)"
            )
        self._last_stamp = float(smoothed[-1])
        filtered = self._filter.process(samples, smoothed)
        self.buffer.write(samples, filtered, smoothed, now, timestamps)
        self.health.samples += len(timestamps)
        self.health.chunks += 1
        self.health.last_arrival = now
        self.health.effective_rate_hz = self._time.effective_rate
        self.health.jitter_ms = self._time.jitter_s * 1000
        self._recent_arrivals.append((now, len(timestamps)))
        if len(self._recent_arrivals) > 1:
            span = self._recent_arrivals[-1][0] - self._recent_arrivals[0][0]
            if span > 0:
                self.health.measured_rate_hz = sum(n for _, n in list(self._recent_arrivals)[1:]) / span
        if now >= self._next_health_check:
            self._next_health_check = now + HEALTH_WINDOW_S
            self._check_channels(now)

    def _check_channels(self, now: float) -> None:
        n = int(HEALTH_WINDOW_S * self.sfreq)
        window = self.buffer.read(self.buffer.total - n, self.buffer.total)
        if len(window.timestamps) < n // 2:
            return
        finite = np.all(np.isfinite(window.raw), axis=1)
        if not finite.any():
            return
        names = self.channel_names
        ptp = np.ptp(window.raw[finite], axis=0)
        flat = [names[i] for i in np.flatnonzero(ptp < FLAT_UV)]
        filt = window.filtered[np.all(np.isfinite(window.filtered), axis=1)]
        saturated = (
            [names[i] for i in np.flatnonzero(np.abs(filt).max(axis=0) > SATURATED_UV)] if len(filt) else []
        )
        for kind, current, previous in (
            ("flat", flat, self.health.flat_channels),
            ("saturated", saturated, self.health.saturated_channels),
        ):
            new = sorted(set(current) - set(previous))
            if new:
                self._emit(
                    kind, now, f"{kind} channels: {', '.join(new[:10])}{' ...' if len(new) > 10 else ''}"
                )
        self.health.flat_channels, self.health.saturated_channels = flat, saturated

    def _emit(self, kind: str, when: float, detail: str, note: bool = False) -> None:
        """Queue a health event and log it (``note``: at INFO whatever its kind)."""
        self.events.append(StreamEvent(kind, when, detail))
        level = logging.INFO if note or kind in _NOTES else logging.WARNING
        last_logged, suppressed = self._log_state.get(kind, (-np.inf, 0))
        if when - last_logged < LOG_EVERY_S:
            self._log_state[kind] = (last_logged, suppressed + 1)
            return
        if suppressed:
            detail = (
                f"{detail} (and {suppressed} more '{kind}' events in the last {when - last_logged:.0f} s)"
            )
        log.log(level, "%s: %s", self.name, detail)
        self._log_state[kind] = (when, 0)

    def _flush_log_counts(self, now: float) -> None:
        """Log the count of events held back by :meth:`_emit` once their second is over."""
        for kind, (last_logged, suppressed) in list(self._log_state.items()):
            if suppressed and now - last_logged >= LOG_EVERY_S:
                level = logging.INFO if kind in _NOTES else logging.WARNING
                log.log(
                    level,
                    "%s: %d more '%s' events in the last %.0f s",
                    self.name,
                    suppressed,
                    kind,
                    now - last_logged,
                )
                self._log_state[kind] = (now, 0)


class MarkerReader(BackgroundWorker):
    """Acquire a marker stream: (local-clock timestamp, text) pairs in arrival order.

    Strings are kept as sent; a numeric stream's codes become their text as in files
    (:func:`~rtdecode.io.markers.marker_text`: ``2.0`` -> ``"2"``).

    Parameters
    ----------
    info : pylsl.StreamInfo
        The resolved marker stream.
    announce_pause : callable, optional
        Called from the marker thread with the stamp of every ``block_end`` marker as it
        arrives (:meth:`StreamReader.announce_pause` of the EEG reader), so that the pause
        between runs after it is known before it starts, however far behind the decoder is.
    """

    def __init__(self, info, announce_pause: Callable[[float], None] | None = None) -> None:
        super().__init__(f"markers-{info.name()}")
        self.info = info
        self.name = info.name()
        self.announce_pause = announce_pause
        self._queue: queue.Queue[tuple[float, str]] = queue.Queue()
        self._inlet = None

    def start(self, open_timeout: float = 10.0) -> MarkerReader:
        pylsl = _lsl()
        self._inlet = pylsl.StreamInlet(self.info, recover=True, processing_flags=pylsl.proc_clocksync)
        try:
            self._inlet.open_stream(timeout=open_timeout)
        except Exception as error:
            raise ValueError(f"could not connect to marker stream {self.name!r}: {error}") from error
        self._start_thread()
        return self

    def get(self, timeout: float = 0.0) -> tuple[float, str] | None:
        """The next marker, or None if none arrives within ``timeout``."""
        try:
            return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def _run(self) -> None:
        pylsl = _lsl()
        while not self._stop.is_set():
            try:
                samples, timestamps = self._inlet.pull_chunk(timeout=0.05)
            except pylsl.LostError:
                time.sleep(0.05)
                continue
            for sample, ts in zip(samples or [], timestamps or [], strict=False):
                text = marker_text(sample[0])
                if self.announce_pause is not None and parse_marker(text)["event"] == BLOCK_END:
                    self.announce_pause(float(ts))
                self._queue.put((float(ts), text))
