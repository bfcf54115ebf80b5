"""The generation side of the ``mlx:`` backend: load, render, reuse caches, sample, split.

``MlxEngine`` is plain blocking code with no event loop: it runs in the model's worker
process (``_mlx_worker``), or on a thread of the caller's process when the model is
built with ``process=False``. Everything that needs the tokenizer happens here, so the
process that hosts the language server never loads one: the prompt is rendered with the
model's chat template, the reply is split into text, thinking and tool spans
(``reply_splitter.ReplySplitter``) and tool spans are parsed by the tokenizer's tool parser.
What leaves the engine is a list of ``Output`` items per batch, picklable, coalesced to
one batch per ``batch_seconds`` (the first at once, the last at the end), so the
receiving event loop wakes a few dozen times a second rather than once per token.

Each conversation keeps its KV cache between turns (``_mlx_cache``), and a new
conversation starts from the shared cache of the instructions and tools.

mlx-lm is imported inside the functions that use it: ``import mlx_lm`` costs ~1.3 s
(ARCHITECTURE, upstream traps), paid only by a process that runs an ``mlx:`` model.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from agent._mlx_cache import PromptCaches, common_prefix_len
from agent._mlx_load import MlxModelLoadError, load_model
from agent.reply_splitter import ReplySplitter, Segment
from agent.tool_calls import ParsedToolCall, parse_tool_text

__all__ = ["BATCH_SECONDS", "MlxEngine", "MlxJob", "MlxRequestStats", "Output"]

BATCH_SECONDS = 0.03
"""The default ``batch_seconds``: outputs are sent at most once per this interval."""

PREFILL_STEP = 2048
"""Tokens per forward pass when prefilling on our own (``generate_step``'s default)."""

Output = tuple[Literal["text", "thinking"], str] | tuple[Literal["calls"], list[ParsedToolCall]]
"""One piece of the reply: text or thinking as decoded, or the calls of one tool span."""


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
    """Prompt tokens run through the model: ``prompt_tokens - reused_tokens``, fewer when
    stopped while reading the prompt."""
    generated_tokens: int
    """Tokens sampled, the stop token included."""
    finish_reason: str | None
    """``stop`` (a stop token), ``length`` (``max_tokens``), or ``None`` when cancelled."""
    prefill_seconds: float
    """Time to the first sampled token."""
    total_seconds: float
    """Wall time in the engine."""


@dataclass(frozen=True, kw_only=True)
class MlxJob:
    """One request as the engine takes it (picklable: it crosses to the worker process)."""

    chat: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    conversation: str | None
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int | None


@dataclass(frozen=True)
class _Loaded:
    model: Any
    tokenizer: Any
    draft: Any | None
    machine: Any
    main_layers: int
    """How many of a prompt cache's entries are the main model's (the draft's follow)."""


class MlxEngine:
    """One loaded model (and draft and LoRA) with its prompt caches. Not thread-safe:
    the host calls it from one thread at a time."""

    def __init__(
        self,
        path_or_repo: str,
        *,
        draft_model: str | None = None,
        adapter_path: str | None = None,
        max_cached_conversations: int = 4,
        share_instructions: bool = True,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.path_or_repo = path_or_repo
        self.batch_seconds = batch_seconds
        self.draft_model = draft_model
        self.adapter_path = adapter_path
        self._loaded: _Loaded | None = None
        self._caches = PromptCaches(
            self._make_cache,
            max_entries=max_cached_conversations,
            max_prefixes=2 if share_instructions else 0,
        )

    def load(self) -> None:
        """Load the weights (once); ``MlxModelLoadError`` names the model when it cannot."""
        if self._loaded is not None:
            return
        model, tokenizer, draft = load_model(self.path_or_repo, self.draft_model, self.adapter_path)
        from mlx_lm.generate import make_text_state_machine
        from mlx_lm.models.cache import make_prompt_cache

        machine = make_text_state_machine(tokenizer)
        self._loaded = _Loaded(model, tokenizer, draft, machine, len(make_prompt_cache(model)))

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise MlxModelLoadError(f"mlx model {self.path_or_repo!r} is not loaded")
        return self._loaded

    def _make_cache(self) -> list[Any]:
        from mlx_lm.models.cache import make_prompt_cache

        loaded = self._require_loaded()
        cache = make_prompt_cache(loaded.model)
        if loaded.draft is not None:
            # speculative_generate_step takes the main model's layers, then the draft's.
            cache += make_prompt_cache(loaded.draft)
        return cache

    def render_prompt(
        self,
        chat: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> list[int]:
        """Prompt tokens for chat dicts through the model's chat template."""
        tokenizer = self._require_loaded().tokenizer
        return list(
            tokenizer.apply_chat_template(
                chat, tools=tools or None, add_generation_prompt=add_generation_prompt
            )
        )

    def reset(self, conversation_id: str | None) -> None:
        """Drop one conversation's cache, or all of them and the shared prefixes."""
        self._caches.drop(conversation_id)

    def run(
        self, job: MlxJob, emit: Callable[[list[Output]], None], stop: threading.Event
    ) -> MlxRequestStats:
        """Render, pick the cache, generate; ``emit`` gets the reply in batches.

        ``stop`` ends the run at the next token, or at the next prefill chunk
        (``PREFILL_STEP`` tokens) while the prompt is read (``finish_reason`` None).
        """
        start = time.perf_counter()
        loaded = self._require_loaded()
        prompt = self.render_prompt(job.chat, job.tools)
        taken = self._caches.take(job.conversation, prompt)
        entry, reused, start_at = taken.entry, taken.reused, taken.reused
        fed = 0
        if reused == 0 and self._caches.shares_prefixes:
            end = self._instructions_end(job, prompt)
            if end > 0:
                # The first conversation with these instructions: prefill them on their
                # own, keep that cache to share, then go on from there.
                fed = self._prefill(entry.cache, prompt[:end], stop)
                if fed == end:
                    entry.tokens = list(prompt[:end])
                    self._caches.keep_prefix(entry)
                start_at = end
        # The prompt but its last token, in chunks a stop ends between (a long selection
        # takes minutes on a CPU); mlx-lm's own prefill cannot be stopped, and drops its
        # progress callback with a draft model. Generation starts from the last token.
        if not stop.is_set():
            fed += self._prefill(entry.cache, prompt[start_at:-1], stop)
        splitter = ReplySplitter(loaded.machine, loaded.tokenizer.tool_call_end)
        batch = _Batch(emit, self.batch_seconds)
        generated: list[int] = []
        finish: str | None = None
        first_token = 0.0
        if not stop.is_set():
            fed += 1
            for token, text, finish in self._generate(job, prompt[-1:], entry.cache):
                if not generated:
                    first_token = time.perf_counter()
                generated.append(token)
                batch.add(self._outputs(splitter.feed(text), job) if text else [])
                if stop.is_set():
                    finish = None
                    break
        batch.add(self._outputs(splitter.finish(finish), job))
        batch.flush()
        if fed == len(prompt) - reused:
            entry.settle([*prompt, *generated])
            self._caches.put(taken.key, entry)
        # else stopped while prefilling: the main and draft caches may hold different
        # lengths, so the entry is dropped and the next turn starts from a prefix again.
        return MlxRequestStats(
            conversation=job.conversation,
            prompt_tokens=len(prompt),
            reused_tokens=reused,
            shared_prefix_tokens=taken.shared_prefix,
            prefilled_tokens=fed,
            generated_tokens=len(generated),
            finish_reason=finish,
            prefill_seconds=(first_token or time.perf_counter()) - start,
            total_seconds=time.perf_counter() - start,
        )

    def _generate(
        self, job: MlxJob, tokens: list[int], cache: list[Any]
    ) -> Iterator[tuple[int, str, str | None]]:
        """(token, its decoded text, finish reason or None) as mlx-lm samples them."""
        import mlx.core as mx
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        loaded = self._require_loaded()
        if job.seed is not None:
            mx.random.seed(job.seed)
        sampler = make_sampler(temp=job.temperature, top_p=job.top_p, top_k=job.top_k)
        for response in stream_generate(
            loaded.model,
            loaded.tokenizer,
            tokens,
            max_tokens=job.max_tokens,
            draft_model=loaded.draft,
            sampler=sampler,
            prompt_cache=cache,
        ):
            yield response.token, response.text, response.finish_reason

    def _outputs(self, segments: list[Segment], job: MlxJob) -> list[Output]:
        tokenizer = self._require_loaded().tokenizer
        out: list[Output] = []
        for kind, content in segments:
            if kind == "tool":
                calls = parse_tool_text(content, tokenizer.tool_parser, job.tools)
                if calls:
                    out.append(("calls", calls))
                    continue
                # Unreadable, usually cut off by max_tokens: keep what the model wrote.
                out.append(("text", f"{tokenizer.tool_call_start}{content}"))
            else:
                out.append((kind, content))
        return out

    def _instructions_end(self, job: MlxJob, prompt: list[int]) -> int:
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

    def _prefill(self, cache: list[Any], tokens: list[int], stop: threading.Event) -> int:
        """Run ``tokens`` through the model (and draft) into ``cache``, in mlx-lm's chunks;
        how many went in before ``stop`` was set (checked before each chunk)."""
        import mlx.core as mx

        if not tokens:
            return 0
        loaded = self._require_loaded()
        parts = [(loaded.model, cache[: loaded.main_layers])]
        if loaded.draft is not None:
            parts.append((loaded.draft, cache[loaded.main_layers :]))
        inputs = mx.array(tokens)
        fed = 0
        for model, layers in parts:
            for start in range(0, len(tokens), PREFILL_STEP):
                if stop.is_set():
                    return min(fed, start)
                model(inputs[start : start + PREFILL_STEP][None], cache=layers)
                mx.eval([c.state for c in layers])
                mx.clear_cache()
                if model is loaded.model:
                    fed = min(start + PREFILL_STEP, len(tokens))
        return fed


class _Batch:
    """Outputs held until ``seconds`` have passed since the last emit."""

    def __init__(self, emit: Callable[[list[Output]], None], seconds: float) -> None:
        self._emit = emit
        self._seconds = seconds
        self._held: list[Output] = []
        self._last = float("-inf")

    def add(self, outputs: list[Output]) -> None:
        self._held.extend(outputs)
        if self._held and time.perf_counter() - self._last >= self._seconds:
            self.flush()

    def flush(self) -> None:
        if self._held:
            held, self._held = _merged(self._held), []
            self._last = time.perf_counter()
            self._emit(held)


def _merged(outputs: list[Output]) -> list[Output]:
    """Neighbouring text (or thinking) joined; calls kept apart and in place."""
    out: list[Output] = []
    for item in outputs:
        last = out[-1] if out else None
        if last is not None and item[0] != "calls" and last[0] == item[0]:
            out[-1] = (item[0], last[1] + item[1])
        else:
            out.append(item)
    return out
