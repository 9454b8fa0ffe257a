"""Writing off the generation loop: one background thread carries out a run's writes and commits in order.

The loop that collects attempt results hands each write and commit to ``WriterThread.call`` and goes
straight back to the workers, so writing both formats overlaps the attempts instead of pausing them.
Calls run strictly in the order given (a commit covers exactly the writes queued before it). The
queue is bounded by the bytes it holds (a slow writer holds the loop back instead of filling memory,
while seconds of state-only demos fit: the first writes wait for lerobot's import). The first error a
call raises is raised again in the loop's thread, and no call after it runs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

MAX_QUEUED_BYTES = 512 * 2**20  # ~5,000 state-only Stack demos, or ~20 with two 84x84 cameras


class WriterThread:
    """Runs each ``call`` (a method of ``target`` by name, or a function) in order, in one background thread."""

    def __init__(self, target: Any, max_queued_bytes: int = MAX_QUEUED_BYTES, start: bool = True) -> None:
        self.target = target
        self.max_queued_bytes = max_queued_bytes
        self._calls: deque = deque()
        self._queued_bytes = 0
        self._changed = threading.Condition()
        self._error: BaseException | None = None  # the failed call's error, until raised in the loop's thread
        self._failed = False
        self._thread = threading.Thread(target=self._serve, name="mimicrec-writer", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        """Start the thread (``start=False``: calls queued before this run once it starts)."""
        self._thread.start()

    def call(self, action: str | Callable, *args: Any, nbytes: int = 0, **kwargs: Any) -> None:
        """Queue ``target.<action>(*args, **kwargs)`` (or ``action(...)``), ``nbytes`` its data's size; waits
        while the queue holds more than ``max_queued_bytes``. Raises an earlier call's error instead."""
        self._raise_error()
        with self._changed:
            while self._queued_bytes and self._queued_bytes + nbytes > self.max_queued_bytes and not self._failed:
                self._changed.wait()
            self._calls.append((action, args, kwargs, nbytes))
            self._queued_bytes += nbytes
            self._changed.notify_all()
        self._raise_error()

    def join(self) -> None:
        """Wait until every queued call has run and stop the thread; raises the first error a call raised.
        Safe to call again (it returns at once)."""
        if not self._thread.ident:  # never started (the run ended before its workers did): run what was queued
            self.start()
        if self._thread.is_alive():
            with self._changed:
                self._calls.append(None)
                self._changed.notify_all()
            self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _next(self) -> tuple | None:
        with self._changed:
            while not self._calls:
                self._changed.wait()
            return self._calls[0]

    def _done(self, nbytes: int) -> None:
        with self._changed:
            self._calls.popleft()
            self._queued_bytes -= nbytes
            self._changed.notify_all()

    def _serve(self) -> None:
        while (item := self._next()) is not None:
            action, args, kwargs, nbytes = item
            if not self._failed:  # after a failure the rest are dropped (the run aborts or resumes)
                try:
                    (action if callable(action) else getattr(self.target, action))(*args, **kwargs)
                except BaseException as err:  # noqa: BLE001  (raised again in the loop's thread)
                    self._error, self._failed = err, True
            self._done(nbytes)
