"""``mlx:`` — a Pydantic AI model running mlx-lm inside punie-lsp, loaded once and kept warm.

Everything mlx runs on one worker thread owned by the model: loading (seconds for a
real checkpoint, ~1.3 s just to import mlx-lm), prompt rendering and generation. The
event loop only awaits that thread, so the language server keeps answering while a
model loads or writes. mlx and mlx-lm are imported on that thread, never at import
time of this module: ``import agent`` must stay cheap.

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
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

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

from agent._mlx_cache import PromptCaches, common_prefix_len
from agent._mlx_chat import chat_messages, chat_tools
from agent._mlx_load import MlxModelLoadError
from agent.reply_splitter import ReplySplitter
from agent.tool_calls import parse_tool_text

__all__ = [
    "MlxModel",
    "MlxModelLoadError",
    "MlxModelSettings",
    "MlxRequestStats",
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


@dataclass(frozen=True, kw_only=True)
class MlxRequestStats:
    """What one request cost, for tests and benchmarks."""

    conversation: str | None
    """The conversation id it ran under, if any."""
    prompt_tokens: int
    """Tokens in the rendered prompt."""
    reused_tokens: int
    """Prompt tokens whose keys and values came from the cache."""
    shared_prefix_tokens: int
    """Of ``reused_tokens``, those copied from the instructions prefix all conversations share."""
    prefilled_tokens: int
    """Prompt tokens run through the model: ``prompt_tokens - reused_tokens``."""
    generated_tokens: int
    """Tokens sampled, the stop token included."""
    finish_reason: str | None
    """``stop`` (a stop token), ``length`` (``max_tokens``), or ``None`` when cancelled."""
    prefill_seconds: float
    """Time to the first sampled token."""
    total_seconds: float
    """Wall time on the worker thread."""


@dataclass(frozen=True)
class _Loaded:
    model: Any
    tokenizer: Any
    draft: Any | None
    machine: Any
    main_layers: int
    """How many of a prompt cache's entries are the main model's (the draft's follow)."""


@dataclass(frozen=True, kw_only=True)
class _Job:
    chat: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    conversation: str | None
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int | None
    stop: threading.Event = field(default_factory=threading.Event)


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
        settings: ModelSettings | None = None,
    ) -> None:
        """Nothing loads here: ``ensure_loaded`` (or the first request) loads off the event loop.

        Args:
            path_or_repo: a local model directory or a Hugging Face repo id.
            draft_model: a smaller model with the same tokenizer, for speculative decoding.
            adapter_path: a LoRA adapter directory (``mlx_lm lora`` output) applied on load.
            max_tokens: the default reply length bound (``max_tokens`` setting overrides).
            temperature: the default sampling temperature (``temperature`` setting overrides).
            max_cached_conversations: how many conversations' KV caches are kept (0: none).
            share_instructions: keep the cache of the instructions and tools, which every
                conversation starts with, and start new conversations from a copy of it.
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
        self.requests: deque[MlxRequestStats] = deque(maxlen=256)
        """The most recent requests' costs, newest last."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlx")
        self._load_lock = threading.Lock()
        self._load_future: Future[_Loaded] | None = None
        self._loaded: _Loaded | None = None
        self._caches = PromptCaches(
            self._make_cache,
            max_entries=max_cached_conversations,
            max_prefixes=2 if share_instructions else 0,
        )

    @property
    def model_name(self) -> str:
        return self.path_or_repo

    @property
    def system(self) -> str:
        return "mlx"

    @property
    def loaded(self) -> bool:
        """Ready to generate."""
        return self._loaded is not None

    @property
    def loading(self) -> bool:
        """A load is under way (``punie.status`` shows it)."""
        future = self._load_future
        return future is not None and not future.done()

    @property
    def load_error(self) -> str | None:
        """Why loading failed, if it did. A failed model stays failed: make a new one to retry."""
        future = self._load_future
        if future is None or not future.done() or future.cancelled():
            return None
        error = future.exception()
        return str(error) if error is not None else None

    async def ensure_loaded(self) -> None:
        """Load once on the worker thread; every caller awaits the same load.

        A caller cancelled while waiting does not cancel the load the others await.
        Raises ``MlxModelLoadError`` naming the model when it cannot be loaded.
        """
        with self._load_lock:
            if self._load_future is None:
                self._load_future = self._executor.submit(self._load)
            future = self._load_future
        await asyncio.shield(asyncio.wrap_future(future))

    def reset_conversation(self, conversation_id: str | None = None) -> None:
        """Drop one conversation's KV cache (``punie.resetConversation``), or all with ``None``."""
        self._executor.submit(self._caches.drop, conversation_id)

    def close(self) -> None:
        """Stop the worker thread once its current job ends; the model cannot be used after."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _load(self) -> _Loaded:
        from agent._mlx_load import load_model

        model, tokenizer, draft = load_model(self.path_or_repo, self.draft_model, self.adapter_path)
        from mlx_lm.generate import make_text_state_machine
        from mlx_lm.models.cache import make_prompt_cache

        machine = make_text_state_machine(tokenizer)
        layers = len(make_prompt_cache(model))
        self._loaded = _Loaded(model, tokenizer, draft, machine, layers)
        return self._loaded

    def _make_cache(self) -> list[Any]:
        from mlx_lm.models.cache import make_prompt_cache

        assert self._loaded is not None  # only called by jobs, which run after the load
        cache = make_prompt_cache(self._loaded.model)
        if self._loaded.draft is not None:
            # speculative_generate_step takes the main model's layers, then the draft's.
            cache += make_prompt_cache(self._loaded.draft)
        return cache

    def render_prompt(
        self, chat: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> list[int]:
        """Prompt tokens for chat dicts (``_mlx_chat.chat_messages``), as a training row renders.

        Blocking; call after ``ensure_loaded``.
        """
        if self._loaded is None:
            raise MlxModelLoadError(f"mlx model {self.path_or_repo!r} is not loaded yet")
        return list(
            self._loaded.tokenizer.apply_chat_template(
                chat, tools=tools or None, add_generation_prompt=True
            )
        )

    def _instructions_end(self, job: _Job, prompt: list[int]) -> int:
        """How many leading prompt tokens hold only the system messages and tools.

        Found as ``mlx_lm server`` finds its "system" segment: render the system
        messages with an empty user message and take the common prefix with the prompt.
        0 when the chat opens with no system message or the template refuses the render.
        """
        systems = list(itertools.takewhile(lambda m: m.get("role") == "system", job.chat))
        if not systems:
            return 0
        try:
            head = self.render_prompt([*systems, {"role": "user", "content": ""}], job.tools)
        except Exception:  # a template that needs more than this: share nothing
            return 0
        return min(common_prefix_len(head, prompt), len(prompt) - 1)

    def _prefill(self, cache: list[Any], tokens: list[int]) -> None:
        """Run ``tokens`` through the model (and draft) into ``cache``, in mlx-lm's chunks."""
        import mlx.core as mx

        loaded = self._require_loaded()
        parts = [(loaded.model, cache[: loaded.main_layers])]
        if loaded.draft is not None:
            parts.append((loaded.draft, cache[loaded.main_layers :]))
        inputs = mx.array(tokens)
        for model, layers in parts:
            for start in range(0, len(tokens), _PREFILL_STEP):
                model(inputs[start : start + _PREFILL_STEP][None], cache=layers)
                mx.eval([c.state for c in layers])

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
        job = _Job(
            chat=chat_messages(messages, [part.content for part in instructions]),
            tools=chat_tools(model_request_parameters.declared_tool_defs.values()),
            conversation=settings.get("mlx_conversation_id") or _conversation.get(),
            max_tokens=int(settings.get("max_tokens") or self.max_tokens),
            temperature=float(settings.get("temperature", self.temperature)),
            top_p=float(settings.get("top_p", 1.0)),
            top_k=int(settings.get("top_k", 0)),
            seed=settings.get("seed"),
        )
        run = _Run(self, job)
        try:
            yield MlxStreamedResponse(
                model_request_parameters=model_request_parameters,
                _model_name=self.model_name,
                _run=run,
                _job=job,
                _loaded=self._require_loaded(),
            )
        finally:
            await run.aclose()

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise MlxModelLoadError(
                self.load_error or f"mlx model {self.path_or_repo!r} is not loaded"
            )
        return self._loaded

    def _run_job(self, job: _Job, emit: Callable[[str], None]) -> MlxRequestStats:
        """Render, pick the cache, generate: on the worker thread."""
        import mlx.core as mx
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        start = time.perf_counter()
        loaded = self._require_loaded()
        prompt = self.render_prompt(job.chat, job.tools)
        taken = self._caches.take(job.conversation, prompt)
        entry, reused, start_at = taken.entry, taken.reused, taken.reused
        if reused == 0 and self._caches.shares_prefixes:
            end = self._instructions_end(job, prompt)
            if end > 0:
                # The first conversation with these instructions: prefill them on their
                # own, keep that cache to share, then go on from there.
                self._prefill(entry.cache, prompt[:end])
                entry.tokens = list(prompt[:end])
                self._caches.keep_prefix(entry)
                start_at = end
        if job.seed is not None:
            mx.random.seed(job.seed)
        sampler = make_sampler(temp=job.temperature, top_p=job.top_p, top_k=job.top_k)
        generated: list[int] = []
        finish: str | None = None
        first_token = 0.0
        for response in stream_generate(
            loaded.model,
            loaded.tokenizer,
            prompt[start_at:],
            max_tokens=job.max_tokens,
            draft_model=loaded.draft,
            sampler=sampler,
            prompt_cache=entry.cache,
        ):
            if not generated:
                first_token = time.perf_counter()
            generated.append(response.token)
            finish = response.finish_reason
            if response.text:
                emit(response.text)
            if job.stop.is_set():
                finish = None
                break
        entry.settle([*prompt, *generated])
        self._caches.put(taken.key, entry)
        stats = MlxRequestStats(
            conversation=job.conversation,
            prompt_tokens=len(prompt),
            reused_tokens=reused,
            shared_prefix_tokens=taken.shared_prefix,
            prefilled_tokens=len(prompt) - reused,
            generated_tokens=len(generated),
            finish_reason=finish,
            prefill_seconds=(first_token or time.perf_counter()) - start,
            total_seconds=time.perf_counter() - start,
        )
        self.requests.append(stats)
        return stats


