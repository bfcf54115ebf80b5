"""The ``Session`` resolves what ``initialize`` fixed once: client support, encoding, settings.

Client capabilities are the ones pytest-lsp captured from real editors
(``pytest_lsp/clients/*.json``), not written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from punie_lsp.server.language_server import PunieLanguageServer
from punie_lsp.session.session import ClientSupport
from punie_lsp.wire.router import Router
from punie_lsp.wire.transport import FrameWriter
from typed_tools.lsp_converter import converter


class _Discard(FrameWriter):
    """A writer with no editor behind it."""

    def __init__(self) -> None:
        pass

    def write_body(self, body: bytes) -> None:
        pass


@pytest.mark.parametrize(
    ("editor", "expected"),
    [
        ("visual-studio-code", ClientSupport(True, True, True, True, False)),
        ("neovim@v0.11.0", ClientSupport(True, False, True, True, False)),
        ("emacs", ClientSupport(True, False, True, True, False)),
    ],
)
def test_client_support_of_real_editors(editor: str, expected: ClientSupport) -> None:
    assert ClientSupport.of(client_capabilities(editor)) == expected


def test_a_bare_client_supports_nothing_and_our_plugins_say_they_read_messages() -> None:
    assert ClientSupport.of(types.ClientCapabilities()) == ClientSupport()
    ours = types.ClientCapabilities(experimental={"punieMessages": True})
    assert ClientSupport.of(ours).punie_messages
    assert not ClientSupport.of(
        types.ClientCapabilities(experimental={"punieMessages": 1})
    ).punie_messages


def _initialize(ty_encoding: str | None, params: dict[str, Any]) -> PunieLanguageServer:
    router = Router(_Discard(), on_exit=lambda _: None)
    router.capabilities = {"positionEncoding": ty_encoding} if ty_encoding else {}
    server = PunieLanguageServer(router)
    server.dispatch({"method": "initialize", "params": params})  # the router's hand-over
    return server


def test_initialize_resolves_encoding_client_and_settings_once() -> None:
    capabilities = client_capabilities("neovim@v0.11.0")
    params = {
        "capabilities": converter().unstructure(capabilities),
        "rootUri": "file:///w",
        "initializationOptions": {"punie": {"edits": "never", "sandbox": {"memoryMb": -1}}},
    }
    session = _initialize("utf-8", params).session
    assert session.position_encoding == "utf-8"
    assert session.client == ClientSupport.of(capabilities)
    assert session.settings.edits == "never"
    assert len(session.settings_problems) == 1 and "memoryMb" in session.settings_problems[0]
    assert session.workspace_root().as_posix() == "/w"


def test_before_initialize_the_session_has_defaults_and_no_documents() -> None:
    session = PunieLanguageServer(Router(_Discard(), on_exit=lambda _: None)).session
    assert session.position_encoding == "utf-16"
    assert session.client == ClientSupport()
    assert session.open_documents() == [] and session.document_snapshots() == []
    with pytest.raises(ValueError, match="no workspace folder"):
        session.workspace_root()


def test_the_folder_of_a_file_is_found_by_real_path_and_the_innermost_wins(
    tmp_path: Path,
) -> None:
    """Several folders, as an editor adds them: the folder a command's ``uri`` names
    decides where tools read and write. A file of nested folders went to the outer one
    (listed first); a folder opened through a symlink did not own its own files opened by
    their real path; and ``other/../secret`` counted as inside ``other``, so its text
    would reach the model as that folder's."""
    outer, secret, real = tmp_path / "outer", tmp_path / "secret", tmp_path / "real"
    inner = outer / "inner"
    for folder in (inner, secret, real):
        folder.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    (outer / "escape.py").symlink_to(secret / "s.py")
    folders = [outer, inner, link]
    params = {
        "capabilities": {},
        "workspaceFolders": [{"uri": f.as_uri(), "name": f.name} for f in folders],
    }
    session = _initialize(None, params).session
    assert session.workspace_root((inner / "m.py").as_uri()) == inner
    assert session.workspace_root((outer / "m.py").as_uri()) == outer
    assert session.workspace_root((real / "m.py").as_uri()) == link
    assert session.workspace_root((link / "m.py").as_uri()) == link
    for outside in (f"{outer.as_uri()}/../secret/s.py", (outer / "escape.py").as_uri()):
        with pytest.raises(ValueError, match="not inside a workspace folder"):
            session.workspace_root(outside)
