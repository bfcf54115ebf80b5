"""The message loop: read frames, route them, load pygls off the critical path, exit cleanly.

Importing pygls and lsprotocol takes ~0.8 s here, longer than ty takes to start. The
router needs neither, so it answers ``initialize`` as soon as ty has, while pygls loads
in a thread; punie's own features become available when it is attached (messages for
them wait in order). The editor's process is watched (``processId``) and its
disappearance, the end of input, or ``exit`` stop ty before the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from typing import Any

from punie_lsp.router import Router
from punie_lsp.transport import FrameWriter, open_stdio, read_frame

__all__ = ["serve", "serve_stdio", "serve_tcp"]

logger = logging.getLogger(__name__)

PARENT_POLL_SECONDS = 2.0


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


async def _attach_backend(router: Router) -> None:
    loop = asyncio.get_running_loop()
    server_module = await loop.run_in_executor(None, importlib.import_module, "punie_lsp.server")
    router.attach(server_module.build(router))
    logger.debug("pygls backend attached")


async def serve(
    reader: asyncio.StreamReader, writer: FrameWriter, *, ty_command: list[str] | None = None
) -> int:
    """Serve one editor connection; return the process exit code."""
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
    attaching = loop.create_task(_attach_backend(router))

    async def read_all() -> None:
        def bad_frame(why: str) -> None:
            logger.warning("skipped a malformed frame from the editor: %s", why)

        while (body := await read_frame(reader, bad_frame)) is not None:
            router.handle_body(body)

    reading = loop.create_task(read_all())
    await asyncio.wait({reading, stop}, return_when=asyncio.FIRST_COMPLETED)
    if stop.done():
        code = stop.result()
    else:
        logger.info("the editor closed the connection; stopping")
        code = 0 if router.shutdown_requested else 1
    for task in (reading, attaching, *tasks):
        task.cancel()
    await router.ty.stop()
    for task in (reading, attaching, *tasks):
        with contextlib.suppress(BaseException):
            await task
    writer.close()
    return code


async def serve_stdio(*, ty_command: list[str] | None = None) -> int:
    reader, writer = await open_stdio()
    return await serve(reader, writer, ty_command=ty_command)


async def serve_tcp(host: str, port: int, *, ty_command: list[str] | None = None) -> int:
    """Serve the first editor that connects to ``host:port``, then exit."""
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def connected(reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        if done.done():
            stream.close()
            return
        transport = stream.transport
        assert isinstance(transport, asyncio.WriteTransport)  # a TCP stream's transport
        code = await serve(reader, FrameWriter(transport), ty_command=ty_command)
        if not done.done():
            done.set_result(code)

    server = await asyncio.start_server(connected, host, port)
    logger.info("listening on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
    async with server:
        return await done
