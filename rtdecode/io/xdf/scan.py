"""Scanning XDF: find the well-formed chunks of a possibly damaged file.

pyxdf is not robust to damaged files (a cut inside a sample silently repeats the previous sample's
values; a cut inside a header raises from deep inside), so the reader first walks a file chunk by
chunk with :func:`scan_chunks`, which keeps the byte spans of the well-formed chunks and says what
was wrong with the others; :class:`SpanReader` then shows pyxdf those spans only. After damage the
scan resynchronizes on the next Boundary chunk.
"""

from __future__ import annotations

import bisect
import io
import math
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from rtdecode.io.xdf.spec import (
    BOUNDARY_SIGNATURE,
    CHANNEL_FORMATS,
    MAGIC,
    NUMERIC_FORMATS,
    TAG_BOUNDARY,
    TAG_CLOCK_OFFSET,
    TAG_FILE_HEADER,
    TAG_SAMPLES,
    TAG_STREAM_FOOTER,
    TAG_STREAM_HEADER,
)

__all__ = ["Buffer", "ChunkScan", "SpanReader", "scan_chunks"]

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
class ChunkScan:
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


def scan_chunks(buf: Buffer) -> ChunkScan:
    """Walk the chunks of ``buf`` (the whole file, magic included) and keep the valid ones."""
    scan = ChunkScan()
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


def _check_chunk(buf: Buffer, start: int, end: int, tag: int, scan: ChunkScan) -> None:
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


def _check_stream_header(raw: bytes, stream_id: int, scan: ChunkScan) -> None:
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


class SpanReader(io.RawIOBase):
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
