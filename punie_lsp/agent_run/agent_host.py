"""The agent inside the server: one model, prompts from commands, edits through the editor.

``AgentHost`` owns the ``PunieAgent`` (built off the event loop on first use: importing
Pydantic AI takes seconds; rebuilt when model settings change). A run snapshots the
open documents, streams what the model writes (``$/progress`` and ``punie/message``,
``punie_lsp.agent_run.streaming``), stops within a second when cancelled, and hands the
files it proposes to ``punie_lsp.agent_run.delivery``: checked by ty, then applied per
the edit policy (``punie_lsp.agent_run.policy``) through ``workspace/applyEdit`` with
the versions it read — never to disk directly.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING

from lsprotocol import types

from agent.config import AgentConfig, ModelSpecError, Settings, error_line, parse_model
from agent.deps import AgentDeps
from agent.result import AgentResult, ModelStatus
from punie_lsp.agent_run.delivery import EditDelivery, snapshot
from punie_lsp.agent_run.request import Request
from punie_lsp.agent_run.result import CommandResult
from punie_lsp.agent_run.streaming import Streamer
from punie_lsp.agent_run.traces import append_trace
from punie_lsp.session.progress import WorkDone
from punie_lsp.session.session import Session
from typed_tools import ToolContext

if TYPE_CHECKING:
    # agent.core imports Pydantic AI (seconds): the agent is built in a thread on first use.
    from agent.conversations import ConversationHistories
    from agent.core import PunieAgent

__all__ = ["AgentHost", "agent_config", "new_conversation_id"]

logger = logging.getLogger(__name__)

ANSWER_MESSAGE_CHARS = 4000
"""Longest answer shown as a message box (editors without a Punie plug-in)."""

MODEL_FACTORY_ENV = "PUNIE_LSP_MODEL_FACTORY"
"""Test-only: ``module:callable`` returning a Pydantic AI model used instead of ``model``."""


SERVER_ONLY_SETTINGS = frozenset({"edits", "capture_traces", "trust"})
"""Settings the server reads and the agent does not: changing one never rebuilds the agent."""


def agent_config(settings: Settings) -> AgentConfig:
    """The agent's config for these settings; equal configs share one built agent.

    The server-only fields stay at their defaults, so toggling ``captureTraces`` or
    ``edits`` does not rebuild the agent (and reload an mlx model).
    """
    return AgentConfig(**settings.model_dump(exclude=set(SERVER_ONLY_SETTINGS), by_alias=False))


class AgentHost:
    """Builds the agent once, runs prompts for the commands, delivers their edits."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._delivery = EditDelivery(session)
        self._agent: PunieAgent | None = None
        self._config: AgentConfig | None = None
        """The config ``_agent`` was built for."""
        self._building: asyncio.Future[PunieAgent] | None = None
        self._building_config: AgentConfig | None = None
        self._build_error: str | None = None
        """Why the agent for the current settings could not be built (``punie.status``)."""
        self._runs: dict[PunieAgent, int] = {}
        """Runs in progress per agent: a replaced agent is closed when its last run ends."""
        self._conversations: ConversationHistories | None = None
        """Every conversation's history, kept across the agents built for new settings."""
        self._answered: set[str] = set()
        """Conversation ids this server has run (and returned), whatever the outcome."""

    # -- the agent -----------------------------------------------------------------------

    def _wanted_config(self) -> AgentConfig:
        """The config the settings in force ask for; ``ModelSpecError`` when their
        ``model`` cannot be used (never the default model in its place)."""
        if self.session.bad_model is not None:
            raise ModelSpecError(self.session.bad_model.error)
        return agent_config(self.session.settings)

    def _build(self, config: AgentConfig) -> PunieAgent:
        """In a worker thread: importing Pydantic AI takes seconds, so ``agent.core`` is
        imported here, on the first agent command, not when the server starts."""
        from agent.conversations import ConversationHistories
        from agent.core import PunieAgent

        factory = os.environ.get(MODEL_FACTORY_ENV)
        model = None
        if factory:
            module, _, name = factory.partition(":")
            model = getattr(importlib.import_module(module), name)()
        if self._conversations is None:
            self._conversations = ConversationHistories(config.history_tokens)
        return PunieAgent(
            config,
            model=model,
            tools=self.session.code_mode_tools,
            # One store for every agent built here: a settings change (another model, a
            # temperature) rebuilds the agent, and lost every conversation's history.
            conversations=self._conversations,
        )

    async def agent(self) -> PunieAgent:
        """The agent for the current settings (built in a thread; rebuilt on change).

        Raises what building raised (``ModelSpecError``: a model string that cannot be
        used as written); the next call builds again. The agent it replaces is closed
        once its runs end (an ``mlx:`` model's worker holds the weights in memory).
        """
        config = await asyncio.to_thread(self._wanted_config)
        if self._agent is not None and self._config == config:
            return self._agent
        if self._building is None or self._building_config != config:
            self._building_config = config
            self._building = asyncio.ensure_future(asyncio.to_thread(self._build, config))
        building = self._building
        try:
            agent = await asyncio.shield(building)
        except Exception as exc:
            if building is self._building:
                self._building = None  # built again next time: the user may fix it
                self._build_error = error_line(exc)
            raise
        if building is self._building:
            self._building, self._build_error = None, None
            first = self._agent is None
            self._replace(agent, config)
            if first:
                # What the first build imported (Pydantic AI, the model's client) lives
                # as long as the process: as at start-up (``runner``), the collector's
                # full passes stop walking it; each cost every thread, a forwarded
                # hover's included, 40-50 ms (gc.freeze, CPython's documented use).
                gc.freeze()
        return agent

    def _replace(self, agent: PunieAgent, config: AgentConfig) -> None:
        old, self._agent, self._config = self._agent, agent, config
        if old is not None and not self._runs.get(old):
            old.close()

    def status(self) -> ModelStatus:
        """The model's state, without building the agent (``punie.status`` must not wait).

        A ``model`` setting that cannot be used is reported as such: not loaded, its
        one-line reason as ``error``, no backend."""
        if (bad := self.session.bad_model) is not None:
            return ModelStatus(
                model=bad.written, backend=None, loaded=False, loading=False, error=bad.error
            )
        wanted = self._wanted_config()
        if self._agent is None or self._config != wanted:
            model = self.session.settings.model
            return ModelStatus(
                model=model,
                backend=parse_model(model)[0],
                loaded=False,
                loading=self._building is not None and not self._building.done(),
                error=self._build_error,
            )
        return self._agent.status()

    def close(self) -> None:
        for agent in {*self._runs, *filter(None, [self._agent])}:
            agent.close()

    def reset(self, conversation_id: str) -> bool:
        return self._agent.reset(conversation_id) if self._agent is not None else False

    # -- one run -------------------------------------------------------------------------

    async def run(self, request: Request) -> CommandResult:
        session = self.session
        before = snapshot(session)
        started = time.monotonic()
        async with WorkDone(session, request.title) as progress:
            progress.report("starting the model…")
            try:
                agent = await self.agent()
            except Exception as exc:  # the settings name a model that cannot be built
                return self._not_built(request, exc, started)
            if not agent.status().loaded:
                session.router.log_to_client(3, f"punie-lsp: loading model {agent.config.model}")
            if request.continues and request.conversation_id not in self._answered:
                self._tell_conversation_unknown(request.conversation_id)
            self._answered.add(request.conversation_id)
            await session.folder_trust_settled()
            ctx = session.tool_context(request.root)
            streamer = Streamer(session, progress, request.conversation_id)
            deps = _deps(ctx, session, progress, streamer)
            started = time.monotonic()
            self._runs[agent] = self._runs.get(agent, 0) + 1
            if agent.conversations.busy(request.conversation_id):
                # Prompts of one conversation run one at a time (agent.core): say why
                # nothing comes yet; cancelling it ends it at once.
                progress.report("waiting for the previous prompt in this conversation to end…")
            try:
                result = await agent.ask(
                    request.prompt, deps, conversation_id=request.conversation_id
                )
            finally:
                streamer.flush()
                self._run_ended(agent)
            if result.outcome == "model_error":
                session.router.log_to_client(1, f"punie-lsp: {result.error}")
            try:
                outcome = await self._delivery.deliver(request, result, before, progress)
            except Exception as exc:  # the answer must reach the user whatever the edits did
                logger.exception("delivering the run's edits failed")
                outcome = CommandResult.of(result, reason=f"not applied: {exc}")
                self._delivery.tell(f"not applied: {exc}")
            if not session.client.punie_messages:
                self._show_answer(result)
        outcome = outcome.model_copy(update={"seconds": round(time.monotonic() - started, 3)})
        if session.settings.capture_traces:
            append_trace(request, outcome, agent.conversations.history(result.conversation_id))
        return outcome

    def _tell_conversation_unknown(self, conversation_id: str) -> None:
        """A follow-up in a conversation this server never ran (it restarted since): the
        model would answer without the earlier turns and nobody would know. It goes ahead
        as a new conversation under that id, and says so."""
        message = (
            f"Punie: conversation {conversation_id} is not known to this punie-lsp (it "
            "restarted since): this prompt starts it again, without the earlier turns"
        )
        self.session.router.log_to_client(2, message)
        self.session.lsp.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=message)
        )

    def _run_ended(self, agent: PunieAgent) -> None:
        left = self._runs.pop(agent) - 1
        if left:
            self._runs[agent] = left
        elif agent is not self._agent:
            agent.close()  # replaced while it ran: its model goes now

    def _not_built(self, request: Request, exc: Exception, started: float) -> CommandResult:
        """A run whose agent could not be built: a result naming why, as a model that
        cannot load gets (never a JSON-RPC error carrying an exception's class)."""
        error = error_line(exc)
        self._answered.add(request.conversation_id)  # the editor may continue it
        self.session.router.log_to_client(1, f"punie-lsp: {error}")
        result = AgentResult(
            conversation_id=request.conversation_id, answer="", outcome="model_error", error=error
        )
        if not self.session.client.punie_messages:
            self._show_answer(result)
        return CommandResult.of(result, seconds=round(time.monotonic() - started, 3))

    def _show_answer(self, result: AgentResult) -> None:
        """For editors that ignore ``punie/message`` and command results (Helix, LSP4IJ, Zed)."""
        text = result.answer.strip() or (result.error or "no answer")
        if len(text) > ANSWER_MESSAGE_CHARS:
            text = text[: ANSWER_MESSAGE_CHARS - 1] + "…"
        kind = types.MessageType.Info if result.outcome == "ok" else types.MessageType.Warning
        self.session.lsp.window_show_message(
            types.ShowMessageParams(type=kind, message=f"Punie: {text}")
        )


def _deps(ctx: ToolContext, session: Session, progress: WorkDone, streamer: Streamer) -> AgentDeps:
    return AgentDeps(
        tools=ctx,
        pool=session.sandbox_pool,
        limits=session.sandbox_limits(),
        progress=streamer.report,
        cancel=progress.cancelled,
    )


def new_conversation_id() -> str:
    return uuid.uuid4().hex
