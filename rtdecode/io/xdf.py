"""XDF files: an incremental writer, and a reader that turns a recording into a :class:`Recording`.

XDF 1.0 (https://github.com/sccn/xdf/wiki/Specifications) is the file format of LabRecorder and of
most LSL software. A file is the magic bytes ``XDF:`` followed by chunks::

    [NumLengthBytes 1|4|8][Length][Tag uint16][Content]

where ``Length`` counts the tag and the content, and the tags are FileHeader=1, StreamHeader=2,
Samples=3, ClockOffset=4, Boundary=5, StreamFooter=6. All numbers are little-endian.

Writing: :class:`XdfWriter` appends complete chunks straight to the file, so a recording cut at any
byte (a killed process, a full disk) still loads up to the last complete chunk. :func:`write_xdf`
stores a whole :class:`Recording`.

Reading: :func:`read_xdf` parses with ``pyxdf`` (the field's reference reader) with its clock
synchronization, so every timestamp is in the recording computer's LSL clock. pyxdf is not robust
to damaged files (a cut inside a sample silently repeats the previous sample's values; a cut
inside a header raises from deep inside), so every file is first scanned chunk by chunk here:
damaged or incomplete chunks are dropped with a :class:`XdfWarning`, and pyxdf only ever sees
well-formed chunks.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import math
import mmap
import os
import re
import socket
import struct
import threading
import uuid
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from rtdecode.io.recording import Marker, Recording

logger = logging.getLogger(__name__)

__all__ = [
    "XdfError",
    "XdfWarning",
    "XdfWriter",
    "list_streams",
    "read_xdf",
    "write_xdf",
]

MAGIC = b"XDF:"
TAG_FILE_HEADER = 1
TAG_STREAM_HEADER = 2
TAG_SAMPLES = 3
TAG_CLOCK_OFFSET = 4
TAG_BOUNDARY = 5
TAG_STREAM_FOOTER = 6
# Fixed content of every Boundary chunk (XDF spec); readers resynchronize on it after damage.
BOUNDARY_SIGNATURE = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")

NUMERIC_FORMATS: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "double64": np.dtype("<f8"),
    "int8": np.dtype("<i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
}
CHANNEL_FORMATS = (*NUMERIC_FORMATS, "string")

DEFAULT_EEG_NAME = "rtdecode-EEG"
DEFAULT_MARKER_NAME = "rtdecode-Markers"
METADATA_TAG = "rtdecode_metadata"

# Scale factors to microvolts for the unit spellings LSL apps use in <unit>.
_UNIT_TO_MICROVOLTS = {
    "microvolts": 1.0, "microvolt": 1.0, "uv": 1.0, "µv": 1.0, "μv": 1.0,
    "volts": 1e6, "volt": 1e6, "v": 1e6,
    "millivolts": 1e3, "millivolt": 1e3, "mv": 1e3,
    "nanovolts": 1e-3, "nanovolt": 1e-3, "nv": 1e-3,
}  # fmt: skip

# Characters that XML 1.0 cannot carry even escaped (C0 controls other than tab, LF, CR).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


class XdfError(ValueError):
    """An XDF file that cannot be read: missing magic bytes, damaged beyond use, no usable stream."""


class XdfWarning(UserWarning):
    """An XDF file was read, but part of it was damaged or incomplete and was skipped."""


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Scanning: find the well-formed chunks of a possibly damaged file
# ---------------------------------------------------------------------------------------------

Buffer = bytes | mmap.mmap


class _Damage(Exception):
    """A chunk that is not well formed.

    ``fatal`` when the chunk framing itself is lost (the next chunk cannot be found from this
    one's length); ``truncated`` when the chunk runs past the end of the file.
    """

    def __init__(self, message: str, fatal: bool = False, truncated: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.truncated = truncated


@dataclass
class _Layout:
    """What the scanner needs of a stream header to check that stream's Samples chunks."""

    channel_count: int
    channel_format: str

    @property
    def sample_bytes(self) -> int:
        return self.channel_count * NUMERIC_FORMATS[self.channel_format].itemsize


@dataclass
class _Scan:
    """Result of scanning a file: byte spans of the chunks worth keeping and what was wrong."""

    spans: list[tuple[int, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False
    layouts: dict[int, _Layout] = field(default_factory=dict)
    footers: set[int] = field(default_factory=set)

    def keep(self, start: int, end: int) -> None:
        if self.spans and self.spans[-1][1] == start:
            self.spans[-1] = (self.spans[-1][0], end)  # merge neighbours: fewer spans to read
        else:
            self.spans.append((start, end))


def _scan(buf: Buffer) -> _Scan:
    """Walk the chunks of ``buf`` (the whole file, magic included) and keep the valid ones."""
    scan = _Scan()
    pos, size = len(MAGIC), len(buf)
    while pos < size:
        try:
            content, end, tag = _frame(buf, pos, size)
        except _Damage as damage:
            resume = _find_boundary(buf, pos + 1)
            if resume < 0:
                scan.truncated = damage.truncated
                scan.problems.append(f"byte {pos}: {damage}; the last {size - pos} bytes were ignored")
                break
            scan.problems.append(f"byte {pos}: {damage}; skipped {resume - pos} bytes to the next boundary")
            pos = resume
            continue
        try:
            _check_chunk(buf, content, end, tag, scan)
            scan.keep(pos, end)
        except _Damage as damage:
            scan.problems.append(f"byte {pos}: {damage}; chunk skipped")
        pos = end
    return scan


def _frame(buf: Buffer, pos: int, size: int) -> tuple[int, int, int]:
    """Read a chunk's length and tag; return (content start, chunk end, tag)."""
    nbytes = buf[pos]
    if nbytes not in (1, 4, 8):
        raise _Damage(f"invalid chunk length field ({nbytes} length bytes)", fatal=True)
    if pos + 1 + nbytes + 2 > size:
        raise _Damage("chunk header runs beyond the end of the file", fatal=True, truncated=True)
    length = int.from_bytes(buf[pos + 1 : pos + 1 + nbytes], "little")
    tag_at = pos + 1 + nbytes
    end = tag_at + length
    if length < 2:
        raise _Damage(f"chunk length {length} is too short for a tag", fatal=True)
    if end > size:
        raise _Damage(f"chunk of {length} bytes runs beyond the end of the file", fatal=True, truncated=True)
    tag = int.from_bytes(buf[tag_at : tag_at + 2], "little")
    if not TAG_FILE_HEADER <= tag <= TAG_STREAM_FOOTER:
        raise _Damage(f"unknown chunk tag {tag}", fatal=True)
    return tag_at + 2, end, tag


def _find_boundary(buf: Buffer, start: int) -> int:
    """Offset just after the next Boundary signature at or after ``start``, or -1."""
    found = buf.find(BOUNDARY_SIGNATURE, start)
    return found if found < 0 else found + len(BOUNDARY_SIGNATURE)


def _check_chunk(buf: Buffer, start: int, end: int, tag: int, scan: _Scan) -> None:
    if tag == TAG_FILE_HEADER:
        _parse_xml(buf[start:end], "file header")
        return
    if tag == TAG_BOUNDARY:
        if buf[start:end] != BOUNDARY_SIGNATURE:
            raise _Damage("boundary chunk with a wrong signature")
        return
    if end - start < 4:
        raise _Damage(f"chunk with tag {tag} is too short to hold a stream id")
    stream_id = int.from_bytes(buf[start : start + 4], "little")
    if tag == TAG_STREAM_HEADER:
        _check_stream_header(buf[start + 4 : end], stream_id, scan)
        return
    layout = scan.layouts.get(stream_id)
    if layout is None:
        raise _Damage(f"chunk with tag {tag} for stream {stream_id}, which has no stream header")
    if tag == TAG_SAMPLES:
        _check_samples(buf, start + 4, end, layout)
    elif tag == TAG_CLOCK_OFFSET:
        _check_clock_offset(buf[start + 4 : end], stream_id)
    elif tag == TAG_STREAM_FOOTER:
        _check_footer(buf[start + 4 : end], stream_id)
        scan.footers.add(stream_id)


def _parse_xml(raw: bytes, what: str, decode: bool = False) -> ET.Element:
    # Parse exactly as pyxdf will: stream headers are decoded with errors="replace", file
    # headers and footers go to the XML parser as raw bytes.
    try:
        return ET.fromstring(raw.decode("utf-8", "replace") if decode else raw)
    except ET.ParseError as e:
        raise _Damage(f"{what} is not valid XML ({e})") from None


def _check_stream_header(raw: bytes, stream_id: int, scan: _Scan) -> None:
    info = _parse_xml(raw, f"header of stream {stream_id}", decode=True)
    if stream_id in scan.layouts:
        raise _Damage(f"second header for stream {stream_id}")
    if info.tag != "info" or not (info.findtext("name") or "").strip():
        raise _Damage(f"header of stream {stream_id} has no <info><name>")
    fmt = (info.findtext("channel_format") or "").strip()
    try:
        count = int(info.findtext("channel_count") or "")
        srate = float(info.findtext("nominal_srate") or "")
    except ValueError:
        raise _Damage(f"header of stream {stream_id} has a bad channel_count or nominal_srate") from None
    if fmt not in CHANNEL_FORMATS or count < 1 or not (math.isfinite(srate) and srate >= 0):
        raise _Damage(f"header of stream {stream_id} declares format {fmt!r}, {count} channels, {srate} Hz")
    scan.layouts[stream_id] = _Layout(count, fmt)


def _check_footer(raw: bytes, stream_id: int) -> None:
    footer = _parse_xml(raw, f"footer of stream {stream_id}")
    count = footer.findtext("sample_count")
    if count is not None:
        try:
            int(count)  # pyxdf converts it without a guard
        except ValueError:
            raise _Damage(f"footer of stream {stream_id} has sample_count {count!r}") from None


def _check_clock_offset(raw: bytes, stream_id: int) -> None:
    if len(raw) != 16:
        raise _Damage(f"clock offset of stream {stream_id} has {len(raw)} bytes instead of 16")
    values = struct.unpack("<dd", raw)
    if not all(math.isfinite(v) for v in values):
        raise _Damage(f"clock offset of stream {stream_id} is not a finite number")


def _read_varlen(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise _Damage("sample data ends early")
    nbytes = buf[pos]
    if nbytes not in (1, 4, 8) or pos + 1 + nbytes > end:
        raise _Damage("invalid length field in sample data")
    return int.from_bytes(buf[pos + 1 : pos + 1 + nbytes], "little"), pos + 1 + nbytes


def _check_samples(buf: Buffer, pos: int, end: int, layout: _Layout) -> None:
    """Check that a Samples chunk body holds exactly its declared samples, no more, no less.

    pyxdf trusts the sample count instead of the chunk length: on a cut sample it silently
    reuses the previous sample's values, so a chunk that does not add up is dropped here.
    """
    n, pos = _read_varlen(buf, pos, end)
    if layout.channel_format != "string" and _numeric_fast_path(buf, pos, end, n, layout.sample_bytes):
        return
    for _ in range(n):
        if pos >= end:
            raise _Damage(f"samples chunk ends before its {n} samples")
        stamp_bytes = buf[pos]
        if stamp_bytes not in (0, 8):
            raise _Damage(f"invalid timestamp length {stamp_bytes} in a samples chunk")
        pos += 1 + stamp_bytes
        if layout.channel_format == "string":
            for _ in range(layout.channel_count):
                length, pos = _read_varlen(buf, pos, end)
                pos += length
        else:
            pos += layout.sample_bytes
        if pos > end:
            raise _Damage(f"samples chunk ends before its {n} samples")
    if pos != end:
        raise _Damage(f"samples chunk has {end - pos} unexplained bytes after its {n} samples")


def _numeric_fast_path(buf: Buffer, pos: int, end: int, n: int, sample_bytes: int) -> bool:
    """True when every sample has a full (or every sample no) timestamp and the sizes add up."""
    for stamp_bytes in (8, 0):
        record = 1 + stamp_bytes + sample_bytes
        if n * record == end - pos:
            flags = np.frombuffer(buf, dtype=np.uint8, count=end - pos, offset=pos)[::record]
            ok = bool(np.all(flags == stamp_bytes))
            del flags  # an mmap cannot be closed while numpy still holds a view of it
            if ok:
                return True
    return False


class _SpanReader(io.RawIOBase):
    """A read-only file made of the magic bytes plus the kept spans of ``buf``.

    pyxdf reads this instead of the file, so it sees exactly the chunks that were checked, even
    if a recorder is still appending to the file.
    """

    def __init__(self, buf: Buffer, spans: Sequence[tuple[int, int]]) -> None:
        super().__init__()
        self._buf = buf
        self._pieces = [(0, len(MAGIC))] + list(spans)
        self._starts = np.cumsum([0] + [b - a for a, b in self._pieces]).tolist()
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._starts[-1]}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        done = 0
        while done < len(view) and self._pos < self._starts[-1]:
            piece = bisect.bisect_right(self._starts, self._pos) - 1
            start, end = self._pieces[piece]
            at = start + self._pos - self._starts[piece]
            n = min(len(view) - done, end - at)
            if piece == 0:
                view[done : done + n] = MAGIC[at : at + n]
            else:
                view[done : done + n] = self._buf[at : at + n]
            done += n
            self._pos += n
        return done


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _load_streams(path: str | Path) -> list[dict[str, Any]]:
    """All streams of an XDF file as pyxdf dicts, with damaged chunks dropped (and warned about)."""
    import pyxdf  # the reference reader; imported here so writing never needs it

    path = Path(path)
    with _file_buffer(path) as buf:
        if len(buf) < len(MAGIC) or buf[: len(MAGIC)] != MAGIC:
            raise XdfError(
                f"{path} is not an XDF file: it is only {len(buf)} bytes long"
                if len(buf) < len(MAGIC)
                else f"{path} is not an XDF file: it starts with {buf[:4]!r}, not {MAGIC!r}"
            )
        scan = _scan(buf)
        if scan.problems:
            _warn_damage(path, scan)
        source = io.BufferedReader(_SpanReader(buf, scan.spans), buffer_size=1 << 20)
        try:
            with _without_segment_noise():
                streams, _header = pyxdf.load_xdf(source, synchronize_clocks=True, dejitter_timestamps=False)
        except Exception as e:  # last line of defence: pyxdf's own failures become one clear error
            raise XdfError(f"{path}: pyxdf could not read the file ({type(e).__name__}: {e})") from e
    _log_clock_resets(path, streams)
    missing_footer = [s for s in streams if s["info"]["stream_id"] not in scan.footers]
    if missing_footer and not scan.problems:
        warnings.warn(
            f"{path}: {len(missing_footer)} stream(s) have no footer; the recording was probably "
            "interrupted before it was closed (the data that was written has been loaded)",
            XdfWarning,
            stacklevel=3,
        )
    return streams


class _SegmentNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Segments and clock-segments differ" not in record.getMessage()


@contextmanager
def _without_segment_noise() -> Iterator[None]:
    """Silence pyxdf's "Segments and clock-segments differ" warning during one load.

    pyxdf logs it for every stream without clock offsets (all of a single-computer recording),
    where it means nothing; real clock resets are reported by :func:`_log_clock_resets`.
    """
    pyxdf_logger = logging.getLogger("pyxdf.pyxdf")
    noise = _SegmentNoiseFilter()
    pyxdf_logger.addFilter(noise)
    try:
        yield
    finally:
        pyxdf_logger.removeFilter(noise)


def _log_clock_resets(path: Path, streams: Sequence[Mapping[str, Any]]) -> None:
    for s in streams:
        segments = s["info"].get("clock_segments") or []
        if len(segments) > 1:
            logger.warning(
                "%s: stream %r had %d clock resets; pyxdf corrected its timestamps segment by segment",
                path,
                _name(s),
                len(segments) - 1,
            )


def _is_gzip(path: Path) -> bool:
    return path.suffix == ".xdfz" or path.suffixes[-2:] == [".xdf", ".gz"]


@contextmanager
def _file_buffer(path: Path) -> Iterator[Buffer]:
    """The file's bytes: memory-mapped, or decompressed for .xdfz / .xdf.gz (as far as they go)."""
    if not path.exists():
        raise FileNotFoundError(f"XDF file {path} does not exist; check the path")
    if path.is_dir():
        raise XdfError(f"{path} is a directory, not an XDF file")
    if _is_gzip(path):
        try:
            # a decompressor object returns what it can of a truncated stream instead of raising
            yield zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes())
        except zlib.error as e:
            raise XdfError(f"{path} is not a valid gzip-compressed XDF file ({e})") from e
        return
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            yield b""
            return
        # the map's length is fixed now: bytes a recorder appends later are not seen
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped


def _warn_damage(path: Path, scan: _Scan) -> None:
    shown = "; ".join(scan.problems[:5])
    more = f" (and {len(scan.problems) - 5} more)" if len(scan.problems) > 5 else ""
    cause = (
        "the file ends inside a chunk, probably because the recording was interrupted"
        if scan.truncated and len(scan.problems) == 1
        else "the file is damaged"
    )
    warnings.warn(f"{path}: {cause}; loaded the intact chunks only. {shown}{more}", XdfWarning, stacklevel=4)


def list_streams(path: str | Path) -> list[dict[str, Any]]:
    """Summaries of the streams in an XDF file, for an ``info`` command.

    Returns
    -------
    list of dict
        One per stream, in file order: ``stream_id``, ``name``, ``type``, ``source_id``,
        ``channel_count``, ``channel_format``, ``nominal_srate``, ``n_samples`` and the
        (clock-synchronized) ``first_timestamp`` / ``last_timestamp`` (None without samples).
    """
    return [_summary(s) for s in _load_streams(path)]


def read_xdf(path: str | Path, eeg_stream: str | None = None, marker_stream: str | None = None) -> Recording:
    """Load an XDF recording as a :class:`Recording`, all timestamps in the local LSL clock.

    Parameters
    ----------
    path : str or Path
        ``.xdf`` file (``.xdfz`` / ``.xdf.gz`` also work).
    eeg_stream : str, optional
        Name of the stream to use as EEG. By default the first stream of type EEG
        (case-insensitive) with numeric data and samples, else the numeric stream with the most
        values (channels x samples).
    marker_stream : str, optional
        Name of the marker stream. By default every string stream, merged in time order.

    Returns
    -------
    Recording
        ``data`` (n_samples, n_channels) float32 in microvolts (converted when the channel units
        say volts, millivolts or nanovolts), ``timestamps`` (n_samples,), ``sfreq`` from the
        nominal rate (measured rate for irregular streams), channel labels from the stream
        description (``ch1``, ``ch2``... when absent), markers, and ``metadata``: what
        :func:`write_xdf` stored plus ``source_file``, ``stream_name``, ``marker_stream``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    XdfError
        Not an XDF file, damaged beyond use, or without a numeric stream; the message lists the
        streams found.
    """
    path = Path(path)
    streams = _load_streams(path)
    eeg = _pick_eeg(streams, eeg_stream, path)
    marker_sources = _pick_markers(streams, marker_stream, eeg)
    data, timestamps = _stream_data(eeg)
    if timestamps.size == 0:
        warnings.warn(f"{path}: EEG stream {_name(eeg)!r} has no samples", XdfWarning, stacklevel=2)
    metadata = _stored_metadata(eeg, path)
    metadata.update(
        source_file=str(path),
        stream_name=_name(eeg),
        marker_stream=", ".join(_name(s) for s in marker_sources) or None,
    )
    return Recording(
        data=data,
        timestamps=timestamps,
        sfreq=_sampling_rate(eeg, timestamps, path),
        channel_names=_channel_names(eeg),
        markers=[m for s in marker_sources for m in _markers(s)],
        metadata=metadata,
    )


def _info(stream: Mapping[str, Any], key: str, default: str = "") -> str:
    value = stream["info"].get(key, [default])
    value = value[0] if isinstance(value, list) and value else value
    return default if value is None else str(value)


def _name(stream: Mapping[str, Any]) -> str:
    return _info(stream, "name")


def _is_numeric(stream: Mapping[str, Any]) -> bool:
    return _info(stream, "channel_format") in NUMERIC_FORMATS


def _n_samples(stream: Mapping[str, Any]) -> int:
    return len(stream["time_stamps"])


def _summary(stream: Mapping[str, Any]) -> dict[str, Any]:
    stamps = stream["time_stamps"]
    return {
        "stream_id": stream["info"]["stream_id"],
        "name": _name(stream),
        "type": _info(stream, "type"),
        "source_id": _info(stream, "source_id"),
        "channel_count": int(_info(stream, "channel_count", "0")),
        "channel_format": _info(stream, "channel_format"),
        "nominal_srate": float(_info(stream, "nominal_srate", "0")),
        "n_samples": len(stamps),
        "first_timestamp": float(stamps[0]) if len(stamps) else None,
        "last_timestamp": float(stamps[-1]) if len(stamps) else None,
    }


def _describe(streams: Sequence[Mapping[str, Any]]) -> str:
    if not streams:
        return "no streams at all"
    return "; ".join(
        f"{s['name']!r} (type {s['type']!r}, {s['channel_count']} ch, {s['channel_format']}, "
        f"{s['n_samples']} samples)"
        for s in map(_summary, streams)
    )


def _pick_eeg(streams: Sequence[dict[str, Any]], name: str | None, path: Path) -> dict[str, Any]:
    numeric = [s for s in streams if _is_numeric(s)]
    if name is not None:
        named = [s for s in numeric if _name(s) == name]
        if not named:
            raise ValueError(
                f"eeg_stream={name!r} is not a numeric stream of {path}; streams found: "
                f"{_describe(streams)}. Pass one of those names, or None to choose automatically"
            )
        return max(named, key=_n_samples)
    if not numeric:
        raise XdfError(
            f"{path} has no numeric (EEG-like) stream to load; streams found: {_describe(streams)}"
        )
    for s in numeric:
        if _info(s, "type").lower() == "eeg" and _n_samples(s) > 0:
            return s
    return max(numeric, key=lambda s: (_n_samples(s) * int(_info(s, "channel_count", "0")), _n_samples(s)))


def _pick_markers(
    streams: Sequence[dict[str, Any]], name: str | None, eeg: Mapping[str, Any]
) -> list[dict[str, Any]]:
    if name is None:
        return [s for s in streams if _info(s, "channel_format") == "string"]
    named = [s for s in streams if _name(s) == name and s is not eeg]
    if not named:
        raise ValueError(
            f"marker_stream={name!r} is not a stream of the file; streams found: {_describe(streams)}. "
            "Pass one of those names, or None to merge all string streams"
        )
    return named


def _markers(stream: Mapping[str, Any]) -> list[Marker]:
    stamps = stream["time_stamps"]
    if _is_numeric(stream):
        # numeric event codes (some stimulus programs send int markers) become their text
        texts = [_number_text(row[0]) for row in np.asarray(stream["time_series"])]
    else:
        texts = [
            row[0] if len(row) == 1 else json.dumps(list(row), ensure_ascii=False)
            for row in stream["time_series"]
        ]
    return [Marker(float(t), text) for t, text in zip(stamps, texts, strict=True)]


def _number_text(value: Any) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _stream_data(stream: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    n_channels = int(_info(stream, "channel_count", "0"))
    values = np.asarray(stream["time_series"])
    if values.size == 0:
        values = np.zeros((0, n_channels))
    data = values.astype(np.float64) * _unit_scales(stream, n_channels) if _needs_scaling(stream) else values
    return np.asarray(data, dtype=np.float32), np.asarray(stream["time_stamps"], dtype=np.float64)


def _channel_entries(stream: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``<desc><channels><channel>`` dicts of a pyxdf stream (empty when absent)."""
    desc = stream["info"].get("desc", [None])
    desc = desc[0] if isinstance(desc, list) and desc else None
    if not isinstance(desc, Mapping):
        return []
    channels = desc.get("channels", [None])[0]
    if not isinstance(channels, Mapping):
        return []
    return [c if isinstance(c, Mapping) else {} for c in channels.get("channel", [])]


def _entry_text(entry: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = entry.get(key, [None])[0]
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _channel_names(stream: Mapping[str, Any]) -> list[str]:
    n_channels = int(_info(stream, "channel_count", "0"))
    entries = _channel_entries(stream)
    if len(entries) != n_channels:
        entries = [{}] * n_channels
    return [_entry_text(e, "label", "name") or f"ch{i + 1}" for i, e in enumerate(entries)]


def _unit_scales(stream: Mapping[str, Any], n_channels: int) -> np.ndarray:
    entries = _channel_entries(stream)
    if len(entries) != n_channels:
        return np.ones(n_channels)
    units = [(_entry_text(e, "unit") or "").lower() for e in entries]
    return np.array([_UNIT_TO_MICROVOLTS.get(u, 1.0) for u in units])


def _needs_scaling(stream: Mapping[str, Any]) -> bool:
    return bool(np.any(_unit_scales(stream, int(_info(stream, "channel_count", "0"))) != 1.0))


def _sampling_rate(stream: Mapping[str, Any], timestamps: np.ndarray, path: Path) -> float:
    nominal = float(_info(stream, "nominal_srate", "0"))
    if nominal > 0:
        return nominal
    if timestamps.size > 1 and timestamps[-1] > timestamps[0]:
        return float((timestamps.size - 1) / (timestamps[-1] - timestamps[0]))
    raise XdfError(
        f"{path}: stream {_name(stream)!r} declares no sampling rate and has too few samples to "
        "measure one; it cannot be used as EEG (choose another with eeg_stream=...)"
    )


def _stored_metadata(stream: Mapping[str, Any], path: Path) -> dict[str, Any]:
    desc = stream["info"].get("desc", [None])
    desc = desc[0] if isinstance(desc, list) and desc else None
    if not isinstance(desc, Mapping) or METADATA_TAG not in desc:
        return {}
    text = desc[METADATA_TAG][0]
    try:
        metadata = json.loads(text or "")
    except json.JSONDecodeError as e:
        warnings.warn(f"{path}: <{METADATA_TAG}> is not valid JSON ({e}); ignored", XdfWarning, stacklevel=3)
        return {}
    if not isinstance(metadata, dict):
        warnings.warn(f"{path}: <{METADATA_TAG}> is not a JSON object; ignored", XdfWarning, stacklevel=3)
        return {}
    return metadata
