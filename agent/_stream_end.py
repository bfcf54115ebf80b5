"""An OpenAI-compatible stream that ends before the reply does is an error, not an answer.

The ``openai`` client ends a streamed chat completion quietly whenever the body ends: a
server that dies mid-answer (``mlx_lm server`` killed or out of memory: its responses
are HTTP/1.0, so the end of the body is the closed connection) looks like a finished
reply, and its half answer became the agent's answer with outcome ``ok``. A server that
answers a streamed request with HTTP 200 and a JSON error body instead of a stream
(worker-vllm#57: ``{"code": 404, "message": "The model … does not exist."}``) gave "ended
without content", its message lost. Clients of such servers learned to check the end
(vercel/ai#19165, can1357/oh-my-pi#8563: "fail truncated OpenAI-compatible streams instead
of silently stopping").

``StreamEndCheck`` wraps the HTTP transport of the ``openai:`` backend's client and
reads the server-sent events of each streamed ``/chat/completions`` answer as they
pass: a stream that ends with neither ``data: [DONE]`` nor a chunk carrying a
``finish_reason`` raises ``StreamEnded`` (an ``httpx2.RemoteProtocolError``, which the
client reports as a broken connection) with what was wrong, the server's own error
message when its body was one. Either end marker is enough: Ollama sent
``finish_reason: ""`` on every chunk (ollama/ollama#4357) but ends with ``[DONE]``.
Nothing else is changed; bytes pass through as they come.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx2

__all__ = ["StreamEndCheck", "StreamEnded"]

_KEEP = 4096
"""Bytes of a body that is not a stream kept to name the server's error."""


class StreamEnded(httpx2.RemoteProtocolError):
    """The server's streamed answer ended before the reply did; the message says how."""


class StreamEndCheck(httpx2.AsyncBaseTransport):
    """A transport that checks each streamed chat completion ends as the API says it does."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        stream = response.stream
        if (
            response.status_code == 200
            and isinstance(stream, httpx2.AsyncByteStream)
            and _streamed_completion(request)
        ):
            response.stream = _CheckedStream(stream, request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _streamed_completion(request: httpx2.Request) -> bool:
    if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
        return False
    try:
        return json.loads(request.content).get("stream") is True
    except (ValueError, AttributeError, httpx2.RequestNotRead):
        return False


class _CheckedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, request: httpx2.Request) -> None:
        self.inner = inner
        self.request = request
        self.line = b""
        self.ended = False  # [DONE] or a finish_reason seen
        self.events = False  # any ``data:`` line seen
        self.head = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self.inner:
            if not self.ended:
                self._read(part)
            yield part
        if self.line:
            self._line(self.line)
        if not self.ended:
            raise StreamEnded(self._problem(), request=self.request)

    def _read(self, part: bytes) -> None:
        if len(self.head) < _KEEP:
            self.head += part[: _KEEP - len(self.head)]
        *lines, self.line = (self.line + part).split(b"\n")
        for line in lines:
            self._line(line)

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        self.events = True
        data = line[5:].strip()
        if data.startswith(b"[DONE]"):
            self.ended = True
        elif b'"finish_reason"' in data:
            try:
                choices = json.loads(data).get("choices") or []
            except (ValueError, AttributeError):
                return
            self.ended = any(isinstance(c, dict) and c.get("finish_reason") for c in choices)

    def _problem(self) -> str:
        if not self.events:
            message = _error_message(self.head)
            if message is not None:
                return f"answered with an error instead of a stream: {message}"
            if self.head.strip():
                return "answered with something that is not a stream of chat completion chunks"
            return "answered with an empty body"
        return "closed its stream before the reply ended (no finish_reason, no data: [DONE])"

    async def aclose(self) -> None:
        await self.inner.aclose()


def _error_message(body: bytes) -> str | None:
    """The server's error in a JSON body (``{"error": {"message": …}}``, ``{"error": "…"}``
    as Ollama writes it, or ``{"message": …}``), in one line."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error", data)
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail")
    if not isinstance(error, str) or not error.strip():
        return None
    return " ".join(error.split())
