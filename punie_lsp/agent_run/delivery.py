"""A run's edits through the editor: planned, checked by ty, applied per the edit policy.

Edits are line diffs against exactly the text the run read (``punie_lsp.agent_run.edits``);
ty's error count before and after each proposed Python file goes in the result; then
the edit policy (``punie_lsp.agent_run.policy``) decides, and the edits reach the
editor through ``workspace/applyEdit`` with the versions read — never the disk. A
document changed, closed or reopened since gets nothing.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from agent.result import AgentResult
from punie_lsp.agent_run import edits as edit_plan
from punie_lsp.agent_run.policy import edit_route
from punie_lsp.agent_run.request import Request
from punie_lsp.agent_run.result import CommandResult, DiagnosticsDelta, ProposedEdit
from punie_lsp.session.documents import document_key
from punie_lsp.session.progress import WorkDone
from punie_lsp.session.session import Session
from typed_tools.typecheck import typecheck

__all__ = ["EditDelivery", "diagnostics_delta", "snapshot"]

logger = logging.getLogger(__name__)


def snapshot(session: Session) -> edit_plan.Snapshot:
    """The open documents as the editor has them now: text, version, which ``didOpen``."""
    docs = session.open_documents()
    return edit_plan.Snapshot(
        {
            document_key(d.uri): edit_plan.OpenDocument(
                d.version or 0, d.source, getattr(d, "opened", 0), d.uri
            )
            for d in docs
        }
    )


class EditDelivery:
    """Delivers runs' edits to the editor of ``session``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def deliver(
        self, request: Request, result: AgentResult, before: edit_plan.Snapshot, progress: WorkDone
    ) -> CommandResult:
        """The result of ``request``'s run: its edits planned against ``before``, checked
        by ty, and applied (or not, and why) per the edit policy."""
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
        route = edit_route(session.settings.edits, session.client)
        if route == "keep":
            return False, "edits: never — the edits are in this result, not applied"
        if (stale := self._stale(planned)) is not None:
            return False, stale
        if route == "ask_first":
            agreed = await self._user_agrees(planned, delta)
            if agreed is None:
                files = ", ".join(p.path.name for p in planned)
                reason = (
                    "not applied: this editor can neither confirm edits in place nor answer "
                    f"window/showMessageRequest; the proposed edits ({files}) are in this "
                    "result (set punie.edits to 'auto' to have them applied; undo reverts them)"
                )
                self.tell(reason)
                return False, reason
            if not agreed:
                return False, "not applied: declined"
            if (stale := self._stale(planned)) is not None:  # the user may have typed meanwhile
                return False, stale
        edit = edit_plan.workspace_edit(
            planned,
            session.position_encoding,
            confirm=route == "confirm_in_place",
            document_changes=session.client.document_changes,
        )
        try:
            applied = await session.lsp.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=f"Punie: {request.command}")
            )
        except JsonRpcException as exc:
            reason = f"not applied: the editor refused workspace/applyEdit ({exc})"
            self.tell(reason)
            return False, reason
        if not applied.applied:
            # VS Code refuses an edit whose document changed while it asked (the user typed
            # with the Refactor Preview open) with no failureReason: that is the reason, not
            # a "declined" the user never gave.
            if (stale := self._stale(planned)) is not None:
                return False, stale
            return False, f"the editor did not apply it: {applied.failure_reason or 'declined'}"
        return True, None

    def _stale(self, planned: list[edit_plan.PlannedEdit]) -> str | None:
        """Why the edits must not land (a document changed since the run read it), or None."""
        changed = edit_plan.stale(planned, snapshot(self.session))
        if not changed:
            return None
        names = ", ".join(f"{Path(u).name} ({why})" for u, why in changed.items())
        reason = f"not applied: changed while Punie worked: {names}; ask again"
        self.tell(reason)
        return reason

    def tell(self, reason: str) -> None:
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
