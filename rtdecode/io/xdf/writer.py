"""Writing XDF: :class:`XdfWriter` appends complete chunks, :func:`write_xdf` stores a :class:`Recording`.

Every call appends whole chunks straight to the file, so a recording cut at any byte (a killed
process, a full disk) still loads up to the last complete chunk.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import struct
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from rtdecode.io.recording import Marker, Recording
from rtdecode.io.xdf.spec import (
    BOUNDARY_SIGNATURE,
    CHANNEL_FORMATS,
    DEFAULT_EEG_NAME,
    DEFAULT_MARKER_NAME,
    MAGIC,
    METADATA_TAG,
    NUMERIC_FORMATS,
    TAG_BOUNDARY,
    TAG_CLOCK_OFFSET,
    TAG_FILE_HEADER,
    TAG_SAMPLES,
    TAG_STREAM_FOOTER,
    TAG_STREAM_HEADER,
)

__all__ = ["XdfWriter", "write_xdf"]

# Characters that XML 1.0 cannot carry even escaped (C0 controls other than tab, LF, CR).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


@dataclass
class _StreamState:
    """What the writer remembers of one stream, for validation and the footer."""

    name: str
    channel_count: int
    channel_format: str
    nominal_srate: float
    sample_count: int = 0
    first_timestamp: float = 0.0
    last_timestamp: float = 0.0
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)


class XdfWriter:
    """Write an XDF 1.0 file incrementally, one complete chunk per call.

    Every call appends whole chunks to a buffered file, so the file is valid up to the last
    chunk that reached the disk: call :meth:`flush` (at least every second in a live recorder)
    to bound what a killed process can lose. :meth:`close` writes the stream footers.

    Parameters
    ----------
    path : str or Path
        File to create.
    overwrite : bool
        Replace an existing file. Off by default so that a recording is never clobbered.

    Examples
    --------
    >>> with XdfWriter("session.xdf") as w:  # doctest: +SKIP
    ...     eeg = w.add_stream("amp", "EEG", 2, 1000.0, "float32", channel_names=["Cz", "Pz"])
    ...     w.write_samples(eeg, np.zeros((10, 2)), np.arange(10) / 1000.0)
    """

    def __init__(self, path: str | Path, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        try:
            self._file = open(self.path, "wb" if overwrite else "xb")
        except FileExistsError:
            raise FileExistsError(
                f"{self.path} already exists; choose another file name or pass overwrite=True"
            ) from None
        self._lock = threading.Lock()
        self._streams: dict[int, _StreamState] = {}
        self._closed = False
        self._file.write(MAGIC)
        header = _xml_bytes(_element("info", {"version": "1.0"}))
        self._write_chunk(TAG_FILE_HEADER, header)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def sample_count(self, stream_id: int) -> int:
        """Number of samples written so far to stream ``stream_id``."""
        return self._stream(stream_id).sample_count

    def add_stream(
        self,
        name: str,
        type: str,
        channel_count: int,
        nominal_srate: float,
        channel_format: str,
        source_id: str = "",
        channel_names: Sequence[str] | None = None,
        unit: str = "microvolts",
        desc_xml_extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Declare a stream and write its StreamHeader chunk.

        Parameters
        ----------
        name, type, source_id : str
            LSL stream-info fields (``type`` is e.g. ``"EEG"`` or ``"Markers"``).
        channel_count : int
            Number of channels (values per sample), at least 1.
        nominal_srate : float
            Sampling rate in Hz; 0 for irregular streams such as markers.
        channel_format : str
            One of ``float32, double64, int8, int16, int32, int64, string``.
        channel_names : sequence of str, optional
            One label per channel, written to ``<desc><channels>`` as LabRecorder does, each with
            ``unit`` and the stream ``type`` as channel type.
        unit : str
            Unit of every channel (only written with ``channel_names``).
        desc_xml_extra : mapping, optional
            More ``<desc>`` content: keys are element names; values are text (str, int, float,
            bool), nested mappings, lists (repeated elements) or None (empty element).

        Returns
        -------
        int
            The stream id to pass to :meth:`write_samples`.
        """
        _check_stream_args(name, channel_count, nominal_srate, channel_format, channel_names)
        info = _stream_info_element(
            name,
            type,
            channel_count,
            nominal_srate,
            channel_format,
            source_id,
            channel_names,
            unit,
            desc_xml_extra,
        )
        with self._lock:
            self._check_open()
            stream_id = len(self._streams) + 1
            self._streams[stream_id] = _StreamState(name, channel_count, channel_format, float(nominal_srate))
            self._write_chunk(TAG_STREAM_HEADER, struct.pack("<I", stream_id) + _xml_bytes(info))
        return stream_id

    def write_samples(
        self, stream_id: int, samples: np.ndarray | Sequence[Any], timestamps: np.ndarray | Sequence[float]
    ) -> None:
        """Append one Samples chunk.

        Parameters
        ----------
        stream_id : int
            Id returned by :meth:`add_stream`.
        samples : np.ndarray, shape (n_samples, n_channels), or list of str
            Numeric values (converted to the stream's format), or for string streams a list of
            ``n_samples`` strings (one channel) or of ``n_channels``-long string sequences.
        timestamps : np.ndarray, shape (n_samples,)
            LSL timestamp of every sample in seconds; each is stored in full (8 bytes).
        """
        state = self._stream(stream_id)
        stamps = _check_timestamps(timestamps)
        if state.channel_format == "string":
            payload = _encode_string_samples(samples, stamps, state)
        else:
            payload = _encode_numeric_samples(samples, stamps, state)
        if stamps.size == 0:
            return
        with self._lock:
            self._check_open()
            self._write_chunk(TAG_SAMPLES, struct.pack("<I", stream_id) + _varlen(stamps.size) + payload)
            if state.sample_count == 0:
                state.first_timestamp = float(stamps[0])
            state.last_timestamp = float(stamps[-1])
            state.sample_count += int(stamps.size)

    def write_clock_offset(self, stream_id: int, collection_time: float, offset: float) -> None:
        """Append a ClockOffset chunk, the measurement readers use to map the stream's timestamps
        into the recording computer's clock.

        Parameters
        ----------
        stream_id : int
            Id returned by :meth:`add_stream`.
        collection_time : float
            When the offset was measured, in the *stream's* clock (the clock of its timestamps):
            ``local_clock() - offset``, as LabRecorder writes it.
        offset : float
            ``inlet.time_correction()``: local time = stream time + offset, in seconds.
        """
        state = self._stream(stream_id)
        if not (math.isfinite(collection_time) and math.isfinite(offset)):
            raise ValueError(
                f"clock offset must be finite numbers, got time={collection_time!r} offset={offset!r}"
            )
        with self._lock:
            self._check_open()
            self._write_chunk(TAG_CLOCK_OFFSET, struct.pack("<Idd", stream_id, collection_time, offset))
            state.clock_offsets.append((float(collection_time), float(offset)))

    def write_boundary(self) -> None:
        """Append a Boundary chunk, where a reader can resynchronize after damage."""
        with self._lock:
            self._check_open()
            self._write_chunk(TAG_BOUNDARY, BOUNDARY_SIGNATURE)

    def flush(self, fsync: bool = False) -> None:
        """Push buffered chunks to the operating system; with ``fsync`` also to the disk."""
        with self._lock:
            self._check_open()
            self._file.flush()
            if fsync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        """Write a StreamFooter per stream, sync to disk and close. Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            try:
                for stream_id, state in self._streams.items():
                    footer = _xml_bytes(_footer_element(state))
                    self._write_chunk(TAG_STREAM_FOOTER, struct.pack("<I", stream_id) + footer)
                self._file.flush()
                os.fsync(self._file.fileno())
            finally:
                self._closed = True
                self._file.close()

    def __enter__(self) -> XdfWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write_chunk(self, tag: int, content: bytes) -> None:
        # One write per chunk keeps a chunk contiguous in the buffer, so a crash cuts at most the
        # chunk being written, which the reader then drops.
        self._file.write(_varlen(len(content) + 2) + struct.pack("<H", tag) + content)

    def _stream(self, stream_id: int) -> _StreamState:
        try:
            return self._streams[stream_id]
        except KeyError:
            raise ValueError(
                f"unknown stream_id {stream_id!r}; use an id returned by add_stream "
                f"(known: {sorted(self._streams)})"
            ) from None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"XdfWriter for {self.path} is closed; open a new writer to write more")


def write_xdf(path: str | Path, recording: Recording, *, overwrite: bool = False) -> None:
    """Save a :class:`Recording` as XDF: a float32 EEG stream and a string marker stream.

    The EEG stream is named ``recording.metadata["stream_name"]`` (default ``"rtdecode-EEG"``),
    type ``EEG``, with the channel labels in its ``<desc>``; ``recording.metadata`` is stored as
    JSON in ``<desc><rtdecode_metadata>`` so :func:`read_xdf` restores it. The marker stream
    (type ``Markers``, irregular rate) is named ``metadata["marker_stream"]`` or
    ``"rtdecode-Markers"``; ``metadata["source_id"]``, if any, becomes the EEG source_id. No clock
    offsets are written: the timestamps are already in the recording computer's clock. Markers
    are interleaved with the EEG chunks in time order, as a live
    recorder would write them, and the file is written under a temporary name and renamed, so
    ``path`` never holds half a file.

    Parameters
    ----------
    path : str or Path
        Destination file.
    recording : Recording
        What to store; ``data`` is (n_samples, n_channels).
    overwrite : bool
        Replace an existing ``path``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another file name or pass overwrite=True")
    metadata_json = _metadata_json(recording.metadata)
    partial = path.with_name(path.name + ".part")
    try:
        with XdfWriter(partial, overwrite=True) as writer:
            _write_recording(writer, recording, metadata_json)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _write_recording(writer: XdfWriter, recording: Recording, metadata_json: str) -> None:
    meta = recording.metadata
    eeg = writer.add_stream(
        str(meta.get("stream_name") or DEFAULT_EEG_NAME),
        "EEG",
        recording.n_channels,
        recording.sfreq,
        "float32",
        source_id=str(meta.get("source_id") or ""),
        channel_names=recording.channel_names,
        desc_xml_extra={METADATA_TAG: metadata_json},
    )
    markers = writer.add_stream(
        str(meta.get("marker_stream") or DEFAULT_MARKER_NAME), "Markers", 1, 0.0, "string"
    )
    marker_times = np.array([m.timestamp for m in recording.markers], dtype=np.float64)
    block = max(1, int(round(recording.sfreq)))  # about one second of EEG per chunk
    written = 0
    for start in range(0, recording.n_samples, block):
        stop = min(start + block, recording.n_samples)
        # markers up to the end of this block go first, like a recorder that receives them live
        due = int(np.searchsorted(marker_times, recording.timestamps[stop - 1], side="right"))
        _write_markers(writer, markers, recording.markers[written:due])
        written = max(written, due)
        writer.write_samples(eeg, recording.data[start:stop], recording.timestamps[start:stop])
    _write_markers(writer, markers, recording.markers[written:])


