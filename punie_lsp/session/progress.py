"""Work-done progress for punie's long commands, with cancellation from either side.

A command gets the editor's ``workDoneToken`` when it sent one, or creates a token when
the editor supports server-initiated progress; otherwise progress is silent but the
command still runs. Cancelling the progress (``window/workDoneProgress/cancel``) sets
``cancelled``, which the sandbox and the agent watch; cancelling the request itself
(``$/cancelRequest``) cancels the handler's task, and pygls answers RequestCancelled.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
from types import TracebackType
from typing import Any

from lsprotocol import types

from punie_lsp.session.session import Session

__all__ = ["COMMAND_PARAMS", "WorkDone"]

logger = logging.getLogger(__name__)

COMMAND_PARAMS: contextvars.ContextVar[types.ExecuteCommandParams | None] = contextvars.ContextVar(
    "punie_command_params", default=None
)
"""The ``ExecuteCommandParams`` of the command being handled (pygls passes only arguments)."""

_tokens = itertools.count(1)


class WorkDone:
    """``async with WorkDone(session, "Punie: …") as progress: progress.report("…")``."""

    def __init__(self, session: Session, title: str) -> None:
        self._session = session
        self._title = title
        self.token: types.ProgressToken | None = None
        self.cancelled = asyncio.Event()
        """Set when the user cancels the progress in the editor."""

    async def __aenter__(self) -> WorkDone:
        params = COMMAND_PARAMS.get()
        token = params.work_done_token if params is not None else None
        progress = self._session.lsp.work_done_progress
        if token is None and self._session.client.progress:
            token = f"punie-{next(_tokens)}"
            try:
                await progress.create_async(token)
            except Exception as exc:  # the editor refused: run without progress
                logger.info("no progress for %s: %s", self._title, exc)
                token = None
        self.token = token
        if token is not None:
            progress.begin(token, types.WorkDoneProgressBegin(title=self._title, cancellable=True))
            future = progress.tokens[token]
            loop = asyncio.get_running_loop()
            future.add_done_callback(
                lambda f: loop.call_soon_threadsafe(self.cancelled.set) if f.cancelled() else None
            )
        return self

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.token is not None:
            self._session.lsp.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.token is None:
            return
        message = (
            "cancelled"
            if self.cancelled.is_set() or kind is asyncio.CancelledError
            else ("failed" if kind is not None else "done")
        )
        self._session.lsp.work_done_progress.end(
            self.token, types.WorkDoneProgressEnd(message=message)
        )
        self._session.lsp.work_done_progress.tokens.pop(
            self.token, None
        )  # pygls never forgets them


def note_command(params: types.ExecuteCommandParams) -> Any:
    """Remember the command's params for ``WorkDone`` (called by the protocol)."""
    return COMMAND_PARAMS.set(params)
