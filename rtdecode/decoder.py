"""Online decoder: ring buffer -> epochs (marker-locked or sliding) -> TFD features -> student.

The decode worker thread owns the model. It waits on the reader's ring buffer (no busy loop),
cuts each epoch by timestamp with the same functions calibration used, standardizes with the
bundle's frozen statistics, computes the TFD and runs the student. Each result is a
:class:`Prediction` handed to a callback and a queue. :func:`predict_recording` does the same
offline for a whole recording; for the same samples both give the same features.

With live adaptation on (:func:`adaptation_setting`), each epoch is first folded, unlabelled, into
the decoder's own copy of the bundle's spatial alignment
(:meth:`~rtdecode.signal.standardize.Standardizer.adapt`), and then decoded with it: offline and
live alike, one epoch at a time in the order they came.
"""

from __future__ import annotations

import copy
import logging
import queue
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtdecode.io.bundle import ModelBundle
from rtdecode.io.marker_mapping import EVENTS_HINT, MarkerMapping, events_example
from rtdecode.io.markers import OTHER, STIMULUS, parse_marker
from rtdecode.io.recording import Recording
from rtdecode.signal.filters import SegmentedFilter
from rtdecode.signal.preprocess import (
    epoch_is_contiguous,
    epoch_start_index,
    epoch_start_time,
    recording_epoch_is_whole,
)
from rtdecode.worker import BackgroundWorker

log = logging.getLogger(__name__)

TOP_K = 5
# Predictions kept for a consumer of OnlineDecoder.predictions; the oldest go first.
MAX_QUEUED_PREDICTIONS = 1000
# Latency from the source's stamps means something only while they advance with this machine's
# clock. A replay faster than real time keeps the recording's spacing (streams.player), so its
# stamps run ahead of the local clock: a push stamped more than AHEAD_S in the future, or stamps
# that advanced more than PACE_TOLERANCE faster or slower than the local clock over at least
# PACE_SPAN_S of arrivals (a load spike of a second moves that by under 10 %), are not real time.
AHEAD_S = 0.05
PACE_TOLERANCE = 0.1
PACE_SPAN_S = 10.0
# The adaptation setting that means "what the bundle says" (extra["adaptation"]); None means off.
FROM_BUNDLE = "bundle"