def _write_markers(writer: XdfWriter, stream_id: int, markers: Sequence[Marker]) -> None:
    if markers:
        writer.write_samples(stream_id, [m.text for m in markers], [m.timestamp for m in markers])


def _metadata_json(metadata: Mapping[str, Any]) -> str:
    try:
        return json.dumps(metadata, default=_json_default)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"recording.metadata must be JSON-compatible to be stored in XDF ({e}); "
            "convert that value to str, number, list or dict"
        ) from e


def _json_default(value: Any) -> Any:
    # numpy scalars/arrays and paths are unambiguous enough to convert; anything else is refused
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"value {value!r} of type {type(value).__name__} is not JSON serializable")


def _check_stream_args(
    name: str,
    channel_count: int,
    nominal_srate: float,
    channel_format: str,
    channel_names: Sequence[str] | None,
) -> None:
    if not name:
        raise ValueError("stream name must be a non-empty string (XDF readers rely on it)")
    if channel_format not in CHANNEL_FORMATS:
        raise ValueError(f"channel_format must be one of {CHANNEL_FORMATS}, got {channel_format!r}")
    if int(channel_count) != channel_count or channel_count < 1:
        raise ValueError(f"channel_count must be a positive integer, got {channel_count!r}")
    if not (math.isfinite(nominal_srate) and nominal_srate >= 0):
        raise ValueError(f"nominal_srate must be >= 0 Hz (0 for irregular streams), got {nominal_srate!r}")
    if channel_names is not None and len(channel_names) != channel_count:
        raise ValueError(f"{len(channel_names)} channel_names for channel_count={channel_count}")


