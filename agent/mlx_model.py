"""``mlx:`` — a Pydantic AI model running mlx-lm for punie-lsp, loaded once and kept warm.

The model runs in a worker process of its own (``_mlx_worker``; ``process=False`` keeps
it on a thread of this process instead, see ``_mlx_hosts``): loading (seconds for a real
checkpoint, ~1.3 s just to import mlx-lm), prompt rendering, generation and reading the
reply (``_mlx_engine``). This process only sends the chat and receives the reply in
batches, so the language server's event loop keeps answering hovers at full speed while
a model loads or writes: in-process, mlx-lm's Python generation loop and the event loop
took turns at the GIL (``benchmarks/surfaces.py`` measures both). Nothing here imports
mlx: ``import agent`` must stay cheap.

Each conversation keeps its KV cache between turns (see ``_mlx_cache``), so a turn
prefills only what it adds. Pass the conversation id either way:

- ``agent.run(..., model_settings=MlxModelSettings(mlx_conversation_id=cid))``, or
- ``with mlx_conversation(cid): await agent.run(...)`` (a context variable).

Without one, the cache whose tokens share the longest prefix with the prompt is used.
A new conversation starts from the cache of the instructions and tool schemas that all
conversations share, so its first turn prefills only the user's message
(``share_instructions``). ``MlxModel.requests`` records, per request, how many prompt
tokens were reused (and of those, how many came from the shared prefix) and how many
were prefilled.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic_ai.messages import FinishReason, ModelMessage, ModelResponse, ModelResponseStreamEvent
from pydantic_ai.models import (
    Model,
    ModelRequestParameters,
    StreamedResponse,
    check_allow_model_requests,
)
from pydantic_ai.profiles import ModelProfile
from pydantic_ai.settings import ModelSettingName, ModelSettings
from pydantic_ai.usage import RequestUsage

from agent._mlx_chat import chat_messages, chat_tools
from agent._mlx_engine import BATCH_SECONDS, MlxEngine, MlxJob, MlxRequestStats, Output
from agent._mlx_hosts import Host, MlxWorkerExited, ProcessHost, ThreadHost
from agent._mlx_load import MlxAdapterLoadError, MlxDraftLoadError, MlxModelLoadError

__all__ = [
    "MlxAdapterLoadError",
    "MlxDraftLoadError",
    "MlxModel",
    "MlxModelLoadError",
    "MlxModelSettings",
    "MlxRequestStats",
    "MlxWorkerExited",
    "mlx_conversation",
]

_conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mlx_conversation", default=None
)


@contextmanager
def mlx_conversation(conversation_id: str | None) -> Generator[None]:
    """Requests made inside (in this task and tasks it starts) reuse this conversation's cache."""
    token = _conversation.set(conversation_id)
    try:
        yield
    finally:
        _conversation.reset(token)


class MlxModelSettings(ModelSettings, total=False):
    """Settings the in-process model reads besides the common ones."""

    mlx_conversation_id: str
    """Whose KV cache to reuse; wins over ``mlx_conversation``."""


