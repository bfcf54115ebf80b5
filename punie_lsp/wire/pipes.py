"""The pipes of a stdio session: a reading thread per input, writers any thread may use.

A forwarded hover has a budget of a few hundredths of a millisecond, and each asyncio
hop (a loop iteration, a transport callback, ``call_soon``) costs about that much on a
loaded machine. So the editor's stdin and ty's stdout are each read by a thread of
their own (``FrameReaderThread``, blocking reads: it also takes files, ``/dev/null``
and terminals, which epoll refuses), and a message that only needs forwarding is
forwarded by that thread (the router's ``forward_now`` / ``answer_now``) without
waiting for the event loop; everything else is handed to the loop in order. The
writers (``PipeWriter``) are shared by the threads and the loop: they never block,
keep every frame whole and keep the order in which frames were written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from punie_lsp.wire.transport import FrameParser, FrameWriter

__all__ = ["FrameReaderThread", "PipeWriter", "open_stdio", "pollable"]

logger = logging.getLogger(__name__)


class PipeWriter:
    """Writes to a file descriptor from any thread: never blocks, frames stay whole.

    A write goes straight to ``os.write``; what the pipe cannot take now is buffered
    and flushed by the event loop when the descriptor is writable (``add_writer``), and
    later writes queue behind it, so the order of writes is the order of calls. An
    unpollable descriptor (a regular file, ``/dev/null``) is written blocking, which
    never waits. Errors (the reader went away) close the writer; later writes are
    dropped, as an asyncio transport drops them.
    """

    thread_safe = True
    """Any thread may write (``FrameWriter.thread_safe``)."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._loop = loop
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._closing = False
        self._closed = False
        self._watching = False
        if pollable(fd):
            os.set_blocking(fd, False)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        with self._lock:
            if self._closing:
                return
            if not self._buffer:
                try:
                    written = os.write(self._fd, data)
                except BlockingIOError:
                    written = 0
                except OSError:
                    self._close_now()
                    return
                if written == len(data):
                    return
                data = memoryview(data)[written:]
            self._buffer += data
            if not self._watching:
                self._watching = True
                self._loop.call_soon_threadsafe(self._watch)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Close once what is buffered has been written."""
        with self._lock:
            self._closing = True
            if not self._buffer:
                self._close_now()

    def _watch(self) -> None:
        with self._lock:
            if self._closed:
                return
        try:
            self._loop.add_writer(self._fd, self._flush)
        except (OSError, ValueError, RuntimeError):
            with self._lock:
                self._close_now()

    def _flush(self) -> None:
        with self._lock:
            try:
                written = os.write(self._fd, self._buffer)
            except BlockingIOError:
                return
            except OSError:
                self._close_now()
                return
            del self._buffer[:written]
            if self._buffer:
                return
            self._watching = False
            self._loop.remove_writer(self._fd)
            if self._closing:
                self._close_now()

    def _close_now(self) -> None:  # with the lock held
        self._closing = True
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        if self._watching:
            self._watching = False
            with contextlib.suppress(Exception):
                self._loop.call_soon_threadsafe(self._loop.remove_writer, self._fd)
        with contextlib.suppress(OSError):
            os.close(self._fd)


class FrameReaderThread:
    """Reads a descriptor in a thread of its own and frames it there.

    Each body is first offered to ``now`` on this thread (a forward that needs nothing
    else); when ``now`` declines, the body is handed to ``on_body`` on the event loop.
    Nothing overtakes: while a handed body has not been handled yet, later bodies are
    handed too (``now`` is not asked), so the loop sees them in the order they came.
    ``closed`` is set once everything before the end of input has been handled.
    """

    def __init__(
        self,
        fd: int,
        name: str,
        on_bad_frame: Callable[[str], None] | None = None,
        *,
        close_fd: bool = False,
    ) -> None:
        self._fd = fd
        self._name = name
        self._close_fd = close_fd
        self._loop = asyncio.get_running_loop()
        self.parser = FrameParser(self._on_thread_body, on_bad_frame)
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._on_body: Callable[[bytes], None] | None = None
        self._now: Callable[[bytes], bool] | None = None
        self._handed = 0  # written by the reading thread only
        self._handled = 0  # written by the loop only

    def bind(
        self, on_body: Callable[[bytes], None], now: Callable[[bytes], bool] | None = None
    ) -> None:
        """Start reading: bodies go to ``now`` (this thread) or else ``on_body`` (the loop)."""
        self._on_body = on_body
        self._now = now
        threading.Thread(target=self._run, name=self._name, daemon=True).start()

    def close_unstarted(self) -> None:
        """Close the descriptor of a reader that will never be bound."""
        if self._close_fd:
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def _run(self) -> None:
        fd, feed = self._fd, self.parser.feed
        try:
            os.set_blocking(fd, True)
            while data := os.read(fd, 65536):
                feed(data)
        except OSError as exc:
            logger.debug("%s: read failed: %s", self._name, exc)
        finally:
            if self._close_fd:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(self._end)

    def _on_thread_body(self, body: bytes) -> None:
        now = self._now
        if now is not None and self._handed == self._handled:
            try:
                if now(body):
                    return
            except Exception:
                logger.exception("%s: forwarding failed; handing the message over", self._name)
        self._handed += 1
        self._loop.call_soon_threadsafe(self._deliver, body)

    def _deliver(self, body: bytes) -> None:
        try:
            assert self._on_body is not None  # bound before the thread started
            self._on_body(body)
        finally:
            self._handled += 1

    def _end(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def open_stdio(
    on_bad_frame: Callable[[str], None] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> tuple[FrameReaderThread, FrameWriter]:
    """Read stdin in a thread, write stdout through a ``PipeWriter``; fd 1 for the protocol only.

    The protocol gets a private duplicate of stdout, and fd 1 is then pointed at stderr,
    so a stray ``print`` (ours or a library's) can never corrupt the JSON-RPC stream.
    stdin may be a pipe, a file, ``/dev/null`` or a terminal: it is read with blocking
    reads in a thread (epoll refuses files and ``/dev/null``), which starts at ``bind``.
    """
    loop = asyncio.get_running_loop()
    in_file = stdin or sys.stdin.buffer
    out_file = stdout or sys.stdout.buffer
    receiver = FrameReaderThread(in_file.fileno(), "punie-stdin", on_bad_frame)
    out_fd = out_file.fileno()
    protocol_fd = os.dup(out_fd)
    if out_fd == 1:
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    return receiver, FrameWriter(PipeWriter(protocol_fd, loop))


def pollable(fd: int) -> bool:
    """Whether epoll takes ``fd``: pipes, sockets and terminals do; files and /dev/null not."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)
