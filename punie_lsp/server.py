"""The punie-lsp server object: owns the ty child, the settings and the message loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from punie_lsp import __version__
from punie_lsp.protocol import PunieProtocol
from punie_lsp.settings import Settings, resolve, split_initialization_options
from punie_lsp.transport import FrameWriter, open_stdio, read_frame
from punie_lsp.ty_child import TyChild
from typed_tools.lsp_converter import converter

__all__ = ["PunieLanguageServer"]

logger = logging.getLogger(__name__)

PARENT_POLL_SECONDS = 2.0

FALLBACK_CAPABILITIES: dict[str, Any] = {
    "textDocumentSync": {"openClose": True, "change": 2, "save": {"includeText": False}},
}
"""What punie advertises when ty cannot start: it still tracks documents for the agent."""


class PunieLanguageServer(LanguageServer):
    """A language server whose semantics come from a child ``ty server``."""

    protocol: PunieProtocol  # ty: ignore[incompatible-mutable-override]  # narrowed: pygls sets it once

    def __init__(self, *, ty_command: list[str] | None = None) -> None:
        super().__init__(
            name="punie-lsp",
            version=__version__,
            protocol_cls=PunieProtocol,
            converter_factory=converter,
        )
        self.settings = Settings()
        self.settings_problems: list[str] = []
        self.ty_section: Any = None
        self.loop: asyncio.AbstractEventLoop = asyncio.new_event_loop()  # replaced in serve()
        self.ty = TyChild(
            command=ty_command,
            initialize_params=self._ty_initialize_params,
            on_message=self.protocol.on_ty_message,
            on_ready=self.protocol.on_ty_ready,
            on_crash=self._on_ty_crash,
            on_give_up=self._on_ty_give_up,
        )
        self._exit: asyncio.Future[int] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    # -- ty ------------------------------------------------------------------------------

    def _ty_initialize_params(self) -> dict[str, Any]:
        raw = dict(self.protocol.raw_initialize_params or {})
        raw["processId"] = os.getpid()
        raw["initializationOptions"] = self.ty_section
        workspace = self.protocol._workspace
        if workspace is not None:
            raw["workspaceFolders"] = [
                {"uri": f.uri, "name": f.name} for f in workspace.folders.values()
            ] or None
        return raw

    def _ty_cwd(self) -> str | None:
        workspace = self.protocol._workspace
        if workspace is None:
            return None
        for folder in workspace.folders.values():
            path = types_uri_to_path(folder.uri)
            if path and os.path.isdir(path):
                return path
        root = workspace.root_path
        return root if root and os.path.isdir(root) else None

    async def start_ty(self) -> dict[str, Any]:
        """Start ty; return the InitializeResult punie sends (ty's capabilities, our name)."""
        punie, self.ty_section, problems = split_initialization_options(
            (self.protocol.raw_initialize_params or {}).get("initializationOptions")
        )
        self.settings, self.settings_problems = resolve(punie, problems)
        self.ty.cwd = self._ty_cwd()
        try:
            ty_result = await self.ty.start()
            capabilities = dict(ty_result.get("capabilities") or {})
        except Exception as exc:
            logger.error("could not start ty: %s", exc)
            self.settings_problems.append(
                f"ty could not start ({exc}); only punie's own features are available"
            )
            capabilities = dict(FALLBACK_CAPABILITIES)
        self.protocol.adopt_ty_capabilities(capabilities)
        return {
            "capabilities": capabilities,
            "serverInfo": {"name": self.name, "version": self.version},
        }

    async def stop_ty(self) -> None:
        await self.ty.stop()

    def _on_ty_crash(self, reason: str) -> None:
        self.protocol.on_ty_crash(reason)
        self.log_to_client(f"{reason}; restarting ty", types.MessageType.Warning)

    def _on_ty_give_up(self, message: str) -> None:
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=f"punie-lsp: {message}")
        )

    # -- settings ------------------------------------------------------------------------

    def apply_settings(self, raw: Any, *, source: str) -> None:
        """Resolve a ``punie`` section; name every problem in one message."""
        self.settings, problems = resolve(raw)
        self.show_problems(problems, source)

    def show_problems(self, problems: list[str], source: str) -> None:
        if not problems:
            return
        text = f"punie-lsp: ignored in {source} (defaults used): " + "; ".join(problems)
        logger.warning("%s", text)
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=text)
        )

    def log_to_client(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        if self.protocol.writer is not None:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log handler failures instead of popping a message box for each one."""
        logger.error("%s: %s", getattr(source, "__name__", source), error)

    # -- process lifecycle ---------------------------------------------------------------

    def request_exit(self) -> None:
        """``exit``: 0 after ``shutdown``, 1 otherwise (as the LSP spec asks)."""
        if self._exit is not None and not self._exit.done():
            self._exit.set_result(0 if self.protocol._shutdown else 1)

    def watch_parent(self, pid: int | None) -> None:
        """Exit when the editor process that started us is gone."""
        if pid is None or pid <= 0 or self._watch_task is not None:
            return

        async def watch() -> None:
            while True:
                await asyncio.sleep(PARENT_POLL_SECONDS)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    logger.warning("editor process %s is gone; exiting", pid)
                    self.request_exit()
                    return
                except PermissionError:
                    pass  # exists, owned by someone else

        self._watch_task = self.loop.create_task(watch())

    async def serve(self, reader: asyncio.StreamReader, writer: FrameWriter) -> int:
        """Run until ``exit``, end of input or the editor's death; return the exit code."""
        self.loop = asyncio.get_running_loop()
        self._exit = self.loop.create_future()
        self.protocol.set_writer(writer, include_headers=True)

        async def read_all() -> None:
            while (body := await read_frame(reader, self._bad_frame)) is not None:
                self.protocol.handle_body(body)

        reading = self.loop.create_task(read_all())
        await asyncio.wait({reading, self._exit}, return_when=asyncio.FIRST_COMPLETED)
        code = self._exit.result() if self._exit.done() else (0 if self.protocol._shutdown else 1)
        if not self._exit.done():
            logger.info("editor closed the connection; stopping")
        reading.cancel()
        if self._watch_task is not None:
            self._watch_task.cancel()
        await self.stop_ty()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        writer.close()
        return code

    def _bad_frame(self, why: str) -> None:
        logger.warning("skipped a malformed frame from the editor: %s", why)

    async def serve_stdio(self) -> int:
        reader, writer = await open_stdio()
        return await self.serve(reader, writer)

    async def serve_tcp(self, host: str, port: int) -> int:
        """Serve the first editor that connects to ``host:port``."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def connected(reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
            if done.done():
                stream.close()
                return
            code = await self.serve(reader, FrameWriter(stream.transport))
            if not done.done():
                done.set_result(code)

        server = await asyncio.start_server(connected, host, port)
        logger.info("listening on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
        async with server:
            return await done


def types_uri_to_path(uri: str) -> str | None:
    from pygls.uris import to_fs_path

    return to_fs_path(uri)