@dataclass
class Prediction:
    """One decoded epoch.

    Attributes
    ----------
    label : str
        Predicted class name.
    index : int
        Predicted class index.
    topk : list of (str, float)
        The best classes with their probabilities, best first.
    t_last_sample : float
        Smoothed LSL timestamp (local clock) of the last sample the epoch used.
    latency_ms : float or None
        Live: from the moment the chunk carrying that last sample was pushed at the source (the
        newest raw, clock-corrected LSL stamp of its pull) to this prediction; None where the
        stream's stamps do not follow this machine's clock (a replay faster or slower than real
        time), with the reason in ``latency_note``. Offline: compute time per epoch.
    latency_arrival_ms : float or None
        Live: from the arrival of that last sample in the reader's buffer to this prediction
        (measurable at any replay speed).
    latency_note : str or None
        Why ``latency_ms`` is None.
    marker : dict or None
        The parsed stimulus marker (marker-locked mode), None in sliding mode.
    onset : float or None
        Marker timestamp.
    smoothed : list of (str, float) or None
        Top classes of the average of recent probabilities, when smoothing is on.
    """

    label: str
    index: int
    topk: list[tuple[str, float]]
    t_last_sample: float
    latency_ms: float | None
    marker: dict[str, Any] | None = None
    onset: float | None = None
    smoothed: list[tuple[str, float]] | None = None
    proba: np.ndarray | None = field(default=None, repr=False)
    latency_arrival_ms: float | None = None
    latency_note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON-lines record of ``rtdecode live`` / ``rtdecode predict``."""
        out: dict[str, Any] = {
            "marker": self.marker,
            "onset": self.onset,
            "label": self.label,
            "index": self.index,
            "topk": [[name, round(float(p), 6)] for name, p in self.topk],
            "t_last_sample": self.t_last_sample,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
        }
        if self.latency_note is not None:
            out["latency_note"] = self.latency_note
        if self.latency_arrival_ms is not None:
            out["latency_arrival_ms"] = round(self.latency_arrival_ms, 3)
        if self.smoothed is not None:
            out["smoothed_topk"] = [[name, round(float(p), 6)] for name, p in self.smoothed]
        return out


class StreamMismatch(ValueError):
    """The stream does not match the model bundle."""


def validate_stream(bundle: ModelBundle, channel_names: list[str], sfreq: float) -> None:
    """Refuse a stream whose rate, channel count or channel names differ from the bundle's.

    Raises
    ------
    StreamMismatch
        Saying what differs and, where names differ only in case or order, how to map them.
    """
    problems = []
    if abs(sfreq - bundle.sfreq) > 1e-6:
        problems.append(
            f"sampling rate: stream {sfreq:g} Hz, model {bundle.sfreq:g} Hz (resample at the source)"
        )
    expected = list(bundle.channel_names)
    if len(channel_names) != len(expected):
        problems.append(f"channel count: stream {len(channel_names)}, model {len(expected)}")
    elif channel_names != expected:
        lower_stream = [c.lower() for c in channel_names]
        lower_model = [c.lower() for c in expected]
        if lower_stream == lower_model:
            problems.append(
                "channel names differ only in case; rename them at the source (or record with the model's names)"
            )
        elif sorted(lower_stream) == sorted(lower_model):
            moved = [
                f"{m}@{i}->{lower_stream.index(m.lower())}"
                for i, m in enumerate(expected)
                if lower_stream[i] != m.lower()
            ]
            problems.append(
                "the same channels in another order; reorder the stream to the model's order "
                f"(model name@model index->stream index: {', '.join(moved[:8])}{' ...' if len(moved) > 8 else ''})"
            )
        else:
            missing = [c for c in expected if c.lower() not in lower_stream]
            extra = [c for c in channel_names if c.lower() not in lower_model]
            problems.append(
                f"channel names: missing from the stream {missing[:8]}{' ...' if len(missing) > 8 else ''}; "
                f"not in the model {extra[:8]}{' ...' if len(extra) > 8 else ''}"
            )
    if problems:
        raise StreamMismatch("the stream does not match the model bundle:\n  - " + "\n  - ".join(problems))


def adaptation_setting(bundle: ModelBundle, adaptation: float | str | None = FROM_BUNDLE) -> float | None:
    """The forgetting factor of live alignment adaptation for ``bundle``, or None (off).

    Parameters
    ----------
    bundle : ModelBundle
    adaptation : float or None or "bundle"
        A forgetting factor ``f`` in (0, 1] (each epoch's weight in the running reference: a time
        constant of about ``1 / f`` epochs), None for off, or :data:`FROM_BUNDLE`: the bundle's
        ``extra["adaptation"]`` (``{"forgetting": f}``, written by calibration when it chooses
        adaptation; absent means off).

    Returns
    -------
    float or None

    Raises
    ------
    ValueError
        ``f`` outside (0, 1]; a malformed ``extra["adaptation"]``; or adaptation on for a bundle
        whose standardizer has no alignment (saved before live adaptation existed), in one line
        that says to recalibrate.
    """
    if adaptation == FROM_BUNDLE:
        stored = bundle.extra.get("adaptation")
        if stored is None:
            return None
        try:
            adaptation = float(stored["forgetting"])
        except (TypeError, KeyError, ValueError):
            raise ValueError(
                f"the model bundle's extra['adaptation'] is {stored!r}, not {{'forgetting': F}} (an edited "
                "bundle?); pass --adapt-alignment F or off"
            ) from None
    if adaptation is None:
        return None
    adaptation = float(adaptation)
    if not 0.0 < adaptation <= 1.0:
        raise ValueError(f"the alignment's forgetting factor must be in (0, 1], got {adaptation:g}")
    if getattr(bundle.standardizer, "alignment_", None) is None:
        raise ValueError(
            "this model bundle has no spatial alignment to adapt (it was saved before live adaptation "
            "existed): recalibrate it to adapt, or pass --adapt-alignment off"
        )
    return adaptation


class Decoder:
    """Features and model of one bundle: the part shared by live and offline decoding.

    The bundle's model, whichever servable kind of the model registry it is, is
    served through :func:`rtdecode.models.serving.serve`: this is the one place that knows.

    Parameters
    ----------
    bundle : ModelBundle
    device : str
    smoothing : int
        Average the probabilities of this many recent predictions for display (0: off).
    adaptation : float or None or "bundle"
        Live alignment adaptation (see :func:`adaptation_setting`): call :meth:`adapt` with each
        epoch before its :meth:`features`.

    Attributes
    ----------
    adaptation : float or None
        The forgetting factor in use; None: the alignment stays as calibrated.
    standardizer : Standardizer
        The decoder's own copy of the bundle's, which :meth:`adapt` changes.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        device: str = "auto",
        smoothing: int = 0,
        adaptation: float | str | None = FROM_BUNDLE,
    ) -> None:
        from rtdecode.models.serving import serve

        self.bundle = bundle
        self.config = bundle.pipeline
        self.adaptation = adaptation_setting(bundle, adaptation)
        # Adaptation changes the standardizer: a copy, so that the caller's bundle (shown, saved,
        # or decoded again by another decoder) keeps the calibrated one.
        self.standardizer = copy.deepcopy(bundle.standardizer)
        self.served = serve(bundle, device, standardizer=self.standardizer)
        self.device = self.served.device
        self.model = self.served.model
        self.names = list(bundle.class_names)
        self._recent: deque[np.ndarray] = deque(maxlen=max(1, smoothing))
        self.smoothing = smoothing

    def adapt(self, epochs: np.ndarray) -> None:
        """Fold filtered epochs ``(n, n_samples, n_channels)`` into the alignment, in order (no-op when off)."""
        if self.adaptation is not None:
            self.standardizer.adapt(np.swapaxes(epochs, 1, 2), self.adaptation)

    @property
    def adapted_epochs(self) -> int:
        """Epochs folded into the alignment so far (0 when adaptation is off)."""
        alignment = getattr(self.standardizer, "alignment_", None)
        return 0 if self.adaptation is None or alignment is None else int(alignment.n_updates_)

    def adaptation_text(self) -> str:
        """One line for a log or a status bar: whether and how the alignment adapts."""
        if self.adaptation is None:
            return "alignment fixed (no adaptation)"
        return f"alignment adapting (f={self.adaptation:g}, {self.adapted_epochs} epochs)"

    def features(self, epochs: np.ndarray) -> np.ndarray:
        """Model input of filtered epochs ``(n, n_samples, n_channels)`` (TFDs for the student)."""
        return self.served.features(epochs)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``."""
        return self.served.probabilities(features)

    def prediction(
        self, proba: np.ndarray, t_last: float, latency_ms: float | None, marker=None, onset=None
    ) -> Prediction:
        order = np.argsort(proba)[::-1][: min(TOP_K, len(proba))]
        smoothed = None
        if self.smoothing > 1:
            self._recent.append(proba)
            mean = np.mean(self._recent, axis=0)
            smoothed = [(self.names[i], float(mean[i])) for i in np.argsort(mean)[::-1][:TOP_K]]
        return Prediction(
            label=self.names[order[0]],
            index=int(order[0]),
            topk=[(self.names[i], float(proba[i])) for i in order],
            t_last_sample=float(t_last),
            latency_ms=None if latency_ms is None else float(latency_ms),
            marker=marker,
            onset=onset,
            smoothed=smoothed,
            proba=proba,
        )


def predict_recording(
    bundle: ModelBundle,
    recording: Recording,
    device: str = "auto",
    batch: int = 64,
    adaptation: float | str | None = FROM_BUNDLE,
) -> list[Prediction]:
    """Decode every stimulus marker of a recording offline, as fast as the machine allows.

    The recording goes through the same :class:`SegmentedFilter` as a live stream; epochs are
    cut at the same timestamps. Epochs that run past the data or contain bad samples are skipped
    (and logged). With ``adaptation`` on (see :func:`adaptation_setting`) each epoch is folded
    into the alignment before it is decoded, in the recording's order, as live.
    """
    validate_stream(bundle, recording.channel_names, recording.sfreq)
    decoder = Decoder(bundle, device, adaptation=adaptation)
    if decoder.adaptation is not None:
        batch = 1  # each epoch changes the alignment the next one is decoded with
    config = bundle.pipeline
    n = config.epoch_samples
    stamps = recording.smoothed_timestamps
    filtered = SegmentedFilter(config, recording.n_channels).process(recording.data, stamps)
    items = []
    for onset, event in recording.stimulus_events():
        start = epoch_start_index(stamps, onset, config)
        epoch = filtered[start : start + n]
        if len(epoch) < n:
            reason = "incomplete"
        elif not recording_epoch_is_whole(recording, start, n, epoch_start_time(onset, config)):
            reason = "a gap in the data"
        elif not np.all(np.isfinite(epoch)):
            reason = "bad samples"
        else:
            items.append((onset, event, start, epoch))
            continue
        log.warning("skipping the epoch at %.3f s: %s", onset, reason)
    predictions = []
    for lo in range(0, len(items), batch):
        part = items[lo : lo + batch]
        started = time.perf_counter()
        epochs = np.stack([p[3] for p in part])
        decoder.adapt(epochs)
        proba = decoder.probabilities(decoder.features(epochs))
        per_epoch_ms = (time.perf_counter() - started) * 1000 / len(part)
        for (onset, event, start, _), p in zip(part, proba, strict=True):
            predictions.append(decoder.prediction(p, stamps[start + n - 1], per_epoch_ms, event, onset))
    if decoder.adaptation is not None:
        log.info("%s", decoder.adaptation_text())
    return predictions


class OnlineDecoder(BackgroundWorker):
    """Decode a live stream in a worker thread.

    Parameters
    ----------
    bundle : ModelBundle
    reader : StreamReader
        A started EEG reader (validated against the bundle here).
    markers : MarkerReader, optional
        Required for ``mode="marker"``.
    mapping : MarkerMapping, optional
        Which plain marker codes are stimuli of which class (read with
        :func:`~rtdecode.io.markers.parse_marker`, as files are); the project's JSON markers need none.
    mode : {"marker", "sliding"}
        Marker-locked: one prediction per stimulus marker once its epoch has fully arrived.
        Sliding: every ``hop_s``, the latest epoch-length window, without markers.
    hop_s : float
        Sliding-mode step.
    smoothing : int
        Average the probabilities of this many recent predictions for display (0: off).
    on_prediction : callable, optional
        Called in the worker thread with every :class:`Prediction`.
    cpu_threads : int
        torch intra-op threads when decoding on the CPU (0 leaves torch's default).
    adaptation : float or None or "bundle"
        Live alignment adaptation (:func:`adaptation_setting`): each epoch (each window in sliding
        mode) is folded into the alignment before it is decoded.

    Attributes
    ----------
    unmatched : Counter
        Plain marker codes that were no stimulus (no mapping, or codes it does not map), by count.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        reader,
        markers=None,
        mapping: MarkerMapping | None = None,
        mode: str = "marker",
        hop_s: float = 0.25,
        smoothing: int = 0,
        device: str = "auto",
        on_prediction: Callable[[Prediction], None] | None = None,
        cpu_threads: int = 1,
        adaptation: float | str | None = FROM_BUNDLE,
    ) -> None:
        if mode not in ("marker", "sliding"):
            raise ValueError(f"mode must be 'marker' or 'sliding', got {mode!r}")
        if mode == "marker" and markers is None:
            raise ValueError("marker-locked decoding needs a marker stream (or use mode='sliding')")
        validate_stream(bundle, reader.channel_names, reader.sfreq)
        super().__init__("decode")
        self.decoder = Decoder(bundle, device, smoothing, adaptation)
        if self.decoder.device == "cpu" and cpu_threads:
            import torch
            from threadpoolctl import threadpool_limits

            # One epoch at a time is too small to share across cores, and extra intra-op threads
            # fight the acquisition thread for the CPU: measured on 2 cores under load, p95 went
            # from 315 ms with 2 threads to 17 ms with 1 (the student); the classical models'
            # BLAS likewise (40-class templates: 122 ms with 2 threads, 15 ms with 1). Both
            # settings are process-wide.
            torch.set_num_threads(cpu_threads)
            threadpool_limits(limits=cpu_threads, user_api="blas")
        self.reader = reader
        self.markers = markers
        self.mapping = mapping
        self.unmatched: Counter[str] = Counter()
        self.mode = mode
        self.hop_s = hop_s
        self.on_prediction = on_prediction
        self.predictions: queue.Queue[Prediction] = queue.Queue(maxsize=MAX_QUEUED_PREDICTIONS)
        self.skipped: dict[str, int] = {}
        self._pending: list[tuple[float, dict[str, Any]]] = []
        self._latency_unmeasurable = False  # logged once

    def start(self) -> OnlineDecoder:
        self._start_thread()
        return self

    def _run(self) -> None:
        # Warm the model once so the first real epoch does not pay for lazy initialization.
        config = self.decoder.config
        shape = (1, config.epoch_samples, self.reader.n_channels)
        self.decoder.probabilities(self.decoder.features(np.zeros(shape, dtype=np.float32)))
        seen = self.reader.buffer.total
        next_slide = 0.0
        while not self._stop.is_set():
            seen = self.reader.buffer.wait(seen, timeout=0.1)
            try:
                if self.mode == "marker":
                    self._collect_markers()
                    self._decode_ready_markers()
                else:
                    next_slide = self._decode_sliding(next_slide)
            except Exception:  # one bad epoch must not end a session
                log.exception("decoding failed; continuing")

    def _collect_markers(self) -> None:
        while (item := self.markers.get()) is not None:
            onset, text = item
            event = parse_marker(text, self.mapping)
            if event.get("event") == STIMULUS:
                self._pending.append((onset, event))
            elif event.get("event") == OTHER:
                self._unmatched(text)
        self._pending.sort(key=lambda p: p[0])

    def _unmatched(self, text: str) -> None:
        first = not self.unmatched
        self.unmatched[text] += 1
        if self.mapping is None and first:
            # Said once, at the first one: without a mapping no plain code is ever decoded.
            log.warning(
                "the marker stream sends plain codes (first: %r) and no mapping says which are stimuli of "
                "which class, so they are not decoded; pass --events %s,... (CODE=CLASS pairs), %s. A model "
                "calibrated with --events remembers its mapping",
                text,
                events_example({text: 1}),
                EVENTS_HINT,
            )

    def _decode_ready_markers(self) -> None:
        config = self.decoder.config
        n = config.epoch_samples
        buffer = self.reader.buffer
        while self._pending:
            onset, event = self._pending[0]
            with buffer.lock:
                newest = buffer.timestamps[(buffer.total - 1) % buffer.capacity] if buffer.total else -np.inf
            first = epoch_start_time(onset, config)
            # The epoch's last sample is due n - 1 periods after its first.
            if newest < first + (n - 1) / config.sfreq:
                return
            start = buffer.position_of(first)
            # The time says when a nominal-rate epoch ends; a device clock slower than nominal
            # (tens of ppm) delivers the last sample later than that, so count samples too.
            if buffer.total < start + n:
                return
            self._pending.pop(0)
            if start < buffer.oldest:
                self._skip("outside_buffer")
                continue
            window = buffer.read(start, start + n)
            if len(window.timestamps) < n or not epoch_is_contiguous(window.timestamps, first, config.sfreq):
                self._skip("gap")
                continue
            if not np.all(np.isfinite(window.filtered)):
                self._skip("bad_samples")
                continue
            self._emit(window, event, onset)

    def _decode_sliding(self, next_slide: float) -> float:
        buffer = self.reader.buffer
        n = self.decoder.config.epoch_samples
        if buffer.total < n:
            return next_slide
        with buffer.lock:
            newest = buffer.timestamps[(buffer.total - 1) % buffer.capacity]
        if newest < next_slide:
            return next_slide
        window = buffer.read(buffer.total - n, buffer.total)
        if np.all(np.isfinite(window.filtered)):
            self._emit(window, None, None)
        else:
            self._skip("bad_samples")
        return float(newest) + self.hop_s

    def _emit(self, window, event, onset) -> None:
        import pylsl

        self.decoder.adapt(window.filtered[None])
        features = self.decoder.features(window.filtered[None])
        proba = self.decoder.probabilities(features)[0]
        now = pylsl.local_clock()
        latency_ms, note = self._latency(window, now)
        prediction = self.decoder.prediction(proba, window.timestamps[-1], latency_ms, event, onset)
        prediction.latency_arrival_ms = (now - window.arrival[-1]) * 1000
        prediction.latency_note = note
        while True:  # a consumer that does not read must not make the queue grow without end
            try:
                self.predictions.put_nowait(prediction)
                break
            except queue.Full:
                try:
                    self.predictions.get_nowait()
                except queue.Empty:
                    pass
        if self.on_prediction is not None:
            self.on_prediction(prediction)

    def _latency(self, window, now: float) -> tuple[float | None, str | None]:
        """Milliseconds from the push of the window's last sample to ``now``, or None and why not."""
        pushed = float(window.pushed[-1])
        note = None
        if pushed - now > AHEAD_S:
            note = (
                f"the stream's stamps run {pushed - now:.1f} s ahead of this machine's clock (a replay "
                "faster than real time?); latency_arrival_ms still measures this machine's part"
            )
        else:
            buffer = self.reader.buffer
            oldest = buffer.read(buffer.oldest, buffer.oldest + 1)
            span = float(window.arrival[-1] - oldest.arrival[0]) if len(oldest.arrival) else 0.0
            if span >= PACE_SPAN_S:
                pace = (pushed - float(oldest.pushed[0])) / span
                if abs(pace - 1.0) > PACE_TOLERANCE:
                    note = (
                        f"the stream's stamps advance {pace:.2f} times as fast as this machine's clock "
                        "(a replay slower or faster than real time?); latency_arrival_ms still measures "
                        "this machine's part"
                    )
        if note is None:
            return (now - pushed) * 1000, None
        if not self._latency_unmeasurable:  # said once per session, not per prediction
            self._latency_unmeasurable = True
            log.warning("latency_ms is not measurable (null): %s", note)
        return None, note

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        log.warning("skipped an epoch: %s", reason)
