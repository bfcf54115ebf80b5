"""A ty language server of our own, for when no editor's server is there to ask.

The CLI, training generators and benchmarks have no live ``ty`` child, yet navigation
and warm ``typecheck`` need one: starting ``ty check`` per question costs a fresh
project load every time. ``TyBackend`` implements ``DocumentSyncBackend`` on pygls'
``LanguageClient`` (with ``converter()``, or the client hangs on ty's ``initialize``
result). ``TyBackendPool`` owns one per workspace root, started on first use and
restarted when ty died; ``default_pool()`` is the process-wide pool the tools fall
back to, so the CLI must ``await default_pool().stop_all()`` before exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from typed_tools.base import JSON, PositionEncoding, SemanticBackend, ToolContext
from typed_tools.lsp_converter import converter
from typed_tools.ty_environment import ty_environment, ty_executable

__all__ = ["TyBackend", "TyBackendPool", "default_pool", "semantic_backend"]

_ENCODINGS: dict[str, PositionEncoding] = {"utf-8": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32"}


class TyBackend:
    """One ``ty server`` child for one workspace root, spoken to as an LSP client."""

    def __init__(
        self,
        root: Path,
        *,
        position_encodings: Sequence[PositionEncoding] = ("utf-8", "utf-16", "utf-32"),
        settings: Mapping[str, Any] | None = None,
        workspace_diagnostics: bool = True,
    ) -> None:
        self.root = root.resolve()
        """The workspace folder ty analyses."""
        self._offered = list(position_encodings)
        self._settings = {
            "diagnosticMode": "workspace" if workspace_diagnostics else "openFilesOnly",
            **(settings or {}),
        }
        self.workspace_diagnostics = self._settings["diagnosticMode"] == "workspace"
        """Whether ty runs in ``workspace`` diagnostic mode, so ``workspace/diagnostic``
        answers for every file in one request (``typecheck`` then asks once, not per file)."""
        self._next_id = 0
        self._client: LanguageClient | None = None
        self._encoding: PositionEncoding = "utf-16"
        self._documents: dict[str, tuple[int, str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def position_encoding(self) -> PositionEncoding:
        """What ty chose from the encodings we offered (UTF-16 when it chose none)."""
        return self._encoding

    @property
    def running(self) -> bool:
        """Whether the child is up and answering on the current event loop."""
        client = self._client
        if client is None or client.stopped or self._loop is not asyncio.get_running_loop():
            return False
        server = client._server
        return server is not None and server.returncode is None

    async def start(self) -> None:
        """Start ``ty server`` and complete the ``initialize`` handshake."""
        client = LanguageClient("punie-typed-tools", "0.1", converter_factory=converter)

        @client.feature(types.WORKSPACE_CONFIGURATION)
        def _configuration(_: LanguageClient, params: types.ConfigurationParams) -> list[Any]:
            return [self._settings for _ in params.items]

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def _register(_: LanguageClient, __: types.RegistrationParams) -> None:
            return None

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _progress(_: LanguageClient, __: types.WorkDoneProgressCreateParams) -> None:
            return None

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _published(_: LanguageClient, __: types.PublishDiagnosticsParams) -> None:
            return None  # we pull diagnostics; pushes would be stale duplicates

        # ty sees the project's environment, never punie-lsp's (see ty_environment).
        executable = await asyncio.to_thread(ty_executable)
        await client.start_io(executable, "server", cwd=str(self.root), env=ty_environment())
        params = types.InitializeParams(
            process_id=os.getpid(),
            root_uri=self.root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)],
            initialization_options=self._settings,
            capabilities=types.ClientCapabilities(
                general=types.GeneralClientCapabilities(
                    position_encodings=[types.PositionEncodingKind(e) for e in self._offered]
                ),
                workspace=types.WorkspaceClientCapabilities(configuration=True),
                text_document=types.TextDocumentClientCapabilities(
                    diagnostic=types.DiagnosticClientCapabilities(),
                    hover=types.HoverClientCapabilities(
                        content_format=[types.MarkupKind.Markdown, types.MarkupKind.PlainText]
                    ),
                    document_symbol=types.DocumentSymbolClientCapabilities(
                        hierarchical_document_symbol_support=True
                    ),
                ),
            ),
        )
        try:
            result = await client.initialize_async(params)
        except BaseException:
            await self._kill(client)
            raise
        encoding = result.capabilities.position_encoding
        self._encoding = _ENCODINGS.get(str(getattr(encoding, "value", encoding)), "utf-16")
        client.initialized(types.InitializedParams())
        self._client = client
        self._loop = asyncio.get_running_loop()
        self._documents.clear()

    async def request(self, method: str, params: JSON) -> JSON:
        """Send an LSP request with JSON ``params``; the result comes back as JSON too."""
        client = self._require()
        conv = client.protocol._converter
        # The table mixes classes with ``Any | None`` forms; treat the row as an opaque type.
        typed: Any = types.METHOD_TO_TYPES.get(method, (None, None, None, None))[2]
        if not isinstance(typed, type):
            raise ValueError(f"{method} is not an LSP request with parameters")
        # Our own ids: pygls' default uuid4 costs more than ty's answer to a warm request.
        self._next_id += 1
        result = await client.protocol.send_request_async(
            method, conv.structure(params, typed), msg_id=f"tt{self._next_id}"
        )
        return conv.unstructure(result)

    def open_document_text(self, uri: str) -> str | None:
        """Always None: there is no editor, so no buffer should win over disk or overlay."""
        return None

    async def sync_documents(self, documents: Mapping[str, str]) -> None:
        """Open each document in ty, or send its new text when it changed since last time."""
        client = self._require()
        for uri, text in documents.items():
            known = self._documents.get(uri)
            if known is None:
                client.text_document_did_open(
                    types.DidOpenTextDocumentParams(
                        text_document=types.TextDocumentItem(
                            uri=uri, language_id="python", version=1, text=text
                        )
                    )
                )
                self._documents[uri] = (1, text)
            elif known[1] != text:
                version = known[0] + 1
                client.text_document_did_change(
                    types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(
                            uri=uri, version=version
                        ),
                        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                    )
                )
                self._documents[uri] = (version, text)

    async def stop(self) -> None:
        """Shut ty down politely, killing it if it does not answer within a few seconds."""
        client, self._client = self._client, None
        self._documents.clear()
        if client is None:
            return
        if self._loop is not asyncio.get_running_loop():
            self._kill_sync(client)
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_async(None), 5)
            client.exit(None)
        await self._kill(client)

    def _require(self) -> LanguageClient:
        if self._client is None or not self.running:
            raise RuntimeError("the ty language server is not running")
        return self._client

    @staticmethod
    def _kill_sync(client: LanguageClient) -> None:
        """Kill a child whose event loop is gone (a test's loop, a finished ``asyncio.run``)."""
        server = client._server
        if server is not None and server.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)

    @staticmethod
    async def _kill(client: LanguageClient) -> None:
        server = client._server
        if server is not None and server.returncode is None:
            try:
                await asyncio.wait_for(server.wait(), 2)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    server.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 5)


