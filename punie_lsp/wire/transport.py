"""LSP base-protocol framing, and the pipes punie-lsp reads and writes.

The base protocol is a header block (``Content-Length`` is required, ``Content-Type``
optional) then a JSON body. ``FrameParser`` frames bytes as they arrive.

A forwarded hover has a budget of a few hundredths of a millisecond, and each asyncio
hop (a loop iteration, a transport callback, ``call_soon``) costs about that much on a
loaded machine. So the editor's stdin and ty's stdout are each read by a thread of
their own (``FrameReaderThread``, blocking reads: it also takes files, ``/dev/null``
and terminals, which epoll refuses), and a message that only needs forwarding is
forwarded by that thread (the router's ``forward_now`` / ``answer_now``) without
waiting for the event loop; everything else is handed to the loop in order. The
writers (``PipeWriter``) are shared by the threads and the loop: they never block,
keep every frame whole and keep the order in which frames were written.
A TCP connection keeps asyncio transports (``FrameReceiver``) and no thread path.

Framing errors are survivable: a header block without a usable length is skipped and
reported through ``on_bad_frame`` instead of ending the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import stat
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO, Protocol

logger = logging.getLogger(__name__)

__all__ = [
    "FrameParser",
    "FrameReaderThread",
    "FrameReceiver",
    "FrameWriter",
    "PipeWriter",
    "frame",
    "open_stdio",
    "peek_response_id",
]

_MAX_HEADER_BYTES = 64 * 1024
"""A header block longer than any client sends: past this the peer is not speaking LSP."""


_RESPONSE_PREFIX = re.compile(
    rb'\{"jsonrpc":"2\.0","id":(-?\d+|"(?:[^"\\]|\\.)*"),"(?:result|error)":'
)


def peek_response_id(body: bytes) -> int | str | None:
    """The id of a response serialized as ``{"jsonrpc":"2.0","id":…,"result"|"error":…``.

    ty writes responses in exactly that shape, so their id can be read without decoding
    a body that may be hundreds of kilobytes (a completion list): routing a response
    needs nothing else. Any other shape (including ``"id":null``) returns None and the
    caller decodes the whole message.
    """
    match = _RESPONSE_PREFIX.match(body)
    if match is None:
        return None
    raw = match.group(1)
    return int(raw) if raw[0] != 0x22 else str(json.loads(raw))


def frame(body: bytes) -> bytes:
    """Prefix ``body`` with its ``Content-Length`` header."""
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class FrameParser:
    """Incremental framing: ``feed`` it bytes as they arrive, it calls ``on_body`` per message.

    It runs inside the transport's data callback, so a message is routed in the same
    loop iteration that received it (no task hand-off per message). A header block with
    no valid ``Content-Length`` is reported and skipped, so one corrupt frame cannot end
    the session.
    """

    def __init__(
        self,
        on_body: Callable[[bytes], None] | None = None,
        on_bad_frame: Callable[[str], None] | None = None,
    ) -> None:
        self._buffer = bytearray()
        self._need = -1
        """The length of the body being read once its header is, else -1."""
        self._on_body = on_body
        self._on_bad_frame = on_bad_frame
        self._waiting: list[bytes] = []

    def bind(self, on_body: Callable[[bytes], None]) -> None:
        """Start delivering; bodies that arrived before are delivered first, in order."""
        self._on_body = on_body
        waiting, self._waiting = self._waiting, []
        for body in waiting:
            on_body(body)

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        need = self._need
        if need >= 0:  # a header was read: this is (part of) its body
            if not buffer and len(data) == need:  # the body, whole, as ty writes it
                self._need = -1
                self._deliver(data)
                return
            buffer += data
        elif not buffer and data.startswith(b"Content-Length: "):
            # The usual cases, cut without copying into the buffer: one whole frame with
            # a one-line header in one read (editors), or the header alone (ty writes the
            # header line, then the body). Anything else (a Content-Type line too, a
            # partial or several frames, a bad length) takes the general path below.
            end = data.find(b"\r\n\r\n")
            if end > 0:
                try:
                    length = int(data[16:end])
                except ValueError:
                    length = -1
                if length >= 0:
                    rest = len(data) - end - 4
                    if rest == length:
                        self._deliver(data[end + 4 :])
                        return
                    if rest == 0:
                        self._need = length
                        return
            buffer += data
        else:
            buffer += data
        while True:
            need = self._need
            if need < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > _MAX_HEADER_BYTES:  # not LSP: drop what cannot be a header
                        self._bad("header block without an end")
                        del buffer[: -len(b"Content-Length: 2147483647\r\n")]
                    return
                length, problem = _content_length(bytes(buffer[:end]))
                del buffer[: end + 4]
                if length is None:
                    self._bad(problem)
                    continue
                need = self._need = length
            if len(buffer) < need:
                return
            body = bytes(buffer[:need])
            del buffer[:need]
            self._need = -1
            self._deliver(body)

    def _deliver(self, body: bytes) -> None:
        if self._on_body is None:
            self._waiting.append(body)
        else:
            self._on_body(body)

    def _bad(self, problem: str) -> None:
        if self._on_bad_frame is not None:
            self._on_bad_frame(problem)


_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


def _content_length(header: bytes) -> tuple[int | None, str]:
    # Searched, not matched per line: junk before a header (a desynchronised peer) is
    # skipped and the frame after it still read.
    found = _CONTENT_LENGTH.search(header)
    if found is None:
        return None, "header block without Content-Length"
    value = found.group(1).strip()
    try:
        length = int(value)
    except ValueError:
        return None, f"bad Content-Length {value[:40]!r}"
    return (length, "") if length >= 0 else (None, f"negative Content-Length {length}")


class FrameReceiver(asyncio.Protocol):
    """A read transport's protocol that frames what it receives; ``closed`` at the end."""

    def __init__(self, on_bad_frame: Callable[[str], None] | None = None) -> None:
        self.parser = FrameParser(on_bad_frame=on_bad_frame)
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[asyncio.BaseTransport] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def bind(
        self, on_body: Callable[[bytes], None], now: Callable[[bytes], bool] | None = None
    ) -> None:
        """Deliver bodies to ``on_body`` on the loop (``now`` is for thread readers only)."""
        self.parser.bind(on_body)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.opened.done():
            self.opened.set_result(transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)

    def eof_received(self) -> bool:
        self._close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._close()

    def _close(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Sink(Protocol):
    """Where a ``FrameWriter`` writes: an asyncio write transport or a ``PipeWriter``."""

    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def close(self) -> None: ...


class FrameWriter:
    """Writes framed messages to a transport or a ``PipeWriter`` (never blocks the loop).

    It also satisfies pygls' writer interface (``write`` takes an already framed
    message, ``close``), so pygls' own responses go out through the same transport and
    stay ordered with forwarded ones. ``thread_safe``: whether threads other than the
    loop's may write (true for a ``PipeWriter``).
    """

    thread_safe: bool = False

    def __init__(self, transport: Sink) -> None:
        self._transport = transport
        self.thread_safe = isinstance(transport, PipeWriter)

    def write(self, data: bytes) -> None:
        """Write bytes that are already framed (pygls frames its own messages)."""
        if not self._transport.is_closing():
            self._transport.write(data)

    def write_body(self, body: bytes) -> None:
        """Frame ``body`` and write it."""
        self.write(frame(body))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._transport.close()


class PipeWriter:
    """Writes to a file descriptor from any thread: never blocks, frames stay whole.

    A write goes straight to ``os.write``; what the pipe cannot take now is buffered
    and flushed by the event loop when the descriptor is writable (``add_writer``), and
    later writes queue behind it, so the order of writes is the order of calls. An
    unpollable descriptor (a regular file, ``/dev/null``) is written blocking, which
    never waits. Errors (the reader went away) close the writer; later writes are
    dropped, as an asyncio transport drops them.
    """

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
