"""Training at the end of a calibration session, in a worker thread, with its progress as signals.

:func:`calibration.calibrate.calibrate` reports its steps through ``logging``; a handler on the
``calibration`` and ``gui`` loggers turns each record into a ``progress`` signal, which Qt
delivers to the GUI thread, so the window shows every step as it happens.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from PySide6 import QtCore

from gui.engine_bridge import emit_safely
from gui.live_session import describe_error
from gui.presenter_session import train

log = logging.getLogger(__name__)

PROGRESS_LOGGERS = ("calibration", "gui.presenter_session")


class _SignalHandler(logging.Handler):
    def __init__(self, job: CalibrationJob) -> None:
        super().__init__(logging.INFO)
        self.job = job

    def emit(self, record: logging.LogRecord) -> None:
        try:
            emit_safely(self.job.progress, record.getMessage())
        except Exception:  # a log line must never break training
            pass


class CalibrationJob(QtCore.QObject):
    """Runs :func:`gui.presenter_session.train` once in a thread.

    Signals
    -------
    progress(str)
        Each step's log message.
    finished(object)
        The :class:`~calibration.calibrate.CalibrationResult`.
    failed(str, str)
        Title and message.
    """

    progress = QtCore.Signal(str)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self.started_at = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(
        self, session_path: Path, stimuli_dir: Path | None, out_dir: Path, config=None, **options
    ) -> None:
        """Train in a new thread: the arguments are :func:`gui.presenter_session.train`'s."""
        if self.running:
            raise RuntimeError("a calibration is already running")
        self.started_at = time.monotonic()
        self._thread = threading.Thread(
            target=self._run,
            args=(session_path, stimuli_dir, out_dir, config),
            kwargs=options,
            name="calibrate",
            daemon=True,
        )
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, session_path: Path, stimuli_dir: Path | None, out_dir: Path, config, **options) -> None:
        handler = _SignalHandler(self)
        loggers = [logging.getLogger(name) for name in PROGRESS_LOGGERS]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.addHandler(handler)
            if lg.getEffectiveLevel() > logging.INFO:
                lg.setLevel(logging.INFO)  # the steps are INFO records; show them even when quiet
        try:
            result = train(session_path, stimuli_dir, out_dir, config, **options)
        except Exception as error:
            title, message = describe_error(error)
            log.warning("calibration failed: %s", message, exc_info=not isinstance(error, ValueError))
            emit_safely(self.failed, f"Training failed: {title.lower()}", message)
            return
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.removeHandler(handler)
                lg.setLevel(level)
        emit_safely(self.finished, result)
