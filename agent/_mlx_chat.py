"""Pydantic AI messages in and out of a tokenizer's chat template, for the in-process model.

The prompt is whatever the model's own chat template makes of OpenAI-style chat dicts
(``role``/``content``/``tool_calls``, ``tool`` results) and tool schemas: the same dicts
a training row holds, so a row rendered through ``chat_messages`` + the tokenizer gives
the tokens the model is prompted with here (the LoRA data depends on that).

The reply is read by ``agent.tool_calls``, the recogniser every backend shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.tools import ToolDefinition

__all__ = ["ChatMessage", "chat_messages", "chat_tools"]

ChatMessage = dict[str, Any]
"""One OpenAI-style chat message as chat templates read it."""


def chat_messages(
    messages: Sequence[ModelMessage], instructions: Iterable[str] = ()
) -> list[ChatMessage]:
    """The conversation as chat dicts, instructions first as one system message.

    Leading system text (instructions, then system prompts) is merged into a single
    message because most templates only treat ``messages[0]`` as the system turn.
    Tool-call arguments are dicts, as templates that iterate them (Qwen3-Coder) expect.
    """
    system = [text for text in instructions if text]
    out: list[ChatMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, SystemPromptPart):
                    if out:
                        out.append({"role": "system", "content": part.content})
                    else:
                        system.append(part.content)
                elif isinstance(part, UserPromptPart):
                    out.append({"role": "user", "content": _user_text(part)})
                elif isinstance(part, ToolReturnPart):
                    out.append(
                        {
                            "role": "tool",
                            "tool_call_id": part.tool_call_id,
                            "name": part.tool_name,
                            "content": part.model_response_str(),
                        }
                    )
                else:
                    # Deltas and retries are turned into the parts above by
                    # ``Model.prepare_messages`` before a request reaches a model.
                    raise UserError(
                        f"MlxModel cannot render a {type(part).__name__}; "
                        "pass messages through `model.prepare_messages` first"
                    )
        elif isinstance(message, ModelResponse):
            out.append(_assistant(message))
    if system:
        out.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return out


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    texts: list[str] = []
    for item in part.content:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, TextContent):
            texts.append(item.content)
        else:
            raise UserError(f"MlxModel takes text prompts only, not {type(item).__name__}")
    return "\n".join(texts)


def _assistant(message: ModelResponse) -> ChatMessage:
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.content)
        elif isinstance(part, ThinkingPart):
            thinking.append(part.content)
        elif isinstance(part, ToolCallPart):
            calls.append(
                {
                    "id": part.tool_call_id,
                    "type": "function",
                    "function": {"name": part.tool_name, "arguments": part.args_as_dict()},
                }
            )
    out: ChatMessage = {"role": "assistant", "content": "".join(texts)}
    if thinking:
        out["reasoning_content"] = "".join(thinking)
    if calls:
        out["tool_calls"] = calls
    return out


def chat_tools(tools: Iterable[ToolDefinition]) -> list[dict[str, Any]]:
    """Tool definitions as the ``tools=`` of ``apply_chat_template`` (OpenAI function form)."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description or "",
                "parameters": tool.parameters_json_schema,
            },
        }
        for tool in tools
    ]
