"""``PunieAgent``: the long-lived agent a server or the CLI owns, and one prompt's run.

Owned, not global: the model (loaded once, kept warm), the generated tools and stubs,
the instructions and the conversations live on the instance; everything that belongs
to one prompt arrives in ``AgentDeps``. ``ask`` never raises for what can go wrong in a
run (cancelled, a usage limit, an unreachable model, code the model could not fix): the
result's ``outcome`` and ``error`` say so, because the server answers the editor with it
either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import warnings
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Coroutine

from pydantic_ai import Agent, CancellationToken, ModelRetry, RunContext
from pydantic_ai.exceptions import (
    ModelAPIError,
    RunCancelled,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
    UsageLimitUnavailableWarning,
)
from pydantic_ai.messages import (
    AgentStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RunUsage, UsageLimits

from agent.backends import build_model, describe_model_error, error_line, parse_model
from agent.code_mode import CodeModeTools
from agent.config import SETTING_NAMES, AgentConfig
from agent.conversations import ConversationHistories
from agent.deps import AgentDeps
from agent.execute import RunState, SandboxFailure, execute_code
from agent.instructions import render_instructions
from agent.mlx_model import MlxModelSettings
from agent.recognising_model import ReplyCut, ToolCallRecognition
from agent.result import AgentResult, Edit, ModelStatus, Outcome, Usage
from agent.tool_calls import unreadable_call
from sandbox import SandboxSession

# Pydantic AI warns (a Python warning with its file and line, on the terminal of
# `punie-lsp ask` and in the editor's log) when a reply carries no token counts while a
# token limit is set: servers that do not report usage in their streams do that on every
# run. The result says it instead (``Usage.unmeasured_requests``; the CLI's summary
# line says "tokens not reported by the server").
warnings.filterwarnings("ignore", category=UsageLimitUnavailableWarning)

__all__ = ["PunieAgent"]


class PunieAgent:
    """The Code Mode agent: one model, one tool (``execute_code``), many conversations."""

    def __init__(
        self,
        config: AgentConfig | None = None,
        *,
        model: Model | None = None,
        tools: CodeModeTools | None = None,
        conversations: ConversationHistories | None = None,
    ) -> None:
        """Build the agent; cheap (no weights loaded, no network).

        ``model`` overrides ``config.model`` (tests inject a ``FunctionModel``). A bad
        model string raises ``ModelSpecError`` here, naming the fix. ``conversations``:
        the histories to continue (the editor's server passes the ones the agent this
        one replaces kept, so a settings change loses no conversation); new ones if None.
        """
        self.config = config or AgentConfig()
        self._injected = model is not None
        self.model: Model = model if model is not None else build_model(self.config)
        self.tools = tools or CodeModeTools.load()
        self.instructions = render_instructions(self.tools.stubs)
        self.conversations = (
            conversations
            if conversations is not None
            else ConversationHistories(self.config.history_tokens)
        )
        self._last_error: str | None = None
        self._agent = self._build()

    def _build(self) -> Agent[RunState, str]:
        agent = Agent(
            # Tool calls read the same way whatever serves the model (agent.tool_calls).
            ToolCallRecognition(self.model, code_functions=self.tools.tools.keys()),
            deps_type=RunState,
            output_type=str,
            instructions=self.instructions,
            model_settings=ModelSettings(
                temperature=self.config.temperature, max_tokens=self.config.max_tokens
            ),
            retries=self.config.code_retries,
        )
        agent.tool(retries=self.config.code_retries)(execute_code)

        @agent.output_validator
        async def _answer_in_words(ctx: RunContext[RunState], output: str) -> str:
            # Async because Pydantic AI runs a sync validator on a worker thread: a thread
            # hop per answer, holding the GIL a forwarded hover waits for.
            if not output.strip():
                # An empty answer after tool calls usually means the model stopped
                # mid-thought (or the prompt overflowed the server's context: LM Studio
                # then streams nothing, lmstudio-ai/lmstudio-bug-tracker#2339).
                ctx.deps.rejected.append("an empty reply")
                raise ModelRetry("Answer the user in plain text, or call execute_code.")
            if unreadable_call(output):
                # Call markup the recogniser could not read (agent.tool_calls): shown as
                # the answer, it was an ``ok`` run whose answer was half a call.
                ctx.deps.rejected.append("a tool call that could not be read")
                raise ModelRetry(
                    "Your reply has a tool call that could not be read (unfinished or "
                    "malformed). Call execute_code again with the whole program, or answer "
                    "in plain text without tool-call tags."
                )
            return output

        return agent

    def status(self) -> ModelStatus:
        """Whether the model is loaded, loading or failed, without waiting for anything."""
        backend = "injected" if self._injected else parse_model(self.config.model)[0]
        loaded = getattr(self.model, "loaded", True)
        load_error = getattr(self.model, "load_error", None)
        return ModelStatus(
            model=self.config.model,
            backend=backend,
            loaded=bool(loaded),
            loading=bool(getattr(self.model, "loading", False)),
            error=load_error or self._last_error,
        )

    async def ensure_loaded(self) -> None:
        """Load the model's weights now (``mlx:``; a no-op for others); raises on failure."""
        load = getattr(self.model, "ensure_loaded", None)
        if load is not None:
            await load()

    def reset(self, conversation_id: str) -> bool:
        """Forget a conversation (``punie.resetConversation``); True when it existed.

        The model forgets it too: an in-process model drops that conversation's KV cache.
        """
        reset_cache = getattr(self.model, "reset_conversation", None)
        if reset_cache is not None:
            reset_cache(conversation_id)
        return self.conversations.reset(conversation_id)

    def close(self) -> None:
        """Release the model's resources (an in-process model's worker thread)."""
        close = getattr(self.model, "close", None)
        if close is not None:
            close()

    async def ask(
        self, prompt: str, deps: AgentDeps, *, conversation_id: str | None = None
    ) -> AgentResult:
        """Answer ``prompt`` in the conversation (a new one when None), streaming to deps.

        Prompts in one conversation run one at a time; each sees the history the
        previous one left. Set ``deps.cancel`` to stop: the result comes back within a
        second with outcome ``cancelled`` and no edits.
        """
        conversation = self.conversations.get(conversation_id)
        async with _turn_in(conversation.lock, deps.cancel) as ours:
            if not ours:
                return AgentResult(
                    conversation_id=conversation.id,
                    answer="",
                    outcome="cancelled",
                    error="cancelled by the user while it waited for the previous prompt "
                    "in this conversation to end",
                )
            run = self._run_state(deps)
            if self.config.warm_sandbox:
                # A session for each program, opened while the model writes it, and the
                # pool's type checker set up now if it is not (sandbox._session).
                run.sandbox = deps.pool.session(
                    stubs=run.tools.stubs, limits=run.limits, type_check=run.type_check
                )
                run.sandbox.prewarm()
            usage = RunUsage()
            uncounted = 0  # model responses the run stopped on that Pydantic AI did not count
            token = CancellationToken()
            watcher = asyncio.create_task(_cancel_on(deps.cancel, token))
            outcome: Outcome = "ok"
            error: str | None = None
            answer = ""
            try:
                await _until_cancelled(self.ensure_loaded(), deps.cancel)
                result = await self._agent.run(
                    prompt,
                    deps=run,
                    message_history=conversation.messages,
                    usage_limits=UsageLimits(
                        request_limit=self.config.request_limit,
                        total_tokens_limit=self.config.total_tokens_limit,
                    ),
                    usage=usage,
                    # An in-process model keeps one KV cache per conversation (prompt-cache
                    # reuse); other models ignore settings they do not know.
                    model_settings=MlxModelSettings(mlx_conversation_id=conversation.id),
                    cancellation_token=token,
                    event_stream_handler=_stream_to(run),
                )
                answer = result.output
                self.conversations.update(conversation, result.all_messages())
                self._last_error = None
            except RunCancelled:
                # Only our token cancels this way; a cancelled caller task propagates as is.
                outcome, error = "cancelled", "cancelled by the user"
            except UsageLimitExceeded as exc:
                outcome = "usage_limit"
                error = f"the run stopped at a usage limit: {exc}"
            except ReplyCut as cut:
                outcome, error = "usage_limit", self._describe_cut()
                # A turn is Pydantic AI's ``requests``: one model response, including one
                # the run stopped on at a limit. A cut reply nothing of which was streamed
                # is such a response too, but Pydantic AI counts an interrupted one only
                # when it streamed a part: ``openai:`` (mlx_lm server holding back a cut
                # call) said 0 turns where ``mlx:`` said 1 for the same reply.
                uncounted = 0 if cut.streamed else 1
            except UnexpectedModelBehavior as exc:
                outcome = "code_failed" if "execute_code" in str(exc) else "model_error"
                error = f"the model could not finish: {exc}"
                if "output retries" in str(exc):
                    error = _describe_rejected(run.rejected, usage.requests)
            except SandboxFailure as exc:  # not the model's doing: named as what failed
                outcome = "error"
                error = (
                    f"the sandbox failed while running the model's program ({exc}); the "
                    "model is not at fault: ask again, and report it if it recurs"
                )
            except ModelAPIError as exc:
                outcome, error = "model_error", self._describe_model_error(exc)
                self._last_error = error
            except Exception as exc:  # a model that cannot load raises its own errors
                outcome, error = "model_error", self._describe_model_error(exc)
                self._last_error = error
            finally:
                if run.sandbox is not None:
                    run.sandbox.release()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if outcome != "ok":
                answer = "".join(run.text)
            else:
                run.report("answer", answer)
            return AgentResult(
                conversation_id=conversation.id,
                answer=answer,
                outcome=outcome,
                error=error,
                edits=_edits(deps) if outcome == "ok" else [],
                code=run.code,
                calls=run.calls,
                usage=Usage(
                    requests=usage.requests + uncounted,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    unmeasured_requests=usage.unmeasured_requests,
                ),
                turns=usage.requests + uncounted,
            )

    def _describe_cut(self) -> str:
        setting = SETTING_NAMES[self.config.surface]["max_tokens"]
        return (
            f"the model's reply reached {setting} ({self.config.max_tokens} tokens) before it "
            f"ended; the text it wrote before is kept as the answer (an unfinished tool call "
            f"is not) and nothing of it was run: raise "
            f"{setting}, or ask for less at a time"
        )

    def _describe_model_error(self, exc: BaseException) -> str:
        """The model's failure in words; an injected model (``PUNIE_LSP_MODEL_FACTORY``,
        a test's) is named by itself, not by the ``config.model`` it replaced."""
        if self._injected:
            detail = error_line(exc)
            return f"model {self.model.model_name!r} failed: {type(exc).__name__}: {detail}"
        return describe_model_error(self.config, exc)

    def _run_state(self, deps: AgentDeps) -> RunState:
        run = RunState(
            deps=deps,
            tools=self.tools,
            limits=deps.limits or self.config.sandbox.limits(),
            type_check=self.config.type_check,
            context=deps.tools,
        )
        caller_hook = deps.tools.on_call

        async def on_call(name: str, args: dict[str, object]) -> None:
            if caller_hook is not None:
                await caller_hook(name, args)
            run.report("toolCall", _call_line(name, args))

        # Same overlay dict (a shallow copy): the run's writes land in the caller's overlay.
        run.context = dataclasses.replace(deps.tools, on_call=on_call)
        return run


