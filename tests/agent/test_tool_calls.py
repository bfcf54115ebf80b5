"""The one tool-call recogniser: every form a local model writes a call in, and what is not one.

Spans go through mlx-lm's own parsers (``mlx_lm.tool_parsers``); the one workaround, for
Qwen3-Coder markers inside a value, has a test here showing upstream's behaviour.
"""

from __future__ import annotations

import json

import pytest
from mlx_lm.generate import TextStateMachine
from mlx_lm.tool_parsers import json_tools, pythonic, qwen3_coder

from agent.reply_splitter import ReplySplitter
from agent.tool_calls import (
    ParsedToolCall,
    hold_from,
    parse_tool_text,
    protect_qwen3_markers,
    recognise_text,
)
from tests.agent.tiny_model import EXECUTE_CODE_TOOL

CODE = 'for v in ruff_check("src").violations:\n    print(v.code, v.line)'
EXPECTED = [ParsedToolCall(name="execute_code", arguments={"code": CODE})]
OFFERED = ["execute_code"]
SANDBOX = ["ruff_check", "typecheck", "read_file"]
MARKED = 'found = "</parameter>" in read_file("a.xml")\nend = "</tool_call>"\nprint(found, end)'
"""A program that searches for the very markers that delimit it."""


def xml(code: str) -> str:
    return f"\n<function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n</function>\n"


