"""One live decoding session: resolve a source's streams, acquire them, decode, stop it all.

``rtdecode live`` and the live window both run a :class:`LiveSession`, so they find streams,
wait for them, check them against the model bundle and clean up in the same way::

    with LiveSession(bundle, stream="name=MyAmp", markers="type=Markers", device="cpu") as session:
        ...  # predictions arrive through on_prediction (decode worker) and session.decoder.predictions

The EEG and marker streams are those of one source: when a query matches several streams (two
outlets of one name), the pair is chosen by host, LSL session, source_id and name, logged with
every candidate, or refused when nothing tells them apart
(:func:`~rtdecode.streams.lsl_utils.resolve_queries`); ``source_id=`` / ``host=`` name the source.

A marker stream that sends plain codes (a PsychoPy or Presentation experiment's ``"1"``, ``"2"``)
is read with a :class:`~rtdecode.io.marker_mapping.MarkerMapping`: the ``events`` option, or the
one the bundle was calibrated with.

Options are keyword-only, as in mne-lsl's ``StreamLSL``. Entering the ``with`` block resolves the
EEG (and marker) stream, starts the acquisition threads, checks the stream's rate and channels
against the bundle and starts the decode worker; leaving it, also on an exception, stops every
part that was started. :meth:`connect` and :meth:`start` split the entry in two for a caller that
has work to do between them (the window loads its image generator there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rtdecode.decoder import FROM_BUNDLE, OnlineDecoder, Prediction, adaptation_setting
from rtdecode.io.bundle import ModelBundle
from rtdecode.io.marker_mapping import MarkerMapping
from rtdecode.scoring import ClassTally
from rtdecode.streams.lsl_utils import StreamQuery, resolve_queries
from rtdecode.streams.reader import MarkerReader, StreamReader

log = logging.getLogger(__name__)

MODES = ("marker", "sliding")


class LiveSession:
    """EEG reader + marker reader + online decoder for one stream and one model bundle.

    Parameters
    ----------
    bundle : ModelBundle
        The model; its pipeline filters the stream (set its acquisition latency before).
    stream : str or StreamQuery
        EEG stream: ``name=X``, ``type=Y``, ``source_id=Z`` or a bare name.
    markers : str or StreamQuery or None
        Marker stream, resolved and read in marker-locked mode only; None decodes a sliding window.
    events : MarkerMapping or str or None
        Which plain marker codes are stimuli of which class (an ``--events`` value: pairs, a
        mapping file or a pattern). None: the mapping the bundle remembers, if any; the project's
        JSON markers need none.
    mode : {"marker", "sliding"} or None
        Marker-locked (one prediction per stimulus marker once its epoch has arrived) or sliding
        (the latest epoch every ``hop_s``, no markers). None: marker-locked when ``markers`` is given.
    hop_s : float
        Sliding-mode step in seconds.
    smoothing : int
        Average the probabilities of this many recent predictions for display (0: off).
    device : str
        Where the decoder runs: ``"auto"`` (GPU when present), ``"cpu"``, ``"cuda"``...
    source_id : str, optional
        Take the source whose EEG stream has this exact source_id (its marker stream: the one whose
        source_id extends it, ``ID-markers``, when there is one).
    host : str, optional
        Take the source on this host (a marker stream that is only on another computer, a
        presenter's, is still taken).
    timeout : float
        Seconds to wait for the streams to appear (both at once: when both are missing, the error
        names both).
    open_timeout : float
        Seconds to wait for each inlet to open and send its full description.
    buffer_s : float
        Seconds of signal the reader's ring buffer keeps.
    on_prediction : callable, optional
        Called in the decode worker with every :class:`~rtdecode.decoder.Prediction`.
    adaptation : float or None or "bundle"
        Adapt the spatial alignment to the stream, unsupervised: the forgetting factor, None for
        off, or ``"bundle"``, the bundle's setting (:func:`~rtdecode.decoder.adaptation_setting`;
        checked here, before any stream is resolved).

    Attributes
    ----------
    reader : StreamReader or None
        The EEG acquisition, once connected.
    marker_reader : MarkerReader or None
        The marker acquisition, once connected in marker-locked mode.
    decoder : OnlineDecoder or None
        The decode worker, once connected; its ``skipped`` counts stay readable after :meth:`stop`.
    mapping : MarkerMapping or None
        The marker mapping in use, labels in the bundle's class order.
    adaptation : float or None
        The alignment's forgetting factor in use; None: no adaptation.
    tally : ClassTally
        Predictions scored against their markers' classes. Written by the decode worker only:
        read it after :meth:`stop`, or as a running estimate.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        stream: str | StreamQuery = "type=EEG",
        markers: str | StreamQuery | None = "type=Markers",
        events: MarkerMapping | str | None = None,
        mode: str | None = None,
        hop_s: float = 0.25,
        smoothing: int = 0,
        device: str = "auto",
        source_id: str | None = None,
        host: str | None = None,
        timeout: float = 10.0,
        open_timeout: float = 10.0,
        buffer_s: float = 60.0,
        on_prediction: Callable[[Prediction], None] | None = None,
        adaptation: float | str | None = FROM_BUNDLE,
    ) -> None:
        if mode is None:
            mode = "marker" if markers is not None else "sliding"
        if mode not in MODES:
            raise ValueError(f"mode must be 'marker' or 'sliding', got {mode!r}")
        if mode == "marker" and markers is None:
            raise ValueError("marker-locked decoding needs a marker stream (or use mode='sliding')")
        self.bundle = bundle
        self.mode = mode
        self.stream = StreamQuery.parse(stream)
        self.markers = StreamQuery.parse(markers) if mode == "marker" else None
        self.mapping = _mapping(events, bundle) if mode == "marker" else None
        self.adaptation = adaptation_setting(bundle, adaptation)
        self.hop_s = hop_s
        self.smoothing = smoothing
        self.device = device
        self.source_id = source_id
        self.host = host
        self.timeout = timeout
        self.open_timeout = open_timeout
        self.buffer_s = buffer_s
        self.on_prediction = on_prediction
        self.reader: StreamReader | None = None
        self.marker_reader: MarkerReader | None = None
        self.decoder: OnlineDecoder | None = None
        self.tally = ClassTally(bundle.class_names)
        self._state = "new"  # -> "connected" -> "running" -> "stopped"

    # -- lifecycle --------------------------------------------------------------------------
    def connect(self) -> LiveSession:
        """Resolve the streams, start acquiring them and build the decoder (not yet decoding).

        Stops whatever it started when it raises.

        Raises
        ------
        StreamNotFoundError
            A stream did not appear within ``timeout``; the message lists the visible ones.
        AmbiguousStreamsError
            Several sources match and nothing tells which EEG and marker streams belong together.
        StreamMismatch
            The stream's rate or channels differ from the bundle's, saying what differs.
        ValueError
            An inlet that could not be opened.
        RuntimeError
            The session was connected before (a session runs once: make a new one).
        """
        if self._state != "new":
            raise RuntimeError(f"this live session is {self._state}; a session runs once: make a new one")
        self._state = "connected"
        try:
            queries, what = [self.stream], [f"EEG stream {self.stream}"]
            if self.markers is not None:
                queries.append(self.markers)
                what.append(f"marker stream {self.markers}")
            infos = resolve_queries(
                queries, timeout=self.timeout, source_id=self.source_id, host=self.host, what=what
            )
            # Assigned before starting, so that stop() closes an inlet whose opening failed.
            self.reader = StreamReader(infos[0], self.bundle.pipeline, buffer_s=self.buffer_s)
            self.reader.start(open_timeout=self.open_timeout)
            if self.markers is not None:
                self.marker_reader = MarkerReader(infos[1], announce_pause=self.reader.announce_pause)
                self.marker_reader.start(open_timeout=self.open_timeout)
            self.decoder = OnlineDecoder(
                self.bundle,
                self.reader,
                self.marker_reader,
                mapping=self.mapping,
                mode=self.mode,
                hop_s=self.hop_s,
                smoothing=self.smoothing,
                device=self.device,
                on_prediction=self._decoded,
                adaptation=self.adaptation,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def start(self) -> LiveSession:
        """Connect (unless :meth:`connect` ran) and start decoding; stops everything when it raises."""
        if self._state == "new":
            self.connect()
        if self._state != "connected":
            raise RuntimeError(f"this live session is {self._state}; a session runs once: make a new one")
        try:
            self.decoder.start()
        except BaseException:
            self.stop()
            raise
        self._state = "running"
        return self

    def stop(self) -> None:
        """Stop the decoder, then the readers; one part failing to stop does not keep the others running."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        for part in (self.decoder, self.marker_reader, self.reader):
            if part is None:
                continue
            try:
                part.stop()
            except Exception:
                log.exception("stopping %s failed", type(part).__name__)

    def __enter__(self) -> LiveSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- decode worker ----------------------------------------------------------------------
    def _decoded(self, prediction: Prediction) -> None:
        unknown = self.tally.add(prediction)
        if unknown is not None:
            names = self.tally.class_names
            log.warning(
                "a marker names %r, a class the model does not know (it knows %d: %s); such trials are "
                "left out of the accuracy, and all of them are listed when decoding stops",
                unknown,
                len(names),
                ", ".join(names[:10]) + (" ..." if len(names) > 10 else ""),
            )
        if self.on_prediction is not None:
            self.on_prediction(prediction)


def _mapping(events: MarkerMapping | str | None, bundle: ModelBundle) -> MarkerMapping | None:
    """The given mapping, else the bundle's; labels in the bundle's class order."""
    if events is None:
        mapping = bundle.marker_mapping
        if mapping is not None:
            log.info("plain marker codes read with the model's mapping (--events %s)", mapping.spec)
        return mapping
    mapping = MarkerMapping.parse(events) if isinstance(events, str) else events
    return mapping.with_classes(bundle.class_names)
