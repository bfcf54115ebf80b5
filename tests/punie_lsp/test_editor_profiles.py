"""What three kinds of editor send reaches ty: diagnostics arrive, every feature answers.

Editors differ in how they learn what a server can do. VS Code's language client
declares ``textDocument.diagnostic.dynamicRegistration``, so ty registers pull
diagnostics later with ``client/registerCapability`` instead of advertising them;
Neovim 0.12 pulls without dynamic registration; a Helix-like client declares no pull
diagnostics and is pushed ``publishDiagnostics``. Each profile gets its diagnostics
and an answer (not an error) for every request ty serves.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp

from tests.conftest import FIXTURE_PROJECT
from tests.punie_lsp.wire.test_forwarding import ROWS
from tests.rawlsp import RawServer

pytestmark = pytest.mark.timeout(120)

_CLIENTS = Path(pytest_lsp.__file__).parent / "clients"


def _recorded(name: str) -> dict[str, Any]:
    """Capabilities a real editor sent (pytest-lsp's recordings)."""
    return json.loads((_CLIENTS / name).read_text())["capabilities"]


def _vscode() -> dict[str, Any]:
    capabilities = _recorded("visual_studio_code_v1.65.2.json")
    # vscode-languageclient 8+ declares pull diagnostics this way (VS Code 1.65 predates them).
    capabilities["textDocument"]["diagnostic"] = {
        "dynamicRegistration": True,
        "relatedDocumentSupport": False,
    }
    return capabilities


def _neovim() -> dict[str, Any]:
    return _recorded("neovim_v0.11.0.json")  # 0.12 declares diagnostics the same way


def _helix() -> dict[str, Any]:
    # Static capabilities only, pushed diagnostics, UTF-8 first (as Helix offers).
    return {
        "general": {"positionEncodings": ["utf-8", "utf-32", "utf-16"]},
        "workspace": {"configuration": True, "workspaceFolders": True},
        "textDocument": {
            "synchronization": {"didSave": True},
            "publishDiagnostics": {"versionSupport": True},
            "hover": {"contentFormat": ["markdown"]},
            "completion": {"completionItem": {"snippetSupport": True}},
        },
    }


PROFILES = {"vscode": _vscode, "neovim-0.12": _neovim, "helix": _helix}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, root)
    app = root / "pkg" / "app.py"
    app.write_text(app.read_text() + "\n\nvalue = undefined_name\n")
    return root


@pytest.fixture(params=list(PROFILES))
def session(request: pytest.FixtureRequest, project: Path) -> Iterator[tuple[str, RawServer]]:
    server = RawServer(cwd=project)
    try:
        response = server.request(
            "initialize",
            {
                "processId": None,
                "rootUri": project.as_uri(),
                "workspaceFolders": [{"uri": project.as_uri(), "name": project.name}],
                "capabilities": PROFILES[request.param](),
            },
        )
        assert "result" in response, response
        server.notify("initialized", {})
        yield request.param, server
        server.request("shutdown")
        server.notify("exit")
        server.proc.wait(10)
    finally:
        server.kill()


def _unresolved(diagnostics: list[dict[str, Any]]) -> bool:
    return any(d.get("code") == "unresolved-reference" for d in diagnostics)


def test_diagnostics_arrive_and_every_feature_answers(
    session: tuple[str, RawServer], project: Path
) -> None:
    profile, server = session
    if profile == "vscode":
        # The editor pulls only once ty has registered the feature.
        registration = server.wait_for(lambda m: m.get("method") == "client/registerCapability")
        methods = [r["method"] for r in registration["params"]["registrations"]]
        assert "textDocument/diagnostic" in methods
    app = server.open(project / "pkg" / "app.py")
    shapes = server.open(project / "pkg" / "shapes.py")
    if profile == "helix":
        pushed = server.wait_for(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == app
            )
        )
        assert _unresolved(pushed["params"]["diagnostics"]), pushed
    else:
        report = server.request("textDocument/diagnostic", {"textDocument": {"uri": app}})
        assert "result" in report, report
        assert _unresolved(report["result"]["items"]), report
    for name, method, params, check in ROWS:
        response = server.request(method, params(app, shapes))
        assert "result" in response, (name, response)
        assert check(response["result"]), (name, response["result"])


def test_what_arrives_before_the_initialize_answer_waits_for_ty(project: Path) -> None:
    """A ``didOpen`` and a hover sent before ``initialize`` is answered reach ty in order."""
    server = RawServer(cwd=project)
    try:
        app = project / "pkg" / "app.py"
        server.send(
            {
                "jsonrpc": "2.0",
                "id": "init",
                "method": "initialize",
                "params": {"processId": None, "rootUri": project.as_uri(), "capabilities": {}},
            }
        )
        unsaved = app.read_text().replace("def origin_distance", "def unsaved_distance")
        server.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": app.as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": unsaved,
                }
            },
        )
        hover = server.request(
            "textDocument/hover",
            {"textDocument": {"uri": app.as_uri()}, "position": {"line": 7, "character": 6}},
        )
        assert "result" in hover, hover
        assert "unsaved_distance" in json.dumps(hover["result"])  # ty saw the early didOpen
    finally:
        server.kill()
