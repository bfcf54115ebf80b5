"""mlx-lm behaviour that ``agent/_upstream.py`` works around, shown on mlx-lm alone.

Each upstream test states what mlx-lm does today; when one starts failing, upstream has
changed and the workaround it names can go.
"""

from __future__ import annotations

import json
import subprocess
import sys

from mlx_lm.tool_parsers import qwen3_coder

HEAVY = ("mlx.core", "transformers", "numpy", "huggingface_hub")
"""What the whole of mlx-lm brings into a process (none of it needed to parse text)."""

CALL = "<function=execute_code>\n<parameter=code>\nprint('hi')\n</parameter>\n</function>"
"""A call as the parser takes it: what is between ``<tool_call>`` and ``</tool_call>``."""
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "execute_code",
            "parameters": {"type": "object", "properties": {"code": {"type": "string"}}},
        },
    }
]


def loaded_after(statement: str) -> dict[str, bool]:
    """Which of ``HEAVY`` a fresh interpreter has loaded after running ``statement``."""
    report = f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    probe = f"import json, sys\n{statement}\n{report}"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_upstream_parser_import_loads_all_of_mlx_lm() -> None:
    loaded = loaded_after("from mlx_lm.tool_parsers import qwen3_coder")
    assert all(loaded.values()), loaded


def test_the_parser_alone_loads_none_of_it() -> None:
    statement = (
        "from agent._upstream import qwen3_coder_parser\n"
        "parse = qwen3_coder_parser()\n"
        f"assert parse({CALL!r}, {TOOLS!r})['arguments'] == {{'code': \"print('hi')\"}}"
    )
    loaded = loaded_after(statement)
    assert not any(loaded.values()), loaded


def test_the_parser_alone_parses_as_upstream_does() -> None:
    from agent._upstream import qwen3_coder_parser

    parse = qwen3_coder_parser()
    assert parse is not None
    assert parse(CALL, TOOLS) == qwen3_coder.parse_tool_call(CALL, TOOLS)
    assert parse(CALL, TOOLS)["arguments"] == {"code": "print('hi')"}


RECOGNISE = f"""
import asyncio
from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ToolReturnPart
from pydantic_ai.models.function import FunctionModel
from agent.recognising_model import ToolCallRecognition

async def stream(messages, info):
    if any(isinstance(p, ToolReturnPart) for m in messages if isinstance(m, ModelRequest)
           for p in m.parts):
        yield "done"
        return
    yield "<tool_call>\\n"
    yield {CALL!r}
    yield "\\n</tool_call>"

ran = []
agent = Agent(ToolCallRecognition(FunctionModel(stream_function=stream), code_functions=[]))

@agent.tool_plain
def execute_code(code: str) -> str:
    ran.append(code)
    return "ok"

result = asyncio.run(agent.run("hi"))
assert ran == ["print('hi')"] and result.output == "done", (ran, result.output)
"""


def test_a_qwen3_coder_call_is_recognised_without_loading_mlx_lm() -> None:
    """The server's process recognised the model's first Qwen3-Coder XML call by
    importing the whole of mlx-lm (1.4 s holding the interpreter, mid-session)."""
    loaded = loaded_after(RECOGNISE)
    assert not any(loaded.values()), loaded
