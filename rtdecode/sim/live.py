"""The simulated subject as live LSL streams, in real time.

The same chunked :class:`~rtdecode.sim.subject.SignalGenerator` as the offline session,
paced against the local LSL clock. Either the subject runs the paper's protocol itself (its own
schedule, with its own marker stream), or it follows an external marker stream, a stimulus
presenter, and responds to every image that stream announces.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from rtdecode.io.markers import STIMULUS, parse_marker
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.subject import SimulatedSubject
from rtdecode.streams.lsl_utils import make_outlet, outlet_source_id
from rtdecode.worker import BackgroundWorker

log = logging.getLogger(__name__)

CHUNK_S = 0.010  # push granularity: small, so an external marker's response starts promptly


class LiveSimulator(BackgroundWorker):
    """Stream a simulated subject over LSL until stopped (or its protocol ends).

    Parameters
    ----------
    config : SimulationConfig
    name : str
        EEG stream name; the marker stream is ``f"{name}-markers"``.
    source_id : str, optional
        Defaults to ``rtdecode-sim-{name}`` (or a unique one when a stream already uses that).
        Streams of the outlets' names already on the network are warned about: a consumer that
        chooses by name might mix the two sources.
    follow : MarkerReader, optional
        A started reader of an external stimulus-marker stream: the subject then responds to the
        images it announces (by image id) and does not run its own protocol or marker stream.
    loop : bool
        Restart the protocol when it ends (own-protocol mode).
    """

    def __init__(
        self,
        config: SimulationConfig,
        name: str = "rtdecode-sim",
        source_id: str | None = None,
        follow=None,
        loop: bool = False,
    ) -> None:
        super().__init__(f"simulate-{name}")
        self.subject = SimulatedSubject(config)
        self.config = self.subject.config
        self.name = name
        self.follow = follow
        self.loop = loop
        names = [name] if follow is not None else [name, f"{name}-markers"]
        self.source_id = outlet_source_id(names, source_id, f"rtdecode-sim-{name}", what="simulated subject")
        self.eeg_outlet = make_outlet(
            name,
            "EEG",
            self.subject.n_channels,
            self.config.sfreq,
            "float32",
            self.source_id,
            channel_names=self.subject.channel_names,
        )
        self.marker_outlet = None
        if follow is None:
            self.marker_outlet = make_outlet(
                f"{name}-markers", "Markers", 1, 0.0, "string", f"{self.source_id}-markers"
            )
        self.samples_pushed = 0
        self.markers_pushed = 0
        self.ignored_markers = 0
        self.presented = 0  # follow mode: images the subject responded to
        self.t0: float | None = None

    def start(self) -> LiveSimulator:
        self._start_thread()
        return self

    def _run(self) -> None:
        import pylsl

        sfreq = self.config.sfreq
        chunk = max(1, int(round(CHUNK_S * sfreq)))
        generator = self.subject.generator()
        schedule = [] if self.follow is not None else self.subject.schedule()
        session = self.subject.session_samples()
        next_event = 0
        self.t0 = pylsl.local_clock()
        offset = 0  # sample index where the current protocol pass started
        while not self._stop.is_set():
            due = int((pylsl.local_clock() - self.t0) * sfreq)
            if due - self.samples_pushed < chunk:
                time.sleep(max(0.0, (self.samples_pushed + chunk - due) / sfreq))
                continue
            n = due - self.samples_pushed
            start = self.samples_pushed
            if self.follow is None and not self.loop:
                n = min(n, offset + session - start)  # the protocol ends exactly at its last sample
            if self.follow is not None:
                self._follow_markers(generator, start + n)
            else:
                while next_event < len(schedule) and offset + schedule[next_event].sample < start + n:
                    event = schedule[next_event]
                    at = offset + event.sample
                    if event.image is not None:
                        generator.present(event.image, at_sample=at)
                    self.marker_outlet.push_sample([event.marker], self.t0 + at / sfreq)
                    self.markers_pushed += 1
                    next_event += 1
            data = generator.next_chunk(n)
            stamps = self.t0 + (start + np.arange(n)) / sfreq
            self.eeg_outlet.push_chunk(data, stamps)
            self.samples_pushed += n
            if self.follow is None and self.samples_pushed >= offset + session:
                if not self.loop:
                    log.info("simulated protocol finished (%d markers)", self.markers_pushed)
                    return
                offset, next_event = offset + session, 0

    def _follow_markers(self, generator, horizon: int) -> None:
        """Present every image the external stream announced, at its marker's time."""
        while (item := self.follow.get()) is not None:
            timestamp, text = item
            event = parse_marker(text)
            if event.get("event") != STIMULUS:
                continue
            try:
                at = max(0, int(round((timestamp - self.t0) * self.config.sfreq)))
                generator.present(event.get("image"), at_sample=at)
                self.presented += 1
            except (KeyError, ValueError, TypeError):
                self.ignored_markers += 1
                log.warning("the simulated subject does not know image %r; no response", event.get("image"))
