"""Small LSL helpers shared by the stream edges: outlets with a channel description, stream queries,
and resolution that fails with a message listing what *is* visible.

pylsl is imported at module level: every user of this module talks to LSL anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

import pylsl

log = logging.getLogger(__name__)

__all__ = [
    "QUERY_KEYS",
    "StreamNotFoundError",
    "StreamQuery",
    "channel_format_name",
    "describe_stream",
    "describe_streams",
    "desc_mapping",
    "make_outlet",
    "resolve_queries",
    "visible_streams",
]

# The StreamInfo fields a query may select on (the ones LabRecorder and resolve_byprop use).
QUERY_KEYS = ("name", "type", "source_id")

# liblsl's channel-format codes, in the order of pylsl's cf_* constants (cf_undefined = 0).
_FORMAT_NAMES = {
    pylsl.cf_float32: "float32",
    pylsl.cf_double64: "double64",
    pylsl.cf_string: "string",
    pylsl.cf_int32: "int32",
    pylsl.cf_int16: "int16",
    pylsl.cf_int8: "int8",
    pylsl.cf_int64: "int64",
}


class StreamNotFoundError(TimeoutError):
    """One or more requested LSL streams did not appear before the timeout.

    The message names every missing query and lists the streams that were visible.
    """


@dataclass(frozen=True)
class StreamQuery:
    """Which LSL stream to pick: ``key`` is ``"name"``, ``"type"`` or ``"source_id"``.

    Matching is exact and case-sensitive, as in liblsl's ``resolve_byprop``.
    """

    key: str
    value: str

    def __post_init__(self) -> None:
        if self.key not in QUERY_KEYS:
            raise ValueError(f"stream query key must be one of {QUERY_KEYS}, got {self.key!r}")
        if not self.value:
            raise ValueError(f"stream query {self.key}= needs a value, e.g. {self.key}=MyAmp")

    @classmethod
    def parse(cls, text: str | StreamQuery) -> StreamQuery:
        """Parse ``"name=X"``, ``"type=Y"``, ``"source_id=Z"`` or a bare stream name ``"X"``.

        Raises
        ------
        ValueError
            Unknown key (``"foo=bar"``) or empty value, with the accepted forms.
        """
        if isinstance(text, StreamQuery):
            return text
        text = str(text).strip()
        key, sep, value = text.partition("=")
        if not sep:
            key, value = "name", text
        key = key.strip().lower()
        if key not in QUERY_KEYS:
            raise ValueError(
                f"cannot read stream query {text!r}: write name=NAME, type=TYPE or source_id=ID "
                "(or a bare stream name)"
            )
        return cls(key, value.strip())

    def matches(self, info: pylsl.StreamInfo) -> bool:
        """True when ``info``'s field ``key`` equals ``value``."""
        return _field(info, self.key) == self.value

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


def _field(info: pylsl.StreamInfo, key: str) -> str:
    return {"name": info.name, "type": info.type, "source_id": info.source_id}[key]()


def channel_format_name(info: pylsl.StreamInfo) -> str:
    """The XDF spelling of ``info``'s channel format (``"float32"``, ``"string"``...)."""
    code = info.channel_format()
    try:
        return _FORMAT_NAMES[code]
    except KeyError:
        raise ValueError(f"stream {info.name()!r} has an unsupported channel format code {code}") from None


def describe_stream(info: pylsl.StreamInfo) -> str:
    """One line naming a stream: name, type, channels, rate, format, source_id and host."""
    rate = info.nominal_srate()
    rate_text = f"{rate:g} Hz" if rate > 0 else "irregular"
    try:
        fmt = channel_format_name(info)
    except ValueError:
        fmt = f"format {info.channel_format()}"
    return (
        f"{info.name()!r} (type {info.type()!r}, {info.channel_count()} ch, {rate_text}, {fmt}, "
        f"source_id {info.source_id()!r}, host {info.hostname()!r})"
    )


def describe_streams(infos: Sequence[pylsl.StreamInfo]) -> str:
    """All of ``infos`` on one line each (or ``"none"``), for error messages and logs."""
    if not infos:
        return "none"
    return "\n  " + "\n  ".join(describe_stream(i) for i in infos)


def visible_streams(wait_time: float = 1.0) -> list[pylsl.StreamInfo]:
    """Every stream visible on the network after ``wait_time`` seconds of listening."""
    return list(pylsl.resolve_streams(wait_time=wait_time))


