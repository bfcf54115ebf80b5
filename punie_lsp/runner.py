"""The message loop: read frames, route them, load pygls off the critical path, exit cleanly.

Importing pygls and lsprotocol takes ~0.8 s here, longer than ty takes to start. The
router needs neither, so it answers ``initialize`` as soon as ty has, while pygls loads
in a thread; punie's own features become available when it is attached (messages for
them wait in order). The editor's process is watched (``processId``) and its
disappearance, the end of input, or ``exit`` stop ty before the process ends; at the end
of input every request already read is answered first (``Router.end_of_input``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
from typing import Any

from punie_lsp.wire.pipes import FrameReaderThread, open_stdio
from punie_lsp.wire.router import Router
from punie_lsp.wire.transport import FrameReceiver, FrameWriter

__all__ = ["serve", "serve_stdio", "serve_tcp"]

logger = logging.getLogger(__name__)

PARENT_POLL_SECONDS = 2.0

END_OF_INPUT_GRACE_SECONDS = 30.0
"""When the editor's input ends, how long punie's own requests in flight may still run."""


async def _watch_parent(pid: int, stop: asyncio.Future[int]) -> None:
    while not stop.done():
        await asyncio.sleep(PARENT_POLL_SECONDS)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logger.warning("editor process %s is gone; exiting", pid)
            if not stop.done():
                stop.set_result(1)
            return
        except PermissionError:
            pass  # alive, owned by another user


async def _attach_punie(router: Router, trust_all: bool) -> None:
    loop = asyncio.get_running_loop()
    server_module = await loop.run_in_executor(
        None, importlib.import_module, "punie_lsp.server.language_server"
    )
    router.attach(server_module.build(router, trust_all=trust_all))
    # What is loaded by now (pygls, lsprotocol, cattrs, the agent's modules) lives as long
    # as the process: the collector's full passes no longer walk it, each of which cost
    # a forwarded request milliseconds (gc.freeze, CPython's documented use).
    gc.freeze()
    logger.debug("punie's pygls server attached")


def _bad_frame(why: str) -> None:
    logger.warning("skipped a malformed frame from the editor: %s", why)


async def serve(
    receiver: FrameReceiver | FrameReaderThread,
    writer: FrameWriter,
    *,
    ty_command: list[str] | None = None,
    trust_all: bool = False,
) -> int:
    """Serve one editor connection; return the process exit code.

    ``trust_all`` (``--trust``) lets tools run the workspace's code whatever the
    ``trust`` setting says.
    """
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[int] = loop.create_future()
    tasks: list[asyncio.Task[Any]] = []

    def on_exit(code: int) -> None:
        if not stop.done():
            stop.set_result(code)

    def on_initialize(params: dict[str, Any]) -> None:
        pid = params.get("processId")
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
            tasks.append(loop.create_task(_watch_parent(pid, stop)))

    router = Router(writer, on_exit=on_exit, on_initialize=on_initialize, ty_command=ty_command)
    attaching = loop.create_task(_attach_punie(router, trust_all))
    # stdio: what only ty must see is forwarded on the reading thread (``forward_now``).
    receiver.bind(router.handle_body, router.forward_now)
    await asyncio.wait({receiver.closed, stop}, return_when=asyncio.FIRST_COMPLETED)
    if not stop.done():
        logger.info("the editor closed its input; answering what it sent, then stopping")
        if receiver.parser.unfinished:
            logger.warning("the input ended inside a message; that message was not read")
        ending = router.end_of_input(END_OF_INPUT_GRACE_SECONDS)
        await asyncio.wait({ending, stop}, return_when=asyncio.FIRST_COMPLETED)
        ending.cancel()
        with contextlib.suppress(BaseException):
            await ending
    # LSP: exit code 0 after a shutdown request, 1 otherwise.
    code = stop.result() if stop.done() else 0 if router.shutdown_requested else 1
    for task in (attaching, *tasks):
        task.cancel()
    await router.ty.stop()
    for task in (attaching, *tasks):
        with contextlib.suppress(BaseException):
            await task
    writer.close()
    return code


async def serve_stdio(*, ty_command: list[str] | None = None, trust_all: bool = False) -> int:
    receiver, writer = await open_stdio(_bad_frame)
    return await serve(receiver, writer, ty_command=ty_command, trust_all=trust_all)


async def serve_tcp(
    host: str, port: int, *, ty_command: list[str] | None = None, trust_all: bool = False
) -> int:
    """Serve the first editor that connects to ``host:port``, then exit."""
    loop = asyncio.get_running_loop()
    connected: asyncio.Future[FrameReceiver] = loop.create_future()

    def accept() -> FrameReceiver:
        receiver = FrameReceiver(_bad_frame)
        if not connected.done():
            connected.set_result(receiver)
        return receiver

    server = await loop.create_server(accept, host, port)
    logger.info("listening on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
    receiver = await connected
    server.close()  # one editor per server process
    transport = await receiver.opened
    assert isinstance(transport, asyncio.WriteTransport)  # a TCP connection's transport
    return await serve(receiver, FrameWriter(transport), ty_command=ty_command, trust_all=trust_all)