@pytest.mark.parametrize(
    ("parser", "span"),
    [
        pytest.param(qwen3_coder.parse_tool_call, xml(CODE), id="qwen3-coder-xml"),
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
    """Why ``call_arguments`` decodes strings: ``json_tools`` returns ``arguments`` as written.

    OpenAI-trained models often write the arguments as a JSON string; mlx-lm hands the
    string on (its server then double-encodes it). If upstream starts decoding it, the
    first assertion fails.
    """
    span = json.dumps({"name": "execute_code", "arguments": json.dumps({"code": CODE})})

    assert isinstance(json_tools.parse_tool_call(span)["arguments"], str)
    assert parse_tool_text(span, json_tools.parse_tool_call, []) == EXPECTED


def test_upstream_qwen3_coder_parser_cuts_a_value_at_a_literal_marker() -> None:
    """The marker bug: upstream ends a value at the first ``</parameter>``, even inside code.

    When this first assertion fails, mlx-lm reads values by structure and
    ``protect_qwen3_markers`` can go.
    """
    upstream = qwen3_coder.parse_tool_call(xml(MARKED), [EXECUTE_CODE_TOOL])

    assert upstream["arguments"]["code"] == 'found = "'
    assert parse_tool_text(xml(MARKED), qwen3_coder.parse_tool_call, [EXECUTE_CODE_TOOL]) == [
        ParsedToolCall(name="execute_code", arguments={"code": MARKED})
    ]
    assert (
        "</parameter>"
        not in protect_qwen3_markers(xml(MARKED)).split("<parameter=code>")[1][: len(MARKED)]
    )


def test_upstream_state_machine_ends_a_tool_span_at_a_literal_end_marker() -> None:
    """mlx-lm's ``TextStateMachine`` (its server's splitter) ends the span inside the code.

    ``ReplySplitter`` keeps a marker that arrives while the call is unfinished.
    """
    machine = TextStateMachine(
        {"normal": [("<tool_call>", "tool")], "tool": [("</tool_call>", "normal")]}
    )
    reply = f"<tool_call>{xml(MARKED)}</tool_call>"

    state = machine.make_state("normal")
    state, segments = TextStateMachine.split(state, reply)
    upstream_span = "".join(text for kind, text in segments if kind == "tool")
    assert "</function>" not in upstream_span  # cut at the `</tool_call>` in the code

    splitter = ReplySplitter(machine, "</tool_call>")
    ours = splitter.feed(reply) + splitter.finish("stop")
    assert ours == [("tool", xml(MARKED))]
    assert parse_tool_text(ours[0][1], qwen3_coder.parse_tool_call, []) == [
        ParsedToolCall(name="execute_code", arguments={"code": MARKED})
    ]


def test_a_span_the_parser_rejects_is_not_a_call() -> None:
    cut_off = "\n<function=execute_code>\n<parameter=code>\nprint("
    assert parse_tool_text(cut_off, qwen3_coder.parse_tool_call, [EXECUTE_CODE_TOOL]) == []
    assert parse_tool_text('{"name": "execute_code", "argu', json_tools.parse_tool_call, []) == []


def _json(code: str, key: str = "arguments") -> str:
    return json.dumps({"name": "execute_code", key: {"code": code}})


@pytest.mark.parametrize(
    ("reply", "calls", "prose"),
    [
        # Ollama, qwen2.5-coder: the call is the whole content (ollama/ollama#12174).
        pytest.param(_json(CODE), [CODE], "", id="json-content"),
        pytest.param(f"\n```json\n{_json(CODE)}\n```\n", [CODE], "", id="json-in-fence"),
        pytest.param(_json(CODE, "parameters"), [CODE], "", id="json-parameters-key"),
        pytest.param(f"{_json('1')}\n{_json('2')}", ["1", "2"], "", id="two-json-objects"),
        pytest.param(f"[{_json('1')}, {_json('2')}]", ["1", "2"], "", id="json-list"),
        # Hermes tags as text (vLLM without a tool parser, vllm-project/vllm#31871).
        pytest.param(
            f"Let me check.\n<tool_call>\n{_json(CODE)}\n</tool_call>",
            [CODE],
            "Let me check.\n",
            id="hermes-tags",
        ),
        pytest.param(
            f"<tool_call>\n{json.dumps({'name': 'execute_code', 'arguments': {'code': MARKED}})}"
            "\n</tool_call>",
            [MARKED],
            "",
            id="hermes-json-with-end-marker-in-code",
        ),
        # Qwen3-Coder XML as text, with and without tags, markers inside the code.
        pytest.param(f"<tool_call>{xml(MARKED)}</tool_call>", [MARKED], "", id="qwen3-tagged"),
        pytest.param(f"Running it.{xml(CODE)}", [CODE], "Running it.\n", id="qwen3-bare"),
        # A fenced program that uses the sandbox is a call; the fence stays visible.
        pytest.param(
            f"Let me check.\n```python\n{CODE}\n```\n", [CODE + "\n"], None, id="fenced-program"
        ),
    ],
)
def test_calls_written_as_text_are_recognised(
    reply: str, calls: list[str], prose: str | None
) -> None:
    recognised = recognise_text(
        reply, OFFERED, code_functions=SANDBOX, xml_parser=qwen3_coder.parse_tool_call
    )

    assert [call.arguments["code"] for call in recognised.calls] == calls
    assert all(call.name == "execute_code" for call in recognised.calls)
    assert recognised.text == (reply if prose is None else prose)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param("The answer is 42.", id="prose"),
        pytest.param(
            "Write it like this:\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
            "\nThat adds two numbers.",
            id="code-shown-in-prose",
        ),
        pytest.param("```python\nprint(\n```", id="fence-that-does-not-parse"),
        pytest.param("```bash\nruff check src\n```", id="not-python"),
        pytest.param('{"name": "delete_repo", "arguments": {}}', id="json-naming-another-tool"),
        pytest.param('{"answer": 42}', id="json-answer"),
        pytest.param('Call it as `{"name": "execute_code"}`.', id="json-inside-prose"),
        pytest.param("<tool_call>\n{not json}\n</tool_call>", id="tags-around-junk"),
        pytest.param(xml(CODE).replace("</function>", ""), id="xml-cut-off"),
    ],
)
def test_what_is_not_a_call_stays_text(reply: str) -> None:
    recognised = recognise_text(
        reply, OFFERED, code_functions=SANDBOX, xml_parser=qwen3_coder.parse_tool_call
    )

    assert recognised.calls == []
    assert recognised.text == reply


def test_a_fence_is_only_a_call_when_execute_code_is_offered() -> None:
    reply = f"```python\n{CODE}\n```"
    assert recognise_text(reply, ["other"], code_functions=SANDBOX).calls == []


@pytest.mark.parametrize(
    ("text", "hold"),
    [
        ("Hello", None),
        ("Hello <tool_", (6, False)),
        ("Hello <tool_call>{", (6, True)),
        ("Ok <function=execute_code>", (3, True)),
        ('  {"name"', (0, True)),
        ("``", (0, False)),
        ("```json\n", (0, True)),
        ("```python\n", None),
        ("\n", (0, False)),
    ],
)
def test_what_a_stream_holds_back(text: str, hold: tuple[int, bool] | None) -> None:
    assert hold_from(text) == hold


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
