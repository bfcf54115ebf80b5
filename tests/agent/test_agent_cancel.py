"""Cancelling a run: the model stops generating and the sandbox stops, within a second.

The cancel event is set from the progress reporter when the run reaches the point under
test (first streamed word, a tool call inside a busy program), so nothing sleeps to wait;
only the scripted model is slow, as a real one is.
"""

from __future__ import annotations

import asyncio
import time

from agent import AgentDeps, ProgressEvent
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
