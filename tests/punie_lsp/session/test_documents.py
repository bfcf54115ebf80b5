"""pygls's workspace, reached only through ``punie_lsp.session.documents``.

pygls 2.1 offers no way to ask for its workspace before ``initialize`` (its public
``workspace`` raises) and no factory for the one ``lsp_initialize`` builds, so punie
replaces it through the one named place. The ``test_pygls_*`` tests show the gaps on
pygls itself: when one fails, pygls grew what was missing and the workaround can go.
"""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import Workspace

from punie_lsp.session.documents import (
    LspTextDocument,
    LspWorkspace,
    current_workspace,
    install_workspace,
)

ROOT = "file:///w"
FOLDERS = [types.WorkspaceFolder(uri="file:///w", name="w")]


def _initialized(encoding: types.PositionEncodingKind | None = None) -> LanguageServerProtocol:
    """A pygls protocol after its own ``initialize`` bookkeeping, as the server runs it."""
    protocol = LanguageServer("t", "0").protocol
    capabilities = types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=[encoding]) if encoding else None
    )
    params = types.InitializeParams(
        capabilities=capabilities, root_uri=ROOT, workspace_folders=FOLDERS
    )
    steps = protocol.lsp_initialize(params)
    with pytest.raises(StopIteration):
        next(steps)
    return protocol


def test_pygls_workspace_raises_before_initialize() -> None:
    protocol = LanguageServer("t", "0").protocol
    with pytest.raises(RuntimeError):
        _ = protocol.workspace
    assert current_workspace(protocol) is None


def test_pygls_builds_a_plain_workspace_at_initialize() -> None:
    workspace = _initialized().workspace
    assert type(workspace) is Workspace  # no hook gives it LSP lines


def test_install_workspace_keeps_folders_and_takes_the_encoding() -> None:
    protocol = _initialized()
    install_workspace(protocol, "utf-8")
    workspace = current_workspace(protocol)
    assert isinstance(workspace, LspWorkspace)
    assert workspace.root_uri == ROOT
    assert [f.uri for f in workspace.folders.values()] == [ROOT]
    assert workspace.position_encoding == types.PositionEncodingKind.Utf8
    # pygls's own didOpen path now makes documents with LSP lines: a form feed is no break
    opened = protocol.lsp_text_document__did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri="file:///w/a.py", language_id="python", version=1, text="a\fb\n"
            )
        )
    )
    list(opened or ())  # a generator in pygls 2 (it yields to user handlers)
    document = workspace.get_text_document("file:///w/a.py")
    assert isinstance(document, LspTextDocument)
    assert document.lines == ["a\fb\n", ""]


def test_install_workspace_before_initialize_changes_nothing() -> None:
    protocol = LanguageServer("t", "0").protocol
    install_workspace(protocol, "utf-8")
    assert current_workspace(protocol) is None
