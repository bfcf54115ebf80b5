"""A ty language server of our own, for when no editor's server is there to ask.

The CLI, training generators and benchmarks have no live ``ty`` child, yet navigation
and warm ``typecheck`` need one: starting ``ty check`` per question costs a fresh
project load every time. ``TyClient`` implements ``DocumentSyncConnection`` on pygls'
``LanguageClient`` (with ``converter()``, or the client hangs on ty's ``initialize``
result). Which client a tool asks, one per workspace root, is ``typed_tools.ty_pool``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import LanguageServerProtocol

from typed_tools._upstream import client_process
from typed_tools.base import JSON, PositionEncoding
from typed_tools.disk_changes import DiskScan
from typed_tools.lsp_converter import converter
from typed_tools.ty_environment import ty_environment, ty_executable

__all__ = ["RAW_METHODS", "UNSEEN_RESULT_ID", "TyClient"]

RAW_METHODS = frozenset({"workspace/diagnostic"})
"""Requests sent and answered as plain JSON, never through cattrs: a workspace report of
hundreds of diagnostics costs more to structure and unstructure than ty takes to answer."""

UNSEEN_RESULT_ID = "punie:unseen"
"""A ``previousResultId`` no server issues: the file named with it is always reported."""

_ANCHOR = ".punie-typecheck-anchor.py"
"""An empty document kept open in a workspace-mode ty (never on disk) and named with
``UNSEEN_RESULT_ID`` in every ``workspace/diagnostic``: with every file clean, ty would
otherwise hold the request open until something changes (LSP's long polling)."""

_FILE_EVENTS = {
    "created": types.FileChangeType.Created,
    "changed": types.FileChangeType.Changed,
    "deleted": types.FileChangeType.Deleted,
}


@attrs.define
class _RawResponse:
    """A response whose ``result`` stays the JSON it arrived as (cattrs passes ``Any``)."""

    id: int | str
    jsonrpc: str
    result: Any = None


class _RawJsonProtocol(LanguageServerProtocol):
    """pygls' client protocol, with ``RAW_METHODS`` passed through as plain JSON.

    pygls looks the request and result types up by method (``get_message_type``,
    ``get_result_type``). With no request type it sends its generic message, whose
    ``params`` are sent as given; with no result type its default converter would turn
    the result into namedtuples (by a JSON round trip), so ``_RawResponse`` is named.
    """

    # Cached as pygls caches its own lookups; one protocol per ty child, living as long.
    @functools.lru_cache  # noqa: B019
    def get_message_type(self, method: str) -> type[Any] | None:
        return None if method in RAW_METHODS else super().get_message_type(method)

    @functools.lru_cache  # noqa: B019
    def get_result_type(self, method: str) -> type[Any] | None:
        return _RawResponse if method in RAW_METHODS else super().get_result_type(method)


_ENCODINGS: dict[str, PositionEncoding] = {"utf-8": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32"}


class TyClient:
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
        self._disk: DiskScan | None = None
        self._reports: dict[str, JSON] = {}
        self._anchor = (self.root / _ANCHOR).as_uri()
        self._converter = converter()
        """The client protocol's converter (its factory hands out this one), kept to
        structure ``request``'s JSON params and unstructure its results."""

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
        server = client_process(client)
        return server is not None and server.returncode is None

    async def start(self) -> None:
        """Start ``ty server`` and complete the ``initialize`` handshake."""
        conv = self._converter
        client = LanguageClient(
            "punie-typed-tools",
            "0.1",
            protocol_cls=_RawJsonProtocol,
            converter_factory=lambda: conv,
        )
        if self.workspace_diagnostics:
            # Before ty reads the disk, so a change made while it starts is seen as one.
            self._disk = await asyncio.to_thread(DiskScan.take, self.root)

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
                    # Plain text, as Punie's client got (it declared no format): ty's
                    # markdown fences the signature and escapes the docstring (`\\_`,
                    # `-&gt;`, `&nbsp;`), which is not what Punie-tuned models read.
                    hover=types.HoverClientCapabilities(
                        content_format=[types.MarkupKind.PlainText]
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
        self._reports = {}

    async def request(self, method: str, params: JSON) -> JSON:
        """Send an LSP request with JSON ``params``; the result comes back as JSON too."""
        client = self._require()
        conv = self._converter
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

    async def raw_request(self, method: str, params: JSON) -> JSON:
        """A ``RAW_METHODS`` request: JSON params in, ty's JSON result out, nothing converted."""
        if method not in RAW_METHODS:
            raise ValueError(f"{method} is not sent raw; use request()")
        client = self._require()
        self._next_id += 1
        return await client.protocol.send_request_async(method, params, msg_id=f"tt{self._next_id}")

    async def workspace_report(self, documents: Mapping[str, str]) -> list[JSON]:
        """ty's reports for every file with diagnostics (``workspace`` mode only), as JSON.

        ``documents`` (``uri -> text``: unsaved buffers, proposed edits) are what ty
        analyses for those files; every other file is analysed as it is on disk, files
        changed on disk since the last call included (``DiskScan``). Each report is
        ``{"uri", "resultId", "items": [LSP Diagnostic…]}``; files without diagnostics
        are left out.

        One request, answered from ty's warm database, naming every file's last
        ``resultId``: ty sends only the reports that changed (LSP's "unchanged" for the
        rest), and the ones kept from earlier calls fill in.
        """
        client = self._require()
        if self._disk is None:
            raise RuntimeError("workspace diagnostics need ty's workspace diagnostic mode")
        changes = await asyncio.to_thread(self._disk.changes)
        if changes:
            client.protocol.notify(
                "workspace/didChangeWatchedFiles",
                types.DidChangeWatchedFilesParams(
                    changes=[
                        types.FileEvent(uri=Path(path).as_uri(), type=_FILE_EVENTS[kind])
                        for path, kind in changes
                    ]
                ),
            )
        await self.set_documents({**documents, self._anchor: ""})
        known = self._reports
        previous = [{"uri": uri, "value": report["resultId"]} for uri, report in known.items()]
        previous.append({"uri": self._anchor, "value": UNSEEN_RESULT_ID})
        answer = await self.raw_request("workspace/diagnostic", {"previousResultIds": previous})
        reports: dict[str, JSON] = {}
        for item in answer.get("items", []) if isinstance(answer, dict) else []:
            uri = item.get("uri")
            if uri == self._anchor or not isinstance(uri, str):
                continue
            if item.get("kind") == "unchanged" and uri in known:
                reports[uri] = known[uri]
            elif item.get("items") and item.get("resultId"):
                reports[uri] = item
        # A file named above but not answered for has no diagnostics any more.
        self._reports = reports
        return list(reports.values())

    async def set_documents(self, documents: Mapping[str, str]) -> None:
        """Make ``documents`` the open ones: synced as ``sync_documents`` does, others closed.

        A closed document is analysed from disk again, so a proposal of an earlier run
        does not outlive it.
        """
        client = self._require()
        for uri in self._documents.keys() - documents.keys():
            del self._documents[uri]
            client.text_document_did_close(
                types.DidCloseTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=uri)
                )
            )
        await self.sync_documents(documents)

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
        server = client_process(client)
        if server is not None and server.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)

    @staticmethod
    async def _kill(client: LanguageClient) -> None:
        server = client_process(client)
        if server is not None and server.returncode is None:
            try:
                await asyncio.wait_for(server.wait(), 2)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    server.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 5)
