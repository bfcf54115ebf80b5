"""One editor connection's state: what every feature and agent run reads, in one place.

As ruff's server keeps its ``Session`` (``ruff_server::session``: settings, resolved
client capabilities, position encoding, workspaces, documents), punie's ``Session``
owns the settings in force, what the editor can do (``ClientSupport``, resolved once at
``initialize``), the position encoding ty negotiated, the workspace folders, the open
documents (read through ``punie_lsp.session.documents``), and the long-lived workers a
command uses (the sandbox pool, the typed tools, the private ty processes).

Features and the agent run receive it; it never sees them. What goes to the editor
(messages, progress, edits) goes through ``lsp``, pygls's ``LanguageServer``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cattrs import Converter
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from agent.code_mode import CodeModeTools
from agent.settings_resolution import BadModel
from punie_lsp.session.documents import current_workspace, document_key, open_document
from punie_lsp.session.semantic import EditorTyConnection, PrivateTyPool
from punie_lsp.session.settings import (
    Settings,
    resolve,
    split_initialization_options,
    ty_settings,
)
from punie_lsp.session.trust import FolderTrust
from punie_lsp.wire.jsonrpc import invalid_params
from punie_lsp.wire.router import Router
from punie_lsp.wire.ty_child import TyChild
from sandbox import SandboxLimits, SandboxPool
from typed_tools import PositionEncoding, ToolContext
from typed_tools.lines import read_exact

__all__ = ["ClientSupport", "Session", "invalid_argument"]

TRUST_WAIT_SECONDS = 5.0
"""How long a command waits for the editor to say whether a workspace folder is trusted."""

logger = logging.getLogger(__name__)


def invalid_argument(problem: str) -> JsonRpcInvalidParams:
    """The error a handler raises for an argument it refuses (``punie.tool: unknown tool
    'x'``): the editor gets ``Invalid Params: <problem>`` in one line, the shape of
    pygls's own refusals and the router's (``punie_lsp.wire.jsonrpc.invalid_params``).
    A handler never builds ``JsonRpcInvalidParams`` itself (a test checks)."""
    return JsonRpcInvalidParams(invalid_params(problem))


@dataclass(frozen=True)
class ClientSupport:
    """What the editor said it can do at ``initialize`` (LSP ``ClientCapabilities``)."""

    document_changes: bool = False
    """Versioned edits (``workspace.workspaceEdit.documentChanges`` or resource operations)."""
    change_annotations: bool = False
    """Edits the user confirms in place (``changeAnnotationSupport``, with versioned edits)."""
    progress: bool = False
    """Server-initiated ``$/progress`` (``window.workDoneProgress``)."""
    configuration: bool = False
    """``workspace/configuration`` requests."""
    punie_messages: bool = False
    """``punie/message`` notifications: our editor plug-ins say so in ``experimental``."""

    @classmethod
    def of(cls, capabilities: types.ClientCapabilities) -> ClientSupport:
        workspace = capabilities.workspace
        edit = workspace.workspace_edit if workspace else None
        document_changes = bool(edit and (edit.document_changes or edit.resource_operations))
        experimental = capabilities.experimental
        window = capabilities.window
        return cls(
            document_changes=document_changes,
            change_annotations=bool(edit and edit.change_annotation_support and document_changes),
            progress=bool(window and window.work_done_progress),
            configuration=bool(workspace and workspace.configuration),
            punie_messages=isinstance(experimental, dict)
            and experimental.get("punieMessages") is True,
        )


class Session:
    """The state of one editor connection (see the module docstring)."""

    def __init__(
        self,
        lsp: LanguageServer,
        router: Router,
        converter: Converter,
        *,
        trust_all: bool = False,
    ) -> None:
        self.lsp = lsp
        """pygls's server: messages, progress and edits to the editor go through it."""
        self.router = router
        self._converter = converter
        self.trust_all = trust_all
        """``punie-lsp --trust``: every workspace may run its own code, whatever the setting."""
        self.settings = Settings()
        self.settings_problems: list[str] = []
        self.bad_model: BadModel | None = None
        """The model settings in force when one cannot be used (``model``, ``baseUrl``,
        ``adapter``: ``agent.config.MODEL_SETTINGS``), else None: agent commands then
        answer ``model_error`` naming it and nothing runs, rather than the default model,
        another server or the base model without its adapter
        (``agent.settings_resolution.resolve_settings``)."""
        self._shown_problems: tuple[list[str], BadModel | None] = ([], None)
        self.client = ClientSupport()
        """Resolved once, at ``initialize``."""
        self.position_encoding: PositionEncoding = "utf-16"
        """The encoding ty negotiated at ``initialize``: every position punie sends uses it."""
        self.private_ty = PrivateTyPool()
        self.folder_trust = FolderTrust()
        """Each workspace folder's trust (``trusted_in``)."""
        self.trust_pulls: set[asyncio.Future[None]] = set()
        """The editor's answers for folders' trust still awaited (``folder_trust_settled``)."""
        self.sandbox_pool = SandboxPool()
        self._tools_lock = threading.Lock()
        self._code_mode_tools: CodeModeTools | None = None

    @property
    def ty(self) -> TyChild:
        """The editor's ty child (it survives restarts: the object stays the same)."""
        return self.router.ty

    # -- initialize and settings ---------------------------------------------------------

    def initialize(self, params: dict[str, Any]) -> None:
        """Resolve what ``initialize`` fixed, once pygls's bookkeeping of it is done."""
        self.client = ClientSupport.of(self.lsp.client_capabilities)
        encoding = self.router.capabilities.get("positionEncoding")
        self.position_encoding = encoding if encoding in ("utf-8", "utf-32") else "utf-16"
        punie, _, problems = split_initialization_options(params.get("initializationOptions"))
        self.settings, self.settings_problems, self.bad_model = resolve(punie, problems)
        self.folder_trust.started_with(self.folder_paths())

    def apply_settings(self, raw: Any, *, source: str, problems: list[str] | None = None) -> None:
        """Resolve a ``punie`` section; name every problem (``problems`` first) in one message."""
        self.settings, problems, self.bad_model = resolve(raw, problems)
        self.show_problems(problems, source)

    def apply_ty_settings(self, raw: Any) -> list[str]:
        """The editor's ``ty`` section changed (or was sent again): ty is restarted with
        it when it differs from what ty has (``Router.change_ty_settings``); the problem
        of a value that is not an object is returned (ty then uses its defaults)."""
        section, problems = ty_settings(raw)
        if section is not None:
            self.router.change_ty_settings(section)
        return problems

    def show_problems(self, problems: list[str], source: str) -> None:
        """Name the settings' problems (and ``bad_model``) in one message, once: Neovim
        sends the same section as initializationOptions, didChangeConfiguration and
        workspace/configuration, and one typo must not pop up three times. A different
        set of problems is shown again."""
        shown = (list(problems), self.bad_model)
        if shown == self._shown_problems:
            if problems or self.bad_model:
                logger.debug("settings from %s: the same problems as already shown", source)
            return
        self._shown_problems = shown
        parts = []
        if self.bad_model:
            parts.append(
                f"{self.bad_model.error} (in {source}; agent commands fail until it is "
                "fixed, no other model or server is used)"
            )
        if problems:
            parts.append(f"ignored in {source} (defaults used): " + "; ".join(problems))
        if not parts:
            return
        text = "punie-lsp: " + "; ".join(parts)
        logger.warning("%s", text)
        self.lsp.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=text)
        )

    @property
    def trusted(self) -> bool:
        """Whether tools may run the workspace's code: ``--trust`` or the ``trust`` setting
        (the session's; a folder's own is ``trusted_in``)."""
        return self.trust_all or self.settings.trust

    async def folder_trust_settled(self) -> None:
        """Wait for the editor's answers about folders' trust asked so far, at most
        ``TRUST_WAIT_SECONDS``: a command sent right after a folder was added must not run
        before its trust is known (meanwhile the folder counts as untrusted)."""
        if self.trust_pulls:
            await asyncio.wait(set(self.trust_pulls), timeout=TRUST_WAIT_SECONDS)

    def trusted_in(self, root: Path) -> bool:
        """Whether tools may run the code of workspace folder ``root``: ``--trust``, else
        that folder's trust (``punie_lsp.session.trust``: a folder added later is not trusted
        because the first one was)."""
        return self.trust_all or self.folder_trust.trusted(
            root, setting=self.settings.trust, scoped=self.client.configuration
        )

    def sandbox_limits(self) -> SandboxLimits:
        sandbox = self.settings.sandbox
        return SandboxLimits(
            timeout_seconds=sandbox.timeout_seconds,
            memory_mb=sandbox.memory_mb,
            max_tool_calls=sandbox.max_tool_calls,
        )

    # -- the typed tools -----------------------------------------------------------------

    @property
    def code_mode_tools(self) -> CodeModeTools:
        """The typed tools (built-ins and ``punie.tools`` plug-ins) with their stubs, built once.

        Building imports every plug-in (the domain validators' LibCST alone takes ~1 s) and
        renders the stubs: a blocking call, made from a worker thread (the agent's build)
        or through ``load_code_mode_tools`` on the event loop. The lock makes the two meet.
        """
        with self._tools_lock:
            if self._code_mode_tools is None:
                self._code_mode_tools = CodeModeTools.load()
            return self._code_mode_tools

    async def load_code_mode_tools(self) -> CodeModeTools:
        """``code_mode_tools`` for a handler: built in a thread the first time, so the loop
        keeps forwarding ty's traffic meanwhile."""
        if self._code_mode_tools is not None:
            return self._code_mode_tools
        return await asyncio.to_thread(lambda: self.code_mode_tools)

    def tool_context(self, root: Path) -> ToolContext:
        """What one tool run sees: this folder, the editor's buffers through ty."""
        connection = EditorTyConnection(
            root,
            ty=self.ty,
            private_ty=self.private_ty,
            position_encoding=self.position_encoding,
            ty_settings=self.router.ty_settings,
            workspace=lambda: current_workspace(self.lsp.protocol),
        )
        return ToolContext(root=root, ty=connection, trusted=self.trusted_in(root))

    # -- workspace folders and documents -------------------------------------------------

    def folder_paths(self) -> list[Path]:
        """The workspace folders' paths now (else the root URI's), in the editor's order."""
        workspace = current_workspace(self.lsp.protocol)
        uris = [f.uri for f in workspace.folders.values()] if workspace else []
        if not uris and workspace is not None and workspace.root_uri:
            uris = [workspace.root_uri]
        return [Path(path) for u in uris if (path := to_fs_path(u))]

    def workspace_root(self, uri: str | None = None) -> Path:
        """The workspace folder holding ``uri`` (else the first one); ValueError if none.

        Held means by real path (symlinks and ``..`` resolved on both sides); of nested
        folders the innermost holds it. A URI in no folder is a ValueError naming them.
        """
        folders = self.folder_paths()
        # The workspace is the tools' boundary, so it is never guessed from a file's own
        # folder (a file in ~ would open all of ~ to the model): the user is told instead.
        hint = (
            "the agent reads and edits only inside one; open the file from its project's "
            "folder (Neovim takes the nearest folder with pyproject.toml, setup.py or .git)"
        )
        if uri is None:
            if folders:
                return folders[0]
            raise ValueError(f"the editor opened no workspace folder: {hint}")
        # Real paths on both sides: a folder opened through a symlink owns the files its
        # target holds, and a URI whose `..` or symlink leads out of a folder is not in it
        # (its text would otherwise reach the model as that folder's). Nested folders: the
        # innermost owns the file (VS Code's rule for a file of nested folders).
        path = to_fs_path(uri) or uri
        target = Path(os.path.realpath(path)) if os.path.isabs(path) else None
        owners = [
            (len(real), folder)
            for folder in folders
            if target is not None and target.is_relative_to(real := os.path.realpath(folder))
        ]
        if owners:
            return max(owners, key=lambda owner: owner[0])[1]
        opened = ", ".join(map(str, folders)) or "the editor opened none"
        raise ValueError(f"{uri} is not inside a workspace folder ({opened}): {hint}")

    def command_root(self, command: str, uri: str | None) -> Path:
        """``workspace_root`` for a command's ``uri`` argument (a string: pygls checked
        it); a URI outside every workspace folder is InvalidParams."""
        try:
            return self.workspace_root(uri)
        except ValueError as exc:
            raise invalid_argument(f"{command}: {exc}") from None

    def open_document(self, uri: str) -> TextDocument | None:
        """The editor's open document at ``uri`` (however encoded), or None."""
        return open_document(current_workspace(self.lsp.protocol), uri)

    def open_documents(self) -> list[TextDocument]:
        """Every text document the editor has open, notebook cells included."""
        workspace = current_workspace(self.lsp.protocol)
        return list(workspace.text_documents.values()) if workspace else []

    def document_text(self, uri: str) -> str | None:
        """The editor's text of ``uri`` when open (unsaved changes included), else disk's."""
        document = self.open_document(uri)
        if document is not None:
            return document.source
        path = Path(to_fs_path(uri) or uri)
        try:
            return read_exact(path)
        except (OSError, UnicodeDecodeError):
            return None

    def document_snapshots(self) -> list[dict[str, Any]]:
        """Open text documents that are not notebook cells (``notebook_snapshots`` has those)."""
        workspace = current_workspace(self.lsp.protocol)
        if workspace is None:
            return []
        cells = {
            document_key(cell.document)
            for notebook in workspace.notebook_documents.values()
            for cell in notebook.cells
        }
        return [
            _text_document_item(doc)
            for doc in list(workspace.text_documents.values())
            if document_key(doc.uri) not in cells
        ]

    def notebook_snapshots(self) -> list[dict[str, Any]]:
        """``DidOpenNotebookDocumentParams`` of the open notebooks, cells as they are now."""
        workspace = current_workspace(self.lsp.protocol)
        if workspace is None:
            return []
        snapshots = []
        for notebook in list(workspace.notebook_documents.values()):
            cells = [
                _text_document_item(document)
                for cell in notebook.cells
                if (document := open_document(workspace, cell.document)) is not None
            ]
            snapshots.append(
                {
                    "notebookDocument": self._converter.unstructure(notebook),
                    "cellTextDocuments": cells,
                }
            )
        return snapshots

    def workspace_folders(self) -> list[dict[str, str]]:
        workspace = current_workspace(self.lsp.protocol)
        if workspace is None:
            return []
        return [{"uri": f.uri, "name": f.name} for f in workspace.folders.values()]

    async def folders_removed(self, uris: list[str]) -> None:
        """Stop the private ty of each removed folder (``uris``), unless the editor still
        has it open (listed twice). Private ty are kept per folder as the editor names it."""
        still_open = set(self.folder_paths())
        for uri in uris:
            path = to_fs_path(uri)
            if path and Path(path) not in still_open:
                self.folder_trust.removed(Path(path))
                await self.private_ty.stop_folder(Path(path))

    async def stop(self) -> None:
        """Stop the session's workers: the sandbox pool and the private ty processes."""
        await asyncio.gather(self.sandbox_pool.stop(), self.private_ty.stop())


def _text_document_item(doc: TextDocument) -> dict[str, Any]:
    """A ``TextDocumentItem`` of a tracked document: its current text and version."""
    return {
        "uri": doc.uri,
        "languageId": doc.language_id or "python",
        "version": doc.version or 0,
        "text": doc.source,
    }
