"""The typed tools' ``TyConnection`` inside the server: the editor's own ty, kept pristine.

Questions about files the editor has open go to the editor's ty child, so tools see
unsaved buffers. Files the editor has not opened, and the texts a run proposes
(``write_file``'s overlay), must be shown to ty with ``didOpen``/``didChange`` before it
answers about them; doing that in the editor's ty would push diagnostics for files the
user never opened and make hovers see text that is only proposed. So those go to a
private ty per workspace folder (``typed_tools.TyClient``), negotiated to the same
position encoding, started on first use and stopped with the server.

The private ty runs in ``workspace`` diagnostic mode, so ``typecheck`` asks it once for
the whole workspace (``workspace_report``) with the editor's unsaved buffers and the
run's proposals open in it: one request instead of one per file, and no file read or
sent unless it has diagnostics.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pygls.uris import to_fs_path
from pygls.workspace import TextDocument, Workspace

from punie_lsp.session.documents import open_document
from punie_lsp.wire.ty_child import TyChild
from typed_tools import PositionEncoding, TyClient

__all__ = ["EditorTyConnection", "PrivateTyPool"]


class PrivateTyPool:
    """One private ty per workspace folder, for texts the editor's ty must not see."""

    def __init__(self) -> None:
        self._clients: dict[Path, tuple[TyClient, dict[str, Any]]] = {}

    async def get(
        self, root: Path, encoding: PositionEncoding, settings: Mapping[str, Any]
    ) -> TyClient:
        """The folder's private ty, started with the editor's ty ``settings`` if need be.

        ty reads its settings only when it starts: a private ty started with other
        settings (the editor changed them since) is stopped and a new one started.
        """
        # Its own diagnostic mode: workspace, so typecheck asks it once.
        wanted = {k: v for k, v in settings.items() if k != "diagnosticMode"}
        client, given = self._clients.get(root, (None, None))
        if client is not None and client.running and given == wanted:
            return client
        if client is not None:
            await client.stop()
        client = TyClient(
            root, position_encodings=[encoding], settings=wanted, workspace_diagnostics=True
        )
        await client.start()
        self._clients[root] = (client, wanted)
        return client

    async def stop_folder(self, root: Path) -> None:
        """Stop the private ty of ``root`` (a workspace folder the editor removed), if any."""
        client, _ = self._clients.pop(root, (None, None))
        if client is not None:
            await client.stop()

    async def stop(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client, _ in clients:
            await client.stop()


class EditorTyConnection:
    """A ``DocumentSyncConnection`` for one tool run (create one per run)."""

    workspace_diagnostics = True
    """``workspace_report`` answers for the whole workspace (through the private ty)."""

    def __init__(
        self,
        root: Path,
        *,
        ty: TyChild,
        private_ty: PrivateTyPool,
        position_encoding: PositionEncoding,
        ty_settings: Callable[[], Mapping[str, Any]],
        workspace: Callable[[], Workspace | None],
    ) -> None:
        """``ty`` is the editor's ty child, ``ty_settings`` the editor's ``ty`` section now,
        ``workspace`` pygls's workspace now (None before ``initialize``)."""
        self._root = root
        self._ty = ty
        self._private_ty = private_ty
        self._ty_settings = ty_settings
        self._current_workspace = workspace
        self.position_encoding: PositionEncoding = position_encoding
        self._synced: set[str] = set()
        self._buffers_synced = False
        """Whether the editor's buffers under the root were shown to the private ty."""
        self._real_paths: dict[str, TextDocument] | None = None

    async def _private(self) -> TyClient:
        return await self._private_ty.get(self._root, self.position_encoding, self._ty_settings())

    async def request(self, method: str, params: Any) -> Any:
        text_document = params.get("textDocument") if isinstance(params, dict) else None
        uri = text_document.get("uri") if isinstance(text_document, dict) else None
        if method == "textDocument/hover":
            # The editor's ty answers hovers in the editor's format (markdown: a fenced
            # signature, an escaped docstring); the hover tool returns ty's plain text, as
            # Punie's did, whether or not the editor has the file open. The private ty
            # speaks it: show it the editor's buffers first, once per run, but never over
            # a text the run proposed (``write_file``'s overlay, synced already).
            if not self._buffers_synced:
                buffers = await asyncio.to_thread(self._buffers_under_root)
                buffers = {u: t for u, t in buffers.items() if u not in self._synced}
                if buffers:
                    await self.sync_documents(buffers)
                self._buffers_synced = True
            private = await self._private()
            return await private.request(method, params)
        if uri in self._synced:
            private = await self._private()
            return await private.request(method, params)
        return await self._ty.request(method, params)

    def open_document_text(self, uri: str) -> str | None:
        document = open_document(self._current_workspace(), uri)
        if document is None:  # tools name files by real path; the editor by its own
            path = to_fs_path(uri) if uri.startswith("file:") else None
            document = self._by_real_path().get(path) if path else None
        return document.source if document is not None else None

    def _buffers_under_root(self) -> dict[str, str]:
        """The editor's Python buffers under the root, keyed as ``documents`` are
        (``Path.as_uri`` of the real path: the editor may encode otherwise, or name the
        file through a symbolic link)."""
        root = Path(os.path.realpath(self._root))
        buffers: dict[str, str] = {}
        for real, document in self._by_real_path().items():
            path = Path(real)
            if path.suffix in (".py", ".pyi") and path.is_relative_to(root):
                buffers[path.as_uri()] = document.source
        return buffers

    def _by_real_path(self) -> dict[str, TextDocument]:
        """The editor's open documents by real path, built once per run.

        A workspace opened through a symbolic link (``~/code`` -> ``/data/code``): the
        editor names its buffers under the link, the tools (``typed_tools.workspace.
        resolve``) by real path, so without this no tool saw an unsaved buffer there.
        """
        if self._real_paths is None:
            workspace = self._current_workspace()
            documents = list(workspace.text_documents.values()) if workspace else []
            self._real_paths = {os.path.realpath(to_fs_path(d.uri) or d.path): d for d in documents}
        return self._real_paths

    async def workspace_report(self, documents: Mapping[str, str]) -> list[Any]:
        """The private ty's report, with the editor's buffers under the root and ``documents``.

        ``documents`` (the run's proposals) win over the editor's buffers.
        """
        buffers = await asyncio.to_thread(self._buffers_under_root)  # realpath: syscalls
        private = await self._private()
        return await private.workspace_report({**buffers, **documents})

    async def sync_documents(self, documents: Mapping[str, str]) -> None:
        private = await self._private()
        await private.sync_documents(documents)
        self._synced.update(documents)
