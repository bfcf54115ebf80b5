"""Scripted models for end-to-end tests, loaded by the server through the test-only hook.

``PUNIE_LSP_MODEL_FACTORY=tests.scripted_models:NAME`` makes punie-lsp call ``NAME()``
for its model instead of loading ``model``: a Pydantic AI ``FunctionModel`` that plays a
fixed script (the real agent, sandbox, typed tools and ty run around it). Each step is
code for ``execute_code`` or a final answer, streamed in chunks like a real backend.
``PUNIE_TEST_CHUNK_DELAY`` slows the stream (for cancellation and concurrency tests).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel


@dataclass(frozen=True)
class Code:
    code: str


def _played(messages: list[ModelMessage]) -> int:
    """Steps already played in this prompt: tool returns since the last user prompt."""
    played = 0
    for message in reversed(messages):
        if not isinstance(message, ModelRequest):
            continue
        if any(isinstance(p, ToolReturnPart) for p in message.parts):
            played += 1
        elif any(p.part_kind == "user-prompt" for p in message.parts):
            break
    return played


def scripted(name: str, steps: Sequence[Code | str]) -> FunctionModel:
    delay = float(os.environ.get("PUNIE_TEST_CHUNK_DELAY", "0"))

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        step = steps[min(_played(messages), len(steps) - 1)]
        if isinstance(step, Code):
            await asyncio.sleep(delay)
            yield {0: DeltaToolCall(name="execute_code", json_args=json.dumps({"code": step.code}))}
            return
        for word in step.split(" "):
            await asyncio.sleep(delay)
            yield word + " "

    return FunctionModel(stream_function=stream, model_name=name)


def hello() -> FunctionModel:
    return scripted("hello", ["Hello from Punie: your code looks fine."])


FIX_APP = Code(
    'text = read_file("pkg/app.py")\n'
    'fixed = text.replace(\'return "not an int"\', "return 1")\n'
    'write_file("pkg/app.py", fixed)\n'
    'typecheck("pkg/app.py").error_count'
)


def fixer() -> FunctionModel:
    return scripted("fixer", [FIX_APP, "Fixed: broken() now returns an int."])


def test_writer() -> FunctionModel:
    return scripted(
        "test-writer",
        [
            Code(
                'write_file("tests/test_app.py", "from pkg.app import broken\\n\\n\\n'
                'def test_broken():\\n    assert broken() is not None\\n")\n'
                'list_files("tests/*.py").files'
            ),
            "Wrote tests/test_app.py.",
        ],
    )


def chatterbox() -> FunctionModel:
    """A long answer, word by word: stays busy while a test cancels or races it."""
    return scripted("chatterbox", [" ".join(["word"] * 400)])


def tool_user() -> FunctionModel:
    """Calls typed tools on ``benchmarks.proxy_overhead.make_workspace``'s workspace, then
    answers: an agent at work rather than writing (``benchmarks/surfaces.py --model tools``)."""
    return scripted(
        "tool-user",
        [
            Code(
                'r = ruff_check(".")\n'
                't = typecheck(".")\n'
                's = document_symbols("pkg/big.py")\n'
                'g = git_status(".")\n'
                'f = read_file("pkg/big.py")\n'
                "print(r.violation_count, t.error_count, s.symbol_count, g.success, len(f))"
            ),
            "Checked the workspace.",
        ],
    )


def echo() -> FunctionModel:
    """Answers with the prompt it was given (the last user turn), to check what it saw."""

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        prompts = [
            p.content
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if p.part_kind == "user-prompt"
        ]
        yield str(prompts[-1])

    return FunctionModel(stream_function=stream, model_name="echo")
