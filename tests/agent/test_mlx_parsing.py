"""Tool calls read through mlx-lm's own parsers, the fenced-code fallback and the one workaround."""

from __future__ import annotations

import json

import pytest
from mlx_lm.generate import TextStateMachine
from mlx_lm.tool_parsers import json_tools, pythonic, qwen3_coder

from agent._mlx_chat import ParsedToolCall, ReplySplitter, fenced_code_call, parse_tool_text
from tests.agent.tiny_model import EXECUTE_CODE_TOOL

CODE = 'for v in ruff_check("src").violations:\n    print(v.code, v.line)'
EXPECTED = [ParsedToolCall(name="execute_code", arguments={"code": CODE})]


@pytest.mark.parametrize(
    ("parser", "span"),
    [
        pytest.param(
            qwen3_coder.parse_tool_call,
            f"\n<function=execute_code>\n<parameter=code>\n{CODE}\n</parameter>\n</function>\n",
            id="qwen3-coder-xml",
        ),
        pytest.param(
            json_tools.parse_tool_call,
            "\n" + json.dumps({"name": "execute_code", "arguments": {"code": CODE}}) + "\n",
            id="json",
        ),
        pytest.param(pythonic.parse_tool_call, f"[execute_code(code={CODE!r})]", id="pythonic"),
    ],
)
def test_each_upstream_format_becomes_an_execute_code_call(parser: object, span: str) -> None:
    assert parse_tool_text(span, parser, [EXECUTE_CODE_TOOL]) == EXPECTED  # ty: ignore[invalid-argument-type]


def test_upstream_json_parser_leaves_string_arguments_encoded() -> None:
    """Why ``_upstream_arguments`` exists: ``json_tools`` returns ``arguments`` as written.

    OpenAI-trained models often write the arguments as a JSON string; mlx-lm hands the
    string on (its server then double-encodes it). If upstream starts decoding it, the
    first assertion fails and the workaround can go.
    """
    span = json.dumps({"name": "execute_code", "arguments": json.dumps({"code": CODE})})

    assert isinstance(json_tools.parse_tool_call(span)["arguments"], str)
    assert parse_tool_text(span, json_tools.parse_tool_call, []) == EXPECTED


def test_a_span_the_parser_rejects_is_not_a_call() -> None:
    cut_off = "\n<function=execute_code>\n<parameter=code>\nprint("
    assert parse_tool_text(cut_off, qwen3_coder.parse_tool_call, [EXECUTE_CODE_TOOL]) == []
    assert parse_tool_text('{"name": "execute_code", "argu', json_tools.parse_tool_call, []) == []


def test_a_fenced_python_block_falls_back_to_execute_code() -> None:
    reply = f"Let me check.\n```python\n{CODE}\n```\nThen I will fix it."

    call = fenced_code_call(reply, ["execute_code"])

    assert call == ParsedToolCall(
        name="execute_code", arguments={"code": CODE + "\n"}, source="fence"
    )
    assert fenced_code_call(reply, ["something_else"]) is None
    assert fenced_code_call("```bash\nls\n```", ["execute_code"]) is None


def test_the_splitter_holds_back_markers_split_across_chunks() -> None:
    machine = TextStateMachine(
        {"normal": [("<tool_call>", "tool")], "tool": [("</tool_call>", "normal")]}
    )
    splitter = ReplySplitter(machine)
    chunks = ["Checking. <tool", "_call>\n<function=x>", "</function>\n</tool", "_call> done"]

    segments = [segment for chunk in chunks for segment in splitter.feed(chunk)]
    segments += splitter.finish("stop")

    assert segments == [
        ("text", "Checking. "),
        ("tool", "\n<function=x></function>\n"),
        ("text", " done"),
    ]
