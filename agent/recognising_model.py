"""``ToolCallRecognition``: any backend's replies, with tool calls read wherever they were put.

A Pydantic AI wrapper model around the real one (``mlx:`` or ``openai:``). Its stream
passes thinking through, streams text as it comes except what may be a call (held
back, see ``tool_calls.hold_from``), and emits each tool call whole once the reply
ends, after one normalisation of what servers get wrong in streamed ``tool_calls``:

- the name repeated in every chunk (llama.cpp; Pydantic AI would join them into
  ``execute_codeexecute_code``), or an empty name after the first chunk (LM Studio);
- an empty or missing call id (LM Studio sends ``""``; the tool result sent back with
  it is then refused), or one id for two calls;
- arguments sent as a JSON object instead of a string, or a string encoded twice;
- ``finish_reason: "stop"`` on a reply that made a call (Ollama, vLLM's hermes parser).

A reply the model could not finish (``finish_reason: "length"``: it reached
``max_tokens``) with no whole call in it raises ``ReplyCut`` once what it wrote is
streamed: a cut answer is not an answer, and a cut call (``<tool_call>`` text or
arguments that are not JSON yet) cannot run (xaibo#33, jac#6766: "report a clear error
on max_tokens-truncated tool calls"). What was held back as a possible call is dropped
then, never streamed: the run's answer is the prose streamed before the cut, on every
backend (a server's tool parser holds the same markup back).

Then ``tool_calls.recognise_text`` reads calls written as text (JSON content, hermes
tags, Qwen3-Coder XML, a fenced program) when the reply made none the standard way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    ModelResponseStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from agent._upstream import qwen3_coder_parser
from agent.tool_calls import XML_START, call_arguments, hold_from, recognise_text

__all__ = ["ReplyCut", "ToolCallRecognition"]


class ReplyCut(Exception):
    """The model's reply reached ``max_tokens`` before it ended (``finish_reason: "length"``)
    and holds no whole tool call: what it wrote was streamed as text, and nothing runs."""

    def __init__(self, message: str, *, streamed: bool) -> None:
        super().__init__(message)
        self.streamed = streamed
        """Whether any part of the reply was streamed. Pydantic AI commits an interrupted
        response, and counts it in ``usage.requests``, only then; a server that held the
        whole reply back (``mlx_lm server`` keeps a call's markup until it is whole) cut
        it before anything was streamed, and the response went uncounted."""


class ToolCallRecognition(WrapperModel):
    """Wraps a model so tool calls are recognised the same way whatever serves it."""

    def __init__(self, wrapped: Model, *, code_functions: Collection[str]) -> None:
        """``code_functions``: the sandbox's function names (a fenced block calling one runs)."""
        super().__init__(wrapped)
        self.code_functions = frozenset(code_functions)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        async with self.request_stream(
            messages, model_settings, model_request_parameters
        ) as stream:
            async for _ in stream:
                pass
        return stream.get()

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as inner:
            yield RecognisedStreamedResponse(
                model_request_parameters=inner.model_request_parameters,
                _inner=inner,
                _code_functions=self.code_functions,
            )


@dataclass
class _Call:
    """One streamed tool call as its chunks arrive."""

    name: str = ""
    args: list[str | dict[str, Any]] = field(default_factory=list)
    call_id: str | None = None

    def add_name(self, delta: str | None, offered: Collection[str]) -> None:
        if not delta:
            return  # LM Studio sends "" after the first chunk
        if self.name in offered and (delta == self.name or self.name + delta not in offered):
            return  # llama.cpp repeats the whole name in every chunk
        self.name += delta

    def final_name(self, offered: Collection[str]) -> str:
        for name in offered:
            if (
                self.name
                and len(self.name) % len(name) == 0
                and self.name == name * (len(self.name) // len(name))
            ):
                return name
        return self.name

    def arguments(self) -> dict[str, Any] | str:
        objects = [part for part in self.args if isinstance(part, dict)]
        if objects:  # sent as an object (several: one per chunk, merged)
            return {key: value for part in objects for key, value in part.items()}
        text = "".join(part for part in self.args if isinstance(part, str))
        decoded = call_arguments(text)
        # Undecodable arguments go to Pydantic AI as they are: it asks the model to fix them.
        return decoded if decoded is not None else text


@dataclass
class RecognisedStreamedResponse(StreamedResponse):
    """The wrapped stream, re-emitted with calls normalised and text-written calls read."""

    _inner: StreamedResponse
    _code_functions: frozenset[str]
    _calls: dict[int, _Call] = field(default_factory=dict, init=False)
    _text: list[str] = field(default_factory=list, init=False)
    _emitted: int = field(default=0, init=False)
    _holding: bool = field(default=False, init=False)
    _emitted_calls: int = field(default=0, init=False)
    _whole_calls: bool = field(default=False, init=False)

    def _offered(self) -> list[str]:
        parameters = self.model_request_parameters
        return [tool.name for tool in parameters.function_tools] + [
            tool.name for tool in parameters.output_tools
        ]

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        offered = self._offered()
        kinds: dict[int, str] = {}
        async for event in self._inner:
            if isinstance(event, PartStartEvent):
                part = event.part
                if isinstance(part, TextPart):
                    kinds[event.index] = "text"
                    for out in self._text_events(part.content):
                        yield out
                elif isinstance(part, ThinkingPart):
                    kinds[event.index] = "thinking"
                    for out in self._parts_manager.handle_thinking_delta(
                        vendor_part_id="thinking", content=part.content
                    ):
                        yield out
                elif isinstance(part, ToolCallPart):
                    kinds[event.index] = "tool"
                    call = self._calls.setdefault(event.index, _Call())
                    call.add_name(part.tool_name, offered)
                    if part.args:
                        call.args.append(part.args)
                    call.call_id = part.tool_call_id or call.call_id
            elif isinstance(event, PartDeltaEvent):
                delta = event.delta
                if isinstance(delta, TextPartDelta):
                    for out in self._text_events(delta.content_delta):
                        yield out
                elif isinstance(delta, ThinkingPartDelta) and delta.content_delta:
                    for out in self._parts_manager.handle_thinking_delta(
                        vendor_part_id="thinking", content=delta.content_delta
                    ):
                        yield out
                elif isinstance(delta, ToolCallPartDelta):
                    call = self._calls.setdefault(event.index, _Call())
                    call.add_name(delta.tool_name_delta, offered)
                    if delta.args_delta:
                        call.args.append(delta.args_delta)
                    call.call_id = delta.tool_call_id or call.call_id
        for out in await self._finish(offered):
            yield out
        self._usage = self._inner.usage
        if self._inner.finish_reason == "length" and not self._whole_calls:
            raise ReplyCut(
                "the reply reached max_tokens before it ended",
                streamed=bool(self._parts_manager.get_parts()),
            )
        self.canonical_system = self._inner.canonical_system
        self.provider_response_id = self._inner.provider_response_id
        self.provider_details = self._inner.provider_details
        self.finish_reason = "tool_call" if self._emitted_calls else self._inner.finish_reason

    def _text_events(self, content: str) -> list[ModelResponseStreamEvent]:
        if not content:
            return []
        self._text.append(content)
        if self._holding:
            return []
        full = "".join(self._text)
        hold = hold_from(full)
        end = len(full) if hold is None else hold[0]
        if hold is not None and hold[1]:
            self._holding = True
        return self._emit(full[self._emitted : end]) if end > self._emitted else []

    def _emit(self, text: str) -> list[ModelResponseStreamEvent]:
        self._emitted += len(text)
        return list(self._parts_manager.handle_text_delta(vendor_part_id="text", content=text))

    async def _finish(self, offered: list[str]) -> list[ModelResponseStreamEvent]:
        events: list[ModelResponseStreamEvent] = []
        full = "".join(self._text)
        rest = full[self._emitted :]
        calls = [call for call in self._calls.values() if call.final_name(offered)]
        if not calls and full.strip():
            # mlx-lm's Qwen3-Coder parser, its file alone (``agent._upstream``): loading it
            # reads the disk, so off the event loop; loaded once.
            parser = await asyncio.to_thread(qwen3_coder_parser) if XML_START in full else None
            recognised = recognise_text(
                full, offered, code_functions=self._code_functions, xml_parser=parser
            )
            if recognised.calls:
                shown = full[: self._emitted]
                rest = recognised.text[len(shown) :] if recognised.text.startswith(shown) else ""
                calls = [_Call(name=c.name, args=[c.arguments]) for c in recognised.calls]
        # Every call's arguments decoded: a call cut at max_tokens has a string left.
        self._whole_calls = bool(calls) and all(
            isinstance(call.arguments(), dict) for call in calls
        )
        if rest and (self._whole_calls or self._inner.finish_reason != "length"):
            # A reply cut at max_tokens with no whole call (``ReplyCut``) keeps only what
            # was streamed: the held-back rest is an unfinished call (``<tool_call>…``,
            # ``<function=…``, JSON), noise as an answer. A server's tool parser holds the
            # same markup back (mlx_lm server sends none of it), so the answer of a cut
            # reply is the same on every backend.
            events += self._emit(rest)
        seen: set[str] = set()
        for index, call in enumerate(calls):
            call_id = call.call_id
            if not call_id or call_id in seen:
                call_id = f"call_{uuid.uuid4().hex[:24]}"
            seen.add(call_id)
            self._emitted_calls += 1
            events.append(
                self._parts_manager.handle_tool_call_part(
                    vendor_part_id=f"call-{index}",
                    tool_name=call.final_name(offered),
                    args=call.arguments(),
                    tool_call_id=call_id,
                )
            )
        return events

    async def close_stream(self) -> None:
        # Cancel, not just close: the inner stream then treats the torn-down connection
        # as the cancellation it is, not as an error.
        await self._inner.cancel()

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    @property
    def provider_name(self) -> str | None:
        return self._inner.provider_name

    @property
    def provider_url(self) -> str | None:
        return self._inner.provider_url

    @property
    def timestamp(self) -> datetime:
        return self._inner.timestamp
