"""The LSL streams the windows offer: plain records of what ``visible_streams`` found.

Resolving blocks for the listening time, so the windows call :func:`discover` from a worker
thread and receive these records (never live pylsl objects) through a signal.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtdecode.streams.pairing import StreamIdentity

NONE_MARKERS = "(none: sliding window)"


@dataclass(frozen=True)
class StreamChoice:
    """One visible stream.

    Attributes
    ----------
    name, type, source_id, hostname : str
    n_channels : int
    srate : float
        Nominal rate in Hz; 0 for irregular (marker) streams.
    channel_format : int
        pylsl's channel-format code (``cf_string`` for markers).
    session_id : str
        The LSL session the stream belongs to.
    created_at : float
        When the outlet was created, on its host's LSL clock.
    uid : str
        The outlet's unique id: two outlets of one name (and even one source_id) differ here.
    """

    name: str
    type: str
    source_id: str
    hostname: str
    n_channels: int
    srate: float
    channel_format: int
    session_id: str = "default"
    created_at: float = 0.0
    uid: str = ""

    @property
    def is_markers(self) -> bool:
        """A string stream: what stimulus markers arrive on."""
        import pylsl

        return self.channel_format == pylsl.cf_string

    @property
    def query(self) -> str:
        """The query that finds this stream again: its source_id when it has one (exact)."""
        return f"source_id={self.source_id}" if self.source_id else f"name={self.name}"

    def identity(self) -> StreamIdentity:
        """What pairs this stream with the others of its source (this choice as the handle)."""
        return StreamIdentity(
            name=self.name,
            type=self.type,
            source_id=self.source_id,
            hostname=self.hostname,
            session_id=self.session_id,
            created_at=self.created_at,
            uid=self.uid,
            handle=self,
        )

    @property
    def label(self) -> str:
        """One line for a drop-down list."""
        if self.is_markers:
            return f"{self.name}  ({self.type}, markers, {self.hostname})"
        return f"{self.name}  ({self.type}, {self.n_channels} ch, {self.srate:g} Hz, {self.hostname})"


def discover(wait_time: float = 1.0) -> list[StreamChoice]:
    """Every stream visible after listening ``wait_time`` seconds, sorted by name (blocks)."""
    from rtdecode.streams.lsl_utils import visible_streams

    choices = [
        StreamChoice(
            name=info.name(),
            type=info.type(),
            source_id=info.source_id(),
            hostname=info.hostname(),
            n_channels=info.channel_count(),
            srate=info.nominal_srate(),
            channel_format=info.channel_format(),
            session_id=info.session_id(),
            created_at=info.created_at(),
            uid=info.uid(),
        )
        for info in visible_streams(wait_time)
    ]
    # By uid: two outlets of one name and source_id (a command started twice) are two choices.
    unique = {c.uid or (c.source_id, c.name): c for c in choices}
    return sorted(unique.values(), key=lambda c: (c.name.lower(), c.source_id, c.created_at))
