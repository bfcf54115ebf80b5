"""Punie-format rows ↔ our rows.

Punie's datasets keep tool traffic inside message text (Qwen3-Coder XML): an assistant
turn ``<tool_call><function=execute_code><parameter=code>\\n…\\n</parameter></function>
</tool_call>`` and the result as a user turn ``<tool_response>\\n…\\n</tool_response>``.
Our rows hold the same exchange as structured ``tool_calls`` and ``tool`` messages,
which the tokenizer's chat template renders into that markup itself.
"""

from __future__ import annotations

import re
from typing import Any

from training.rows import Row, code_mode_instructions, row_from_chat

__all__ = ["from_punie", "to_punie"]

_CALL = re.compile(
    r"<tool_call>\s*<function=(?P<name>[\w.-]+)>\s*(?P<params>.*?)</function>\s*</tool_call>",
    re.DOTALL,
)
_PARAM = re.compile(r"<parameter=(?P<name>\w+)>\n?(?P<value>.*?)\n?</parameter>", re.DOTALL)
_RESPONSE = re.compile(r"<tool_response>\n?(?P<text>.*?)\n?</tool_response>", re.DOTALL)


def from_punie(data: dict[str, Any], *, category: str = "punie", keep_system: bool = False) -> Row:
    """A Punie row (``{"messages": [...]}``) as our row.

    Punie's system prompt describes Punie's tools; by default it is replaced by this
    agent's instructions, so the model learns the prompt it will be run with.
    """
    chat: list[dict[str, Any]] = []
    calls = 0
    for message in data["messages"]:
        role, content = message["role"], message.get("content") or ""
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
    return row_from_chat(chat, category=data.get("category", category))


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
