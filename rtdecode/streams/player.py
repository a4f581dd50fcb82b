"""Replay a :class:`~rtdecode.io.recording.Recording` as live LSL streams.

A recording of any file format comes from :func:`rtdecode.io.read_recording`; this module knows
only LSL.

A :class:`Player` serves two outlets, exactly like an amplifier plus a stimulus program would:

- ``name`` (type ``EEG``, float32, rate = ``recording.sfreq``, channel labels and unit
  ``microvolts`` in ``desc/channels/channel``), pushed in chunks of about 20 ms (cut where the
  recording has a hole, so a run's last samples go out when they exist);
- ``f"{name}-markers"`` (type ``Markers``, one string channel, irregular rate), every marker
  pushed with ``push_sample([text], timestamp)`` once the EEG has been pushed up to its time.

Time
----
A recording's stamps are first put on its smoothed time base
(:attr:`~rtdecode.io.recording.Recording.smoothed_timestamps`: a file with jittered raw stamps
replays as a clean stream, its true gaps kept). They are re-based onto the local LSL clock at
:meth:`Player.start`: sample ``i`` of loop ``k`` gets ``t0 + k * D + (ts[i] - ts[0])``, markers
likewise, where ``t0`` is
``pylsl.local_clock()`` at the start and ``D`` the recording's duration (last minus first
timestamp plus one sample period, so a loop joins the next with a regular step). The original
spacing, gaps included, is kept **whatever the speed**.

``speed`` only changes *when* a chunk is pushed: the chunk whose last sample has re-based time
``t`` goes out at wall-clock time ``t0 + (t - t0) / speed``. Why not compress the timestamps
instead? Consumers cut epochs by timestamp with the stream's nominal rate (``sfreq``); a stream
whose stamps advanced ``speed`` times faster than its rate would make a 440 ms epoch hold
440 * speed ms of signal, and the decoder would silently see different data. With spacing kept,
everything a consumer computes from timestamps (epochs, marker latencies, gap detection) is
exactly what it would be live. The price: at ``speed > 1`` the timestamps run ahead of
``local_clock()`` (by ``(1 - 1/speed)`` of the elapsed time), so latency measured as
``local_clock() - timestamp`` is meaningless in fast replay: the live decoder sees the stamps
run ahead and reports ``latency_ms`` as null with the reason (its ``latency_arrival_ms``, from
arrival, still holds); measure push-to-prediction latency at ``speed=1``.

Markers go out with the EEG chunk that covers them; a marker in a stretch without samples (a
``block_end`` in the pause between two runs) goes out at its own (speed-compressed) time, once
the EEG before it is out, so a consumer knows of the pause before it, not after.

``speed=0`` (or ``inf``) pushes as fast as possible. LSL buffers at most ``max_buffered``
(6 minutes by default) per consumer and drops the oldest data beyond, so an as-fast replay
of a long recording can outrun a slow consumer; use a finite speed for those.

Pacing is drift-free: every push is scheduled against the absolute start time, never by
accumulating ``sleep(chunk_duration)``, and a late push (a busy machine) is followed by
catch-up pushes without sleeping, with unchanged timestamps.

Amplifier emulation
-------------------
With ``driver=DriverEmulation(...)`` the EEG outlet behaves like a real amplifier connector
instead: the device samples on its own clock (``clock_ppm`` off the nominal rate), a driver
wakes every ``wake_ms`` (random in the range), takes the samples the device delivered at least
``latency_ms`` (random per wake-up) before, and pushes them **without timestamps**, so liblsl
stamps the chunk's last sample at push time and back-dates the others at the nominal rate.
Samples can be withheld (``losses``: the device did not deliver them). Markers are stamped with
the true onset time, as a presenter that stamps at the screen flip does. At ``speed != 1`` the
push time is virtual and passed to liblsl as the last sample's stamp, which liblsl back-dates in
the same way. :meth:`Player.hardware_time` gives every sample's true time, for measurements.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np
import pylsl

from rtdecode.io.recording import Recording
from rtdecode.streams.lsl_utils import make_outlet

log = logging.getLogger(__name__)

__all__ = ["DriverEmulation", "Player", "PlayerProgress", "marker_stream_name"]

# Chunk length when none is given: 20 ms, the hop of the decoder's STFT, so replay is never
# coarser than what the decoder resolves.
DEFAULT_CHUNK_S = 0.02


def marker_stream_name(name: str) -> str:
    """Name of the marker outlet that goes with EEG outlet ``name``."""
    return f"{name}-markers"


@dataclass(frozen=True)
class DriverEmulation:
    """How an emulated amplifier connector delivers and stamps samples (see the module docstring).

    Attributes
    ----------
    seed : int
        Seeds the wake-up and delivery-latency draws.
    wake_ms : (float, float)
        Range of the driver's wake-up interval, milliseconds.
    latency_ms : (float, float)
        Range of the delay from a sample's acquisition to its availability to the driver.
    clock_ppm : float
        Device clock rate minus the nominal rate, parts per million.
    losses : tuple of (float, int)
        ``(time_s, n_samples)``: the device does not deliver ``n_samples`` samples from
        ``time_s`` seconds into the recording (each pass of a loop).
    """

    seed: int = 0
    wake_ms: tuple[float, float] = (10.0, 30.0)
    latency_ms: tuple[float, float] = (1.0, 8.0)
    clock_ppm: float = 50.0
    losses: tuple[tuple[float, int], ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("wake_ms", "latency_ms"):
            low, high = getattr(self, name)
            if not 0 <= low <= high or (name == "wake_ms" and high <= 0):
                raise ValueError(
                    f"{name} must be a range (low, high) with 0 <= low <= high, got {(low, high)}"
                )
        if not abs(self.clock_ppm) < 1e4:
            raise ValueError(f"clock_ppm must be a clock error under 10000 ppm, got {self.clock_ppm!r}")
        for at, n in self.losses:
            if at < 0 or int(n) != n or n < 1:
                raise ValueError(f"losses must be (time_s >= 0, n_samples >= 1) pairs, got {(at, n)}")


@dataclass(frozen=True)
class PlayerProgress:
    """A snapshot of a running :class:`Player`.

    Attributes
    ----------
    loop : int
        Pass through the recording being played, from 0.
    position_s : float
        Seconds of the recording pushed in this pass.
    duration_s : float
        Duration of one pass.
    samples_pushed, markers_pushed : int
        Totals over all passes.
    """

    loop: int
    position_s: float
    duration_s: float
    samples_pushed: int
    markers_pushed: int


class Player:
    """Serve a recording as an EEG outlet and a marker outlet, from a background thread.

    The outlets exist from construction on, so consumers can connect (``open_stream``) before
    :meth:`start` and miss nothing. The thread owns both outlets while it runs; after
    :meth:`join` (or :meth:`close`) they belong to the caller again.

    Parameters
    ----------
    recording : Recording
        ``data`` (n_samples, n_channels) in microvolts with ``timestamps`` (n_samples,); markers
        are replayed on their own timestamps.
    name : str
        EEG stream name; the marker stream is ``f"{name}-markers"``.
    speed : float
        1.0 real time, 4.0 four times faster, 0 or ``inf`` as fast as possible. Timestamps keep
        the original spacing at any speed (see the module docstring for why).
    loop : bool
        Start again from the beginning after the end, timestamps continuing monotonically,
        until :meth:`stop`. Needs a finite ``speed``.
    chunk_samples : int, optional
        Samples per push; default about 20 ms (``round(0.02 * sfreq)``, at least 1).
    source_id : str, optional
        EEG ``source_id`` (the marker stream gets ``"<source_id>-markers"``). Default
        ``f"rtdecode-replay-{name}"``: stable, so consumers recover when the player restarts.
    wait_for_consumers : float
        Seconds to wait, once started, for a consumer on the EEG outlet (and on the marker
        outlet when there are markers) before pushing anything (0: push at once, as an
        amplifier does). Data pushed with nobody connected is lost.
    max_buffered : int
        Seconds of data LSL keeps per consumer that lags behind.
    driver : DriverEmulation, optional
        Push like a real amplifier connector (jittered push-time stamps, device clock drift,
        withheld samples) instead of chunks with exact stamps.

    Examples
    --------
    >>> with Player(recording, "replay", speed=4.0) as player:  # doctest: +SKIP
    ...     player.join()
    """

    def __init__(
        self,
        recording: Recording,
        name: str = "rtdecode-replay",
        *,
        speed: float = 1.0,
        loop: bool = False,
        chunk_samples: int | None = None,
        source_id: str | None = None,
        wait_for_consumers: float = 0.0,
        max_buffered: int = 360,
        driver: DriverEmulation | None = None,
    ) -> None:
        if recording.n_samples == 0:
            raise ValueError("recording has no samples; there is nothing to replay")
        if not recording.sfreq > 0 or not math.isfinite(recording.sfreq):
            raise ValueError(f"recording.sfreq must be a positive rate in Hz, got {recording.sfreq!r}")
        if math.isnan(speed) or speed < 0:
            raise ValueError(f"speed must be > 0 (or 0 / inf for as fast as possible), got {speed!r}")
        if loop and (speed == 0 or math.isinf(speed)):
            raise ValueError(
                "loop=True needs a finite speed: looping as fast as possible would push data "
                "without end faster than any consumer reads it; pass e.g. speed=10"
            )
        if chunk_samples is None:
            chunk_samples = max(1, round(DEFAULT_CHUNK_S * recording.sfreq))
        if int(chunk_samples) != chunk_samples or chunk_samples < 1:
            raise ValueError(f"chunk_samples must be a positive integer, got {chunk_samples!r}")
        if not name:
            raise ValueError("name must be a non-empty stream name")
        if wait_for_consumers < 0:
            raise ValueError(f"wait_for_consumers must be >= 0 seconds, got {wait_for_consumers!r}")
        if not np.all(np.isfinite(recording.timestamps)):
            raise ValueError("recording.timestamps contain NaN or infinite values; fix or drop those samples")
        stamps = recording.smoothed_timestamps

        self.recording = recording
        self.name = name
        self.marker_name = marker_stream_name(name)
        self.speed = math.inf if speed == 0 else float(speed)
        self.loop = bool(loop)
        self.chunk_samples = int(chunk_samples)
        self.source_id = source_id or f"rtdecode-replay-{name}"
        self.wait_for_consumers = float(wait_for_consumers)
        self.driver = driver

        # Offsets from the first sample, computed once: the thread only adds the loop's start.
        self._rel = stamps - stamps[0]
        self._period = recording.duration_s
        self._marker_rel = np.array([m.timestamp for m in recording.markers], dtype=np.float64) - stamps[0]
        self._marker_text = [m.text for m in recording.markers]

        replay_desc = {
            "rtdecode_replay": {
                "source_file": str(recording.metadata.get("source_file", "")),
                "speed": "max" if math.isinf(self.speed) else repr(self.speed),
            }
        }
        self._eeg: pylsl.StreamOutlet | None = make_outlet(
            name,
            "EEG",
            recording.n_channels,
            recording.sfreq,
            "float32",
            self.source_id,
            channel_names=recording.channel_names,
            unit="microvolts",
            desc=replay_desc,
            max_buffered=max_buffered,
        )
        self._markers: pylsl.StreamOutlet | None = make_outlet(
            self.marker_name,
            "Markers",
            1,
            pylsl.IRREGULAR_RATE,
            "string",
            f"{self.source_id}-markers",
            desc=replay_desc,
            max_buffered=max_buffered,
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._loop_index = 0
        self._position = 0.0
        self._samples_pushed = 0
        self._markers_pushed = 0
        self.t0: float | None = None

    # -- control -----------------------------------------------------------------------------

    def start(self) -> Player:
        """Start pushing from a background thread; returns ``self``."""
        if self._eeg is None:
            raise RuntimeError("this Player is closed; create a new one to replay again")
        if self._thread is not None:
            raise RuntimeError("Player.start() was already called; a Player plays once")
        self._thread = threading.Thread(target=self._run, name=f"player-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to stop; it returns within one sleep slice (it waits on an event)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the end of the replay (or of :meth:`stop`).

        Returns
        -------
        bool
            True when the thread has finished, False on timeout.

        Raises
        ------
        RuntimeError
            The thread failed; the original exception is chained.
        """
        if self._thread is None:
            raise RuntimeError("Player.join() before start()")
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        if self._error is not None:
            raise RuntimeError(f"replay of {self.name!r} failed: {self._error}") from self._error
        return True

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop, wait for the thread, and destroy the outlets (consumers see the streams go)."""
        self.stop()
        if self._thread is not None:
            self._thread.join()
        # Dropping the last reference destroys the liblsl outlet.
        self._eeg = None
        self._markers = None

    def have_consumers(self) -> bool:
        """True when at least one inlet is connected to the EEG outlet."""
        return self._eeg is not None and self._eeg.have_consumers()

    def progress(self) -> PlayerProgress:
        """Where the replay is, safe to call from any thread."""
        with self._lock:
            return PlayerProgress(
                self._loop_index, self._position, self._period, self._samples_pushed, self._markers_pushed
            )

    def __enter__(self) -> Player:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self.wait_for_consumers > 0 and not self._wait_for_consumer():
                return
            self._play()
        except Exception as error:  # reported by join(); the thread must not die silently
            log.exception("replay of %r failed", self.name)
            self._error = error

    def _wait_for_consumer(self) -> bool:
        """Wait for a consumer on the EEG outlet and, if there are markers, on the marker outlet.

        Returns False when stop() was called meanwhile.
        """
        assert self._eeg is not None and self._markers is not None
        outlets = [(self.name, self._eeg)]
        if self._marker_text:
            outlets.append((self.marker_name, self._markers))
        deadline = pylsl.local_clock() + self.wait_for_consumers
        for name, outlet in outlets:
            while True:
                if self._stop.is_set():
                    return False
                # short slices so that stop() is honoured promptly
                if outlet.wait_for_consumers(min(0.1, max(0.0, deadline - pylsl.local_clock()))):
                    break
                if pylsl.local_clock() >= deadline:
                    log.warning(
                        "no consumer on %r after %.1f s; replaying anyway", name, self.wait_for_consumers
                    )
                    return True
        return True

    def hardware_time(self, index: np.ndarray, loop: int = 0) -> np.ndarray:
        """True acquisition time (local LSL clock) of recording samples ``index`` in pass ``loop``.

        With a :class:`DriverEmulation`, the device clock's rate error is included. Valid once
        the replay has started.
        """
        if self.t0 is None:
            raise RuntimeError("hardware_time() before the replay started")
        scale = 1.0 / (1.0 + self.driver.clock_ppm * 1e-6) if self.driver is not None else 1.0
        return self.t0 + (loop * self._period + self._rel[np.asarray(index)]) * scale

    def _play(self) -> None:
        if self.driver is not None:
            self._play_emulated(self.driver)
            return
        assert self._eeg is not None and self._markers is not None
        data = self.recording.data
        rel = self._rel
        n = self.recording.n_samples
        t0 = pylsl.local_clock()
        self.t0 = t0
        loop_index = 0
        markers = self._marker_rel
        # Chunks of chunk_samples, cut at every hole in the stamps: an amplifier sends what it has
        # before it stops, so the end of a run (and its block_end) does not wait for the next run.
        holes = np.flatnonzero(np.diff(rel) > 1.5 / self.recording.sfreq) + 1
        bounds = np.union1d(np.arange(0, n, self.chunk_samples), holes).tolist() + [n]
        while True:
            offset = loop_index * self._period
            next_marker = 0
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
                # Markers before this chunk's first sample (a block_end in the pause between two
                # runs) go out at their own time: the EEG before them is out, and a consumer learns
                # of the pause before it, not with the first chunk after it.
                while next_marker < len(markers) and markers[next_marker] < rel[start]:
                    if not self._sleep_until(t0 + (offset + markers[next_marker]) / self.speed):
                        return
                    self._push_markers(next_marker, next_marker + 1, t0 + offset)
                    next_marker += 1
                # An amplifier sends a chunk once its last sample exists: push at that moment.
                if not self._sleep_until(t0 + (offset + rel[stop - 1]) / self.speed):
                    return
                self._eeg.push_chunk(data[start:stop], (t0 + offset + rel[start:stop]).tolist())
                # Markers go out once the EEG covers them (all remaining ones after the last chunk).
                last = rel[stop - 1] if stop < n else math.inf
                due = max(next_marker, int(np.searchsorted(markers, last, side="right")))
                self._push_markers(next_marker, due, t0 + offset)
                with self._lock:
                    self._samples_pushed += stop - start
                    self._position = float(rel[stop - 1]) + 1.0 / self.recording.sfreq
                    self._loop_index = loop_index
                next_marker = due
            if not self.loop:
                log.info("replay of %r finished (%d samples)", self.name, self._samples_pushed)
                return
            loop_index += 1

    def _push_markers(self, first: int, stop: int, origin: float) -> None:
        """Push markers ``first:stop`` on their own stamps, re-based on ``origin`` (this loop's start)."""
        assert self._markers is not None
        for m in range(first, stop):
            self._markers.push_sample([self._marker_text[m]], origin + self._marker_rel[m])
        with self._lock:
            self._markers_pushed += stop - first

    def _play_emulated(self, driver: DriverEmulation) -> None:
        """Push like an amplifier connector: random wake-ups, push-time stamps, withheld samples."""
        assert self._eeg is not None and self._markers is not None
        rng = np.random.default_rng(driver.seed)
        data = self.recording.data
        n = self.recording.n_samples
        scale = 1.0 / (1.0 + driver.clock_ppm * 1e-6)
        delivered = np.ones(n, dtype=bool)
        for at, count in driver.losses:
            first = int(np.searchsorted(self._rel, at))
            delivered[first : first + int(count)] = False
        t0 = pylsl.local_clock()
        self.t0 = t0
        now = t0
        loop_index = 0
        while True:
            acquired = t0 + (loop_index * self._period + self._rel) * scale  # (n,) true times
            marker_times = t0 + (loop_index * self._period + self._marker_rel) * scale
            next_sample = next_marker = 0
            while next_sample < n:
                now += rng.uniform(*driver.wake_ms) / 1000
                if not self._sleep_until(t0 + (now - t0) / self.speed):
                    return
                if self.speed == 1:  # a driver woken late takes what is there when it wakes
                    now = max(now, pylsl.local_clock())
                ready = now - rng.uniform(*driver.latency_ms) / 1000
                stop = int(np.searchsorted(acquired, ready, side="right"))
                if stop <= next_sample:
                    continue
                chunk = data[next_sample:stop][delivered[next_sample:stop]]
                # Real time: no stamp, liblsl stamps at push. Virtual time: the push moment,
                # which liblsl back-dates over the chunk in the same way.
                self._eeg.push_chunk(chunk, 0.0 if self.speed == 1 else now)
                last = acquired[stop - 1] if stop < n else math.inf
                due = int(np.searchsorted(marker_times, last, side="right"))
                for m in range(next_marker, due):
                    self._markers.push_sample([self._marker_text[m]], marker_times[m])
                with self._lock:
                    self._samples_pushed += len(chunk)
                    self._markers_pushed += due - next_marker
                    self._position = float(self._rel[stop - 1]) + 1.0 / self.recording.sfreq
                    self._loop_index = loop_index
                next_sample, next_marker = stop, max(next_marker, due)
            if not self.loop:
                log.info("emulated replay of %r finished (%d samples)", self.name, self._samples_pushed)
                return
            loop_index += 1

    def _sleep_until(self, when: float) -> bool:
        """Wait until local clock ``when``; False when stop() was called meanwhile."""
        remaining = when - pylsl.local_clock()
        if remaining > 0:
            return not self._stop.wait(remaining)
        return not self._stop.is_set()
