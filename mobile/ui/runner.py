"""Runs every AppService call on one worker thread and hands the result back on Kivy's thread.

Why one thread: the service talks HTTP (log-in, sync) and must not freeze the screen, and its
SQLite store was opened by the thread that created it; creating and calling it on one dedicated
thread keeps the store single-threaded whatever the service does inside. Results and errors
come back through Clock.schedule_once, so screens only ever touch widgets on Kivy's thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock

log = logging.getLogger(__name__)
Callback = Callable[[Any], None]


class ServiceRunner:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self._jobs: queue.Queue[tuple[Callable[[Any], Any], Callback | None, Callback | None] | None] = queue.Queue()
        self._factory = factory
        self.pending = 0  # calls whose result has not yet been delivered on Kivy's thread
        self._thread = threading.Thread(target=self._loop, name="gridops-service", daemon=True)
        self._thread.start()

    def call(self, job: Callable[[Any], Any], then: Callback | None = None,
             error: Callback | None = None) -> None:
        """Run job(service) on the worker; then(result) or error(message) run on Kivy's thread."""
        self.pending += 1
        self._jobs.put((job, then, error))

    def stop(self) -> None:
        self._jobs.put(None)

    @property
    def idle(self) -> bool:
        return self.pending == 0

    def _loop(self) -> None:
        service = self._factory()
        while (item := self._jobs.get()) is not None:
            job, then, error = item
            try:
                result = job(service)
            except Exception as exc:  # shown to the worker; the service never loses data on raising
                log.error("service call failed:\n%s", traceback.format_exc())
                message = describe(exc)
                Clock.schedule_once(lambda _dt, m=message, cb=error: self._deliver(cb or show_error, m))
            else:
                Clock.schedule_once(lambda _dt, r=result, cb=then: self._deliver(cb, r))

    def _deliver(self, callback: Callback | None, value: Any) -> None:
        self.pending -= 1
        if callback is not None:
            callback(value)


def describe(exc: Exception) -> str:
    if isinstance(exc, NotImplementedError):
        return "此功能尚未实现"
    text = str(exc).strip()
    return text or type(exc).__name__


def show_error(message: str) -> None:
    from mobile.ui.widgets import toast

    toast(message, error=True)