def _describe_rejected(rejected: list[str], tries: int) -> str:
    """Pydantic AI's "Exceeded maximum output retries": every reply was sent back and the
    last was still unusable. Why, in the user's words: the reasons ``_answer_in_words``
    recorded, or a reply with neither text nor a call (Pydantic AI retries those itself)."""
    reasons = sorted(set(rejected), key=rejected.index) or ["a reply with no text and no call"]
    return (
        f"the model gave no usable answer in {tries} tries ({' or '.join(reasons)}); what "
        "it wrote is kept. Ask again; if it recurs, check the server's log (a prompt over "
        "its context window can give empty replies) or use a model that follows the "
        "tool-call format"
    )


def _call_line(name: str, args: dict[str, object]) -> str:
    rendered = ", ".join(f"{k}={v!r}"[:80] for k, v in args.items() if k != "content")
    return f"{name}({rendered})"


def _edits(deps: AgentDeps) -> list[Edit]:
    return [Edit(path=str(path), text=text) for path, text in sorted(deps.tools.overlay.items())]


def _stream_to(
    run: RunState,
) -> Callable[[RunContext[RunState], AsyncIterable[AgentStreamEvent]], Awaitable[None]]:
    """An event-stream handler forwarding the model's text to the run's reporter as it comes.

    It also starts the type check of each ``execute_code`` program as soon as the model's
    call is complete (``SandboxSession.precheck``): Pydantic AI takes ~1.5 ms more to
    reach the tool, about what the check takes, and a check runs nothing.
    """

    async def handler(ctx: RunContext[RunState], events: AsyncIterable[AgentStreamEvent]) -> None:
        async for event in events:
            text = None
            if isinstance(event, PartStartEvent):
                if isinstance(event.part, TextPart):
                    text = event.part.content
                elif isinstance(event.part, ToolCallPart) and run.sandbox is not None:
                    _precheck(run.sandbox, event.part)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                text = event.delta.content_delta
            if text:
                run.text.append(text)
                run.report("text", text)

    return handler