def make_outlet(
    name: str,
    stream_type: str,
    channel_count: int,
    nominal_srate: float,
    channel_format: str,
    source_id: str,
    *,
    channel_names: Sequence[str] | None = None,
    unit: str = "microvolts",
    desc: Mapping[str, Any] | None = None,
    chunk_size: int = 0,
    max_buffered: int = 360,
) -> pylsl.StreamOutlet:
    """Create an outlet whose ``<desc>`` carries the channel labels the way LSL apps expect.

    Parameters
    ----------
    name, stream_type, source_id : str
        StreamInfo fields. Give a ``source_id``: it lets inlets recover after a restart, and
        pylsl prints a warning when it has to invent one.
    channel_count : int
        Values per sample.
    nominal_srate : float
        Hz; 0 (``pylsl.IRREGULAR_RATE``) for event streams.
    channel_format : str
        ``"float32"``, ``"double64"``, ``"int8"`` .. ``"int64"`` or ``"string"``.
    channel_names : sequence of str, optional
        Labels written to ``desc/channels/channel/label``, each with ``unit`` and ``type``
        (the stream type), the layout LabRecorder, MNE and pyxdf read.
    unit : str
        Unit of every channel in the description.
    desc : mapping, optional
        More ``<desc>`` children: text values, nested mappings, or lists for repeated elements.
    chunk_size, max_buffered : int
        Passed to ``pylsl.StreamOutlet`` (``max_buffered`` is in seconds for regular streams,
        hundreds of samples for irregular ones).

    Returns
    -------
    pylsl.StreamOutlet
        The outlet, already visible on the network.
    """
    if channel_names is not None and len(channel_names) != channel_count:
        raise ValueError(f"{len(channel_names)} channel_names for channel_count={channel_count}")
    info = pylsl.StreamInfo(name, stream_type, channel_count, nominal_srate, channel_format, source_id)
    if channel_names is not None:
        channels = info.desc().append_child("channels")
        for label in channel_names:
            channel = channels.append_child("channel")
            channel.append_child_value("label", str(label))
            channel.append_child_value("unit", unit)
            channel.append_child_value("type", stream_type)
    for key, value in (desc or {}).items():
        _append_desc(info.desc(), key, value)
    return pylsl.StreamOutlet(info, chunk_size, max_buffered)


def _append_desc(parent: pylsl.info.XMLElement, key: str, value: Any) -> None:
    if isinstance(value, list | tuple):
        for item in value:
            _append_desc(parent, key, item)
    elif isinstance(value, Mapping):
        child = parent.append_child(key)
        for sub_key, sub_value in value.items():
            _append_desc(child, sub_key, sub_value)
    elif value is None:
        parent.append_child(key)
    else:
        parent.append_child_value(key, str(value))


def desc_mapping(info: pylsl.StreamInfo) -> dict[str, Any]:
    """The ``<desc>`` of a *full* StreamInfo (from ``inlet.info()``) as nested dicts.

    Element text becomes str (None when empty), nested elements dicts, repeated elements lists:
    the form :meth:`rtdecode.io.xdf.XdfWriter.add_stream` accepts as ``desc_xml_extra``, so a
    recorder can copy a source's whole description (channels, cap, amplifier...) into the file.
    Returns ``{}`` for a description that is empty or not parseable.
    """
    try:
        root = ET.fromstring(info.as_xml())
    except ET.ParseError as e:
        log.warning("the description of stream %r is not valid XML (%s); not copied", info.name(), e)
        return {}
    desc = root.find("desc")
    if desc is None:
        return {}
    value = _element_value(desc)
    return value if isinstance(value, dict) else {}


def _element_value(elem: ET.Element) -> Any:
    children = list(elem)
    if not children:
        text = (elem.text or "").strip()
        return text or None
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for child in children:
        value = _element_value(child)
        if child.tag not in out:
            out[child.tag] = value
        elif child.tag in repeated:
            out[child.tag].append(value)
        else:
            out[child.tag] = [out[child.tag], value]
            repeated.add(child.tag)
    return out


def resolve_stream(query: str | StreamQuery, timeout: float) -> pylsl.StreamInfo:
    """One stream for ``query`` (``name=X``, ``type=Y``, ``source_id=Z`` or a bare name).

    Raises
    ------
    StreamNotFoundError
        Nothing matched within ``timeout``; the message lists the visible streams.
    """
    return resolve_queries([StreamQuery.parse(query)], timeout)[0]


def resolve_queries(
    queries: Sequence[StreamQuery], timeout: float, *, poll_s: float = 0.5
) -> list[pylsl.StreamInfo]:
    """Find one stream per query, waiting up to ``timeout`` seconds for all of them.

    Parameters
    ----------
    queries : sequence of StreamQuery
        What to find; a query that matches several streams takes the first liblsl reports and
        logs a warning naming the others (use ``source_id=`` to be exact).
    timeout : float
        Seconds to wait for the last missing stream.
    poll_s : float
        Longest single wait on one query, so several missing queries are all retried.

    Returns
    -------
    list of pylsl.StreamInfo
        In query order (headers only: the ``<desc>`` is empty until an inlet fetches it).

    Raises
    ------
    StreamNotFoundError
        Some query found nothing in time; the message names them and lists the visible streams.
    """
    found: dict[int, pylsl.StreamInfo] = {}
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        for k, query in enumerate(queries):
            if k in found:
                continue
            wait = min(poll_s, max(0.05, deadline - time.monotonic()))
            matches = pylsl.resolve_byprop(query.key, query.value, minimum=1, timeout=wait)
            if matches:
                if len(matches) > 1:
                    log.warning(
                        "%s matches %d streams; using %s. Others: %s",
                        query,
                        len(matches),
                        describe_stream(matches[0]),
                        describe_streams(matches[1:]),
                    )
                found[k] = matches[0]
        if len(found) == len(queries) or time.monotonic() >= deadline:
            break
    missing = [str(q) for k, q in enumerate(queries) if k not in found]
    if missing:
        raise StreamNotFoundError(
            f"no LSL stream matching {', '.join(missing)} appeared within {timeout:g} s. "
            f"Visible streams: {describe_streams(visible_streams())}\n"
            "Check that the source is running and on this network, and the spelling "
            "(name=, type= and source_id= match exactly, case included)."
        )
    return [found[k] for k in range(len(queries))]