class MlxModel(Model):
    """A local mlx-lm model (repo id or directory), optionally with a draft model and a LoRA."""

    unsupported_settings: ClassVar[frozenset[ModelSettingName]] = frozenset(
        {
            "timeout",
            "parallel_tool_calls",
            "presence_penalty",
            "frequency_penalty",
            "logit_bias",
            "stop_sequences",
            "extra_headers",
            "service_tier",
            "extra_body",
        }
    )

    def __init__(
        self,
        path_or_repo: str,
        *,
        draft_model: str | None = None,
        adapter_path: str | None = None,
        max_tokens: int = 2048,
        temperature: float = 0.2,
        max_cached_conversations: int = 4,
        share_instructions: bool = True,
        process: bool = True,
        stream_interval: float = BATCH_SECONDS,
        settings: ModelSettings | None = None,
    ) -> None:
        """Nothing loads or starts here: ``ensure_loaded`` (or the first request) does.

        Args:
            path_or_repo: a local model directory or a Hugging Face repo id.
            draft_model: a smaller model with the same tokenizer, for speculative decoding.
            adapter_path: a LoRA adapter directory (``mlx_lm lora`` output) applied on load.
            max_tokens: the default reply length bound (``max_tokens`` setting overrides).
            temperature: the default sampling temperature (``temperature`` setting overrides).
            max_cached_conversations: how many conversations' KV caches are kept (0: none).
            share_instructions: keep the cache of the instructions and tools, which every
                conversation starts with, and start new conversations from a copy of it.
            process: run the model in a worker process (the default; the caller's event
                loop then never waits for mlx-lm's Python); ``False``: on a thread here.
            stream_interval: seconds between the batches a streamed reply arrives in
                (0: every token on its own, as tests that watch the stream want).
            settings: default model settings.
        """
        # Special tokens in user text or tool output (a file containing "<|im_end|>")
        # would be encoded as control tokens by the chat template: have Pydantic AI
        # defuse them on the way in and restore them on the way out.
        super().__init__(
            settings=settings, profile=ModelProfile(may_tokenize_special_tokens_in_content=True)
        )
        self.path_or_repo = path_or_repo
        self.draft_model = draft_model
        self.adapter_path = adapter_path
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.process = process
        self.requests: deque[MlxRequestStats] = deque(maxlen=256)
        """The most recent requests' costs, newest last."""
        self._engine_config: dict[str, Any] = {
            "path_or_repo": path_or_repo,
            "draft_model": draft_model,
            "adapter_path": adapter_path,
            "max_cached_conversations": max_cached_conversations,
            "share_instructions": share_instructions,
            "batch_seconds": stream_interval,
        }
        self._lock = threading.Lock()
        self._host_: Host | None = None
        self._load_future: Future[None] | None = None

    @property
    def model_name(self) -> str:
        return self.path_or_repo

    @property
    def system(self) -> str:
        return "mlx"

    @property
    def loaded(self) -> bool:
        """Ready to generate: loaded, and its worker still there."""
        future, host = self._load_future, self._host_
        alive = host is not None and not host.exited
        return alive and future is not None and future.done() and not _failed(future)

    @property
    def loading(self) -> bool:
        """A load is under way (``punie.status`` shows it)."""
        future = self._load_future
        return future is not None and not future.done()

    @property
    def load_error(self) -> str | None:
        """Why the last load failed, if it did; the next ``ensure_loaded`` tries again."""
        future = self._load_future
        if future is None or not future.done() or future.cancelled():
            return None
        return str(error) if (error := future.exception()) is not None else None

    def _make_host(self) -> Host:
        """The worker process, or a thread with ``process=False``; tests may script it."""
        if self.process:
            return ProcessHost(self._engine_config)
        return ThreadHost(MlxEngine(**self._engine_config))

    def _host(self) -> Host:
        with self._lock:
            if self._host_ is None:
                self._host_ = self._make_host()
            return self._host_

    async def ensure_loaded(self) -> None:
        """Load once; every caller awaits the same load, off the event loop.

        A caller cancelled while waiting does not cancel the load the others await.
        Raises ``MlxModelLoadError`` naming the model when it cannot be loaded; its
        worker then exits. After a failed load (a path fixed since, weights downloaded
        since) or a worker that ended (killed, out of memory), the next call starts a
        new worker and loads again: a model is never left failed for good, as the
        language server's ty is restarted. Conversations' KV caches start afresh then.
        """
        with self._lock:
            host, future = self._host_, self._load_future
            if host is not None and (host.exited or (future is not None and _failed(future))):
                host.close()
                host = future = None
            if host is None:
                host = self._host_ = self._make_host()
            if future is None:
                future = self._load_future = host.load()
        try:
            await asyncio.shield(asyncio.wrap_future(future))
        except Exception:
            with self._lock:
                if self._host_ is host:
                    host.close()  # a worker that could not load holds memory for nothing
            raise

    def reset_conversation(self, conversation_id: str | None = None) -> None:
        """Drop one conversation's KV cache (``punie.resetConversation``), or all with ``None``."""
        if self._host_ is not None:
            self._host_.reset(conversation_id)

    def close(self) -> None:
        """Stop the worker once its current job ends; the model cannot be used after."""
        if self._host_ is not None:
            self._host_.close()

    def render_prompt(
        self,
        chat: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        add_generation_prompt: bool = True,
    ) -> list[int]:
        """Prompt tokens for chat dicts (``_mlx_chat.chat_messages``), as a training row renders.

        Blocking (waits for the worker); call after ``ensure_loaded``.
        """
        if not self.loaded:
            raise MlxModelLoadError(
                self.load_error or f"mlx model {self.path_or_repo!r} is not loaded yet"
            )
        return self._host().render(chat, tools, add_generation_prompt).result()

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
        check_allow_model_requests()
        model_settings, model_request_parameters = self.prepare_request(
            model_settings, model_request_parameters
        )
        await self.ensure_loaded()
        settings: dict[str, Any] = dict(model_settings or {})
        instructions = self._get_instruction_parts(messages, model_request_parameters) or []
        job = MlxJob(
            chat=chat_messages(messages, [part.content for part in instructions]),
            tools=chat_tools(model_request_parameters.declared_tool_defs.values()),
            conversation=settings.get("mlx_conversation_id") or _conversation.get(),
            max_tokens=int(settings.get("max_tokens") or self.max_tokens),
            temperature=float(settings.get("temperature", self.temperature)),
            top_p=float(settings.get("top_p", 1.0)),
            top_k=int(settings.get("top_k", 0)),
            seed=settings.get("seed"),
        )
        generation = _Generation(self._host(), job, self.requests.append)
        try:
            yield MlxStreamedResponse(
                model_request_parameters=model_request_parameters,
                _model_name=self.model_name,
                _generation=generation,
            )
        finally:
            await generation.aclose()


