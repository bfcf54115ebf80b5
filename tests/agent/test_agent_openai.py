"""The ``openai:`` backend through Pydantic AI's real OpenAI client, against a local stub.

The stub is a small OpenAI-compatible server (``http.server`` in a thread) that streams a
scripted ``execute_code`` call, then an answer once it is sent the tool's result; the
request bodies it records show what the agent put on the wire. No network is used: the
server listens on 127.0.0.1 and ``ALLOW_MODEL_REQUESTS`` stays off for other models.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from agent import AgentConfig, AgentDeps, ModelSpecError, PunieAgent
from agent.code_mode import CodeModeTools
from tests.agent.conftest import closed_port


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stub",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def tool_call_chunks(code: str) -> list[dict[str, Any]]:
    function = {"name": "execute_code", "arguments": ""}
    call = {"index": 0, "id": "call_1", "type": "function", "function": function}
    args = json.dumps({"code": code})
    return [
        chunk({"role": "assistant", "tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:10]}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[10:]}}]}),
        chunk({}, finish="tool_calls"),
    ]


def answer_chunks(text: str) -> list[dict[str, Any]]:
    return (
        [chunk({"role": "assistant", "content": ""})]
        + [chunk({"content": word + " "}) for word in text.split()]
        + [chunk({}, finish="stop")]
    )


class StubServer(ThreadingHTTPServer):
    """The stub, recording every request body it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.bodies: list[dict[str, Any]] = []


class StubHandler(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: a tool call first, an answer once a tool result arrives."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert isinstance(self.server, StubServer)
        self.server.bodies.append(body)
        answered = any(m.get("role") == "tool" for m in body["messages"])
        chunks = answer_chunks("The answer is 42.") if answered else tool_call_chunks("6 * 7")
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for item in [*chunks, {**chunk({}), "choices": [], "usage": usage}]:
            self.wfile.write(f"data: {json.dumps(item)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on recorded bodies, not on logs."""


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    server = StubServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.usefixtures("allow_requests")
async def test_a_tool_call_and_an_answer_through_the_openai_client(
    stub_server: StubServer, deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    host, port = stub_server.server_address[:2]
    config = AgentConfig(model="openai:stub", base_url=f"http://{host}:{port}/v1")
    agent = PunieAgent(config, tools=code_tools)

    result = await agent.ask("What is six times seven?", deps)

    assert (result.outcome, result.error) == ("ok", None)
    assert result.answer == "The answer is 42. "
    assert result.code == ["6 * 7"]
    bodies = stub_server.bodies
    assert len(bodies) == 2
    first, second = bodies
    assert first["model"] == "stub"
    assert first["stream"] is True
    assert [t["function"]["name"] for t in first["tools"]] == ["execute_code"]
    assert first["messages"][0]["role"] == "system"
    assert "def typecheck(" in first["messages"][0]["content"]
    assert first["temperature"] == config.temperature
    tool_message = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_message["content"] == "value: 42"
    assert result.usage.input_tokens == 22
    assert agent.status().error is None


@pytest.mark.usefixtures("allow_requests")
async def test_an_endpoint_that_does_not_answer_is_named(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    agent = PunieAgent(AgentConfig(model="openai:qwen-coder", base_url=url), tools=code_tools)

    started = time.perf_counter()
    result = await agent.ask("Hello?", deps)

    assert time.perf_counter() - started < 5
    assert result.outcome == "model_error"
    assert result.error is not None
    assert "openai:qwen-coder" in result.error
    assert url in result.error
    assert "cannot reach" in result.error
    assert agent.status().error == result.error


@pytest.mark.parametrize("key", [None, "sk-set-for-another-tool"])
def test_openai_without_a_base_url_is_refused_whatever_the_environment_says(
    key: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``OPENAI_API_KEY`` set, an ``openai:`` model without a base URL was built with
    the OpenAI client's own endpoint (``OPENAI_BASE_URL``, else api.openai.com): a model
    meant for a local server sent the prompt and the user's code to OpenAI. There is no
    default server: it is refused naming the setting, whatever the environment holds."""
    if key is None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    else:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(ModelSpecError, match=r"needs a base URL \(punie.baseUrl\).*no default"):
        PunieAgent(AgentConfig(model="openai:qwen"))
    with pytest.raises(ModelSpecError, match=r"needs a base URL \(--base-url\)"):
        PunieAgent(AgentConfig(model="openai:qwen", surface="cli"))


@pytest.mark.parametrize("url", ["localhost:11434", "http://", "ftp://host/v1"])
def test_a_base_url_that_is_not_a_url_is_refused_by_the_settings(url: str) -> None:
    """The rule lives on ``Settings.base_url``; each surface names it its way (tested in
    ``test_settings.py`` for ``punie.baseUrl`` and ``test_agent_cli.py`` for ``--base-url``)."""
    with pytest.raises(ValidationError, match=r"must be an http:// or https:// URL.*/v1"):
        AgentConfig(model="openai:qwen", base_url=url)


class NoToolsHandler(BaseHTTPRequestHandler):
    """Ollama's answer for a model without tool support (HTTP 400, its own words)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = {
            "error": {
                "message": "registry.ollama.ai/library/gemma:2b does not support tools",
                "type": "api_error",
                "param": None,
                "code": None,
            }
        }
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.mark.usefixtures("allow_requests")
async def test_a_server_without_tool_support_is_named_as_such(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NoToolsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        config = AgentConfig(model="openai:gemma:2b", base_url=f"http://{host}:{port}/v1")
        result = await PunieAgent(config, tools=code_tools).ask("Hello?", deps)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    assert result.outcome == "model_error"
    assert result.error is not None
    assert "does not accept tool calls" in result.error
    assert "does not support tools" in result.error
    assert "\n" not in result.error


@pytest.mark.usefixtures("allow_requests")
async def test_the_command_line_is_told_its_flag(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    config = AgentConfig(model="openai:qwen", base_url=url, surface="cli")

    result = await PunieAgent(config, tools=code_tools).ask("Hello?", deps)

    assert result.error is not None
    assert "fix --base-url" in result.error
    assert "punie." not in result.error


class WrongPathHandler(BaseHTTPRequestHandler):
    """Not an OpenAI API where the base URL points: an HTML 404, or a broken stream."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        broken = self.path.startswith("/broken")
        self.send_response(200 if broken else 404)
        self.send_header("Content-Type", "text/event-stream" if broken else "text/html")
        self.end_headers()
        self.wfile.write(b"data: {not json\n\n" if broken else b"<html>Not Found</html>")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.mark.parametrize("path", ["", "/broken"])
@pytest.mark.usefixtures("allow_requests")
async def test_an_endpoint_that_is_not_an_openai_api_points_at_the_base_url(
    path: str, deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), WrongPathHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        config = AgentConfig(model="openai:qwen", base_url=f"http://{host}:{port}{path}")
        result = await PunieAgent(config, tools=code_tools).ask("Hello?", deps)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    assert result.outcome == "model_error"
    assert result.error is not None
    assert "punie.baseUrl" in result.error and "/v1" in result.error
    assert "\n" not in result.error
