"""One live decoding session as the window runs it: the engine's session plus images and recording.

No Qt here and no decoding logic: the engine's :class:`~rtdecode.streams.live_session.LiveSession`
resolves the streams and owns the readers and the decoder; this module adds what only the window
shows (the image service) and does (Record), starts them in the right order, stops them all (even
after a partial start), and says what went wrong in words a person can act on. Its methods block
(resolving streams, loading torch), so the window calls them from its control thread
(:mod:`gui.engine_bridge`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtdecode.io.marker_mapping import MarkerMapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionSettings:
    """What the user picked in the window.

    Attributes
    ----------
    eeg : str
        EEG stream query (``source_id=...``, ``name=...`` or a bare name).
    model : Path
        Model bundle folder.
    markers : str or None
        Marker stream query; None decodes a sliding window instead of marker-locked epochs.
    exemplar_dir : Path or None
        Calibration images (a folder with ``images.tsv``); None looks next to the bundle.
    pipeline : Path or None
        Diffusion weights (a diffusers folder, a checkpoint file or a model id in the local Hugging
        Face cache); None, or weights that fail to load, shows exemplars instead.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``...
    hop_s : float
        Sliding-window step.
    smoothing : int
        Average of this many recent predictions for display (0: off).
    resolve_timeout : float
        Seconds to wait for the streams (EEG and markers at once); each inlet gets at least 2 s to open.
    buffer_s : float
        Seconds of signal the reader's ring buffer keeps.
    latency_ms : float or None
        The EEG stream's acquisition latency; None keeps the bundle's.
    events : MarkerMapping or None
        Which plain marker codes are stimuli of which class (``--events``); None: the bundle's.
    adaptation : float or None or "bundle"
        Adapt the spatial alignment to the stream (``--adapt-alignment``): a forgetting factor, None
        for off, ``"bundle"`` for the model's setting.
    """

    eeg: str
    model: Path
    markers: str | None = None
    exemplar_dir: Path | None = None
    pipeline: Path | None = None
    device: str = "auto"
    hop_s: float = 0.25
    smoothing: int = 0
    resolve_timeout: float = 3.0
    buffer_s: float = 30.0
    latency_ms: float | None = None
    events: MarkerMapping | None = None
    adaptation: float | str | None = "bundle"


def describe_error(error: BaseException) -> tuple[str, str]:
    """A short title and a message for the window, from an engine exception."""
    from rtdecode.decoder import StreamMismatch
    from rtdecode.streams.lsl_utils import StreamNotFoundError

    if isinstance(error, StreamMismatch):
        return "The model does not fit this stream", str(error)
    if isinstance(error, StreamNotFoundError):
        return "Stream not found", str(error)
    if isinstance(error, FileNotFoundError):
        return "File not found", str(error)
    if isinstance(error, FileExistsError | PermissionError):
        return "Cannot write the file", str(error)
    if isinstance(error, ValueError | TimeoutError):
        return "Cannot start", str(error)
    if isinstance(error, RuntimeError):
        return "Not possible now", str(error)
    return "Unexpected error", f"{type(error).__name__}: {error} (details in the log)"


class WindowSession:
    """The engine's live session + image service (+ recorder) for one stream and one model.

    Parameters
    ----------
    settings : SessionSettings
    on_prediction : callable
        Called in the decode worker with every Prediction.
    on_image : callable
        Called in the image worker with every image.
    """

    def __init__(
        self,
        settings: SessionSettings,
        on_prediction: Callable[[object], None],
        on_image: Callable[[object], None],
    ) -> None:
        self.settings = settings
        self._on_prediction = on_prediction
        self._on_image = on_image
        self.bundle = None
        self.live = None  # rtdecode.streams.live_session.LiveSession, once the bundle is loaded
        self.images = None
        self.image_note = ""
        self.image_warning = ""  # why there is no generator although weights were asked for
        self.recorder = None
        self.device_text = ""
        self._last_requested: str | None = None

    @property
    def mode(self) -> str:
        return "marker" if self.settings.markers else "sliding"

    @property
    def reader(self):
        """The EEG stream's reader (None before the streams are connected)."""
        return self.live.reader if self.live is not None else None

    @property
    def adaptation_text(self) -> str:
        """The decoder's ``alignment adapting (f=..., N epochs)`` while the alignment adapts, else ''."""
        live = self.live
        if live is None or live.decoder is None or live.adaptation is None:
            return ""
        # The decode worker updates the count; reading an int from the GUI thread is safe.
        return live.decoder.decoder.adaptation_text()

    def start(self) -> WindowSession:
        """Load the model, connect the streams, start decoding (cleans up when it raises).

        Raises
        ------
        ValueError
            Not a bundle; a stream that cannot be opened.
        StreamNotFoundError
            A stream is not visible.
        StreamMismatch
            The stream's rate or channels differ from the model's.
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from gui.image_source import cache_dir_for, find_exemplar_dir, make_image_service
        from rtdecode.cli_args import with_latency
        from rtdecode.io.bundle import load_bundle
        from rtdecode.streams.live_session import LiveSession

        s = self.settings
        self.bundle = with_latency(load_bundle(s.model), s.latency_ms)
        self.live = LiveSession(
            self.bundle,
            stream=s.eeg,
            markers=s.markers,
            events=s.events,
            hop_s=s.hop_s,
            smoothing=s.smoothing,
            device=s.device,
            timeout=s.resolve_timeout,
            open_timeout=max(s.resolve_timeout, 2.0),
            buffer_s=s.buffer_s,
            on_prediction=self._prediction,
            adaptation=s.adaptation,
        )
        # Connected and checked against the model before the (slow) image generator loads;
        # decoding starts once the images can follow it.
        self.live.connect()
        self.device_text = _device_text(self.live.decoder.decoder.device)
        exemplars = s.exemplar_dir or find_exemplar_dir(s.model)
        generator = self._load_generator() if s.pipeline else None
        self.images, self.image_note = make_image_service(
            list(self.bundle.class_names), exemplars, self._on_image, generator, cache_dir_for(s.model)
        )
        self.images.start()
        self.live.start()
        log.info(
            "decoding %r (%s mode) with %s on %s", self.reader.name, self.mode, s.model, self.device_text
        )

    def _load_generator(self):
        """The diffusion pipeline, or None with :attr:`image_warning` saying why (never raises)."""
        try:
            from rtdecode.reconstruct import Generator
        except ImportError as error:
            self.image_warning = f"image generation is not installed ({error})"
            return None
        try:
            return Generator.load(self.settings.pipeline, device=self.settings.device)
        except (ValueError, OSError, ImportError, RuntimeError) as error:
            # Missing or broken weights cost the images, not the session.
            log.warning("diffusion weights not loaded: %s", error)
            self.image_warning = f"the diffusion weights could not be loaded: {error}"
            return None

    def _prediction(self, prediction) -> None:
        self._on_prediction(prediction)
        # A new image only when the decoded class changes: the image for a class does not.
        if prediction.label != self._last_requested and self.images is not None:
            self._last_requested = prediction.label
            self.images.request(prediction.label)

    def start_recording(self, path: str | Path) -> None:
        """Record the EEG (and marker) stream to ``path`` (.xdf) until :meth:`stop_recording`."""
        from rtdecode.streams.recorder import Recorder

        if self.reader is None:
            raise RuntimeError("connect to a stream before recording")
        if self.recorder is not None:
            raise RuntimeError(f"already recording to {self.recorder.path}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        streams = [_query(self.reader.info)]
        if self.live.marker_reader is not None:
            streams.append(_query(self.live.marker_reader.info))
        recorder = Recorder(path, streams, resolve_timeout=self.settings.resolve_timeout)
        recorder.start()
        self.recorder = recorder

    def stop_recording(self) -> str:
        """Finish the file; returns a one-line summary of what it holds."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return ""
        stats = recorder.stop()
        parts = [f"{s.name}: {s.n_samples} samples" + (f" ({s.error})" if s.error else "") for s in stats]
        return f"wrote {recorder.path} ({'; '.join(parts)})"

    def stop(self) -> str:
        """Stop everything that was started; returns the recording summary ('' if none)."""
        summary = ""
        if self.recorder is not None:
            try:
                summary = self.stop_recording()
            except Exception:
                log.exception("finishing the recording failed")
        if self.live is not None:
            self.live.stop()  # decoder, marker reader, reader; it logs a part that fails to stop
        if self.images is not None:
            try:
                self.images.stop()
            except Exception:  # the image service failing to stop must not hide the summary
                log.exception("stopping %s failed", type(self.images).__name__)
        self.images = None
        return summary


def _query(info) -> str:
    return f"source_id={info.source_id()}" if info.source_id() else f"name={info.name()}"


def _device_text(device: str) -> str:
    if str(device).startswith("cuda"):
        import torch

        return f"GPU {torch.cuda.get_device_name(torch.device(device))}"
    return "CPU"
