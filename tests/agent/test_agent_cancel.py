"""Cancelling a run: the model stops generating and the sandbox stops, within a second.

The cancel event is set from the progress reporter when the run reaches the point under
test (first streamed word, a tool call inside a busy program), so nothing sleeps to wait;
only the scripted model is slow, as a real one is.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent import AgentConfig, AgentDeps, ProgressEvent, PunieAgent
from agent.code_mode import CodeModeTools
from tests.agent.conftest import Code, Script, make_agent


def cancel_on(deps: AgentDeps, kind: str, events: list[ProgressEvent]) -> list[float]:
    """Report into ``events`` and set ``deps.cancel`` at the first event of ``kind``."""
    cancelled_at: list[float] = []

    def report(event: ProgressEvent) -> None:
        events.append(event)
        if event.kind == kind and not cancelled_at:
            cancelled_at.append(time.perf_counter())
            deps.cancel.set()

    deps.progress = report
    return cancelled_at


async def test_cancel_while_the_model_streams(
    deps: AgentDeps, code_tools: CodeModeTools, events: list[ProgressEvent]
) -> None:
    words = " ".join(f"word{i}" for i in range(40))
    script = Script([words], chunk_delay=0.25)  # 10 s of streaming if never stopped
    cancelled_at = cancel_on(deps, "text", events)

    result = await make_agent(script, code_tools).ask("Talk", deps)
    elapsed = time.perf_counter() - cancelled_at[0]

    assert result.outcome == "cancelled"
    assert elapsed < 1.0
    assert result.answer.startswith("word0")
    assert len([e for e in events if e.kind == "text"]) < 5
    assert not any(e.kind == "answer" for e in events)


async def test_cancel_stops_a_busy_program(
    deps: AgentDeps, code_tools: CodeModeTools, events: list[ProgressEvent]
) -> None:
    script = Script(
        [
            Code('write_file("a.py", "x = 1\\n")\nn = 0\nwhile True:\n    n += 1'),
            "never reached",
        ]
    )
    cancelled_at = cancel_on(deps, "toolCall", events)

    result = await make_agent(script, code_tools).ask("Spin", deps)
    elapsed = time.perf_counter() - cancelled_at[0]

    assert result.outcome == "cancelled"
    assert elapsed < 1.0
    assert result.edits == []  # a cancelled run proposes nothing
    assert len(script.requests) == 1


async def test_a_run_cancelled_before_it_starts_does_not_call_the_model(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script(["hello"])
    deps.cancel.set()

    result = await asyncio.wait_for(make_agent(script, code_tools).ask("Hi", deps), 5)

    assert result.outcome == "cancelled"
    assert script.requests == []


class _StallingHandler(BaseHTTPRequestHandler):
    """Streams one word, then holds the connection open until released (a slow server)."""

    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        first: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "created": 0}
        first |= {"model": "m", "choices": [{"index": 0, "delta": {"content": "Thinking "}}]}
        self.wfile.write(f"data: {json.dumps(first)}\n\n".encode())
        self.wfile.flush()
        self.release.wait(30)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.mark.usefixtures("allow_requests")
async def test_cancel_while_an_openai_server_streams(
    deps: AgentDeps, code_tools: CodeModeTools, events: list[ProgressEvent]
) -> None:
    """Through the recogniser and Pydantic AI's OpenAI client: the connection is dropped."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StallingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cancelled_at = cancel_on(deps, "text", events)
    try:
        host, port = server.server_address[:2]
        config = AgentConfig(model="openai:m", base_url=f"http://{host}:{port}/v1")
        result = await PunieAgent(config, tools=code_tools).ask("Talk", deps)
        elapsed = time.perf_counter() - cancelled_at[0]
    finally:
        _StallingHandler.release.set()
        server.shutdown()
        server.server_close()
        thread.join()

    assert result.outcome == "cancelled"
    assert elapsed < 1.0
    assert result.answer == "Thinking "


async def test_a_prompt_waiting_for_its_conversation_is_cancelled_at_once(
    deps: AgentDeps, code_tools: CodeModeTools, events: list[ProgressEvent]
) -> None:
    """Prompts in one conversation run one at a time: a second *Ask* waits for the first.
    Cancelling the waiting one (its own progress notification in VS Code) must end it at
    once, not when the first one ends: it waited on the conversation's lock, blind to
    ``cancel``, for as long as the first one ran (seen in code-server: a minute)."""
    words = " ".join(f"word{i}" for i in range(40))
    script = Script([words, "second"], chunk_delay=0.25)  # 10 s for the first
    agent = make_agent(script, code_tools)
    first_streams = asyncio.Event()
    deps.progress = lambda event: first_streams.set()
    first = asyncio.create_task(agent.ask("Talk", deps, conversation_id="c1"))
    await asyncio.wait_for(first_streams.wait(), 10)
    waiting = AgentDeps(tools=deps.tools, pool=deps.pool, limits=deps.limits)
    second = asyncio.create_task(agent.ask("And?", waiting, conversation_id="c1"))
    await asyncio.sleep(0)  # it reaches the conversation's lock
    cancelled_at = time.perf_counter()
    waiting.cancel.set()

    result = await asyncio.wait_for(second, 5)
    elapsed = time.perf_counter() - cancelled_at

    assert result.outcome == "cancelled"
    assert result.error is not None and "previous prompt" in result.error
    assert elapsed < 1.0
    assert not first.done()
    assert len(script.requests) == 1  # the cancelled prompt never reached the model
    deps.cancel.set()
    assert (await first).outcome == "cancelled"
    # The conversation is free again: its next prompt runs.
    after = AgentDeps(tools=deps.tools, pool=deps.pool, limits=deps.limits)
    again = await asyncio.wait_for(agent.ask("Again", after, conversation_id="c1"), 10)
    assert again.outcome == "ok"
    assert again.answer.strip() == "second"
