"""Routing between the editor, ty and punie's own (pygls) server.

Every editor message is read once for its ``method`` and ``id``: on stdio, by the
reading thread (``forward_now``: only the envelope, the whole body checked), which
forwards what only ty must see without the event loop; otherwise, and for everything
else, decoded on the loop (``handle_body``). Requests ty serves are written to ty as the
*same bytes* the editor sent, and ty's responses go back as the same bytes ty sent (the
ids are the editor's own), so nothing is re-encoded. Requests that ty makes of the
editor (configuration, registrations, progress, refreshes) are relayed under ids of our
own and their answers routed back. Everything else goes to punie's pygls server
(``PunieServer``), which alone pays for cattrs.

This module must not import pygls or lsprotocol: importing them costs ~0.8 s, so the
router answers ``initialize`` with ty's capabilities while pygls loads in a thread;
messages for pygls wait in order until it is attached (``attach``).

Malformed input never kills the server and never leaves a request unanswered: bad JSON
is a ``ParseError``, a non-conforming message an ``InvalidRequest``, params pygls cannot
structure ``InvalidParams``, an unknown method ``MethodNotFound``.

Why over 400 lines (~670): this is the one place that decides, per message and in both directions,
and its parts share one session state (initialized yet? ty starting? shutting down?
messages waiting for ty or for pygls). What needs none of that state lives beside it:
``jsonrpc``, ``initialize``, ``forwarding.Routes``, ``ty_requests``, ``pending``,
``ty_settings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from msgspec import UNSET

from punie_lsp import __version__
from punie_lsp.wire import code_actions, initialize
from punie_lsp.wire.forwarding import (
    FORWARDED_NOTIFICATIONS,
    PYGLS_STATE_NOTIFICATIONS,
    Routes,
    ty_section,
)
from punie_lsp.wire.initialize import FALLBACK_CAPABILITIES
from punie_lsp.wire.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    NOTIFICATIONS,
    PARSE_ERROR,
    REQUEST_FAILED,
    SERVER_NOT_INITIALIZED,
    error_body,
    invalid_params,
    read_envelope,
    result_body,
    valid_id,
)
from punie_lsp.wire.pending import Forwarded
from punie_lsp.wire.transport import FrameWriter
from punie_lsp.wire.ty_child import TyChild
from punie_lsp.wire.ty_requests import TyRequests
from punie_lsp.wire.ty_settings import REASON, TySettings

__all__ = ["THREAD_PATH_MAX_BYTES", "PunieServer", "Router"]

EXIT_FLUSH_SECONDS = 2.0
"""At ``exit``, how long answers still owed may take before the process ends anyway."""
THREAD_PATH_MAX_BYTES = 64 * 1024
"""Larger messages (a big file's didOpen or didChange) are left to the loop: pygls must
decode them there anyway, and two decodes at once (the thread's check, the loop's
``json.loads``) would hold the GIL twice as long as one."""


logger = logging.getLogger(__name__)


class PunieServer(Protocol):
    """punie's own pygls server, as the router sees it."""

    def dispatch(self, message: dict[str, Any]) -> None:
        """Handle one editor message that is not forwarded (already validated)."""
        ...

    def document_snapshots(self) -> list[dict[str, Any]]:
        """``TextDocumentItem``s of the open documents that are not notebook cells."""
        ...

    def notebook_snapshots(self) -> list[dict[str, Any]]:
        """``DidOpenNotebookDocumentParams`` of the open notebooks (cells' current text)."""
        ...

    def workspace_folders(self) -> list[dict[str, str]]:
        """The editor's current workspace folders (after any folder changes)."""
        ...

    async def finish(self, grace: float) -> None:
        """The editor's input ended: answer its requests (``grace`` seconds), then stop."""
        ...

    def owes_answers(self) -> bool:
        """True while an editor request it handles (``shutdown`` included) is unanswered."""
        ...


def _ty_settings_body(params: Any, body: bytes) -> bytes:
    """``didChangeConfiguration`` for ty: re-encoded only when Lua's ``[]`` must be ``{}``."""
    settings = params.get("settings") if isinstance(params, dict) else None
    if not isinstance(settings, dict) or "ty" not in settings:
        return body
    fixed = ty_section(settings["ty"])
    if fixed == settings["ty"]:
        return body
    message = {
        "jsonrpc": "2.0",
        "method": "workspace/didChangeConfiguration",
        "params": {**params, "settings": {**settings, "ty": fixed}},
    }
    return json.dumps(message).encode()


class Router:
    """Owns the ty child and decides, per message, who answers it."""

    def __init__(
        self,
        writer: FrameWriter,
        *,
        on_exit: Callable[[int], None],
        on_initialize: Callable[[dict[str, Any]], None] | None = None,
        ty_command: list[str] | None = None,
    ) -> None:
        self.writer = writer
        self._on_exit = on_exit
        self._on_initialize = on_initialize
        self.ty_start_error: str | None = None
        self.ty_overridden = ty_command is not None
        """``PUNIE_LSP_TY_COMMAND`` chose ty's command (what a start failure names)."""
        self.raw_initialize_params: dict[str, Any] | None = None
        self.capabilities: dict[str, Any] = {}
        self.routes = Routes()
        self._early: list[tuple[dict[str, Any], bytes]] | None = None
        """Editor messages that arrived while ty was starting, replayed once it answered."""
        self.shutdown_requested = False
        self.punie: PunieServer | None = None
        self._punie_queue: list[dict[str, Any]] = []
        self.punie_attached = asyncio.Event()
        self._held: list[bytes] | None = []  # ty -> editor traffic held until initialized
        self._initializing: asyncio.Task[None] | None = None
        self._shutting_down: asyncio.Task[None] | None = None
        self._ending: asyncio.Task[None] | None = None
        self._exiting: asyncio.Task[None] | None = None
        """Answering ``shutdown`` before pygls loaded (``exit`` waits for it)."""
        self.ty = TyChild(
            command=ty_command,
            initialize_params=self._ty_initialize_params,
            on_message=self.on_ty_message,
            on_response=self.on_ty_response,
            on_response_now=self.answer_now,
            on_ready=self.on_ty_ready,
            on_crash=self.on_ty_crash,
            on_restart_failed=lambda message: self.log_to_client(2, message),
            before_restart=self.punie_attached.wait,
        )
        self.forwarded_requests = Forwarded(
            self.ty, to_client=self._to_client, send_error=self.send_error
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):  # no running loop: set on the first message
            self._loop = asyncio.get_running_loop()
        self.ty_section = TySettings(
            self.ty,
            initial=lambda: initialize.ty_settings(self.raw_initialize_params),
            on_lost=self._ty_lost,
            on_replaced=lambda: self.log_to_client(3, f"punie-lsp: {REASON}"),
        )
        self._published: set[str] = set()
        """Documents ty has pushed diagnostics for, not since cleared."""
        self._progress: set[int | str] = set()
        """Progress tokens ty began and has not ended (``$/progress``)."""
        self.ty_requests = TyRequests(
            self.ty,
            self.routes,
            to_client=self._to_client,
            ty_settings=self.ty_settings,
            on_ty_section=self.ty_section.answered,
        )
        with contextlib.suppress(RuntimeError):  # no running loop: prepared on first start
            self.ty.prepare()

    @property
    def forwarded(self) -> frozenset[str]:
        """Request methods ty answers now: advertised at initialize, or registered since."""
        return self.routes.forwarded

    @property
    def ty_commands(self) -> frozenset[str]:
        """``workspace/executeCommand`` commands ty answers now."""
        return self.routes.commands

    # -- editor -> ty / punie ------------------------------------------------------------

    def handle_body(self, body: bytes) -> None:
        """Handle one message body from the editor. Never raises."""
        try:
            self._handle_body(body)
        except Exception:
            logger.exception("unexpected error while handling %.200r", body)

    def forward_now(self, body: bytes) -> bool:
        """On the editor's reading thread: forward a message that only ty must see, now.

        A request ty serves goes to ty as the editor's bytes; a document or workspace
        notification goes to ty, then (for punie's state) to pygls on the loop. True when
        done; False, having done nothing, for anything else (punie's own requests, the
        session's start and end, ids to remap, code actions, a restarting ty...): the
        reading thread then hands the message to ``handle_body`` on the loop, in order.
        Only its envelope is read here (``jsonrpc.read_envelope``: the whole body is
        checked, ``params`` is not built).
        """
        if (
            len(body) > THREAD_PATH_MAX_BYTES
            or self._early is not None
            or self.raw_initialize_params is None
            or self.shutdown_requested
            or self._loop is None
            or not self.ty.ready
        ):
            return False
        envelope = read_envelope(body)
        if envelope is None:
            return False
        method = envelope.method
        assert isinstance(method, str)  # read_envelope returns requests and notifications
        if envelope.id is not UNSET:
            return method in self.routes.forwarded and self.forwarded_requests.forward_now(
                envelope.id, method, body
            )
        if method not in FORWARDED_NOTIFICATIONS or method == "workspace/didChangeConfiguration":
            return False
        if not self.ty.send_body(body):
            return False
        if method in PYGLS_STATE_NOTIFICATIONS:  # decoded on the loop, for pygls alone
            self._loop.call_soon_threadsafe(self._to_punie_body, body)
        return True

    def _to_punie_body(self, body: bytes) -> None:
        self.to_punie(json.loads(body))

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
        if has_id and not valid_id(msg_id):
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
                self.send_error(msg_id, INVALID_PARAMS, invalid_params("not an object or array"))
            return
        if has_id:
            self._client_request(msg_id, method, message, body)
        else:
            self._client_notification(method, params, message, body)

    def _client_request(
        self, msg_id: int | str, method: str, message: dict[str, Any], body: bytes
    ) -> None:
        if method in NOTIFICATIONS:
            self.send_error(msg_id, INVALID_REQUEST, f"Invalid request: {method} is a notification")
            return
        if method == "initialize":
            if self.raw_initialize_params is not None:
                self.send_error(msg_id, INVALID_REQUEST, "Server is already initialized")
            elif not isinstance(message.get("params"), dict):
                error = invalid_params("initialize needs an object of params")
                self.send_error(msg_id, INVALID_PARAMS, error)
            else:
                self.raw_initialize_params = message["params"]
                self._early = []
                if self._on_initialize is not None:
                    self._on_initialize(message["params"])
                self._initializing = asyncio.get_running_loop().create_task(
                    self._initialize(msg_id)
                )
            return
        if self.raw_initialize_params is None:
            self.send_error(msg_id, SERVER_NOT_INITIALIZED, "Server not initialized")
            return
        if self._early is not None:  # ty is still starting: answer in order once it is up
            self._early.append((message, body))
            return
        if self.shutdown_requested:
            self.send_error(msg_id, INVALID_REQUEST, "Server is shutting down")
            return
        if method == "shutdown":
            # ty answers everything sent before its shutdown first; pygls stops punie's
            # own work and answers the editor once ty has (``PunieLanguageServer.stop``).
            self.shutdown_requested = True
            self.ty_section.stopped = True
            self.ty.shutdown()
            if self.punie is None and not any("id" in m for m in self._punie_queue):
                # pygls is still loading and owes no answer: nothing of punie's has run,
                # so answer as soon as ty has instead of waiting for the import.
                self._punie_queue.clear()
                self._shutting_down = asyncio.get_running_loop().create_task(
                    self._shutdown_without_punie(msg_id)
                )
                return
        elif method in self.forwarded or (
            method == "workspace/executeCommand" and self._is_ty_command(message)
        ):
            self._forward_request(msg_id, method, message, body)
            return
        elif method == "textDocument/codeAction":  # ty cannot answer: punie's actions alone
            self.send_result(msg_id, code_actions.punie_actions(message.get("params")))
            return
        self.to_punie(message)

    def _client_notification(
        self, method: str, params: Any, message: dict[str, Any], body: bytes
    ) -> None:
        if self._early is not None:  # ty is still starting: in order once it is up
            self._early.append((message, body))
            return
        if method == "exit" and self._shutting_down is not None:
            # The editor may write exit right after shutdown: shutdown is answered first.
            code = 0 if self.shutdown_requested else 1
            self._shutting_down.add_done_callback(lambda _: self._on_exit(code))
            return
        if method == "exit":
            code = 0 if self.shutdown_requested else 1
            if self._owes_answers():
                self._exiting = asyncio.get_running_loop().create_task(self._flush_then_exit(code))
            else:
                self._on_exit(code)
            return
        if self.raw_initialize_params is None or self.shutdown_requested:
            return
        if method == "$/cancelRequest":
            if self._cancel_forwarded(params, body):
                return
        elif method == "window/workDoneProgress/cancel":
            token = params.get("token") if isinstance(params, dict) else None
            if token in self.ty_requests.progress_tokens:
                self.ty.send_body(body)
                return
        elif method in FORWARDED_NOTIFICATIONS:
            if method == "workspace/didChangeConfiguration":
                body = _ty_settings_body(params, body)
            # While ty restarts this is dropped on purpose: the replay sends current state.
            self.ty.send_body(body)
            if method not in PYGLS_STATE_NOTIFICATIONS:
                return
        self.to_punie(message)

    def to_punie(self, message: dict[str, Any]) -> None:
        """Give a message to pygls, or queue it (in order) until pygls is attached."""
        if self.punie is None:
            if self.shutdown_requested and "id" not in message:
                return  # shut down before pygls loaded: its state no longer matters
            self._punie_queue.append(message)
        else:
            self.punie.dispatch(message)

    def attach(self, punie: PunieServer) -> None:
        """pygls has loaded: hand it everything that waited for it, in order."""
        self.punie = punie
        queued, self._punie_queue = self._punie_queue, []
        for message in queued:
            punie.dispatch(message)
        self.punie_attached.set()

    def _is_ty_command(self, message: dict[str, Any]) -> bool:
        params = message.get("params")
        return isinstance(params, dict) and params.get("command") in self.ty_commands

    def _forward_request(
        self, msg_id: int | str, method: str, message: dict[str, Any], body: bytes
    ) -> None:
        self.forwarded_requests.forward(msg_id, method, message, body)

    def _cancel_forwarded(self, params: Any, body: bytes) -> bool:
        return self.forwarded_requests.cancel(params, body)

    def _client_response(self, msg_id: int | str, message: dict[str, Any]) -> None:
        if not self.ty_requests.answer(msg_id, message):
            self.to_punie(message)  # an answer to one of pygls' own requests

    # -- initialize ----------------------------------------------------------------------

    def ty_settings(self) -> dict[str, Any]:
        """The editor's ``ty`` section now (``{}`` when none): ``initializationOptions``'
        until the editor changes it (``change_ty_settings``).

        punie's own ty processes (``punie_lsp.session.semantic``) start with it, so a
        tool sees the environment and rules the editor chose for ty
        (``environment.python``, …).
        """
        return self.ty_section.current()

    def _ty_initialize_params(self) -> dict[str, Any]:
        # On a restart the folders may have changed since the editor's initialize.
        folders = self.punie.workspace_folders() if self.punie is not None else None
        params = initialize.ty_initialize_params(self.raw_initialize_params, folders)
        return self.ty_section.initialize_params(params)

    def change_ty_settings(self, section: Mapping[str, Any]) -> None:
        """The editor's ``ty`` section now: ty is restarted with it when it differs from
        what ty has (``ty_settings.TySettings``: ty reads its settings only at start)."""
        self.ty_section.change(section)

    def _ty_lost(self) -> None:
        """The old ty stops taking messages: what it owed goes to the new one."""
        self.ty_requests.progress_tokens.clear()
        self._end_progress(REASON)
        self.forwarded_requests.crashed(REASON, on_purpose=True)
        # Pushed diagnostics are the old settings': cleared, the new ty pushes its own.
        published, self._published = self._published, set()
        for uri in sorted(published):
            params = {"uri": uri, "diagnostics": []}
            note = {"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": params}
            self._to_client(json.dumps(note).encode())

    def _refreshes_diagnostics(self) -> bool:
        """The editor pulls ty's diagnostics and takes ``workspace/diagnostic/refresh``."""
        capabilities = (self.raw_initialize_params or {}).get("capabilities")
        workspace = capabilities.get("workspace") if isinstance(capabilities, dict) else None
        diagnostics = workspace.get("diagnostics") if isinstance(workspace, dict) else None
        return (
            isinstance(diagnostics, dict)
            and diagnostics.get("refreshSupport") is True
            and "textDocument/diagnostic" in self.routes.forwarded
        )

    async def _initialize(self, msg_id: int | str) -> None:
        self.ty.cwd = initialize.ty_cwd(self.raw_initialize_params)
        try:
            ty_result = await self.ty.start()
            capabilities = dict(ty_result.get("capabilities") or {})
        except Exception as exc:
            logger.error("could not start ty: %s", exc)
            fix = (
                "check PUNIE_LSP_TY_COMMAND"
                if self.ty_overridden
                else "reinstall punie-lsp (it runs the ty wheel's own binary)"
            )
            self.ty_start_error = (
                f"ty could not start ({exc}), so hover, definitions and ty's diagnostics are "
                f"off and only punie's own features work; {fix}"
            )
            capabilities = dict(FALLBACK_CAPABILITIES)
        self.routes.advertise(capabilities)
        capabilities = initialize.editor_capabilities(
            capabilities, self.ty_commands, code_actions.CODE_ACTION_KINDS
        )
        self.capabilities = capabilities
        result = {
            "capabilities": capabilities,
            "serverInfo": {"name": "punie-lsp", "version": __version__},
        }
        self.send_result(msg_id, result)
        self.release_held()
        # pygls learns about the session too (workspace, client capabilities), in order.
        self.to_punie(
            {"jsonrpc": "2.0", "method": "initialize", "params": self.raw_initialize_params}
        )
        early, self._early = self._early or [], None
        for message, body in early:
            self.handle_message(message, body)

    def handle_message(self, message: dict[str, Any], body: bytes) -> None:
        """Route a validated request or notification (its ``body`` is what the editor sent)."""
        try:
            if "id" in message:
                self._client_request(message["id"], message["method"], message, body)
            else:
                self._client_notification(message["method"], message.get("params"), message, body)
        except Exception:
            logger.exception("unexpected error while handling %.200r", body)

    # -- ty -> editor --------------------------------------------------------------------

    def on_ty_response(self, msg_id: int | str, body: bytes) -> None:
        """Route a response to an editor request: the same bytes, unless its id was remapped."""
        self.forwarded_requests.answer(msg_id, body)

    def answer_now(self, msg_id: int | str, body: bytes) -> bool:
        """On ty's reading thread: write ty's answer to the editor when it goes back as is.

        False (nothing done) when the loop must see it: the editor's writer is not
        thread-safe, ty's traffic is still held until the initialize result, or punie
        adds to the answer or remapped its id.
        """
        if self._held is not None or not self.writer.thread_safe:
            return False
        return self.forwarded_requests.answer_now(msg_id, body, self.writer.write_body)

    def on_ty_message(self, message: dict[str, Any], body: bytes) -> None:
        """Route one message from ty (called by ``TyChild``'s reader)."""
        method = message.get("method")
        if method is None:
            msg_id = message.get("id")
            if isinstance(msg_id, int | str):
                self.on_ty_response(msg_id, body)
        elif "id" in message:
            self.ty_requests.relay(message)
        elif method == "$/cancelRequest":
            self.ty_requests.relay_cancel(message)
        else:
            if method == "textDocument/publishDiagnostics":
                self._track_published(message.get("params"))
            elif method == "$/progress":
                self._track_progress(message.get("params"))
            self._to_client(body)

    def _track_published(self, params: Any) -> None:
        uri = params.get("uri") if isinstance(params, dict) else None
        if not isinstance(uri, str):
            return
        if params.get("diagnostics"):
            self._published.add(uri)
        else:
            self._published.discard(uri)

    def _track_progress(self, params: Any) -> None:
        token = params.get("token") if isinstance(params, dict) else None
        value = params.get("value") if isinstance(params, dict) else None
        if not isinstance(token, int | str) or not isinstance(value, dict):
            return
        if value.get("kind") == "begin":
            self._progress.add(token)
        elif value.get("kind") == "end":
            self._progress.discard(token)

    def _end_progress(self, reason: str) -> None:
        """End what a lost ty was reporting (``Checking 30%`` would stay on screen)."""
        progress, self._progress = self._progress, set()
        for token in sorted(progress, key=str):
            value = {"kind": "end", "message": reason}
            note = {
                "jsonrpc": "2.0",
                "method": "$/progress",
                "params": {"token": token, "value": value},
            }
            self._to_client(json.dumps(note).encode())

    def _to_client(self, body: bytes) -> None:
        if self._held is not None:
            self._held.append(body)
        else:
            self.writer.write_body(body)

    def release_held(self) -> None:
        """Send ty's messages held back until the editor had our initialize result."""
        held, self._held = self._held, None
        for body in held or ():
            self.writer.write_body(body)

    # -- ty lifecycle hooks ------------------------------------------------------------

    def on_ty_ready(self, restarted: bool) -> None:
        """Replay open documents and notebooks into a restarted ty, then send queued requests."""
        if restarted and self.punie is not None:
            for item in self.punie.document_snapshots():
                self.ty.send(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didOpen",
                        "params": {"textDocument": item},
                    }
                )
            for params in self.punie.notebook_snapshots():  # cells share one namespace
                self.ty.send(
                    {"jsonrpc": "2.0", "method": "notebookDocument/didOpen", "params": params}
                )
        self.forwarded_requests.send_queued()
        if self.ty_section.ready() and self._refreshes_diagnostics():
            # Pulled diagnostics are the old settings': the editor asks the new ty.
            self.ty_requests.ask_editor("workspace/diagnostic/refresh", None)

    def on_ty_crash(self, reason: str) -> None:
        """Requests ty was answering are sent again once; a second crash fails them."""
        self.ty_requests.progress_tokens.clear()
        self._end_progress(reason)
        self.forwarded_requests.crashed(reason)
        self.log_to_client(2, f"{reason}; restarting ty")

    def _owes_answers(self) -> bool:
        """Requests read before ``exit`` that pygls has not answered yet."""
        if self.punie is None:
            return any("id" in m for m in self._punie_queue)
        return self._ending is not None or self.punie.owes_answers()

    async def _flush_then_exit(self, code: int) -> None:
        """``exit`` read while answers are owed (a session written in one batch): answer
        them within ``EXIT_FLUSH_SECONDS``, as at the end of input, then exit. An editor
        that waited for ``shutdown``'s answer owes nothing here and exits at once."""
        ending = self.end_of_input(EXIT_FLUSH_SECONDS)
        done, _ = await asyncio.wait({ending}, timeout=EXIT_FLUSH_SECONDS)
        if not done:
            ending.cancel()
            with contextlib.suppress(BaseException):
                await ending
        self._on_exit(code)

    def end_of_input(self, grace: float) -> asyncio.Task[None]:
        """The editor's input ended (or ``exit`` came with answers owed): the one task that
        answers what it sent, then stops ty (``_end_of_input``); a second call gets it."""
        if self._ending is None:
            self._ending = asyncio.get_running_loop().create_task(self._end_of_input(grace))
        return self._ending

    async def _end_of_input(self, grace: float) -> None:
        """The editor's input ended: answer every request it sent, then stop ty.

        Messages still waiting are routed first (ty may be starting, pygls loading).
        punie's own requests get ``grace`` seconds to finish (one may wait for an answer
        the editor can no longer send); what still runs then is cancelled, as
        ``shutdown`` cancels it. ty answers all it was sent before its ``shutdown``.
        So ``punie-lsp --stdio <session`` answers the whole session, then exits.
        """
        if self._initializing is not None:
            await self._initializing
        if self.punie is None and any("id" in m for m in self._punie_queue):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.punie_attached.wait(), grace)
        if self.punie is not None:
            await self.punie.finish(grace)
        else:
            await asyncio.shield(self.ty.shutdown())
            self.answer_unanswered("ty shut down without answering this request")
            for message in self._punie_queue:
                if "id" in message and "method" in message:
                    self.send_error(message["id"], REQUEST_FAILED, "punie-lsp did not load")

    async def _shutdown_without_punie(self, msg_id: int | str) -> None:
        await asyncio.shield(self.ty.shutdown())
        self.answer_unanswered("ty shut down without answering this request")
        self.send_result(msg_id, None)

    def answer_unanswered(self, reason: str) -> None:
        """Answer every forwarded request ty did not (it has shut down, or never came back)."""
        self.forwarded_requests.fail_all(reason)

    # -- output ------------------------------------------------------------------------

    def send_result(self, msg_id: int | str, result: Any) -> None:
        self.writer.write_body(result_body(msg_id, result))

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        """Answer a request with a JSON-RPC error (``id`` null when it was unreadable)."""
        self.writer.write_body(error_body(msg_id, code, message))

    def log_to_client(self, kind: int, message: str) -> None:
        """``window/logMessage`` (1 error, 2 warning, 3 info, 4 log)."""
        params = {"type": kind, "message": message}
        note = {"jsonrpc": "2.0", "method": "window/logMessage", "params": params}
        self._to_client(json.dumps(note).encode())
