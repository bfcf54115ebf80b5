"""Punie-format rows ↔ our rows.

Punie's datasets keep tool traffic inside message text (Qwen3-Coder XML): an assistant
turn ``<tool_call><function=execute_code><parameter=code>\\n…\\n</parameter></function>
</tool_call>`` and the result as a user turn ``<tool_response>\\n…\\n</tool_response>``.
Our rows hold the same exchange as structured ``tool_calls`` and ``tool`` messages,
which the tokenizer's chat template renders into that markup itself.

Punie wrote rows two ways: ``{"messages": [...]}`` and, in its earlier datasets, one
ChatML string ``{"text": "<|im_start|>user\\n…<|im_end|>\\n…"}``; both are read. Its
earliest rows called JSON tools in a fenced block answered by ``Tool result:`` turns;
those are not Code Mode and are refused by name rather than learnt as prose.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from training.rows import Row, code_mode_instructions, row_from_chat

__all__ = ["PunieFormatError", "from_punie", "punie_messages", "to_punie"]

_CALL = re.compile(
    r"<tool_call>\s*<function=(?P<name>[\w.-]+)>\s*(?P<params>.*?)</function>\s*</tool_call>",
    re.DOTALL,
)
_PARAM = re.compile(r"<parameter=(?P<name>\w+)>\n?(?P<value>.*?)\n?</parameter>", re.DOTALL)
_RESPONSE = re.compile(r"<tool_response>\n?(?P<text>.*?)\n?</tool_response>", re.DOTALL)
_TURN = re.compile(
    r"<\|im_start\|>(?P<role>system|user|assistant|tool)\n(?P<content>.*?)(?:<\|im_end\|>|\Z)",
    re.DOTALL,
)
_JSON_TOOL_RESULT = "Tool result:"


class PunieFormatError(ValueError):
    """A Punie row this importer cannot turn into a Code Mode row; the message says why."""


class _PunieMessage(BaseModel):
    """One turn of a Punie row as its files hold them (other keys are ignored)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None


class _PunieRow(BaseModel):
    """A Punie row: ``messages``, or the ChatML ``text`` of its earlier datasets."""

    messages: list[_PunieMessage] | None = None
    text: str | None = None
    category: str | None = None


def punie_messages(data: object) -> list[dict[str, Any]]:
    """The row's messages, from either of Punie's forms (``messages`` or ChatML ``text``).

    ``data`` is one parsed JSONL line, whatever it holds: a line that is not a Punie
    row (a list, ``"messages": "x"``, a turn without a known role) raises
    ``PunieFormatError`` saying where, never a ``TypeError`` from the walk below.
    """
    if isinstance(data, dict) and "messages" not in data and "text" not in data:
        raise PunieFormatError("a Punie row has 'messages' or 'text'; this one has neither")
    try:
        row = _PunieRow.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the line"
        raise PunieFormatError(f"not a Punie row ({where}: {first['msg']})") from None
    if row.messages is not None:
        messages = [m.model_dump() for m in row.messages]
    elif row.text is not None:
        messages = [{"role": m["role"], "content": m["content"]} for m in _TURN.finditer(row.text)]
        if not messages:
            raise PunieFormatError("its text holds no <|im_start|>role turns")
    else:
        raise PunieFormatError("a Punie row has 'messages' or 'text'; this one has neither")
    if not any(m["role"] == "assistant" for m in messages):
        raise PunieFormatError("it has no assistant turn, so there is nothing to learn")
    return messages


def from_punie(data: object, *, category: str = "punie", keep_system: bool = False) -> Row:
    """A Punie row (``{"messages": [...]}`` or ``{"text": "<ChatML>"}``) as our row.

    Punie's system prompt describes Punie's tools; by default it is replaced by this
    agent's instructions, so the model learns the prompt it will be run with.
    """
    chat: list[dict[str, Any]] = []
    calls = 0
    for message in punie_messages(data):
        role, content = message["role"], message.get("content") or ""
        if role == "user" and content.startswith(_JSON_TOOL_RESULT):
            raise PunieFormatError(
                "it calls JSON tools answered by 'Tool result:' turns (Punie's pre-Code Mode "
                "format), not execute_code"
            )
        if role == "system":
            chat.append({"role": "system", "content": content})
            continue
        if role == "assistant" and _CALL.search(content):
            tool_calls = []
            for match in _CALL.finditer(content):
                calls += 1
                arguments = {p["name"]: p["value"] for p in _PARAM.finditer(match["params"])}
                tool_calls.append(
                    {
                        "id": f"call_{calls}",
                        "type": "function",
                        "function": {"name": match["name"], "arguments": arguments},
                    }
                )
            text = _CALL.sub("", content).strip()
            chat.append({"role": "assistant", "content": text, "tool_calls": tool_calls})
            continue
        responses = list(_RESPONSE.finditer(content)) if role in ("user", "tool") else []
        if responses and not _RESPONSE.sub("", content).strip():
            pending = [
                c for m in chat[::-1] if m["role"] == "assistant" for c in m.get("tool_calls", [])
            ][:1]
            for response in responses:
                tool = {"role": "tool", "content": response["text"]}
                if pending:
                    tool["tool_call_id"] = pending[0]["id"]
                    tool["name"] = pending[0]["function"]["name"]
                chat.append(tool)
            continue
        chat.append({"role": role, "content": content})
    if not keep_system:
        chat = [m for m in chat if m["role"] != "system"]
        chat.insert(0, {"role": "system", "content": code_mode_instructions()})
    named = data.get("category") if isinstance(data, dict) else None
    return row_from_chat(chat, category=named if isinstance(named, str) else category)


def to_punie(row: Row) -> dict[str, Any]:
    """Our row in Punie's text format (consecutive tool results share one user turn)."""
    out: list[dict[str, Any]] = []
    for message in row.messages:
        role = message["role"]
        if role == "assistant" and message.get("tool_calls"):
            blocks = []
            for call in message["tool_calls"]:
                function = call.get("function", call)
                params = "".join(
                    f"<parameter={name}>\n{value}\n</parameter>\n"
                    for name, value in function["arguments"].items()
                )
                blocks.append(
                    f"<tool_call><function={function['name']}>\n{params}</function></tool_call>"
                )
            text = message.get("content") or ""
            out.append(
                {"role": "assistant", "content": "\n".join([text, *blocks] if text else blocks)}
            )
        elif role == "tool":
            block = f"<tool_response>\n{message['content']}\n</tool_response>"
            if out and out[-1].get("_tools"):
                out[-1]["content"] += "\n" + block
            else:
                out.append({"role": "user", "content": block, "_tools": True})
        else:
            out.append({"role": role, "content": message.get("content") or ""})
    return {"messages": [{k: v for k, v in m.items() if k != "_tools"} for m in out]}
