"""The composition root: the pygls server for punie's own features; ty's traffic never reaches it.

It is built once pygls has been imported (in a thread, see ``punie_lsp.runner``) and
attached to the router, which then hands it every message that is not forwarded.
``build`` makes the ``Session`` and the ``AgentHost`` and registers every feature's
handlers with what each takes first: features never import this module.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import typing
from collections.abc import Callable
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from punie_lsp import __version__
from punie_lsp.agent_run.agent_host import AgentHost
from punie_lsp.features import arguments, commands, lifecycle
from punie_lsp.server.protocol import PunieProtocol
from punie_lsp.session.session import Session
from punie_lsp.wire.router import Router
from typed_tools.lsp_converter import converter

__all__ = ["PunieLanguageServer", "bind", "build"]

logger = logging.getLogger(__name__)


class PunieLanguageServer(LanguageServer):
    """pygls's server for punie's messages: the router's ``PunieServer``, owner of the session."""

    protocol: PunieProtocol  # ty: ignore[incompatible-mutable-override]  # narrowed

    def __init__(
        self,
        router: Router,
        *,
        trust_all: bool = False,
        converter_factory: Callable[[], cattrs.Converter] = converter,
    ) -> None:
        lsp_converter = converter_factory()
        super().__init__(
            name="punie-lsp",
            version=__version__,
            protocol_cls=PunieProtocol,
            converter_factory=lambda: lsp_converter,
        )
        self.router = router
        self.session = Session(self, router, lsp_converter, trust_all=trust_all)
        self.agent_host = AgentHost(self.session)
        self.protocol.send_error = router.send_error
        self.protocol.on_shutdown = self.stop
        self.protocol.set_writer(router.writer, include_headers=True)

    # -- the router's PunieServer protocol -----------------------------------------------

    def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("method") == types.INITIALIZE and "id" not in message:
            params = message.get("params") or {}
            self.protocol.setup_session(params, self.router.capabilities)
            self.session.initialize(params)
            return
        self.protocol.dispatch(message)

    def document_snapshots(self) -> list[dict[str, Any]]:
        return self.session.document_snapshots()

    def notebook_snapshots(self) -> list[dict[str, Any]]:
        return self.session.notebook_snapshots()

    def workspace_folders(self) -> list[dict[str, str]]:
        return self.session.workspace_folders()

    def owes_answers(self) -> bool:
        return self.protocol.requests_in_flight()

    async def finish(self, grace: float) -> None:
        """The editor's input ended: let its requests in flight finish, then stop.

        Each gets up to ``grace`` seconds in all; what still runs is then cancelled (and
        answered so) by ``stop``, as a ``shutdown`` would.
        """
        await self.protocol.finish_requests(grace)
        await self.stop()

    async def stop(self) -> None:
        """``shutdown``: stop punie's own work, and answer once ty has answered its shutdown.

        ty's process ends at ``exit`` (``punie_lsp.runner``); every request the editor
        sent before ``shutdown`` has its answer by the time this returns.
        """
        self.agent_host.close()
        await asyncio.gather(self.session.stop(), self.router.ty.shutdown())
        self.router.answer_unanswered("ty shut down without answering this request")

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log handler failures instead of popping a message box for each one.

        A ``JsonRpcException`` (bad arguments, a refused path) was answered to the editor
        as the request's error: a user's mistake, logged in one line at INFO.
        """
        if isinstance(error, JsonRpcException):
            logger.info("answered with an error: %s", error)
            return
        logger.error("%s: %s", getattr(source, "__name__", source), error)


def bind(handler: Callable[..., Any], first: object) -> Callable[..., Any]:
    """``handler`` with ``first`` (a ``Session``, an ``AgentHost``) as its first argument.

    pygls passes its server to a handler whose first parameter is named ``ls``, and
    converts a command's other arguments to those parameters' types (it reads
    ``inspect.signature`` and ``typing.get_type_hints``). The returned callable shows
    pygls an ``ls`` parameter followed by the handler's others, resolved, so pygls
    converts the arguments as before; it drops the server and calls ``handler`` with
    ``first``: features receive what they need, never the server.
    """
    signature = inspect.signature(handler)
    first_parameter, *rest = signature.parameters.values()
    hints = {
        name: hint
        for name, hint in typing.get_type_hints(handler).items()
        if name != first_parameter.name
    }
    ls = inspect.Parameter("ls", inspect.Parameter.POSITIONAL_ONLY)
    bound: Callable[..., Any]
    if inspect.iscoroutinefunction(handler):

        async def bound_async(ls: object, /, *args: Any, **kwargs: Any) -> Any:
            return await handler(first, *args, **kwargs)

        bound = bound_async
    else:

        def bound_sync(ls: object, /, *args: Any, **kwargs: Any) -> Any:
            return handler(first, *args, **kwargs)

        bound = bound_sync
    bound.__name__ = bound.__qualname__ = getattr(handler, "__name__", "handler")
    bound.__doc__ = handler.__doc__
    bound.__annotations__ = hints
    # inspect.signature reads it; pygls then sees ``(ls, <the handler's other parameters>)``
    bound.__dict__["__signature__"] = signature.replace(parameters=[ls, *rest])
    return bound


class _AnsweredErrors(logging.Filter):
    """Upstream trap (pygls 2.1): ``_send_handler_result`` logs a whole traceback
    ("Exception occurred for message") for every ``JsonRpcException`` a handler raises,
    although the editor gets it as the response's error; ``report_server_error`` logs
    those in one line, so pygls's copy is dropped. Other exceptions keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], JsonRpcException))


def build(router: Router, *, trust_all: bool = False) -> PunieLanguageServer:
    """Create the pygls server with every punie feature registered."""
    json_rpc = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, _AnsweredErrors) for f in json_rpc.filters):
        json_rpc.addFilter(_AnsweredErrors())

    # The commands' argument classes and results are registered on pygls's converter.
    server = PunieLanguageServer(router, trust_all=trust_all, converter_factory=arguments.converter)
    dependencies: dict[type, object] = {Session: server.session, AgentHost: server.agent_host}
    for method, handler in lifecycle.HANDLERS.items():
        server.feature(method)(bind(handler, server.session))
    for name, handler in commands.COMMANDS.items():
        server.command(name)(bind(handler, dependencies[_first_type(handler)]))
    return server


def _first_type(handler: Callable[..., Any]) -> type:
    """The type a handler's first parameter is annotated with."""
    first = next(iter(inspect.signature(handler).parameters))
    return typing.get_type_hints(handler)[first]