_PREFILL_STEP = 2048
"""Tokens per forward pass when prefilling on our own (``generate_step``'s default)."""

_DONE = object()


class _Run:
    """One job on the worker thread, its decoded text delivered to the event loop as it comes."""

    def __init__(self, model: MlxModel, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        self._job = job
        self._queue: asyncio.Queue[object] = asyncio.Queue()

        def deliver(item: object) -> None:
            with suppress(RuntimeError):  # the loop is gone: nobody is listening any more
                loop.call_soon_threadsafe(self._queue.put_nowait, item)

        self._future = model._executor.submit(model._run_job, job, deliver)
        self._future.add_done_callback(lambda _: deliver(_DONE))

    async def texts(self) -> AsyncIterator[str]:
        """Decoded text chunks, then the job's own exception if it failed."""
        while (item := await self._queue.get()) is not _DONE:
            assert isinstance(item, str)
            yield item
        await asyncio.wrap_future(self._future)

    @property
    def stats(self) -> MlxRequestStats:
        return self._future.result()

    async def aclose(self) -> None:
        """Stop generating (a consumer that leaves early) and wait for the thread to let go."""
        self._job.stop.set()
        with suppress(Exception):
            await asyncio.shield(asyncio.wrap_future(self._future))


_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}


@dataclass
class MlxStreamedResponse(StreamedResponse):
    """Text and thinking stream as decoded; tool calls are emitted whole once parsed."""

    _model_name: str
    _run: _Run
    _job: _Job
    _loaded: _Loaded
    _timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    _calls: int = field(default=0, init=False)

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        splitter = ReplySplitter(self._loaded.machine, self._loaded.tokenizer.tool_call_end)
        async for chunk in self._run.texts():
            for kind, content in splitter.feed(chunk):
                for event in self._segment_events(kind, content):
                    yield event
        stats = self._run.stats
        for kind, content in splitter.finish(stats.finish_reason):
            for event in self._segment_events(kind, content):
                yield event
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

    def _segment_events(
        self, kind: Literal["text", "thinking", "tool"], content: str
    ) -> Iterator[ModelResponseStreamEvent]:
        if kind == "thinking":
            yield from self._parts_manager.handle_thinking_delta(
                vendor_part_id="thinking", content=content
            )
            return
        if kind == "tool":
            parsed = parse_tool_text(content, self._loaded.tokenizer.tool_parser, self._job.tools)
            for call in parsed:
                self._calls += 1
                yield self._parts_manager.handle_tool_call_part(
                    vendor_part_id=f"tool-{self._calls}", tool_name=call.name, args=call.arguments
                )
            if parsed:
                return
            # Unreadable, usually cut off by max_tokens: keep what the model wrote, as text.
            content = f"{self._loaded.tokenizer.tool_call_start}{content}"
        yield from self._parts_manager.handle_text_delta(vendor_part_id="content", content=content)

    async def close_stream(self) -> None:
        await self._run.aclose()

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
