"""Scripted models for the Neovim end-to-end tests (``PUNIE_LSP_MODEL_FACTORY``).

punie-lsp calls ``module:callable`` from that variable for its model instead of loading
one: a Pydantic AI ``FunctionModel`` that streams a fixed script. The real agent,
sandbox, typed tools, ty and editor run around it; only the model is fake (a real one
cannot run here). ``PUNIE_TEST_CHUNK_DELAY`` (seconds) spaces the answer's words.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

ANSWER = "Hello from Punie: origin_distance returns the norm of a Point."

FIX = (
    'text = read_file("pkg/app.py")\n'
    "write_file(\"pkg/app.py\", text.replace('return \"not an int\"', 'return 0'))\n"
    'typecheck("pkg/app.py").error_count'
)


def _tool_returns(messages: list[ModelMessage]) -> int:
    """Tool results since the latest user prompt: how far into the script this turn is."""
    count = 0
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            if any(isinstance(p, ToolReturnPart) for p in message.parts):
                count += 1
            elif any(p.part_kind == "user-prompt" for p in message.parts):
                break
    return count


def _script(name: str, code: str | None, answer: str) -> FunctionModel:
    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        if code is not None and _tool_returns(messages) == 0:
            yield {0: DeltaToolCall(name="execute_code", json_args=json.dumps({"code": code}))}
            return
        delay = float(os.environ.get("PUNIE_TEST_CHUNK_DELAY", "0"))
        for word in answer.split(" "):
            await asyncio.sleep(delay)
            yield word + " "

    return FunctionModel(stream_function=stream, model_name=name)


def hello() -> FunctionModel:
    """Answers at once, in words streamed one by one."""
    return _script("hello", None, ANSWER)


def fixer() -> FunctionModel:
    """Proposes pkg/app.py with broken() returning an int, then says so."""
    return _script("fixer", FIX, "Fixed: broken() now returns 0, an int.")


APPEND = (
    'text = read_file("pkg/app.py")\n'
    'write_file("pkg/app.py", text + "\\n\\ndef added() -> int:\\n    return 1\\n")\n'
    'write_file("pkg/crlf.py", read_file("pkg/crlf.py") + "y = 2\\r\\n")\n'
    'write_file("pkg/new_module.py", "def new() -> int:\\n    return 2\\n")'
)


def appender() -> FunctionModel:
    """Appends a function to pkg/app.py and a line to pkg/crlf.py, and creates
    pkg/new_module.py: edits at the end of a file that ends with a line break and a new
    file (the most common edits: a new function, a new test file)."""
    return _script("appender", APPEND, "Added added() at the end.")
