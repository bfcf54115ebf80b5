"""LSP base-protocol framing over asyncio streams.

The base protocol is a header block (``Content-Length`` is required, ``Content-Type``
optional) then a JSON body. pygls' own stdio reader hops to a thread three times per
message (two header lines and the body); a proxy whose budget is a fraction of a
millisecond cannot afford that, so stdin and stdout are asyncio pipes here and pygls'
protocol object is fed whole bodies from one loop (see ``server.serve``).

Framing errors are survivable: a header block without a usable length is skipped and
reported through ``on_bad_frame`` instead of ending the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

__all__ = [
    "FrameWriter",
    "frame",
    "open_stdio",
    "peek_response_id",
    "read_frame",
]

_MAX_HEADER_LINES = 32
"""More header lines than any client sends: past this the peer is not speaking LSP."""


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


async def read_frame(
    reader: asyncio.StreamReader, on_bad_frame: Callable[[str], None] | None = None
) -> bytes | None:
    """Read one message body; ``None`` at end of stream.

    A header block with no valid ``Content-Length`` is reported and skipped: the next
    header block is read instead, so one corrupt frame cannot end the session.
    """
    while True:
        length: int | None = None
        problem: str | None = None
        for _ in range(_MAX_HEADER_LINES):
            try:
                line = await reader.readline()
            except ValueError:  # a line longer than the stream limit: not a header
                problem = "header line too long"
                continue
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                break
            name, sep, value = line.partition(b":")
            if sep and name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    problem = f"bad Content-Length {value.strip()[:40]!r}"
                if length is not None and length < 0:
                    problem, length = f"negative Content-Length {length}", None
        else:
            problem = "header block without an end"
        if length is None:
            if on_bad_frame is not None:
                on_bad_frame(problem or "header block without Content-Length")
            continue
        try:
            return await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return None


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
    stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> tuple[asyncio.StreamReader, FrameWriter]:
    """Connect stdin/stdout as asyncio pipes, keeping fd 1 for the protocol only.

    The protocol gets a private duplicate of stdout, and fd 1 is then pointed at stderr,
    so a stray ``print`` (ours or a library's) can never corrupt the JSON-RPC stream.
    """
    loop = asyncio.get_running_loop()
    in_file = stdin or sys.stdin.buffer
    out_file = stdout or sys.stdout.buffer
    reader = asyncio.StreamReader(limit=1 << 20)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), in_file)
    except (OSError, ValueError):  # a regular file or a TTY cannot be polled: use a thread
        _feed_from_thread(loop, reader, in_file)

    out_fd = out_file.fileno()
    protocol_fd = os.dup(out_fd)
    if out_fd == 1:
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    protocol_out = os.fdopen(protocol_fd, "wb", buffering=0)
    try:
        transport, _ = await loop.connect_write_pipe(asyncio.Protocol, protocol_out)
    except (OSError, ValueError):  # stdout redirected to a regular file
        return reader, FrameWriter(_FileTransport(protocol_out))
    return reader, FrameWriter(transport)


def _feed_from_thread(
    loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader, file: BinaryIO
) -> None:
    def pump() -> None:
        read = getattr(file, "read1", file.read)
        while chunk := read(65536):
            loop.call_soon_threadsafe(reader.feed_data, chunk)
        loop.call_soon_threadsafe(reader.feed_eof)

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