def _key(root: Path) -> Path:
    """Roots are compared resolved, so ``.`` and its absolute spelling share one ty."""
    return root.resolve()


class TyBackendPool:
    """One lazily started ``TyBackend`` per workspace root, with a stop for all of them."""

    def __init__(self, **backend_options: Any) -> None:
        self._options = backend_options
        self._backends: dict[Path, TyBackend] = {}
        self._locks: dict[Path, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self, root: Path) -> TyBackend:
        """The running backend for ``root``, starting (or restarting) it when needed."""
        root = _key(root)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Locks belong to one event loop; backends of a finished loop are restarted below.
            self._loop = loop
            self._locks.clear()
        async with self._locks.setdefault(root, asyncio.Lock()):
            backend = self._backends.get(root)
            if backend is not None and backend.running:
                return backend
            if backend is not None:
                await backend.stop()
            backend = TyBackend(root, **self._options)
            await backend.start()
            self._backends[root] = backend
            return backend

    async def stop(self, root: Path) -> None:
        """Stop the backend of ``root`` if one runs."""
        backend = self._backends.pop(_key(root), None)
        if backend is not None:
            await backend.stop()

    async def stop_all(self) -> None:
        """Stop every backend (at CLI exit, test teardown, server shutdown)."""
        backends, self._backends = list(self._backends.values()), {}
        await asyncio.gather(*(b.stop() for b in backends))


_default: TyBackendPool | None = None


def default_pool() -> TyBackendPool:
    """The process-wide pool, created on first use (importing this module starts nothing)."""
    global _default
    if _default is None:
        _default = TyBackendPool()
    return _default


async def semantic_backend(ctx: ToolContext) -> SemanticBackend:
    """The run's live server when there is one, else our own ty for the workspace root."""
    if ctx.backend is not None:
        return ctx.backend
    return await default_pool().get(ctx.root)
