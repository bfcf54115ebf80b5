"""The agent inside the server: one model, prompts from commands, edits through the editor.

``AgentHost`` owns the ``PunieAgent`` (built off the event loop on first use: importing
Pydantic AI takes seconds; rebuilt when model settings change). A run snapshots the
open documents, streams what the model writes (``$/progress`` and ``punie/message``),
stops within a second when cancelled, has ty check the files it proposes (the
diagnostics delta goes in the result), and then, per the ``edits`` setting, applies them
through ``workspace/applyEdit`` with the versions it read — never to disk directly.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from agent.config import AgentConfig, Settings, parse_model
from agent.deps import AgentDeps, ProgressEvent, ProgressKind
from agent.result import AgentResult, ModelStatus
from punie_lsp.agent_run import edits as edit_plan
from punie_lsp.agent_run.request import Request
from punie_lsp.agent_run.result import (
    CommandResult,
    DiagnosticsDelta,
    ProposedEdit,
    PunieMessage,
)
from punie_lsp.agent_run.traces import append_trace
from punie_lsp.session.documents import document_key
from punie_lsp.session.progress import WorkDone
from punie_lsp.session.session import Session
from typed_tools import ToolContext
from typed_tools.typecheck import typecheck

if TYPE_CHECKING:
    # agent.core imports Pydantic AI (seconds): the agent is built in a thread on first use.
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
    """Builds the agent once, runs prompts for the commands, applies their edits."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._agent: PunieAgent | None = None
        self._config: AgentConfig | None = None
        self._building: asyncio.Task[PunieAgent] | None = None

    # -- the agent -----------------------------------------------------------------------

    def _wanted_config(self) -> AgentConfig:
        return agent_config(self.session.settings)

    def _build(self, config: AgentConfig) -> PunieAgent:
        """In a worker thread: importing Pydantic AI takes seconds, so ``agent.core`` is
        imported here, on the first agent command, not when the server starts."""
        from agent.core import PunieAgent

        factory = os.environ.get(MODEL_FACTORY_ENV)
        model = None
        if factory:
            module, _, name = factory.partition(":")
            model = getattr(importlib.import_module(module), name)()
        return PunieAgent(config, model=model, tools=self.session.code_mode_tools)

    async def agent(self) -> PunieAgent:
        """The agent for the current settings (built in a thread; rebuilt on change)."""
        config = await asyncio.to_thread(self._wanted_config)
        if self._agent is not None and self._config == config:
            return self._agent
        if self._building is None or self._config != config:
            self._config = config
            self._building = asyncio.ensure_future(asyncio.to_thread(self._build, config))
        building = self._building
        agent = await asyncio.shield(building)
        if building is self._building:
            self._agent = agent
        return agent

    def status(self) -> ModelStatus:
        """The model's state, without building the agent (``punie.status`` must not wait)."""
        if self._agent is None:
            model = self.session.settings.model
            return ModelStatus(
                model=model,
                backend=parse_model(model)[0],
                loaded=False,
                loading=self._building is not None and not self._building.done(),
            )
        return self._agent.status()

    def close(self) -> None:
        if self._agent is not None:
            self._agent.close()

    def reset(self, conversation_id: str) -> bool:
        return self._agent.reset(conversation_id) if self._agent is not None else False

    # -- one run -------------------------------------------------------------------------

    def snapshot(self) -> edit_plan.Snapshot:
        docs = self.session.open_documents()
        return edit_plan.Snapshot(
            {
                document_key(d.uri): edit_plan.OpenDocument(
                    d.version or 0, d.source, getattr(d, "opened", 0), d.uri
                )
                for d in docs
            }
        )

    async def run(self, request: Request) -> CommandResult:
        session = self.session
        before = self.snapshot()
        async with WorkDone(session, request.title) as progress:
            progress.report("starting the model…")
            agent = await self.agent()
            if not agent.status().loaded:
                session.router.log_to_client(3, f"punie-lsp: loading model {agent.config.model}")
            ctx = session.tool_context(request.root)
            streamer = _Streamer(session, progress, request.conversation_id)
            deps = _deps(ctx, session, progress, streamer)
            started = time.monotonic()
            try:
                result = await agent.ask(
                    request.prompt, deps, conversation_id=request.conversation_id
                )
            finally:
                streamer.flush()
            if result.outcome == "model_error":
                session.router.log_to_client(1, f"punie-lsp: {result.error}")
            try:
                outcome = await self._deliver(request, result, before, progress)
            except Exception as exc:  # the answer must reach the user whatever the edits did
                logger.exception("delivering the run's edits failed")
                outcome = CommandResult.of(result, reason=f"not applied: {exc}")
                self._tell(f"not applied: {exc}")
            if not session.client.punie_messages:
                self._show_answer(result)
        outcome = outcome.model_copy(update={"seconds": round(time.monotonic() - started, 3)})
        if session.settings.capture_traces:
            append_trace(request, outcome, agent.conversations.history(result.conversation_id))
        return outcome

    def _show_answer(self, result: AgentResult) -> None:
        """For editors that ignore ``punie/message`` and command results (Helix, LSP4IJ, Zed)."""
        text = result.answer.strip() or (result.error or "no answer")
        if len(text) > ANSWER_MESSAGE_CHARS:
            text = text[: ANSWER_MESSAGE_CHARS - 1] + "…"
        kind = types.MessageType.Info if result.outcome == "ok" else types.MessageType.Warning
        self.session.lsp.window_show_message(
            types.ShowMessageParams(type=kind, message=f"Punie: {text}")
        )

    async def _deliver(
        self, request: Request, result: AgentResult, before: edit_plan.Snapshot, progress: WorkDone
    ) -> CommandResult:
        session = self.session
        proposed = {Path(e.path): e.text for e in result.edits} if request.may_edit else {}
        planned = edit_plan.plan(proposed, before)
        edits = [ProposedEdit(uri=p.uri, path=str(p.path), text=p.new_text) for p in planned]
        if not planned:
            return CommandResult.of(result, edits=edits)
        progress.report(f"checking {len(planned)} proposed file(s) with ty…")
        delta = await diagnostics_delta(session, request.root, planned)
        progress.report("; ".join(f"{d.file}: {d.before} → {d.after} errors" for d in delta))
        applied, reason = await self._apply(request, planned, delta)
        return CommandResult.of(
            result, edits=edits, diagnostics_delta=delta, applied=applied, reason=reason
        )

    async def _apply(
        self, request: Request, planned: list[edit_plan.PlannedEdit], delta: list[DiagnosticsDelta]
    ) -> tuple[bool, str | None]:
        """The one ask-before-editing policy: per ``edits``, whether the editor applied the
        edits, and if not, why (also shown to the user when they may not see the result).

        ``ask`` uses the editor's own confirmation (change annotations) when it has one,
        else ``window/showMessageRequest``; an editor with neither (Helix answers
        MethodNotFound) keeps the edits in the result, unapplied. A document changed
        since the run read it, before or while the user was asked, gets nothing.
        """
        session = self.session
        mode = session.settings.edits
        if mode == "never":
            return False, "edits: never — the edits are in this result, not applied"
        if (stale := self._stale(planned)) is not None:
            return False, stale
        confirm = mode == "ask" and session.client.change_annotations
        if mode == "ask" and not confirm:
            agreed = await self._user_agrees(planned, delta)
            if agreed is None:
                files = ", ".join(p.path.name for p in planned)
                reason = (
                    "not applied: this editor can neither confirm edits in place nor answer "
                    f"window/showMessageRequest; the proposed edits ({files}) are in this "
                    "result (set punie.edits to 'auto' to have them applied; undo reverts them)"
                )
                self._tell(reason)
                return False, reason
            if not agreed:
                return False, "not applied: declined"
            if (stale := self._stale(planned)) is not None:  # the user may have typed meanwhile
                return False, stale
        edit = edit_plan.workspace_edit(
            planned,
            session.position_encoding,
            confirm=confirm,
            document_changes=session.client.document_changes,
        )
        try:
            applied = await session.lsp.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=f"Punie: {request.command}")
            )
        except JsonRpcException as exc:
            reason = f"not applied: the editor refused workspace/applyEdit ({exc})"
            self._tell(reason)
            return False, reason
        if not applied.applied:
            return False, f"the editor did not apply it: {applied.failure_reason or 'declined'}"
        return True, None

    def _stale(self, planned: list[edit_plan.PlannedEdit]) -> str | None:
        """Why the edits must not land (a document changed since the run read it), or None."""
        changed = edit_plan.stale(planned, self.snapshot())
        if not changed:
            return None
        names = ", ".join(f"{Path(u).name} ({why})" for u, why in changed.items())
        reason = f"not applied: changed while Punie worked: {names}; ask again"
        self._tell(reason)
        return reason

    def _tell(self, reason: str) -> None:
        """Why edits were not applied, for every editor (a result alone may go unseen)."""
        self.session.lsp.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=f"Punie: {reason}")
        )

    async def _user_agrees(
        self, planned: list[edit_plan.PlannedEdit], delta: list[DiagnosticsDelta]
    ) -> bool | None:
        """The user's answer to "Apply?", or None when the editor cannot ask.

        Helix answers ``window/showMessageRequest`` with MethodNotFound; an editor that
        errors here is treated the same way: the caller returns the edits unapplied.
        """
        files = ", ".join(p.path.name for p in planned)
        errors = sum(d.after for d in delta)
        try:
            answer = await self.session.lsp.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Info,
                    message=(
                        f"Punie proposes changes to {files} (ty: {errors} error(s) after). Apply?"
                    ),
                    actions=[
                        types.MessageActionItem(title="Apply"),
                        types.MessageActionItem(title="Discard"),
                    ],
                )
            )
        except JsonRpcException as exc:
            logger.info("window/showMessageRequest failed (%s): edits left unapplied", exc)
            return None
        return answer is not None and answer.title == "Apply"


