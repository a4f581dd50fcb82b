"""The Qt side of the engine's threads: blocking engine calls run off the GUI thread, results
come back as signals.

Engine callbacks (a prediction from the decode worker, an image from the generation worker)
are called in those workers; they only ``emit`` here, and Qt queues the signal to the GUI
thread, where the window's slots touch widgets. Control operations (resolve, connect, load a
model, start or stop a recorder) run one at a time on a single control thread, in the order
the user asked for them, so a Stop never overtakes the Start it follows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6 import QtCore

from gui.discovery import StreamChoice, discover
from gui.live_session import SessionSettings, WindowSession, describe_error

log = logging.getLogger(__name__)


def emit_safely(signal: QtCore.SignalInstance, *args: Any) -> None:
    """Emit from a worker thread, unless the window that owned the signal is gone already."""
    try:
        signal.emit(*args)
    except RuntimeError:  # "Signal source has been deleted": nobody is left to tell
        log.debug("dropped a signal: its window was closed")


class StreamDiscoverer(QtCore.QObject):
    """Lists visible LSL streams in a worker thread; ``found`` carries the result."""

    found = QtCore.Signal(list)  # list[StreamChoice]
    failed = QtCore.Signal(str)

    def __init__(self, wait_time: float = 1.0, parent=None) -> None:
        super().__init__(parent)
        self.wait_time = wait_time
        self._busy = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    def refresh(self) -> bool:
        """Start listening; False when a refresh is already running."""
        if not self._busy.acquire(blocking=False):
            return False
        threading.Thread(target=self._run, name="discover-streams", daemon=True).start()
        return True

    def _run(self) -> None:
        try:
            found: list[StreamChoice] = discover(self.wait_time)
        except Exception as error:  # liblsl trouble (no network interface...) is shown, not raised
            log.exception("listing LSL streams failed")
            self._busy.release()
            emit_safely(self.failed, f"could not list LSL streams: {error}")
            return
        self._busy.release()
        emit_safely(self.found, found)


class EngineBridge(QtCore.QObject):
    """Runs a :class:`~gui.live_session.WindowSession` for the live window and reports through signals.

    Signals
    -------
    started(object)
        The running :class:`~gui.live_session.WindowSession` (its reader may be read from the GUI thread).
    failed(str, str)
        A title and a message: a start that did not happen, or an operation that failed.
    stopped()
    prediction(object)
        Every :class:`~rtdecode.decoder.Prediction` (emitted from the decode worker).
    image(object)
        Every image from the image service (emitted from its worker).
    recording(bool, str)
        Recording on/off and the file (or the reason it ended).
    """

    started = QtCore.Signal(object)
    failed = QtCore.Signal(str, str)
    stopped = QtCore.Signal()
    prediction = QtCore.Signal(object)
    image = QtCore.Signal(object)
    recording = QtCore.Signal(bool, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gui-control")
        self.session: WindowSession | None = None

    # -- requests from the GUI ---------------------------------------------------------------
    def start(self, settings: SessionSettings) -> Future:
        """Connect and start decoding with ``settings`` (stops a running session first)."""
        return self._submit(self._start, settings)

    def stop(self) -> Future:
        """Stop decoding and recording; ``stopped`` follows."""
        return self._submit(self._stop)

    def start_recording(self, path: Path) -> Future:
        return self._submit(self._start_recording, path)

    def stop_recording(self) -> Future:
        return self._submit(self._stop_recording)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop everything and wait up to ``timeout`` seconds (the window is closing)."""
        future = self._submit(self._stop, emit=False)
        try:
            future.result(timeout)
        except Exception:
            log.exception("stopping the session on close failed")
        self._control.shutdown(wait=False)

    # -- control thread ---------------------------------------------------------------------
    def _submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        return self._control.submit(self._guarded, fn, *args, **kwargs)

    def _guarded(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            title, message = describe_error(error)
            log.warning("%s: %s", title, message, exc_info=not isinstance(error, ValueError | TimeoutError))
            emit_safely(self.failed, title, message)
            return None

    def _start(self, settings: SessionSettings) -> None:
        self._stop(emit=False)
        session = WindowSession(
            settings,
            on_prediction=lambda p: emit_safely(self.prediction, p),
            on_image=lambda i: emit_safely(self.image, i),
        )
        session.start()  # cleans up after itself when it raises
        self.session = session
        emit_safely(self.started, session)

    def _stop(self, emit: bool = True) -> None:
        session, self.session = self.session, None
        if session is not None:
            was_recording = session.recorder is not None
            stats_text = session.stop()
            if was_recording:
                emit_safely(self.recording, False, stats_text)
        if emit:
            emit_safely(self.stopped)

    def _start_recording(self, path: Path) -> None:
        if self.session is None:
            raise RuntimeError("connect to a stream before recording")
        self.session.start_recording(path)
        emit_safely(self.recording, True, str(path))

    def _stop_recording(self) -> None:
        if self.session is None or self.session.recorder is None:
            return
        emit_safely(self.recording, False, self.session.stop_recording())


class BackgroundTask(QtCore.QObject):
    """One blocking call in a worker thread; ``succeeded(result)`` or ``failed(title, message)``.

    Keep a reference until a signal arrives (the window holds the task it started).
    """

    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str, str)

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "gui-task", parent=None) -> None:
        super().__init__(parent)
        self._fn, self._args = fn, args
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> BackgroundTask:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            result = self._fn(*self._args)
        except Exception as error:
            title, message = describe_error(error)
            log.warning("%s: %s", title, message, exc_info=not isinstance(error, ValueError | TimeoutError))
            emit_safely(self.failed, title, message)
            return
        emit_safely(self.succeeded, result)
