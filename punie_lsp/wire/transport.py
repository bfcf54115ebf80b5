"""LSP base-protocol framing over asyncio streams.

The base protocol is a header block (``Content-Length`` is required, ``Content-Type``
optional) then a JSON body. pygls' own stdio reader hops to a thread three times per
message (two header lines and the body), and even an asyncio ``StreamReader`` costs
three awaits and a task wake-up per message; a proxy whose budget is a fraction of a
millisecond cannot afford either. So stdin, stdout and ty's pipes are asyncio
transports whose data callbacks frame bytes on the spot (``FrameParser``): a response
from ty is routed and written to the editor in the callback that received it.

Framing errors are survivable: a header block without a usable length is skipped and
reported through ``on_bad_frame`` instead of ending the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import stat
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

__all__ = [
    "FrameParser",
    "FrameReceiver",
    "FrameWriter",
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
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEADER_BYTES:  # not LSP: drop what cannot be a header
                    self._bad("header block without an end")
                    del buffer[: -len(b"Content-Length: 2147483647\r\n")]
                return
            length, problem = _content_length(bytes(buffer[:end]))
            if length is None:
                self._bad(problem)
                del buffer[: end + 4]
                continue
            total = end + 4 + length
            if len(buffer) < total:
                return
            body = bytes(buffer[end + 4 : total])
            del buffer[:total]
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


class FrameWriter:
    """Writes framed messages to an asyncio write transport (never blocks the loop).

    It also satisfies pygls' writer interface (``write`` takes an already framed
    message, ``close``), so pygls' own responses go out through the same transport and
    stay ordered with forwarded ones.
    """

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport

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


async def open_stdio(
    on_bad_frame: Callable[[str], None] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> tuple[FrameReceiver, FrameWriter]:
    """Connect stdin/stdout as asyncio pipes, keeping fd 1 for the protocol only.

    The protocol gets a private duplicate of stdout, and fd 1 is then pointed at stderr,
    so a stray ``print`` (ours or a library's) can never corrupt the JSON-RPC stream.
    """
    loop = asyncio.get_running_loop()
    in_file = stdin or sys.stdin.buffer
    out_file = stdout or sys.stdout.buffer
    receiver = FrameReceiver(on_bad_frame)
    if _pollable(in_file.fileno()):
        await loop.connect_read_pipe(lambda: receiver, in_file)
    else:
        _feed_from_thread(loop, receiver, in_file)

    out_fd = out_file.fileno()
    protocol_fd = os.dup(out_fd)
    if out_fd == 1:
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    protocol_out = os.fdopen(protocol_fd, "wb", buffering=0)
    if not _pollable(protocol_fd):
        return receiver, FrameWriter(_FileTransport(protocol_out))
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, protocol_out)
    return receiver, FrameWriter(transport)


def _pollable(fd: int) -> bool:
    """Whether epoll takes ``fd``: pipes, sockets and terminals do; files and /dev/null not.

    asyncio's pipe transports accept any character device but register it with the
    selector only in a later callback, where epoll's ``EPERM`` for ``/dev/null`` (or a
    regular file) is logged as a traceback and the session hangs; so the choice is made
    here, by file type, and the others are read in a thread (``_feed_from_thread``).
    """
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


def _feed_from_thread(
    loop: asyncio.AbstractEventLoop, receiver: FrameReceiver, file: BinaryIO
) -> None:
    def pump() -> None:
        read = getattr(file, "read1", file.read)
        while chunk := read(65536):
            loop.call_soon_threadsafe(receiver.data_received, chunk)
        loop.call_soon_threadsafe(receiver.eof_received)

    threading.Thread(target=pump, name="punie-stdin", daemon=True).start()


class _FileTransport(asyncio.WriteTransport):
    """A blocking write transport for an output that cannot be polled (a regular file)."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self._file = file
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True
        self._file.close()
