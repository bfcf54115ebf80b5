"""A scripted OpenAI-compatible model server for editor end-to-end tests.

punie-lsp talks to it as to any ``openai:`` endpoint (``punie.model = "openai:scripted"``,
``punie.baseUrl`` = its ``url``), through Pydantic AI's real OpenAI client, so the whole
path an editor user takes — settings, the agent, the sandbox, the typed tools, ty, the
edit — is real; only the model is scripted (a real one cannot run here).

``POST /v1/chat/completions`` streams server-sent events the way OpenAI's API does. The
reply is the step of ``script`` numbered by the tool results since the latest user
message: a ``Code`` step streams an ``execute_code`` call, a string streams that answer
word by word, a ``Fail`` step answers with an HTTP error. Every request body is
recorded in ``bodies``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Code:
    """A step that calls ``execute_code`` with this program."""

    code: str


@dataclass(frozen=True)
class Fail:
    """A step answered with an HTTP error and OpenAI's error body, as servers do."""

    status: int
    message: str


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _chunks(step: Code | str, turn: int) -> list[dict[str, Any]]:
    if isinstance(step, Code):
        args = json.dumps({"code": step.code})
        call = {
            "index": 0,
            "id": f"call_{turn}",
            "type": "function",
            "function": {"name": "execute_code", "arguments": ""},
        }
        return [
            _chunk({"role": "assistant", "tool_calls": [call]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:20]}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[20:]}}]}),
            _chunk({}, finish="tool_calls"),
        ]
    words = [_chunk({"content": word + " "}) for word in step.split(" ")]
    return [_chunk({"role": "assistant", "content": ""}), *words, _chunk({}, finish="stop")]


def _turn(messages: list[dict[str, Any]]) -> int:
    """Tool results since the latest user message: how far into the script this run is."""
    turn = 0
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "tool":
            turn += 1
    return turn


class ScriptedOpenAI(ThreadingHTTPServer):
    """The server on 127.0.0.1 (a free port); set ``script`` before each prompt."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: Sequence[Code | Fail | str] = ["(no script set)"]
        self.bodies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server = self.server
        assert isinstance(server, ScriptedOpenAI)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.bodies.append(body)
        turn = _turn(body.get("messages", []))
        script = server.script
        step = script[min(turn, len(script) - 1)]
        if isinstance(step, Fail):
            error = json.dumps(
                {"error": {"message": step.message, "type": "invalid_request_error"}}
            )
            self.send_response(step.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(error)))
            self.end_headers()
            self.wfile.write(error.encode())
            return
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for item in [*_chunks(step, turn), {**_chunk({}), "choices": [], "usage": usage}]:
            self.wfile.write(f"data: {json.dumps(item)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``bodies``."""


@contextmanager
def scripted_openai() -> Generator[ScriptedOpenAI]:
    """Serve until the block ends."""
    server = ScriptedOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
