"""Reading XDF: :func:`read_xdf` turns a recording into a :class:`Recording`; :func:`list_streams`.

Files are parsed with ``pyxdf`` (the field's reference reader) with its clock synchronization, so
every timestamp is in the recording computer's LSL clock. Every file is first scanned chunk by
chunk (:mod:`rtdecode.io.xdf.scan`): damaged or incomplete chunks are dropped with a
:class:`XdfWarning`, and pyxdf only ever sees well-formed chunks. Then the EEG stream and the
marker streams are picked (by name, or by type and content), and their plain codes are mapped to
stimuli with ``events=`` (:func:`~rtdecode.io.marker_mapping.map_markers`, as for every format).
"""

from __future__ import annotations

import io
import json
import logging
import mmap
import os
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.io.marker_mapping import MarkerMapping, map_markers
from rtdecode.io.markers import marker_text
from rtdecode.io.recording import Marker, Recording
from rtdecode.io.xdf.scan import Buffer, ChunkScan, SpanReader, scan_chunks
from rtdecode.io.xdf.spec import MAGIC, METADATA_TAG, NUMERIC_FORMATS, XdfError, XdfWarning

logger = logging.getLogger(__name__)

__all__ = ["list_streams", "read_xdf"]

# Scale factors to microvolts for the unit spellings LSL apps use in <unit>.
_UNIT_TO_MICROVOLTS = {
    "microvolts": 1.0, "microvolt": 1.0, "uv": 1.0, "µv": 1.0, "μv": 1.0,
    "volts": 1e6, "volt": 1e6, "v": 1e6,
    "millivolts": 1e3, "millivolt": 1e3, "mv": 1e3,
    "nanovolts": 1e-3, "nanovolt": 1e-3, "nv": 1e-3,
}  # fmt: skip


# Stream types of marker streams (case-insensitive), numeric ones included.
_MARKER_TYPES = {"markers", "marker", "events", "event", "triggers", "trigger", "stim"}


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
        scan = scan_chunks(buf)
        if scan.problems:
            _warn_damage(path, scan)
        source = io.BufferedReader(SpanReader(buf, scan.spans), buffer_size=1 << 20)
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


def _warn_damage(path: Path, scan: ChunkScan) -> None:
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


def read_xdf(
    path: str | Path,
    *,
    eeg_stream: str | None = None,
    marker_stream: str | None = None,
    events: MarkerMapping | str | None = None,
) -> Recording:
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
        Name of the marker stream. By default every string stream and every numeric stream of
        marker type (``Markers``, ``Events``, ``Triggers``...) at an irregular rate, merged in time
        order.
    events : MarkerMapping or str, optional
        Which plain marker codes (a presenter's ``"1"``, ``"2"``...) are stimuli of which class:
        an ``--events`` value (pairs, a mapping file or a pattern). The project's JSON markers
        need none.

    Returns
    -------
    Recording
        ``data`` (n_samples, n_channels) float32 in microvolts (converted when the channel units
        say volts, millivolts or nanovolts), ``timestamps`` (n_samples,), ``sfreq`` from the
        nominal rate (measured rate for irregular streams), channel labels from the stream
        description (``ch1``, ``ch2``... when absent), markers, and ``metadata``: what
        :func:`write_xdf` stored plus ``source_file``, ``stream_name``, ``marker_stream`` and,
        with ``events``, ``marker_mapping`` (:meth:`~rtdecode.io.marker_mapping.MarkerMapping.to_dict`).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    XdfError
        Not an XDF file, damaged beyond use, or without a numeric stream; the message lists the
        streams found.
    ValueError
        A mapping that does not fit the file's marker codes (the message lists them).
    """
    path = Path(path)
    if isinstance(events, str):
        events = MarkerMapping.parse(events)
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
    markers, mapping = map_markers([m for s in marker_sources for m in _markers(s)], events, str(path))
    if mapping is not None:
        metadata["marker_mapping"] = mapping.to_dict()
    return Recording(
        data=data,
        timestamps=timestamps,
        sfreq=_sampling_rate(eeg, timestamps, path),
        channel_names=_channel_names(eeg),
        markers=markers,
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
        return [s for s in streams if s is not eeg and _is_marker_stream(s)]
    named = [s for s in streams if _name(s) == name and s is not eeg]
    if not named:
        raise ValueError(
            f"marker_stream={name!r} is not a stream of the file; streams found: {_describe(streams)}. "
            "Pass one of those names, or None to merge all marker streams"
        )
    return named


def _is_marker_stream(stream: Mapping[str, Any]) -> bool:
    """A string stream, or a numeric one of marker type at an irregular rate (presenters that send
    int codes, e.g. PsychoPy's ``StreamOutlet`` of ``cf_int32``)."""
    if _info(stream, "channel_format") == "string":
        return True
    return (
        _info(stream, "type").lower() in _MARKER_TYPES
        and float(_info(stream, "nominal_srate", "0")) == 0
        and _n_samples(stream) > 0
    )


def _markers(stream: Mapping[str, Any]) -> list[Marker]:
    stamps = stream["time_stamps"]
    if _is_numeric(stream):
        # numeric event codes (some stimulus programs send int markers) become their text
        texts = [marker_text(row[0]) for row in np.asarray(stream["time_series"])]
    else:
        texts = [
            row[0] if len(row) == 1 else json.dumps(list(row), ensure_ascii=False)
            for row in stream["time_series"]
        ]
    return [Marker(float(t), text) for t, text in zip(stamps, texts, strict=True)]


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