STREAM_INTERVAL_SECONDS = 0.05
"""Streamed text goes out at most once per interval (the first chunk at once).

A model writes tens of tokens a second; one ``punie/message`` and one ``$/progress``
per token costs the event loop a pygls serialisation and a write each, and the editor a
parse and a redraw, for text nobody reads faster than this.
"""


class _Streamer:
    """The run's progress reporter: text coalesced per ``STREAM_INTERVAL_SECONDS``.

    Text chunks are joined and sent together, the first of a quiet spell at once; any
    other event (code, a tool's result) first sends the text held back, so the order the
    model wrote them in is kept. ``flush`` sends what is left when the run ends.
    """

    def __init__(self, session: Session, progress: WorkDone, conversation_id: str) -> None:
        self._session = session
        self._progress = progress
        self._conversation_id = conversation_id
        self._held: list[str] = []
        self._tail = ""
        self._last_sent = float("-inf")
        self._timer: asyncio.TimerHandle | None = None

    def report(self, event: ProgressEvent) -> None:
        if event.kind == "text":
            self._held.append(event.text)
            wait = self._last_sent + STREAM_INTERVAL_SECONDS - time.monotonic()
            if wait <= 0:
                self.flush()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(wait, self.flush)
            return
        self.flush()
        self._send(event.kind, event.text)
        if event.kind in ("code", "toolCall"):
            first = event.text.strip().splitlines()
            self._progress.report(first[0][:120] if first else "…")

    def flush(self) -> None:
        """Send the text held back, if any."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._held:
            return
        text = "".join(self._held)
        self._held.clear()
        self._last_sent = time.monotonic()
        self._send("text", text)
        self._tail = (self._tail + text)[-120:]
        lines = self._tail.splitlines()
        self._progress.report(lines[-1] if lines else "…")

    def _send(self, kind: ProgressKind, text: str) -> None:
        message = PunieMessage(conversation_id=self._conversation_id, kind=kind, text=text)
        self._session.lsp.protocol.notify("punie/message", message.model_dump())


def _deps(ctx: ToolContext, session: Session, progress: WorkDone, streamer: _Streamer) -> AgentDeps:
    return AgentDeps(
        tools=ctx,
        pool=session.sandbox_pool,
        limits=session.sandbox_limits(),
        progress=streamer.report,
        cancel=progress.cancelled,
    )


async def diagnostics_delta(
    session: Session, root: Path, planned: list[edit_plan.PlannedEdit]
) -> list[DiagnosticsDelta]:
    """ty's error count per proposed Python file: as the editor has it, and after the edit."""
    delta = []
    for edit in planned:
        if edit.path.suffix not in (".py", ".pyi"):
            continue
        relative = edit.path.relative_to(root).as_posix()
        if edit.old_text is None:
            before_count = 0
        else:
            before = await typecheck(session.tool_context(root), relative)
            before_count = before.error_count
        ctx = replace(session.tool_context(root), overlay={edit.path: edit.new_text})
        after = await typecheck(ctx, relative)
        delta.append(
            DiagnosticsDelta(
                file=relative,
                before=before_count,
                after=after.error_count,
                errors=[f"{e.line}:{e.column} {e.code}: {e.message}" for e in after.errors[:5]],
            )
        )
    return delta


def new_conversation_id() -> str:
    return uuid.uuid4().hex
