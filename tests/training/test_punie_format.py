"""A Punie-format row becomes structured tool traffic and comes back unchanged."""

from __future__ import annotations

import pytest

from training.punie_format import PunieFormatError, from_punie, to_punie
from training.rows import code_mode_instructions

CODE = 'result = typecheck("src/app.py")\nprint(result.error_count)'
PUNIE_ROW = {
    "messages": [
        {"role": "system", "content": "You are Punie, an AI coding assistant."},
        {"role": "user", "content": "How many type errors are in src/app.py?"},
        {
            "role": "assistant",
            "content": "<tool_call><function=execute_code>\n<parameter=code>\n"
            f"{CODE}\n</parameter>\n</function></tool_call>",
        },
        {"role": "user", "content": "<tool_response>\n2\n</tool_response>"},
        {"role": "assistant", "content": "src/app.py has 2 type errors."},
    ]
}


def test_punie_row_round_trips() -> None:
    row = from_punie(PUNIE_ROW, keep_system=True)
    assert [m["role"] for m in row.messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = row.messages[2]["tool_calls"][0]
    assert call["function"] == {"name": "execute_code", "arguments": {"code": CODE}}
    assert row.messages[3]["content"] == "2"
    assert row.messages[3]["tool_call_id"] == call["id"]
    assert to_punie(row) == PUNIE_ROW


def test_import_uses_our_instructions_by_default() -> None:
    row = from_punie(PUNIE_ROW)
    assert row.messages[0] == {"role": "system", "content": code_mode_instructions()}
    assert row.category == "punie" and row.tools[0]["function"]["name"] == "execute_code"


def chatml(messages: list[dict[str, str]]) -> str:
    return "\n".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>" for m in messages)


def test_the_single_text_form_reads_as_the_messages_form() -> None:
    text_row = {"text": chatml(PUNIE_ROW["messages"])}
    assert from_punie(text_row, keep_system=True) == from_punie(PUNIE_ROW, keep_system=True)
    assert to_punie(from_punie(text_row, keep_system=True)) == PUNIE_ROW


def test_rows_that_are_not_code_mode_are_refused_by_name() -> None:
    json_tools = {
        "text": chatml(
            [
                {"role": "user", "content": "What's in requirements.txt?"},
                {
                    "role": "assistant",
                    "content": 'I\'ll use read_file.\n```json\n{"name": "read_file"}\n```',
                },
                {"role": "user", "content": "Tool result: pytest>=7.0.0"},
                {"role": "assistant", "content": "It requires pytest."},
            ]
        )
    }
    with pytest.raises(PunieFormatError, match="pre-Code Mode"):
        from_punie(json_tools)
    with pytest.raises(PunieFormatError, match="neither"):
        from_punie({"prompt": "hi"})
    with pytest.raises(PunieFormatError, match=r"no <\|im_start\|>"):
        from_punie({"text": "just prose"})
