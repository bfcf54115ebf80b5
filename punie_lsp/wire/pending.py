"""Editor requests forwarded to ty that ty has not answered yet.

A request is forwarded as the editor's own bytes under the editor's own id, so ty's
answer can go back as ty's own bytes. Two cases re-encode (rare): an id ty could not
read or that is in punie's namespace is remapped (``editor:N``), and a code action
list gets punie's actions merged in. A request that arrives while ty restarts waits
(``RESTART_WAIT_SECONDS``), and one ty was answering when it crashed is sent once more.

Two threads use this table besides the event loop: the editor's reading thread
forwards (``forward_now``) and ty's reading thread answers (``answer_now``); a lock
keeps each change and each walk of the table whole.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from punie_lsp.wire import code_actions
from punie_lsp.wire.jsonrpc import (
    INT32_MAX,
    INT32_MIN,
    REQUEST_CANCELLED,
    REQUEST_FAILED,
    valid_id,
)
from punie_lsp.wire.ty_child import OWN_ID_PREFIX, TyChild

__all__ = ["RESTART_WAIT_SECONDS", "Forwarded", "Pending"]

RESTART_WAIT_SECONDS = float(os.environ.get("PUNIE_LSP_TY_WAIT_SECONDS", "10"))
"""How long a request waits for a restarting ty before it is answered with an error."""

_REMAP_PREFIX = "editor:"
_CODE_ACTION = "textDocument/codeAction"


@dataclass(slots=True)
class Pending:
    """An editor request forwarded (or queued) to ty."""

    client_id: int | str
    method: str
    body: bytes
    sent: bool = False
    resent: bool = False
    params: Any = None
    """Kept only for requests whose answer punie adds to (code actions)."""


def plain_id(msg_id: object) -> bool:
    """An id ty gets unchanged: an int32, or a string outside punie's own namespaces."""
    if isinstance(msg_id, str):
        return not msg_id.startswith((OWN_ID_PREFIX, _REMAP_PREFIX))
    return (
        isinstance(msg_id, int)
        and not isinstance(msg_id, bool)
        and INT32_MIN <= msg_id <= INT32_MAX
    )


