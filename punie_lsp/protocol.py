"""Routing between the editor, pygls and the ty child.

Every editor message is decoded once (``json.loads``) to read its ``method`` and ``id``.
Requests ty serves are then written to ty as the *same bytes* the editor sent, and
ty's responses go back as the same bytes ty sent: the ids are the editor's own, so
nothing is re-encoded. Only messages punie itself handles are structured by pygls'
cattrs converter. Requests that ty makes of the editor (configuration, registrations,
progress, refreshes) are relayed under ids of our own and their answers routed back.

Malformed input never kills the server and never leaves a request unanswered: bad JSON
is a ``ParseError``, a non-conforming message an ``InvalidRequest``, params pygls cannot
structure ``InvalidParams``, an unknown method ``MethodNotFound``.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.workspace import Workspace

from punie_lsp.forwarding import (
    FORWARDED_NOTIFICATIONS,
    PYGLS_STATE_NOTIFICATIONS,
    forwarded_requests,
)
from punie_lsp.transport import frame
from punie_lsp.ty_child import OWN_ID_PREFIX

if TYPE_CHECKING:
    from punie_lsp.server import PunieLanguageServer

__all__ = ["PunieProtocol"]

logger = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800
REQUEST_FAILED = -32803

RESTART_WAIT_SECONDS = 10.0
"""How long a request waits for a restarting ty before it is answered with an error."""

_RELAY_PREFIX = "ty:"
_REMAP_PREFIX = "editor:"


@dataclass
class _Pending:
    """An editor request forwarded (or queued) to ty."""

    client_id: int | str
    method: str
    body: bytes
    sent: bool = False
    resent: bool = False


def _valid_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


class PunieProtocol(LanguageServerProtocol):
    """pygls' LSP protocol with a raw forwarding path to ty in front of it."""

    _server: PunieLanguageServer  # ty: ignore[incompatible-mutable-override]  # narrowed: pygls sets it once

    def __init__(self, server: PunieLanguageServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.raw_initialize_params: dict[str, Any] | None = None
        self.forwarded: frozenset[str] = frozenset()
        self.ty_commands: frozenset[str] = frozenset()
        self._pending: dict[int | str, _Pending] = {}
        self._relayed: dict[str, tuple[int, int | str]] = {}
        self._relay_ids = itertools.count(1)
        self._remap_ids = itertools.count(1)
        self._ty_progress_tokens: set[int | str] = set()
        self._registered: set[str] = set()
        self._held: list[bytes] | None = []  # ty -> editor traffic held until initialized

    # -- entry point -------------------------------------------------------------------

    def handle_body(self, body: bytes) -> None:
        """Handle one message body from the editor. Never raises."""
        try:
            self._handle_body(body)
        except Exception:
            logger.exception("unexpected error while handling %.200r", body)

    def _handle_body(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.send_error(None, PARSE_ERROR, f"Parse error: {exc}")
            return
        if not isinstance(message, dict):
            self.send_error(None, INVALID_REQUEST, "Invalid request: not a JSON object")
            return
        has_id = "id" in message
        msg_id = message.get("id")
        if has_id and not _valid_id(msg_id):
            self.send_error(None, INVALID_REQUEST, "Invalid request: id must be int or string")
            return
        method = message.get("method")
        if message.get("jsonrpc") != "2.0" or (method is None and not has_id):
            if has_id:
                self.send_error(msg_id, INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"')
            return
        if method is None:
            self._client_response(msg_id, message)
            return
        if not isinstance(method, str):
            if has_id:
                self.send_error(msg_id, INVALID_REQUEST, "Invalid request: method must be a string")
            return
        params = message.get("params")
        if params is not None and not isinstance(params, dict | list):
            if has_id:
                self.send_error(msg_id, INVALID_PARAMS, "Invalid params: not an object or array")
            return
        if has_id:
            self._client_request(msg_id, method, message, body)
        else:
            self._client_notification(method, params, message, body)

    # -- editor -> ty / pygls ----------------------------------------------------------

    def _client_request(
        self, msg_id: int | str, method: str, message: dict[str, Any], body: bytes
    ) -> None:
        if method != types.INITIALIZE and self.raw_initialize_params is None:
            self.send_error(msg_id, SERVER_NOT_INITIALIZED, "Server not initialized")
            return
        if self._shutdown:
            self.send_error(msg_id, INVALID_REQUEST, "Server is shutting down")
            return
        if method == types.INITIALIZE:
            if self.raw_initialize_params is not None:
                self.send_error(msg_id, INVALID_REQUEST, "Server is already initialized")
                return
            params = message.get("params")
            if not isinstance(params, dict):
                self.send_error(msg_id, INVALID_PARAMS, "initialize needs an object of params")
                return
            self.raw_initialize_params = params
        elif method in self.forwarded or (
            method == types.WORKSPACE_EXECUTE_COMMAND and self._is_ty_command(message)
        ):
            self._forward_request(msg_id, method, message, body)
            return
        self._dispatch_to_pygls(message, msg_id)

    def _client_notification(
        self, method: str, params: Any, message: dict[str, Any], body: bytes
    ) -> None:
        if method == types.EXIT:
            self._server.request_exit()
            return
        if self.raw_initialize_params is None or self._shutdown:
            return
        if method == types.CANCEL_REQUEST:
            if self._cancel_forwarded(params, body):
                return
        elif method == types.WINDOW_WORK_DONE_PROGRESS_CANCEL:
            token = params.get("token") if isinstance(params, dict) else None
            if token in self._ty_progress_tokens:
                self._server.ty.send_body(body)
                return
        elif method in FORWARDED_NOTIFICATIONS:
            # While ty restarts this is dropped on purpose: the replay sends current state.
            self._server.ty.send_body(body)
            if method not in PYGLS_STATE_NOTIFICATIONS:
                return
        self._dispatch_to_pygls(message, None)

    def _dispatch_to_pygls(self, message: dict[str, Any], msg_id: int | str | None) -> None:
        try:
            structured = self.structure_message(message)
        except JsonRpcException as exc:
            if msg_id is not None:
                self.send_error(msg_id, exc.code, f"{exc.message}: {message.get('method')}")
            else:
                logger.warning("dropping malformed %s notification", message.get("method"))
            return
        self.handle_message(structured)

    def _is_ty_command(self, message: dict[str, Any]) -> bool:
        params = message.get("params")
        return isinstance(params, dict) and params.get("command") in self.ty_commands

    def _forward_request(
        self, msg_id: int | str, method: str, message: dict[str, Any], body: bytes
    ) -> None:
        ty_id: int | str = msg_id
        if isinstance(msg_id, str) and msg_id.startswith((OWN_ID_PREFIX, _REMAP_PREFIX)):
            # The editor chose an id in our namespace: give ty another one (rare; re-encodes).
            ty_id = f"{_REMAP_PREFIX}{next(self._remap_ids)}"
            body = json.dumps({**message, "id": ty_id}).encode()
        pending = _Pending(client_id=msg_id, method=method, body=body)
        self._pending[ty_id] = pending
        if self._server.ty.send_body(body):
            pending.sent = True
        else:
            loop = self._server.loop
            loop.call_later(RESTART_WAIT_SECONDS, self._expire_queued, ty_id, pending)

    def _expire_queued(self, ty_id: int | str, pending: _Pending) -> None:
        if self._pending.get(ty_id) is pending and not pending.sent:
            del self._pending[ty_id]
            ty = self._server.ty
            self.send_error(
                pending.client_id,
                REQUEST_FAILED,
                f"ty is {ty.state} and did not answer within {RESTART_WAIT_SECONDS:g} s"
                f" ({ty.last_error or 'no error recorded'}); punie-lsp keeps retrying",
            )

    def _cancel_forwarded(self, params: Any, body: bytes) -> bool:
        if not isinstance(params, dict) or not _valid_id(params.get("id")):
            return False
        client_id = params["id"]
        for ty_id, pending in self._pending.items():
            if pending.client_id == client_id:
                if pending.sent:
                    if ty_id != client_id:
                        body = json.dumps({**json.loads(body), "params": {"id": ty_id}}).encode()
                    self._server.ty.send_body(body)
                else:
                    del self._pending[ty_id]
                    self.send_error(client_id, REQUEST_CANCELLED, "Request cancelled")
                return True
        return False

    def _client_response(self, msg_id: int | str, message: dict[str, Any]) -> None:
        relay = self._relayed.pop(msg_id, None) if isinstance(msg_id, str) else None
        if relay is None:
            self._dispatch_to_pygls(message, None)
            return
        generation, ty_id = relay
        if generation != self._server.ty.restarts:
            return  # answer to a ty that has since been replaced
        self._server.ty.send({**message, "id": ty_id})

    # -- ty -> editor --------------------------------------------------------------------

    def on_ty_message(self, message: dict[str, Any], body: bytes) -> None:
        """Route one message from ty (called by ``TyChild``'s reader)."""
        method = message.get("method")
        if method is None:
            pending = self._pending.pop(message.get("id"), None)
            if pending is None:
                return
            if pending.client_id != message.get("id"):
                body = json.dumps({**message, "id": pending.client_id}).encode()
            self._to_client(body)
        elif "id" in message:
            self._relay_request(message)
        else:
            self._to_client(body)

    def _relay_request(self, message: dict[str, Any]) -> None:
        method = message["method"]
        params = message.get("params")
        if method == types.WINDOW_WORK_DONE_PROGRESS_CREATE and isinstance(params, dict):
            self._ty_progress_tokens.add(params.get("token"))
        elif method == types.CLIENT_REGISTER_CAPABILITY and isinstance(params, dict):
            ids = {r.get("id") for r in params.get("registrations", []) if isinstance(r, dict)}
            if ids and ids <= self._registered:
                # Replayed by a restarted ty: the editor already has these registrations.
                self._server.ty.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                return
            self._registered |= {i for i in ids if isinstance(i, str)}
        relay_id = f"{_RELAY_PREFIX}{next(self._relay_ids)}"
        self._relayed[relay_id] = (self._server.ty.restarts, message["id"])
        self._to_client(json.dumps({**message, "id": relay_id}).encode())

    def _to_client(self, body: bytes) -> None:
        if self._held is not None:
            self._held.append(body)
            return
        writer = self.writer
        if writer is not None:
            writer.write(frame(body))

    def release_held(self) -> None:
        """Send ty's messages held back until the editor had our initialize result."""
        held, self._held = self._held, None
        for body in held or ():
            self._to_client(body)

    # -- ty lifecycle hooks ------------------------------------------------------------

    def on_ty_ready(self, restarted: bool) -> None:
        """Replay open documents into a restarted ty, then send queued requests."""
        ty = self._server.ty
        if restarted and self._workspace is not None:
            for doc in list(self._workspace.text_documents.values()):
                ty.send(
                    {
                        "jsonrpc": "2.0",
                        "method": types.TEXT_DOCUMENT_DID_OPEN,
                        "params": {
                            "textDocument": {
                                "uri": doc.uri,
                                "languageId": doc.language_id or "python",
                                "version": doc.version or 0,
                                "text": doc.source,
                            }
                        },
                    }
                )
        for pending in self._pending.values():
            if not pending.sent:
                pending.sent = ty.send_body(pending.body)

    def on_ty_crash(self, reason: str) -> None:
        """Requests ty was answering are sent again once; a second crash fails them."""
        self._ty_progress_tokens.clear()
        for ty_id, pending in list(self._pending.items()):
            if not pending.sent:
                continue
            if pending.resent:
                del self._pending[ty_id]
                self.send_error(
                    pending.client_id, REQUEST_FAILED, f"ty crashed twice answering this: {reason}"
                )
            else:
                pending.sent, pending.resent = False, True
                loop = self._server.loop
                loop.call_later(RESTART_WAIT_SECONDS, self._expire_queued, ty_id, pending)

    def adopt_ty_capabilities(self, capabilities: dict[str, Any]) -> None:
        """Forward what ty serves and track documents in ty's position encoding."""
        self.forwarded = forwarded_requests(capabilities)
        commands = (capabilities.get("executeCommandProvider") or {}).get("commands") or []
        self.ty_commands = frozenset(c for c in commands if isinstance(c, str))
        encoding = capabilities.get("positionEncoding")
        if self._workspace is not None and encoding:
            old = self._workspace
            self._workspace = Workspace(
                old.root_uri,
                self._server._text_document_sync_kind,
                list(old.folders.values()),
                types.PositionEncodingKind(encoding),
            )

    # -- errors / responses ------------------------------------------------------------

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        """Answer a request with a JSON-RPC error (``id`` null when it was unreadable)."""
        error = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        body = json.dumps(error).encode()
        writer = self.writer
        if writer is not None:
            writer.write(frame(body))

    # -- lifecycle methods pygls dispatches ----------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        """pygls sets up its workspace; then ty starts and its capabilities become ours."""
        yield from super().lsp_initialize(params)
        result = yield self._server.start_ty, (), None
        self._server.loop.call_soon(self.release_held)
        return result

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """Stop ty before acknowledging, so ``exit`` finds nothing left to wait for."""
        yield from super().lsp_shutdown(*args)
        yield self._server.stop_ty, (), None
        return None
