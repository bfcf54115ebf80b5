"""Pydantic AI messages in and out of a tokenizer's chat template, for the in-process model.

The prompt is whatever the model's own chat template makes of OpenAI-style chat dicts
(``role``/``content``/``tool_calls``, ``tool`` results) and tool schemas: the same dicts
a training row holds, so a row rendered through ``chat_messages`` + the tokenizer gives
the tokens the model is prompted with here (the LoRA data depends on that).

The reply is split the way ``mlx_lm server`` splits it: mlx-lm's ``TextStateMachine``
(from ``make_text_state_machine(tokenizer)``) separates text, reasoning and tool-call
spans on the markers the tokenizer declares, and each tool span goes through the
tokenizer's own ``tool_parser`` (Qwen3-Coder XML, JSON, pythonic, …). No regexes of
ours, except the fenced-code fallback: a reply with no tool call but a fenced Python
block becomes an ``execute_code`` call, since small coders often "answer" in a fence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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

__all__ = [
    "ChatMessage",
    "ParsedToolCall",
    "ReplySplitter",
    "chat_messages",
    "chat_tools",
    "fenced_code_call",
    "parse_tool_text",
]

ChatMessage = dict[str, Any]
"""One OpenAI-style chat message as chat templates read it."""
ToolParser = Callable[[str, Any], Any]
"""``tokenizer.tool_parser``: tool-span text and tool schemas -> a call dict or a list."""
CODE_TOOL = "execute_code"

_FENCE = re.compile(r"```(?:python|py)[ \t]*\n(.*?)```", re.DOTALL)


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


@dataclass(frozen=True, kw_only=True)
class ParsedToolCall:
    """A tool call read from the reply."""

    name: str
    """The tool's name."""
    arguments: dict[str, Any]
    """Its arguments, already decoded by the parser."""
    source: Literal["parser", "fence"] = "parser"
    """``fence`` when it came from the fenced-code fallback."""


def parse_tool_text(
    text: str, parser: ToolParser | None, tools: list[dict[str, Any]]
) -> list[ParsedToolCall]:
    """Calls in one tool span, through the tokenizer's parser; ``[]`` if it cannot read it.

    A span the parser rejects (usually a call cut off by ``max_tokens``) is not a call:
    the caller keeps its text so nothing the model wrote disappears.
    """
    if parser is None:
        return []
    try:
        parsed = parser(text, tools or None)
    except (ValueError, SyntaxError, KeyError, TypeError):
        return []
    items = parsed if isinstance(parsed, list) else [parsed]
    calls: list[ParsedToolCall] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return []
        arguments = _upstream_arguments(item.get("arguments", {}))
        if arguments is None:
            return []
        calls.append(ParsedToolCall(name=item["name"], arguments=arguments))
    return calls


def _upstream_arguments(arguments: object) -> dict[str, Any] | None:
    """Arguments as a dict, whatever form the parser handed back.

    The one place that papers over mlx-lm parser output: ``json_tools`` returns the
    model's JSON verbatim, and models trained on OpenAI transcripts often write
    ``"arguments"`` as a JSON *string* (``{"name": …, "arguments": "{\\"code\\": …}"}``),
    which ``mlx_lm server`` passes on double-encoded. Decoded here once.
    """
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return None
    return arguments if isinstance(arguments, dict) else None


def fenced_code_call(text: str, tool_names: Iterable[str]) -> ParsedToolCall | None:
    """The first fenced Python block as an ``execute_code`` call, when that tool is offered."""
    if CODE_TOOL not in set(tool_names):
        return None
    match = _FENCE.search(text)
    if match is None or not match.group(1).strip():
        return None
    return ParsedToolCall(name=CODE_TOOL, arguments={"code": match.group(1)}, source="fence")


Segment = tuple[Literal["text", "thinking", "tool"], str]


@dataclass
class ReplySplitter:
    """Streaming split of decoded text into text, thinking and complete tool spans.

    Wraps mlx-lm's ``TextStateMachine`` exactly as its server drives it: markers are
    stripped, text that may be the start of a marker is held back until it is known not
    to be, and a tool span is emitted whole when its end marker arrives (or the reply
    ends inside it).
    """

    machine: Any
    """``mlx_lm.generate.make_text_state_machine(tokenizer)``."""
    _state: Any = field(init=False)
    _tool: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._state = self.machine.make_state("normal")

    def feed(self, text: str) -> list[Segment]:
        """Segments completed by this chunk of decoded text."""
        from mlx_lm.generate import TextStateMachine

        self._state, segments = TextStateMachine.split(self._state, text)
        return self._route(segments)

    def finish(self, reason: str | None) -> list[Segment]:
        """The rest: held-back text is kept when the reply was cut off, dropped on a stop."""
        from mlx_lm.generate import TextStateMachine

        if reason == "stop":
            self._state, current = TextStateMachine.discard(self._state)
            segments = [(current, "")]
        else:
            self._state, flushed, current = TextStateMachine.flush(self._state)
            segments = [(current, flushed)]
        out = self._route(segments)
        if self._tool:
            out.append(("tool", "".join(self._tool)))
            self._tool = []
        return out

    def _route(self, segments: list[tuple[str | None, str]]) -> list[Segment]:
        out: list[Segment] = []
        for state, text in segments:
            if state == "tool":
                self._tool.append(text)
                continue
            if self._tool:
                out.append(("tool", "".join(self._tool)))
                self._tool = []
            if text:
                out.append(("thinking" if state == "reasoning" else "text", text))
        return out
