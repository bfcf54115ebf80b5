"""LSP base-protocol framing, and the asyncio side of a connection.

The base protocol is a header block (``Content-Length`` is required, ``Content-Type``
optional) then a JSON body. ``FrameParser`` frames bytes as they arrive, wherever they
come from; ``FrameWriter`` frames what punie writes. A TCP connection is served by
asyncio transports (``FrameReceiver``); stdio and ty's pipes by the threads of
``wire.pipes``.

Framing errors are survivable: a header block without a usable length is skipped and
reported through ``on_bad_frame`` instead of ending the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from typing import Protocol

__all__ = ["FrameParser", "FrameReceiver", "FrameWriter", "Sink", "frame", "peek_response_id"]

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

    @property
    def unfinished(self) -> bool:
        """Whether a message was begun and not completed (the input ended inside it)."""
        return self._need >= 0 or bool(self._buffer.strip())

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
    loop's may write (a sink's own ``thread_safe``: true for ``pipes.PipeWriter``).
    """

    thread_safe: bool = False

    def __init__(self, transport: Sink) -> None:
        self._transport = transport
        self.thread_safe = getattr(transport, "thread_safe", False)

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
