"""The pygls server for punie's own features; ty's traffic never reaches it.

It is built once pygls has been imported (in a thread, see ``punie_lsp.runner``) and
attached to the router, which then hands it every message that is not forwarded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from agent.code_mode import CodeModeTools
from punie_lsp import __version__
from punie_lsp.agent_run.agent_host import AgentHost
from punie_lsp.server.protocol import PunieProtocol
from punie_lsp.session.documents import document_key, open_document
from punie_lsp.session.semantic import EditorTyConnection, PrivateTyPool
from punie_lsp.session.settings import Settings, resolve, split_initialization_options
from punie_lsp.wire.router import Router
from punie_lsp.wire.ty_child import TyChild
from sandbox import SandboxLimits, SandboxPool
from typed_tools import PositionEncoding, ToolContext
from typed_tools.lines import read_exact
from typed_tools.lsp_converter import converter

__all__ = ["PunieLanguageServer", "build"]

logger = logging.getLogger(__name__)


class PunieLanguageServer(LanguageServer):
    """punie's own LSP features, with the router's ty child at hand."""

    protocol: PunieProtocol  # ty: ignore[incompatible-mutable-override]  # narrowed

    def __init__(
        self,
        router: Router,
        *,
        trust_all: bool = False,
        converter_factory: Callable[[], cattrs.Converter] = converter,
    ) -> None:
        super().__init__(
            name="punie-lsp",
            version=__version__,
            protocol_cls=PunieProtocol,
            converter_factory=converter_factory,
        )
        self.router = router
        self.trust_all = trust_all
        """``punie-lsp --trust``: every workspace may run its own code, whatever the setting."""
        self.settings = Settings()
        self.settings_problems: list[str] = []
        self.private_ty = PrivateTyPool()
        self.sandbox_pool = SandboxPool()
        self._tools_lock = threading.Lock()
        self._code_mode_tools: CodeModeTools | None = None
        self._editor_requests: set[int | str] = set()
        self.agent_host = AgentHost(self)
        self.protocol.set_writer(router.writer, include_headers=True)

    @property
    def ty(self) -> TyChild:
        return self.router.ty

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

    def sandbox_limits(self) -> SandboxLimits:
        return self.settings.sandbox.limits()

    @property
    def trusted(self) -> bool:
        """Whether tools may run the workspace's code: ``--trust`` or the ``trust`` setting."""
        return self.trust_all or self.settings.trust

    @property
    def position_encoding(self) -> PositionEncoding:
        """The encoding ty negotiated: every position punie sends is counted in it."""
        encoding = self.router.capabilities.get("positionEncoding")
        return encoding if encoding in ("utf-8", "utf-32") else "utf-16"

    @property
    def client_supports_document_changes(self) -> bool:
        """Versioned edits; an editor offering resource operations takes them too."""
        workspace = self.client_capabilities.workspace
        edit = workspace.workspace_edit if workspace else None
        return bool(edit and (edit.document_changes or edit.resource_operations))

    @property
    def client_supports_change_annotations(self) -> bool:
        workspace = self.client_capabilities.workspace
        edit = workspace.workspace_edit if workspace else None
        return bool(
            edit and edit.change_annotation_support and self.client_supports_document_changes
        )

    @property
    def client_reads_punie_messages(self) -> bool:
        """Our editor plug-ins say so (``experimental.punieMessages``); generic clients don't."""
        experimental = self.client_capabilities.experimental
        return isinstance(experimental, dict) and experimental.get("punieMessages") is True

    @property
    def client_supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    def workspace_root(self, uri: str | None = None) -> Path:
        """The workspace folder holding ``uri`` (else the first one); ValueError if none."""
        workspace = self.protocol._workspace
        uris = [f.uri for f in workspace.folders.values()] if workspace else []
        if not uris and workspace is not None and workspace.root_uri:
            uris = [workspace.root_uri]
        folders = [Path(path) for u in uris if (path := to_fs_path(u))]
        if uri is None:
            if folders:
                return folders[0]
            raise ValueError("the editor opened no workspace folder")
        target = Path(to_fs_path(uri) or uri)
        for folder in folders:
            if target.is_relative_to(folder):
                return folder
        raise ValueError(f"{uri} is not inside a workspace folder")

    def command_root(self, command: str, uri: str | None) -> Path:
        """``workspace_root`` for a command's ``uri`` argument (a string: pygls checked
        it); a URI outside every workspace folder is InvalidParams."""
        try:
            return self.workspace_root(uri)
        except ValueError as exc:
            raise JsonRpcInvalidParams(f"{command}: {exc}") from None

    def document_text(self, uri: str) -> str | None:
        """The editor's text of ``uri`` when open (unsaved changes included), else disk's."""
        document = open_document(self.protocol._workspace, uri)
        if document is not None:
            return document.source
        path = Path(to_fs_path(uri) or uri)
        try:
            return read_exact(path)
        except (OSError, UnicodeDecodeError):
            return None

    def tool_context(self, root: Path) -> ToolContext:
        """What one tool run sees: this folder, the editor's buffers through ty."""
        return ToolContext(root=root, ty=EditorTyConnection(self, root), trusted=self.trusted)

    # -- the router's Backend protocol ---------------------------------------------------

    def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("method") == types.INITIALIZE and "id" not in message:
            self._setup_session(message.get("params") or {})
            return
        if "id" in message and "method" in message:
            # pygls keeps the editor's requests in flight and its own requests of the
            # editor in one dict; ``finish`` must tell them apart.
            in_flight = self.protocol._request_futures
            self._editor_requests = {i for i in self._editor_requests if i in in_flight}
            self._editor_requests.add(message["id"])
        self.protocol.dispatch(message)

    def document_snapshots(self) -> list[dict[str, Any]]:
        """Open text documents that are not notebook cells (``notebook_snapshots`` has those)."""
        workspace = self.protocol._workspace
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
        workspace = self.protocol._workspace
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
                    "notebookDocument": self.protocol._converter.unstructure(notebook),
                    "cellTextDocuments": cells,
                }
            )
        return snapshots

    def workspace_folders(self) -> list[dict[str, str]]:
        workspace = self.protocol._workspace
        if workspace is None:
            return []
        return [{"uri": f.uri, "name": f.name} for f in workspace.folders.values()]

    # -- session -------------------------------------------------------------------------

    def _setup_session(self, raw: dict[str, Any]) -> None:
        self.protocol.setup_session(raw, self.router.capabilities)
        punie, _, problems = split_initialization_options(raw.get("initializationOptions"))
        self.settings, self.settings_problems = resolve(punie, problems)
        if self.router.ty_start_error:
            self.settings_problems.append(self.router.ty_start_error)

    async def finish(self, grace: float) -> None:
        """The editor's input ended: let its requests in flight finish, then stop.

        Each gets up to ``grace`` seconds in all; what still runs is then cancelled (and
        answered so) by ``stop``, as a ``shutdown`` would.
        """
        in_flight = self.protocol._request_futures
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
        await self.stop()

    async def stop(self) -> None:
        """``shutdown``: stop punie's own work, and answer once ty has answered its shutdown.

        ty's process ends at ``exit`` (``punie_lsp.runner``); every request the editor
        sent before ``shutdown`` has its answer by the time this returns.
        """
        self.agent_host.close()
        await asyncio.gather(
            self.sandbox_pool.stop(), self.private_ty.stop(), self.router.ty.shutdown()
        )
        self.router.answer_unanswered("ty shut down without answering this request")

    # -- settings and messages -----------------------------------------------------------

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

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log handler failures instead of popping a message box for each one.

        A ``JsonRpcException`` (bad arguments, a refused path) was answered to the editor
        as the request's error: a user's mistake, logged in one line at INFO.
        """
        if isinstance(error, JsonRpcException):
            logger.info("answered with an error: %s", error)
            return
        logger.error("%s: %s", getattr(source, "__name__", source), error)


def _text_document_item(doc: TextDocument) -> dict[str, Any]:
    """A ``TextDocumentItem`` of a tracked document: its current text and version."""
    return {
        "uri": doc.uri,
        "languageId": doc.language_id or "python",
        "version": doc.version or 0,
        "text": doc.source,
    }


class _AnsweredErrors(logging.Filter):
    """Upstream trap (pygls 2.1): ``_send_handler_result`` logs a whole traceback
    ("Exception occurred for message") for every ``JsonRpcException`` a handler raises,
    although the editor gets it as the response's error; ``report_server_error`` logs
    those in one line, so pygls's copy is dropped. Other exceptions keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], JsonRpcException))


def build(router: Router, *, trust_all: bool = False) -> PunieLanguageServer:
    """Create the pygls server with every punie feature registered."""
    from punie_lsp.features import arguments, commands
    from punie_lsp.server import lifecycle

    json_rpc = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, _AnsweredErrors) for f in json_rpc.filters):
        json_rpc.addFilter(_AnsweredErrors())

    # The commands' argument classes and results are registered on pygls's converter.
    server = PunieLanguageServer(router, trust_all=trust_all, converter_factory=arguments.converter)
    lifecycle.register(server)
    commands.register(server)
    return server