_DONE = object()

STOP_WAIT_SECONDS = 0.5
"""How long a stopped generation waits for the host to acknowledge before it leaves."""


def _failed(future: Future[Any]) -> bool:
    """A done load that raised or was cancelled."""
    return future.done() and (future.cancelled() or future.exception() is not None)


class _Generation:
    """One generation in the host, its reply delivered to the event loop in batches."""

    def __init__(self, host: Host, job: MlxJob, record: Callable[[MlxRequestStats], None]) -> None:
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()

        def deliver(item: object) -> None:
            with suppress(RuntimeError):  # the loop is gone: nobody is listening any more
                loop.call_soon_threadsafe(self._queue.put_nowait, item)

        self._stop, self._future = host.run(job, deliver)
        self._future.add_done_callback(
            lambda f: record(f.result()) if f.exception() is None else None
        )
        self._future.add_done_callback(lambda _: deliver(_DONE))

    async def batches(self) -> AsyncIterator[list[Output]]:
        """The reply's outputs in batches, then the job's own exception if it failed."""
        while (item := await self._queue.get()) is not _DONE:
            assert isinstance(item, list)
            yield item
        await asyncio.wrap_future(self._future)

    @property
    def stats(self) -> MlxRequestStats:
        return self._future.result()

    async def aclose(self) -> None:
        """Stop generating and wait for the host to let go, at most ``STOP_WAIT_SECONDS``:
        a cancelled run ends within a second even mid-prefill-chunk (the host runs one
        job at a time, so the next request still waits its turn)."""
        if not self._future.done():
            self._stop()
        waiting = asyncio.wrap_future(self._future)
        waiting.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
        await asyncio.wait({waiting}, timeout=STOP_WAIT_SECONDS)


_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}


@dataclass
class MlxStreamedResponse(StreamedResponse):
    """Text and thinking stream as decoded; tool calls are emitted whole once parsed."""

    _model_name: str
    _generation: _Generation
    _timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    _calls: int = field(default=0, init=False)

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        async for batch in self._generation.batches():
            for output in batch:
                for event in self._output_events(output):
                    yield event
        stats = self._generation.stats
        self._usage = RequestUsage(
            input_tokens=stats.prompt_tokens,
            cache_read_tokens=stats.reused_tokens,
            output_tokens=stats.generated_tokens,
        )
        self.provider_details = {
            "finish_reason": stats.finish_reason,
            "prefilled_tokens": stats.prefilled_tokens,
        }
        self.finish_reason = "tool_call" if self._calls else _FINISH.get(stats.finish_reason or "")

    def _output_events(self, output: Output) -> Iterator[ModelResponseStreamEvent]:
        if output[0] == "calls":
            for call in output[1]:
                self._calls += 1
                yield self._parts_manager.handle_tool_call_part(
                    vendor_part_id=f"tool-{self._calls}", tool_name=call.name, args=call.arguments
                )
        elif output[0] == "thinking":
            yield from self._parts_manager.handle_thinking_delta(
                vendor_part_id="thinking", content=output[1]
            )
        else:
            yield from self._parts_manager.handle_text_delta(
                vendor_part_id="content", content=output[1]
            )

    async def close_stream(self) -> None:
        await self._generation.aclose()

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def provider_name(self) -> str:
        return "mlx"

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp
