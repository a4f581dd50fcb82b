"""A thread that owns one job: started once, stopped by an event, joined with a timeout."""

from __future__ import annotations

import threading


class BackgroundWorker:
    """Base of the engine's long-running threads (acquisition, decoding, simulation).

    Subclasses implement :meth:`_run` and poll ``self._stop`` (a ``threading.Event``) often
    enough to end within the ``stop`` timeout; they call ``super().__init__(name)`` first.
    """

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it has ended (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()
