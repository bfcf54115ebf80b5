"""A scripted OpenAI-compatible model server for editor end-to-end tests.

punie-lsp talks to it as to any ``openai:`` endpoint (``punie.model = "openai:scripted"``,
``punie.baseUrl`` = its ``url``), through Pydantic AI's real OpenAI client, so the whole
path an editor user takes — settings, the agent, the sandbox, the typed tools, ty, the
edit — is real; only the model is scripted (a real one cannot run here).

``POST /v1/chat/completions`` streams server-sent events the way OpenAI's API does. The
reply is the step of ``script`` numbered by the tool results since the latest user
message: a ``Code`` step streams an ``execute_code`` call, a string streams that answer
word by word, a ``Fail`` step answers with an HTTP error, a ``Held`` step streams its
first words and holds the stream open until the test releases it (a run still
answering), and ``Each`` gives each request reaching it the next of its steps (runs going
at once answered apart). Every request body is recorded in ``bodies``.
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


@dataclass(frozen=True)
class Held:
    """A step that streams ``before``, then holds the stream open until ``release`` is set
    (at most ``HOLD_SECONDS``), then streams ``after`` (words, or a ``Code`` call): a
    model still answering."""

    before: str
    after: str | Code
    release: threading.Event


@dataclass(frozen=True)
class Each:
    """A step whose n-th request gets ``steps[n]`` (the last one once they run out)."""

    steps: Sequence[Code | Fail | Held | str]


HOLD_SECONDS = 60.0
"""How long a ``Held`` step waits for its release before streaming the rest anyway."""


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
        self.script: Sequence[Code | Fail | Held | Each | str] = ["(no script set)"]
        self.bodies: list[dict[str, Any]] = []
        self._each_lock = threading.Lock()
        self._each_count: dict[int, int] = {}

    def each(self, step: Each) -> Code | Fail | Held | str:
        """The step of ``step.steps`` this request gets: the next one, in arrival order."""
        with self._each_lock:
            n = self._each_count.get(id(step), 0)
            self._each_count[id(step)] = n + 1
        return step.steps[min(n, len(step.steps) - 1)]

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
        if isinstance(step, Each):
            step = server.each(step)
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
        if isinstance(step, Held):
            self._send(_chunks(step.before, turn)[:-1])  # no finish: the reply goes on
            step.release.wait(HOLD_SECONDS)
            if isinstance(step.after, Code):
                self._send(_chunks(step.after, turn))
            else:
                self._send([_chunk({"content": word + " "}) for word in step.after.split(" ")])
                self._send([_chunk({}, finish="stop")])
        else:
            self._send(_chunks(step, turn))
        self._send([{**_chunk({}), "choices": [], "usage": usage}])
        self.wfile.write(b"data: [DONE]\n\n")

    def _send(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.wfile.write(f"data: {json.dumps(item)}\n\n".encode())
            self.wfile.flush()

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
