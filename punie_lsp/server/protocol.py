"""pygls' LSP protocol for the messages punie answers itself.

The router (``punie_lsp.wire.router``) has already validated each message and answered
``initialize`` with ty's capabilities; this protocol structures what reaches it with
cattrs and dispatches it to punie's features. Params it cannot structure are answered
with ``InvalidParams`` (pygls alone would log them and leave the request unanswered).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, lsp_method

from punie_lsp.session.documents import install_workspace
from punie_lsp.session.progress import note_command

__all__ = ["PunieProtocol"]

logger = logging.getLogger(__name__)

_MEMBERS = frozenset({"jsonrpc", "id", "method", "params", "result", "error"})


class PunieProtocol(LanguageServerProtocol):
    """pygls' protocol, fed already-routed messages by ``PunieLanguageServer.dispatch``.

    pygls builds it; its owner then sets the two hooks below.
    """

    send_error: Callable[[int | str, int, str], None]
    """Answer a request with a JSON-RPC error (the router's ``send_error``)."""
    on_shutdown: Callable[[], Awaitable[None]]
    """Stop punie's own work and ty; awaited before ``shutdown`` is acknowledged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._editor_requests: set[int | str] = set()
        """Ids of the editor's requests: pygls keeps them in flight in one table with its
        own requests of the editor, and ``finish_requests`` must tell them apart."""

    def dispatch(self, message: dict[str, Any]) -> None:
        """Structure and handle one message; never raises."""
        msg_id = message.get("id")
        if msg_id is not None and "method" in message:
            in_flight = self._request_futures
            self._editor_requests = {i for i in self._editor_requests if i in in_flight}
            self._editor_requests.add(msg_id)
        # JSON-RPC ignores members it does not define and lets ``params`` be left out;
        # pygls' generic message classes take neither, and would answer InternalError.
        message = {k: v for k, v in message.items() if k in _MEMBERS}
        if "method" in message:
            message.setdefault("params", None)
        try:
            structured = self.structure_message(message)
        except JsonRpcException as exc:
            if "method" in message and msg_id is not None:
                self.send_error(msg_id, exc.code, f"{exc.message}: {message['method']}")
            else:
                logger.warning("dropping malformed %s", message.get("method", "response"))
            return
        if msg_id is not None and "method" in message and not hasattr(structured, "id"):
            # A notification's type for this method: pygls would drop the id, unanswered.
            error = f"Invalid request: {message['method']} is a notification"
            self.send_error(msg_id, -32600, error)
            return
        try:
            self.handle_message(structured)
        except Exception:
            logger.exception("failed to handle %s", message.get("method"))

    def requests_in_flight(self) -> bool:
        """True while an editor request (``shutdown`` included) has no answer yet."""
        return any(
            msg_id in self._editor_requests and not future.done()
            for msg_id, future in list(self._request_futures.items())
        )

    async def finish_requests(self, grace: float) -> None:
        """Let the editor's requests in flight finish within ``grace`` seconds in all, then
        cancel whatever still runs (pygls answers those RequestCancelled)."""
        in_flight = self._request_futures
        running = [
            asyncio.wrap_future(future) if isinstance(future, concurrent.futures.Future) else future
            for msg_id, future in list(in_flight.items())
            if msg_id in self._editor_requests and not future.done()
        ]
        if running:
            await asyncio.wait(running, timeout=grace)
        for future in list(in_flight.values()):
            if not future.done():
                future.cancel()

    def setup_session(self, raw: dict[str, Any], ty_capabilities: dict[str, Any]) -> None:
        """Run pygls' initialize bookkeeping (no response: the router already answered)."""
        try:
            params = self._converter.structure(raw, types.InitializeParams)
        except Exception as exc:  # odd client capabilities must not cost the session
            logger.warning("could not structure initialize params (%s); using defaults", exc)
            params = types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                process_id=raw.get("processId") if isinstance(raw.get("processId"), int) else None,
            )
        steps = super().lsp_initialize(params)
        try:
            while True:
                next(steps)  # only yields for a user INITIALIZE handler, which we don't have
        except StopIteration:
            pass
        # Documents with LSP lines (``punie_lsp.session.documents``), tracked in the
        # encoding ty negotiated: edits must line up with ty's.
        install_workspace(self, ty_capabilities.get("positionEncoding"))

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        """pygls gives handlers only the arguments; keep the rest (``workDoneToken``)."""
        note_command(params)
        return (yield from super().lsp_workspace__execute_command(params))

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """Cancel what is in flight, stop ty and punie's workers, then acknowledge.

        Upstream workaround (pygls 2.1): its ``lsp_shutdown`` cancels the in-flight futures
        while iterating the dict their done-callbacks pop from, so a shutdown that arrives
        during a running command raises "dictionary changed size during iteration" and
        the editor never gets its answer. This does the same over a copy;
        ``tests/punie_lsp/server/test_upstream_pygls.py`` shows the breakage.
        """
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        yield self.on_shutdown, (), None
        return None
