"""Small LSL helpers shared by the stream edges: outlets with a channel description, stream queries,
resolution that takes the streams of one source and fails with a message listing what *is*
visible, and the check for outlet names already in use.

pylsl is imported at module level: every user of this module talks to LSL anyway.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

import pylsl

from rtdecode.streams.pairing import (
    AmbiguousStreamsError,
    StreamIdentity,
    pair_recording,
    pair_streams,
    restrict,
)

log = logging.getLogger(__name__)

__all__ = [
    "LISTEN_S",
    "QUERY_KEYS",
    "AmbiguousStreamsError",
    "StreamNotFoundError",
    "StreamQuery",
    "channel_format_name",
    "default_streams",
    "describe_stream",
    "describe_streams",
    "desc_mapping",
    "make_outlet",
    "outlet_source_id",
    "resolve_queries",
    "resolve_stream",
    "visible_streams",
]

# Shortest listening before a resolution trusts that it heard every copy of a stream: on a LAN the
# first multicast wave is answered within milliseconds; liblsl sends its first unicast wave (to
# KnownPeers) at MulticastMinRTT, 0.5 s.
LISTEN_S = 0.75
_POLL_S = 0.05  # how often a resolution looks at what it has heard

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


def _listen(enough: Callable[[list[pylsl.StreamInfo]], bool], timeout: float, min_s: float) -> list:
    """Every stream heard within ``timeout`` s; sooner once ``enough(heard)`` holds after ``min_s`` s.

    A continuous resolver is polled rather than liblsl's one-shot resolve: the one-shot resolve
    overruns its timeout by UnicastMaxRTT (5 s) when the timeout expires as its unicast wave
    starts (a timeout of exactly MulticastMinRTT, 0.5 s, nearly always does), so a missing stream
    took ten seconds to report, whatever timeout was asked for.
    """
    holder = [pylsl.ContinuousResolver(forget_after=max(5.0, timeout))]
    start = time.monotonic()
    deadline = start + max(0.0, timeout)
    try:
        while True:
            heard = list(holder[0].results())
            now = time.monotonic()
            if now >= deadline or (now - start >= min_s and enough(heard)):
                return heard
            time.sleep(min(_POLL_S, deadline - now))
    finally:
        # The resolver's destructor joins its IO thread, which may sit out that same unicast
        # attempt: a daemon thread drops the last reference and waits instead of the caller.
        threading.Thread(target=holder.clear, name="lsl-resolver-release", daemon=True).start()


def visible_streams(wait_time: float = 1.0) -> list[pylsl.StreamInfo]:
    """Every stream visible on the network after ``wait_time`` seconds of listening."""
    return _listen(lambda heard: False, wait_time, wait_time)


def full_info(info: pylsl.StreamInfo, timeout: float) -> pylsl.StreamInfo:
    """The stream's full StreamInfo, with its ``<desc>`` (channel labels...), which a resolved one lacks.

    Raises
    ------
    StreamNotFoundError
        The stream could not be connected to within ``timeout`` seconds.
    """
    inlet = pylsl.StreamInlet(info, max_buflen=1, processing_flags=0)
    try:
        inlet.open_stream(timeout=timeout)
        return inlet.info(timeout=timeout)
    except Exception as error:  # pylsl raises TimeoutError or its own error types
        raise StreamNotFoundError(
            f"found {describe_stream(info)} but could not read its description within {timeout:g} s ({error})"
        ) from error
    finally:
        inlet.close_stream()


def resolve_stream(query: str | StreamQuery, timeout: float) -> pylsl.StreamInfo:
    """One stream for ``query`` (``name=X``, ``type=Y``, ``source_id=Z`` or a bare name).

    Several matches: the most recently started, logged with the others (see :func:`resolve_queries`).

    Raises
    ------
    StreamNotFoundError
        Nothing matched within ``timeout``; the message lists the visible streams.
    """
    return resolve_queries([StreamQuery.parse(query)], timeout)[0]


def resolve_queries(
    queries: Sequence[str | StreamQuery],
    timeout: float,
    *,
    source_id: str | None = None,
    host: str | None = None,
    what: Sequence[str] | None = None,
) -> list[pylsl.StreamInfo]:
    """Find one stream per query, all of one source, waiting up to ``timeout`` seconds.

    Parameters
    ----------
    queries : sequence of str or StreamQuery
        What to find; the first is the source's main (EEG) stream. A query that matches several
        streams (same-named outlets) gets the one of the first stream's source, by host, LSL
        session, source_id and name (:func:`rtdecode.streams.pairing.pair_streams`); the
        candidates and the choice are logged.
    timeout : float
        Seconds to wait for every query to match; listening lasts at least :data:`LISTEN_S`
        (or ``timeout`` when shorter), so that every copy of a same-named stream is heard.
    source_id, host : str, optional
        The source to take: its first stream's exact source_id, its host (see
        :func:`rtdecode.streams.pairing.restrict`).
    what : sequence of str, optional
        How messages name each query (default ``"stream QUERY"``).

    Returns
    -------
    list of pylsl.StreamInfo
        In query order (headers only: the ``<desc>`` is empty until an inlet fetches it).

    Raises
    ------
    StreamNotFoundError
        Some query found nothing in time; the message names them and lists the visible streams.
    AmbiguousStreamsError
        Several sources match and nothing tells which streams belong together; the message lists
        the candidates.
    """
    parsed = [StreamQuery.parse(q) for q in queries]
    labels = list(what) if what is not None else [f"stream {q}" for q in parsed]

    def candidates(heard: list[pylsl.StreamInfo]) -> list[list[StreamIdentity]]:
        identities = [StreamIdentity.of(info) for info in heard]
        matched = [[s for s in identities if q.matches(s.handle)] for q in parsed]
        return restrict(matched, source_id=source_id, host=host)

    heard = _listen(lambda h: all(candidates(h)), timeout, LISTEN_S)
    found = candidates(heard)
    missing = [str(q) for q, pool in zip(parsed, found, strict=True) if not pool]
    if missing:
        restriction = _restriction_text(source_id, host)
        raise StreamNotFoundError(
            f"no LSL stream matching {', '.join(missing)}{restriction} appeared within {timeout:g} s. "
            f"Visible streams: {describe_streams(heard)}\n"
            "Check that the source is running and on this network, and the spelling "
            "(name=, type= and source_id= match exactly, case included)."
        )
    pairing = pair_streams(found, labels)
    if pairing.note:
        log.warning("%s", pairing.note)
    return [s.handle for s in pairing.chosen]


def outlet_source_id(
    names: Sequence[str], source_id: str | None, default: str, *, what: str, wait_time: float = LISTEN_S
) -> str:
    """The source_id for outlets about to be created, warning when their names are already in use.

    Parameters
    ----------
    names : sequence of str
        The outlets' names (an EEG stream and its marker stream).
    source_id : str or None
        The source_id the user gave: kept whatever is on the network.
    default : str
        The source_id used when none is given. When a visible stream already uses it (a second
        copy of the same command), the new outlets get ``default + "+" + 6 hex digits`` instead, so
        that consumers can tell the two sources apart.
    what : str
        How the warning names the new outlets (``"replay"``, ``"simulated subject"``).
    wait_time : float
        Seconds to listen for streams of those names.

    Returns
    -------
    str
        The source_id to give the outlets.
    """
    taken = [info for info in visible_streams(wait_time) if info.name() in names]
    if not taken:
        return source_id or default
    chosen = source_id
    if chosen is None:
        used = {info.source_id() for info in taken}
        clash = default in used or f"{default}-markers" in used
        chosen = f"{default}+{uuid.uuid4().hex[:6]}" if clash else default
    in_use = sorted({info.name() for info in taken})
    log.warning(
        "%s: %s %s already on the network: %s. A program that chooses streams by name alone may take "
        "the EEG of one source and the markers of the other; `rtdecode live`, `gui` and `record` pair "
        "them by source (this one has source_id %r: --source-id %s chooses it). Give this one "
        "another --name unless the copy is meant.",
        what,
        "a stream named" if len(in_use) == 1 else "streams named",
        " and ".join(repr(n) for n in in_use) + (" is" if len(in_use) == 1 else " are"),
        "; ".join(describe_stream(info) for info in taken),
        chosen,
        chosen,
    )
    return chosen


def default_streams(
    timeout: float = 10.0, *, source_id: str | None = None, host: str | None = None
) -> list[pylsl.StreamInfo]:
    """What a recorder takes when no stream is named: one source's EEG stream and its marker streams.

    Stream types are compared case-insensitively. Several EEG streams, or several marker streams
    of one name: see :func:`rtdecode.streams.pairing.pair_recording` (the choice is logged with
    what was left out).

    Parameters
    ----------
    timeout : float
        Seconds to wait for an EEG stream to appear.
    source_id, host : str, optional
        The source to record (as in :func:`resolve_queries`).

    Returns
    -------
    list of pylsl.StreamInfo
        The EEG stream first, then the marker streams.

    Raises
    ------
    StreamNotFoundError
        No EEG stream (of that source) in time; the message lists the visible streams.
    AmbiguousStreamsError
        Two marker streams of one name that nothing tells apart.
    """

    def pools(heard: list[pylsl.StreamInfo]) -> list[list[StreamIdentity]]:
        identities = [StreamIdentity.of(info) for info in heard]
        eeg = [s for s in identities if s.type.lower() == "eeg"]
        markers = [s for s in identities if s.type.lower() == "markers"]
        return restrict([eeg, markers], source_id=source_id, host=host)

    heard = _listen(lambda h: bool(pools(h)[0]), timeout, LISTEN_S)
    eeg, markers = pools(heard)
    if not eeg:
        raise StreamNotFoundError(
            f"no stream of type EEG{_restriction_text(source_id, host)} appeared within {timeout:g} s. Visible streams: "
            f"{describe_streams(heard)}\nStart the amplifier's LSL app (or `rtdecode replay`), or name "
            "the streams to record explicitly (name=..., type=..., source_id=...)."
        )
    pairing = pair_recording(eeg, markers)
    if pairing.note:
        log.warning("%s", pairing.note)
    return [s.handle for s in pairing.chosen]


def _restriction_text(source_id: str | None, host: str | None) -> str:
    """``", source_id 'S', host 'H'"``: the source the user named, for a not-found message."""
    return "".join(f", {key} {value!r}" for key, value in (("source_id", source_id), ("host", host)) if value)
