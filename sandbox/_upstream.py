"""Workarounds for pydantic-monty (1.4.0) behaviour, kept in one place with their tests.

Each entry says what Monty does, what we do instead, and which test in
``tests/sandbox/test_upstream.py`` shows the behaviour, so the workaround can be deleted
the day that test starts failing.

1. **The print cap does not stop the program.** ``CollectString(max_bytes=…)`` stops
   *collecting* at the cap but the feed keeps running until it ends on its own, so
   ``while True: print("x")`` runs until the time limit (forever without one), and the
   error that finally arrives is an indistinguishable ``MemoryError``. ``OutputSink``
   counts bytes host-side and, at the cap, asks the runner to stop the run at once
   (which discards the worker); the error names ``max_output_bytes``.
   Test: ``test_collect_string_cap_does_not_stop_the_feed``.

2. **Feeding a crashed session aborts the host at exit.** After ``MontyCrashedError`` a
   second ``feed_*`` on the same session raises ``RuntimeError`` (fine), but the host
   process then dies with SIGABRT when it exits. The runner never feeds a session twice:
   one checkout per run, left as soon as anything goes wrong.
   Test: ``test_feeding_a_crashed_session_aborts_the_host_at_exit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

__all__ = ["OutputSink"]


class OutputSink:
    """Print callback for Monty that keeps at most ``max_bytes`` of output (workaround 1).

    Monty calls it from a worker-reader thread, hence the lock; ``on_overflow`` must be
    thread-safe (the runner passes ``loop.call_soon_threadsafe``-wrapped abort).
    """

    def __init__(self, max_bytes: int, on_overflow: Callable[[], object]) -> None:
        self._max_bytes = max_bytes
        self._on_overflow = on_overflow
        self._parts: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self.overflowed = False
        """True once the program printed more than ``max_bytes``."""

    def __call__(self, stream: Literal["stdout", "stderr"], text: str) -> None:
        """Keep ``text`` (both streams interleaved, in order) up to the cap."""
        with self._lock:
            if self.overflowed:
                return
            encoded = text.encode("utf-8", errors="replace")
            room = self._max_bytes - self._size
            if len(encoded) <= room:
                self._parts.append(text)
                self._size += len(encoded)
                return
            self._parts.append(encoded[:room].decode("utf-8", errors="ignore"))
            self._size = self._max_bytes
            self.overflowed = True
        self._on_overflow()

    @property
    def text(self) -> str:
        """Everything kept so far."""
        with self._lock:
            return "".join(self._parts)