def _stream_info_element(
    name: str,
    type_: str,
    channel_count: int,
    nominal_srate: float,
    channel_format: str,
    source_id: str,
    channel_names: Sequence[str] | None,
    unit: str,
    desc_extra: Mapping[str, Any] | None,
) -> ET.Element:
    info = _element(
        "info",
        {
            "name": name,
            "type": type_,
            "channel_count": int(channel_count),
            "channel_format": channel_format,
            "source_id": source_id,
            "nominal_srate": repr(float(nominal_srate)),
            "version": "1.1",
            "uid": str(uuid.uuid4()),
            "hostname": socket.gethostname(),
        },
    )
    desc = ET.SubElement(info, "desc")
    if channel_names is not None:
        channels = ET.SubElement(desc, "channels")
        for label in channel_names:
            channels.append(_element("channel", {"label": str(label), "unit": unit, "type": type_}))
    for key, value in (desc_extra or {}).items():
        _append_value(desc, key, value)
    return info


def _footer_element(state: _StreamState) -> ET.Element:
    duration = state.last_timestamp - state.first_timestamp
    measured = (state.sample_count - 1) / duration if state.sample_count > 1 and duration > 0 else 0.0
    footer = _element(
        "info",
        {
            "first_timestamp": repr(state.first_timestamp),
            "last_timestamp": repr(state.last_timestamp),
            "sample_count": state.sample_count,
            "measured_srate": repr(measured),
        },
    )
    offsets = ET.SubElement(footer, "clock_offsets")
    for time, value in state.clock_offsets:
        offsets.append(_element("offset", {"time": repr(time), "value": repr(value)}))
    return footer