def _precheck(sandbox: SandboxSession, call: ToolCallPart) -> None:
    """Start checking the program of a complete ``execute_code`` call (our recogniser
    emits calls whole); the tool's own check claims it by its exact text."""
    if call.tool_name != execute_code.__name__:
        return
    code = call.args_as_dict().get("code")
    if isinstance(code, str):
        sandbox.precheck(code)


async def _cancel_on(event: asyncio.Event, token: CancellationToken) -> None:
    """Turn the caller's event into Pydantic AI's cancellation of the run's task."""
    await event.wait()
    token.cancel()


@contextlib.asynccontextmanager
async def _turn_in(lock: asyncio.Lock, cancel: asyncio.Event) -> AsyncGenerator[bool]:
    """Hold ``lock`` for the block (True), or, when ``cancel`` is set before the lock is
    free, hold nothing (False), at once: a prompt queued behind its conversation's
    previous one can be cancelled while it waits, not only once it runs."""
    acquire = asyncio.ensure_future(lock.acquire())
    waiter = asyncio.create_task(cancel.wait())
    try:
        await asyncio.wait({acquire, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not acquire.done():
            acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquire
    if acquire.cancelled() or not acquire.done():
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


async def _until_cancelled(work: Coroutine[object, object, None], cancel: asyncio.Event) -> None:
    """Await ``work`` (model loading) unless ``cancel`` is set first: then ``RunCancelled``."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.create_task(cancel.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not task.done():
        task.cancel()
        raise RunCancelled("cancelled while the model was loading")
    task.result()
