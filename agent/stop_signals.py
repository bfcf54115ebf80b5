"""What stops a command-line run: Ctrl-C, ``kill``/``timeout`` and a closed terminal.

``punie-lsp run-code`` and ``ask`` cancel their run on any of these, as on Ctrl-C: the
sandbox and the model stop within a second, the pool's worker processes are stopped and
the result says ``cancelled``. Without this, ``timeout 10 punie-lsp run-code x.py`` (a
SIGTERM) ended the process at once and left its Monty worker running the program to
its own time limit, and ``ty check`` children running to their end.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator

__all__ = ["STOP_SIGNALS", "cancelled_by_stop_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C; ``kill`` and ``timeout``; the terminal closing."""


@contextlib.contextmanager
def cancelled_by_stop_signals(cancel: asyncio.Event) -> Generator[None]:
    """While inside, each of ``STOP_SIGNALS`` sets ``cancel`` (on the running loop);
    the previous handlers come back on leaving. A loop off the main thread cannot take
    signal handlers: then nothing is installed."""
    loop = asyncio.get_running_loop()
    installed = []
    for number in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(number, cancel.set)
            installed.append(number)
    try:
        yield
    finally:
        for number in installed:
            loop.remove_signal_handler(number)
