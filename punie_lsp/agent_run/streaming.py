"""What a run streams to the editor while the model writes: ``punie/message`` and progress.

Text is coalesced per ``STREAM_INTERVAL_SECONDS``; the order the model wrote things in
is kept.
"""

from __future__ import annotations

import asyncio
import time

from agent.deps import ProgressEvent, ProgressKind
from punie_lsp.agent_run.result import PunieMessage
from punie_lsp.session.progress import WorkDone
from punie_lsp.session.session import Session

__all__ = ["STREAM_INTERVAL_SECONDS", "Streamer"]

STREAM_INTERVAL_SECONDS = 0.05
"""Streamed text goes out at most once per interval (the first chunk at once).

A model writes tens of tokens a second; one ``punie/message`` and one ``$/progress``
per token costs the event loop a pygls serialisation and a write each, and the editor a
parse and a redraw, for text nobody reads faster than this.
"""


class Streamer:
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
        message = PunieMessage(
            conversation_id=self._conversation_id,
            kind=kind,
            text=text,
            token=self._progress.token,
        )
        self._session.lsp.protocol.notify("punie/message", message.model_dump(exclude_none=True))