def _element(tag: str, children: Mapping[str, Any]) -> ET.Element:
    elem = ET.Element(tag)
    for key, value in children.items():
        _append_value(elem, key, value)
    return elem


def _append_value(parent: ET.Element, key: str, value: Any) -> None:
    if not isinstance(key, str) or not _XML_NAME.match(key) or key.lower().startswith("xml"):
        raise ValueError(
            f"{key!r} cannot be an XML element name; use letters, digits, '_', '-', '.' "
            "and start with a letter or '_'"
        )
    if isinstance(value, list | tuple):
        for item in value:
            _append_value(parent, key, item)
        return
    child = ET.SubElement(parent, key)
    if isinstance(value, Mapping):
        for sub_key, sub_value in value.items():
            _append_value(child, sub_key, sub_value)
    elif value is not None:
        child.text = _xml_text(value)


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    if _XML_ILLEGAL.search(text):
        raise ValueError(f"text {text[:40]!r} contains control characters that XML cannot store; remove them")
    return text


def _xml_bytes(elem: ET.Element) -> bytes:
    try:
        body = ET.tostring(elem, encoding="unicode").encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"stream information is not valid Unicode ({e}); fix the offending text") from e
    return b'<?xml version="1.0"?>' + body


def _varlen(n: int) -> bytes:
    if n < 1 << 8:
        return struct.pack("<BB", 1, n)
    if n < 1 << 32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _check_timestamps(timestamps: np.ndarray | Sequence[float]) -> np.ndarray:
    stamps = np.asarray(timestamps, dtype=np.float64)
    if stamps.ndim != 1:
        raise ValueError(f"timestamps must be one-dimensional (n_samples,), got shape {stamps.shape}")
    if not np.all(np.isfinite(stamps)):
        raise ValueError("timestamps contain NaN or infinite values; every sample needs a real LSL time")
    return stamps


def _encode_numeric_samples(samples: Any, stamps: np.ndarray, state: _StreamState) -> bytes:
    values = np.asarray(samples)
    expected = (stamps.size, state.channel_count)
    if values.shape != expected:
        raise ValueError(
            f"samples for stream {state.name!r} must have shape (n_samples, n_channels) = {expected}, "
            f"got {values.shape}"
        )
    target = NUMERIC_FORMATS[state.channel_format]
    if values.dtype.kind not in "biuf":
        raise ValueError(f"samples for numeric stream {state.name!r} must be numbers, got {values.dtype}")
    cast = values.astype(target)
    if target.kind == "i" and not np.array_equal(cast, values):
        raise ValueError(
            f"samples do not fit {state.channel_format} for stream {state.name!r} (fractions or out of "
            "range); round them or declare the stream float32/double64"
        )
    # Packed record = [timestamp-bytes=8][float64 stamp][values], the XDF sample layout.
    layout = np.dtype([("nbytes", "u1"), ("stamp", "<f8"), ("values", target, (state.channel_count,))])
    records = np.empty(stamps.size, dtype=layout)
    records["nbytes"] = 8
    records["stamp"] = stamps
    records["values"] = cast
    return records.tobytes()


def _encode_string_samples(samples: Any, stamps: np.ndarray, state: _StreamState) -> bytes:
    rows = _string_rows(samples, state)
    if len(rows) != stamps.size:
        raise ValueError(f"{len(rows)} string samples but {stamps.size} timestamps for stream {state.name!r}")
    parts = []
    for stamp, row in zip(stamps, rows, strict=True):
        parts.append(struct.pack("<Bd", 8, stamp))
        for text in row:
            raw = text.encode("utf-8")
            parts.append(_varlen(len(raw)) + raw)
    return b"".join(parts)


def _string_rows(samples: Any, state: _StreamState) -> list[list[str]]:
    if isinstance(samples, str):
        raise ValueError("samples for a string stream must be a list of strings, not a single str")
    rows = []
    for sample in samples:
        row = (
            [sample] if isinstance(sample, str | bytes) or not isinstance(sample, Iterable) else list(sample)
        )
        if len(row) != state.channel_count or not all(isinstance(s, str) for s in row):
            raise ValueError(
                f"each sample of string stream {state.name!r} must be {state.channel_count} str "
                f"value(s), got {sample!r}"
            )
        rows.append(row)
    return rows