class Forwarded:
    """The table of requests ty owes the editor an answer to, keyed by the id ty saw."""

    def __init__(
        self,
        ty: TyChild,
        *,
        to_client: Callable[[bytes], None],
        send_error: Callable[[int | str | None, int, str], None],
    ) -> None:
        self._ty = ty
        self._to_client = to_client
        self._send_error = send_error
        self._lock = threading.Lock()
        self._pending: dict[int | str, Pending] = {}
        self._remap_ids = itertools.count(1)

    def forward(self, msg_id: int | str, method: str, message: dict[str, Any], body: bytes) -> None:
        """Send a request to ty now, or queue it until ty is back (on the loop)."""
        ty_id: int | str = msg_id
        if not plain_id(msg_id):
            # An id in our namespace, or an integer past LSP's int32 that ty cannot read:
            # give ty another one (rare; re-encodes).
            ty_id = f"{_REMAP_PREFIX}{next(self._remap_ids)}"
            body = json.dumps({**message, "id": ty_id}).encode()
        pending = Pending(client_id=msg_id, method=method, body=body)
        if method == _CODE_ACTION:
            pending.params = message.get("params")
        with self._lock:
            self._pending[ty_id] = pending
            pending.sent = self._ty.send_body(body)
        if not pending.sent:
            self._expire_later(ty_id, pending)

    def forward_now(self, msg_id: int | str, method: str, body: bytes) -> bool:
        """On the editor's reading thread: send a plain request to a running ty.

        False (nothing done) when the request needs the loop: ty is not ready, the id
        must be remapped or is already waiting, or punie adds to the answer.
        """
        if method == _CODE_ACTION or not plain_id(msg_id):
            return False
        with self._lock:
            if msg_id in self._pending:
                return False
            pending = Pending(client_id=msg_id, method=method, body=body, sent=True)
            self._pending[msg_id] = pending
            if not self._ty.send_body(body):
                del self._pending[msg_id]
                return False
        return True

    def answer(self, msg_id: int | str, body: bytes) -> None:
        """Route ty's answer: the same bytes, unless punie adds to it or remapped its id."""
        with self._lock:
            pending = self._pending.pop(msg_id, None)
        if pending is None:
            return  # cancelled and already answered, or from a ty that was replaced
        if pending.method == _CODE_ACTION:
            message = json.loads(body)
            if "result" in message:
                message["result"] = code_actions.merge(message["result"], pending.params)
            self._to_client(json.dumps({**message, "id": pending.client_id}).encode())
            return
        if pending.client_id != msg_id:
            body = json.dumps({**json.loads(body), "id": pending.client_id}).encode()
        self._to_client(body)

    def answer_now(self, msg_id: int | str, body: bytes, write: Callable[[bytes], None]) -> bool:
        """On ty's reading thread: ``write`` ty's answer when it goes back unchanged."""
        with self._lock:
            pending = self._pending.get(msg_id)
            if pending is None or pending.client_id != msg_id or pending.method == _CODE_ACTION:
                return False
            del self._pending[msg_id]
        write(body)
        return True

    def cancel(self, params: Any, body: bytes) -> bool:
        """``$/cancelRequest`` for a forwarded request: to ty, or answered if still queued."""
        if not isinstance(params, dict) or not valid_id(params.get("id")):
            return False
        client_id = params["id"]
        with self._lock:
            found = next(
                ((t, p) for t, p in self._pending.items() if p.client_id == client_id), None
            )
            if found is None:
                return False
            ty_id, pending = found
            if not pending.sent:
                del self._pending[ty_id]
        if pending.sent:
            if ty_id != client_id:
                body = json.dumps({**json.loads(body), "params": {"id": ty_id}}).encode()
            self._ty.send_body(body)
        else:
            self._send_error(client_id, REQUEST_CANCELLED, "Request cancelled")
        return True

    def send_queued(self) -> None:
        """ty is (back) up: send what waited for it, in order."""
        with self._lock:
            for pending in self._pending.values():
                if not pending.sent:
                    pending.sent = self._ty.send_body(pending.body)

    def crashed(self, reason: str, *, on_purpose: bool = False) -> None:
        """Requests ty was answering are sent again once; a second crash fails them.

        ``on_purpose``: ty was replaced (new settings), not lost: what it owed is sent
        to its successor in the same way, without using up the one resend a crash gets.
        """
        failed: list[Pending] = []
        with self._lock:
            for ty_id, pending in list(self._pending.items()):
                if not pending.sent:
                    continue
                if on_purpose:
                    pending.sent = False
                    self._expire_later(ty_id, pending)
                elif pending.resent:
                    del self._pending[ty_id]
                    failed.append(pending)
                else:
                    pending.sent, pending.resent = False, True
                    self._expire_later(ty_id, pending)
        for pending in failed:
            self._send_error(
                pending.client_id, REQUEST_FAILED, f"ty crashed twice answering this: {reason}"
            )

    def fail_all(self, reason: str) -> None:
        """Answer every forwarded request ty did not (it has shut down, or never came back)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for item in pending.values():
            self._send_error(item.client_id, REQUEST_FAILED, reason)

    def _expire_later(self, ty_id: int | str, pending: Pending) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(RESTART_WAIT_SECONDS, self._expire_queued, ty_id, pending)

    def _expire_queued(self, ty_id: int | str, pending: Pending) -> None:
        with self._lock:
            if self._pending.get(ty_id) is not pending or pending.sent:
                return
            del self._pending[ty_id]
        self._send_error(
            pending.client_id,
            REQUEST_FAILED,
            f"ty did not answer within {RESTART_WAIT_SECONDS:g} s: {self._ty.describe()}",
        )
