"""Record LSL streams (EEG, markers, anything) to an XDF file, the way LabRecorder does.

Threads and ownership
---------------------
- one **acquisition thread per stream** owns its inlet: it pulls chunks, measures the clock offset
  every ``clock_offset_interval`` seconds, and hands both to a queue;
- one **writer thread** owns the :class:`~rtdecode.io.xdf.XdfWriter`: it writes what the queue
  brings and flushes at least every ``flush_interval`` seconds, so a killed recorder loses at
  most about that much (every flushed chunk is complete, and ``read_xdf`` reads a file cut
  anywhere).

The queue is unbounded on purpose: when the disk stalls, memory absorbs the backlog and no
sample is dropped.

Time
----
Inlets use no post-processing (``processing_flags=0``): the file holds each stream's raw
timestamps in its own clock plus ClockOffset chunks (``collection_time = local_clock() - offset``,
``offset = inlet.time_correction()``), so pyxdf's clock synchronization, used by
:func:`~rtdecode.io.xdf.read_xdf`, maps them into the recording computer's clock afterwards.

Nothing is written before every requested stream is resolved and its inlet is open, so a
recording never starts with a stream missing, and a failed start leaves no file behind.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pylsl
from pylsl.util import LostError
from pylsl.util import TimeoutError as LslTimeoutError

from rtdecode.io.xdf import XdfWriter
from rtdecode.streams.lsl_utils import (
    StreamNotFoundError,
    StreamQuery,
    channel_format_name,
    default_streams,
    desc_mapping,
    describe_stream,
    describe_streams,
    resolve_queries,
)

log = logging.getLogger(__name__)

__all__ = ["Recorder", "StreamNotFoundError", "StreamQuery", "StreamStats"]


@dataclass
class StreamStats:
    """What has been recorded of one stream.

    Attributes
    ----------
    name, type, source_id, channel_format : str
        The stream's identity.
    channel_count : int
        Values per sample.
    nominal_srate : float
        Hz (0 for irregular streams).
    n_samples : int
        Samples written to the file.
    first_timestamp, last_timestamp : float or None
        Raw (stream-clock) timestamps of the first and last written sample.
    n_clock_offsets : int
        ClockOffset chunks written.
    error : str or None
        Why acquisition of this stream ended early (e.g. the source was lost), else None.
    """

    name: str
    type: str
    source_id: str
    channel_format: str
    channel_count: int
    nominal_srate: float
    n_samples: int = 0
    first_timestamp: float | None = None
    last_timestamp: float | None = None
    n_clock_offsets: int = 0
    error: str | None = None


@dataclass
class _Source:
    """One recorded stream: its inlet (owned by its acquisition thread) and its XDF id."""

    info: pylsl.StreamInfo
    inlet: pylsl.StreamInlet
    stream_id: int
    fmt: str
    max_samples: int
    stats: StreamStats
    buffer: np.ndarray | None = None
    thread: threading.Thread | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Recorder:
    """Record LSL streams to an XDF file from background threads.

    Parameters
    ----------
    out_path : str or Path
        The ``.xdf`` file to create.
    streams : sequence of str or StreamQuery, optional
        One query per stream: ``"name=X"``, ``"type=Y"``, ``"source_id=Z"`` or a bare name.
        None records one source's EEG stream and its Markers streams, visible at :meth:`start`
        (:func:`~rtdecode.streams.lsl_utils.default_streams`). Streams are those of one source
        either way (:func:`~rtdecode.streams.lsl_utils.resolve_queries`).
    source_id, host : str, optional
        The source to record: its EEG (first) stream's source_id, its host.
    resolve_timeout : float
        Seconds :meth:`start` waits for all streams to appear and connect.
    overwrite : bool
        Replace an existing file (refused by default).
    flush_interval : float
        Longest time written data stays in the process's buffers (what a kill can lose).
    clock_offset_interval : float
        Seconds between two clock offset measurements of a stream.
    max_buflen : int
        Inlet buffer in seconds (hundreds of samples for irregular streams): how long the
        recorder may stall before liblsl starts dropping the oldest data.
    pull_timeout : float
        Longest wait of one pull; bounds how long :meth:`stop` and offset measurements wait.

    Examples
    --------
    >>> with Recorder("session.xdf", ["type=EEG", "type=Markers"]) as rec:  # doctest: +SKIP
    ...     time.sleep(60)
    >>> rec.stats()  # doctest: +SKIP
    """

    def __init__(
        self,
        out_path: str | Path,
        streams: Sequence[str | StreamQuery] | None = None,
        *,
        resolve_timeout: float = 10.0,
        source_id: str | None = None,
        host: str | None = None,
        overwrite: bool = False,
        flush_interval: float = 1.0,
        clock_offset_interval: float = 5.0,
        max_buflen: int = 360,
        pull_timeout: float = 0.2,
    ) -> None:
        self.path = Path(out_path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(
                f"{self.path} already exists; choose another file name or pass overwrite=True"
            )
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"folder {self.path.parent} does not exist; create it first")
        for label, value in (
            ("resolve_timeout", resolve_timeout),
            ("flush_interval", flush_interval),
            ("clock_offset_interval", clock_offset_interval),
            ("pull_timeout", pull_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{label} must be > 0 seconds, got {value!r}")
        if max_buflen < 1:
            raise ValueError(f"max_buflen must be >= 1, got {max_buflen!r}")
        self.queries = None if streams is None else [StreamQuery.parse(s) for s in streams]
        if self.queries is not None and not self.queries:
            raise ValueError("streams is empty; name at least one stream, or pass None for the defaults")
        self.resolve_timeout = float(resolve_timeout)
        self.source_id = source_id
        self.host = host
        self.overwrite = overwrite
        self.flush_interval = float(flush_interval)
        self.clock_offset_interval = float(clock_offset_interval)
        self.max_buflen = int(max_buflen)
        self.pull_timeout = float(pull_timeout)

        self._sources: list[_Source] = []
        self._writer: XdfWriter | None = None
        self._writer_thread: threading.Thread | None = None
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the StreamStats the writer thread updates
        self._writer_error: BaseException | None = None
        self._state = "new"

    # -- control -----------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Resolve and connect every stream, create the file, start the threads.

        Returns
        -------
        Recorder
            ``self``; samples pushed by a source after this returns are all recorded.

        Raises
        ------
        StreamNotFoundError
            A stream did not appear or connect within ``resolve_timeout``; no file is created.
        AmbiguousStreamsError
            Same-named streams of several sources that nothing tells apart; no file is created.
        """
        if self._state != "new":
            raise RuntimeError(
                f"Recorder.start() on a recorder that is {self._state}; a Recorder records once"
            )
        deadline = time.monotonic() + self.resolve_timeout
        source = dict(source_id=self.source_id, host=self.host)
        if self.queries is None:
            infos = default_streams(self.resolve_timeout, **source)
        else:
            infos = resolve_queries(self.queries, self.resolve_timeout, **source)
        infos = _unique(infos)
        inlets = [self._connect(info, max(1.0, deadline - time.monotonic())) for info in infos]

        self._writer = XdfWriter(self.path, overwrite=self.overwrite)
        try:
            for info, (inlet, full) in zip(infos, inlets, strict=True):
                self._sources.append(self._add_source(info, inlet, full))
        except BaseException:
            self._writer.close()
            self.path.unlink(missing_ok=True)
            raise
        self._state = "recording"
        self._writer_thread = threading.Thread(target=self._write_loop, name="recorder-writer", daemon=True)
        self._writer_thread.start()
        for source in self._sources:
            source.thread = threading.Thread(
                target=self._acquire, args=(source,), name=f"recorder-{source.stats.name}", daemon=True
            )
            source.thread.start()
        log.info(
            "recording %d stream(s) to %s: %s",
            len(self._sources),
            self.path,
            describe_streams([s.info for s in self._sources]),
        )
        return self

    def stop(self, timeout: float = 30.0) -> list[StreamStats]:
        """Drain what the inlets hold, write footers and close the file.

        Returns
        -------
        list of StreamStats
            Per-stream counts, in recording order.

        Raises
        ------
        RuntimeError
            Writing the file failed (disk full...); the file holds what was written before.
        """
        if self._state == "new":
            raise RuntimeError("Recorder.stop() before start()")
        if self._state == "recording":
            self._stop.set()
            for source in self._sources:
                assert source.thread is not None
                source.thread.join(timeout)
                if source.thread.is_alive():
                    log.error("acquisition of %r did not stop within %g s", source.stats.name, timeout)
            self._queue.put(None)  # after every acquisition thread has queued its last chunk
            assert self._writer_thread is not None
            self._writer_thread.join(timeout)
            if self._writer_thread.is_alive():
                log.error("the XDF writer did not finish within %g s; the file may lack its footers", timeout)
            self._state = "stopped"
            for source in self._sources:
                if source.thread is not None and not source.thread.is_alive():  # else it still owns it
                    source.inlet.close_stream()
            stats = self.stats()
            log.info(
                "recorded %s: %s",
                self.path,
                ", ".join(f"{s.name!r} {s.n_samples} samples" for s in stats),
            )
        if self._writer_error is not None:
            raise RuntimeError(f"writing {self.path} failed: {self._writer_error}") from self._writer_error
        return self.stats()

    def stats(self) -> list[StreamStats]:
        """Per-stream counts so far (copies; safe from any thread)."""
        with self._lock:
            return [replace(s.stats) for s in self._sources]

    @property
    def recording(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._state == "recording"

    @property
    def failed(self) -> bool:
        """True when the writer thread failed (the recording has stopped growing)."""
        return self._writer_error is not None

    def __enter__(self) -> Recorder:
        if self._state == "new":
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == "recording":
            self.stop()

    # -- setup -------------------------------------------------------------------------------

    def _connect(self, info: pylsl.StreamInfo, timeout: float) -> tuple[pylsl.StreamInlet, pylsl.StreamInfo]:
        # No post-processing: raw timestamps plus stored offsets, as XDF expects.
        inlet = pylsl.StreamInlet(
            info, max_buflen=self.max_buflen, max_chunklen=0, recover=True, processing_flags=0
        )
        try:
            inlet.open_stream(timeout=timeout)
            full = inlet.info(timeout=timeout)
        except (LslTimeoutError, LostError) as e:
            raise StreamNotFoundError(
                f"found {describe_stream(info)} but could not connect to it within {timeout:.1f} s ({e}); "
                "a firewall or a source that just exited can cause this"
            ) from e
        return inlet, full

    def _add_source(
        self, info: pylsl.StreamInfo, inlet: pylsl.StreamInlet, full: pylsl.StreamInfo
    ) -> _Source:
        assert self._writer is not None
        fmt = channel_format_name(full)
        header = dict(
            name=full.name(),
            type=full.type(),
            channel_count=full.channel_count(),
            nominal_srate=full.nominal_srate(),
            channel_format=fmt,
            source_id=full.source_id(),
        )
        try:
            # The source's whole <desc> (channels, units, cap, amplifier...) goes into the file.
            stream_id = self._writer.add_stream(**header, desc_xml_extra=desc_mapping(full))
        except ValueError as e:
            labels = full.get_channel_labels()
            log.warning(
                "the description of %r cannot be stored as is (%s); keeping channel labels only",
                full.name(),
                e,
            )
            names = [str(x) for x in labels] if labels and all(x is not None for x in labels) else None
            stream_id = self._writer.add_stream(**header, channel_names=names)
        rate = full.nominal_srate()
        # About a second of data per pull at most (pulls return earlier on pull_timeout).
        max_samples = max(1024, int(rate) + 1) if rate > 0 else 1024
        buffer = None
        if fmt != "string":
            buffer = np.empty((max_samples, full.channel_count()), dtype=inlet.np_dtype)
        stats = StreamStats(
            name=full.name(),
            type=full.type(),
            source_id=full.source_id(),
            channel_format=fmt,
            channel_count=full.channel_count(),
            nominal_srate=rate,
        )
        return _Source(
            info=full,
            inlet=inlet,
            stream_id=stream_id,
            fmt=fmt,
            max_samples=max_samples,
            stats=stats,
            buffer=buffer,
        )

    # -- acquisition threads -----------------------------------------------------------------

    def _acquire(self, source: _Source) -> None:
        name = source.stats.name
        try:
            self._measure_offset(source, timeout=max(2.0, self.pull_timeout))
            next_offset = time.monotonic() + self.clock_offset_interval
            while not self._stop.is_set():
                self._pull(source, self.pull_timeout)
                if time.monotonic() >= next_offset:
                    self._measure_offset(source, timeout=self.pull_timeout)
                    next_offset += self.clock_offset_interval
            # Drain: everything the inlet holds now; a pull that does not fill up means the
            # buffer was empty at that instant (a source that keeps pushing cannot hold us forever).
            while self._pull(source, 0.0) == source.max_samples:
                pass
            self._measure_offset(source, timeout=self.pull_timeout)
        except LostError as e:
            self._set_error(source, f"stream lost ({e}); its recording ends here")
            log.warning("stream %r was lost; its recording ends here, the others continue", name)
        except Exception as e:
            self._set_error(source, f"{type(e).__name__}: {e}")
            log.exception("acquisition of %r failed; its recording ends here", name)

    def _pull(self, source: _Source, timeout: float) -> int:
        """Pull one chunk into the queue; returns how many samples it held."""
        inlet = source.inlet
        if source.buffer is not None:
            view, stamps = inlet.pull_chunk(
                timeout=timeout, max_samples=source.max_samples, dest_obj=source.buffer, as_numpy=True
            )
            n = len(stamps)
            if n:
                # copy: the buffer is reused by the next pull while this chunk waits in the queue
                self._queue.put(("samples", source, view.copy(), np.asarray(stamps, dtype=np.float64)))
            return n
        raw, stamps = inlet.pull_chunk(timeout=timeout, max_samples=source.max_samples, as_numpy=True)
        n = len(stamps)
        if n:
            # Raw bytes, decoded here: a marker that is not UTF-8 must not kill the recording.
            rows = [[_decode(v, source) for v in row] for row in raw]
            values: list[Any] = [r[0] for r in rows] if source.stats.channel_count == 1 else rows
            self._queue.put(("samples", source, values, np.asarray(stamps, dtype=np.float64)))
        return n

    def _measure_offset(self, source: _Source, timeout: float) -> None:
        try:
            offset = source.inlet.time_correction(timeout=timeout)
        except LslTimeoutError:
            log.debug("no clock offset for %r this time (timeout)", source.stats.name)
            return
        # XDF's collection time is in the *stream's* clock, as LabRecorder writes it.
        self._queue.put(("offset", source, pylsl.local_clock() - offset, offset))

    def _set_error(self, source: _Source, message: str) -> None:
        with self._lock:
            source.stats.error = message

    # -- writer thread -----------------------------------------------------------------------

    def _write_loop(self) -> None:
        writer = self._writer
        assert writer is not None
        last_flush = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=min(0.25, self.flush_interval / 2))
                except queue.Empty:
                    item = ()
                if item is None:
                    break
                if item:
                    self._write(writer, item)
                if time.monotonic() - last_flush >= self.flush_interval:
                    writer.flush()
                    last_flush = time.monotonic()
        except Exception as e:
            self._writer_error = e
            log.exception("writing %s failed; recording stopped", self.path)
            self._stop.set()  # the acquisition threads would only fill memory now
        finally:
            try:
                writer.close()
            except Exception:
                log.exception("closing %s failed", self.path)

    def _write(self, writer: XdfWriter, item: tuple[Any, ...]) -> None:
        kind, source = item[0], item[1]
        if kind == "samples":
            _, _, values, stamps = item
            writer.write_samples(source.stream_id, values, stamps)
            with self._lock:
                stats = source.stats
                if stats.first_timestamp is None:
                    stats.first_timestamp = float(stamps[0])
                stats.last_timestamp = float(stamps[-1])
                stats.n_samples += len(stamps)
        else:
            _, _, collection_time, offset = item
            writer.write_clock_offset(source.stream_id, collection_time, offset)
            with self._lock:
                source.stats.n_clock_offsets += 1


def _decode(value: bytes | str, source: _Source) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        if not source.extra.get("warned_utf8"):
            log.warning(
                "stream %r sent text that is not UTF-8; stored with replacement characters", source.stats.name
            )
            source.extra["warned_utf8"] = True
        return value.decode("utf-8", "replace")


def _unique(infos: Sequence[pylsl.StreamInfo]) -> list[pylsl.StreamInfo]:
    """Drop repeats (two queries that found the same stream), keeping the first."""
    seen: set[str] = set()
    out = []
    for info in infos:
        if info.uid() in seen:
            log.warning("%s was requested twice; recording it once", describe_stream(info))
            continue
        seen.add(info.uid())
        out.append(info)
    return out
