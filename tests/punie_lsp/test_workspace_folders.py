"""Several workspace folders in one session, as an editor adds and removes them
(``workspace/didChangeWorkspaceFolders``), on installed libraries' own source (h11 and
attrs from site-packages, each copied into a git repository of its own).

The whole server runs as a process: its ty children are counted with psutil.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attr
import h11
import psutil
import pytest

from tests.rawlsp import RawServer, wait_gone

pytestmark = pytest.mark.timeout(120)


def _repository(root: Path, package: Path, marker: str) -> Path:
    """A git repository holding ``package``'s source and a ``utils.py`` saying ``marker``."""
    shutil.copytree(package, root / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text(f'[project]\nname = "{root.name}"\nversion = "0"\n')
    (root / "utils.py").write_text(f'def helper() -> str:\n    return "{marker}"\n')
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "import"], check=True)
    return root


@pytest.fixture
def server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.kill()


def _tool(server: RawServer, name: str, args: dict[str, Any], uri: str) -> Any:
    arguments = {"name": name, "args": args, "uri": uri}
    response = server.request(
        "workspace/executeCommand", {"command": "punie.tool", "arguments": [arguments]}, 60
    )
    return response.get("result", response.get("error"))


def test_a_removed_folder_stops_its_private_ty_and_tools_stay_in_their_folder(
    server: RawServer, tmp_path: Path
) -> None:
    """A folder the editor removed kept its private ty running until punie-lsp exited:
    one ``ty server`` leaked per folder a user ever ran a tool in."""
    first = _repository(tmp_path / "first", Path(attr.__file__).parent, "first")
    second = _repository(tmp_path / "second", Path(h11.__file__).parent, "second")
    (second / "h11" / "_util.py").write_text("# changed\n", encoding="utf-8")
    folder = {"uri": first.as_uri(), "name": "first"}
    response = server.request(
        "initialize",
        {
            "processId": None,
            "rootUri": first.as_uri(),
            "workspaceFolders": [folder],
            "capabilities": {"workspace": {"workspaceFolders": True}},
        },
    )
    assert response["result"]["capabilities"]["workspace"]["workspaceFolders"] == {
        "supported": True,
        "changeNotifications": True,
    }
    server.notify("initialized", {})
    (editors_ty,) = server.ty_children()
    in_first, in_second = (first / "utils.py").as_uri(), (second / "utils.py").as_uri()
    assert _tool(server, "typecheck", {"path": "utils.py"}, in_first)["success"] is True
    (first_private,) = set(server.ty_children()) - {editors_ty}

    added = {"uri": second.as_uri(), "name": "second"}
    event = {"added": [added], "removed": []}
    server.notify("workspace/didChangeWorkspaceFolders", {"event": event})
    # Same module names: each folder's tools read its own utils.py and its own repository.
    assert '"second"' in _tool(server, "read_file", {"path": "utils.py"}, in_second)
    assert '"first"' in _tool(server, "read_file", {"path": "utils.py"}, in_first)
    status = _tool(server, "git_status", {"path": "."}, in_second)
    assert [f["file"] for f in status["files"]] == ["h11/_util.py"], status
    assert _tool(server, "git_status", {"path": "."}, in_first)["clean"] is True
    assert _tool(server, "typecheck", {"path": "utils.py"}, in_second)["success"] is True
    (second_private,) = set(server.ty_children()) - {editors_ty, first_private}

    event = {"added": [], "removed": [folder]}
    server.notify("workspace/didChangeWorkspaceFolders", {"event": event})
    refused = _tool(server, "read_file", {"path": "utils.py"}, in_first)
    assert "is not inside a workspace folder" in refused["message"], refused
    assert wait_gone([first_private], 10) == []
    assert set(server.ty_children()) == {editors_ty, second_private}
    assert all(p.status() != psutil.STATUS_ZOMBIE for p in (editors_ty, second_private))
    server.request("shutdown")
    server.notify("exit")
    assert wait_gone([editors_ty, second_private], 10) == []


class _PerFolderTrust(RawServer):
    """The Neovim plug-in's client of a project in ``trusted = {…}``: its ``punie``
    settings say ``trust``, and its answer for one folder (``scopeUri``) says whether
    that folder is ``trusted``."""

    trusted: Path

    def reply(self, request: dict[str, Any]) -> Any:
        if request.get("method") != "workspace/configuration":
            return None
        items = (request.get("params") or {}).get("items") or []
        return [self._section(item) for item in items]

    def _section(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("section") != "punie":
            return {}
        if "scopeUri" not in item:
            return {"trust": True}
        return {"trust": item["scopeUri"] == self.trusted.as_uri()}


def test_a_folder_added_to_a_trusted_session_has_its_own_trust(tmp_path: Path) -> None:
    """The ``trust`` setting is one per connection: a folder added later
    (``vim.lsp.buf.add_workspace_folder()`` on a trusted project's client) ran its own
    tests with the first folder's trust. Each folder's trust is the editor's scoped
    answer; an editor that does not answer scoped keeps the setting for every folder."""
    first = _repository(tmp_path / "first", Path(attr.__file__).parent, "first")
    second = _repository(tmp_path / "second", Path(h11.__file__).parent, "second")
    for root in (first, second):
        (root / "tests").mkdir()
        (root / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    server = _PerFolderTrust()
    server.trusted = first
    try:
        server.request(
            "initialize",
            {
                "processId": None,
                "rootUri": first.as_uri(),
                "workspaceFolders": [{"uri": first.as_uri(), "name": "first"}],
                "capabilities": {"workspace": {"workspaceFolders": True, "configuration": True}},
                "initializationOptions": {"punie": {"trust": True}},
            },
        )
        server.notify("initialized", {})
        args = {"path": "tests/test_ok.py"}
        ran = _tool(server, "pytest_run", args, (first / "utils.py").as_uri())
        assert ran["success"] is True and ran["passed"] == 1, ran
        event = {"added": [{"uri": second.as_uri(), "name": "second"}], "removed": []}
        server.notify("workspace/didChangeWorkspaceFolders", {"event": event})
        # Sent at once: the command waits for the editor's answer about the new folder.
        refused = _tool(server, "pytest_run", args, (second / "utils.py").as_uri())
        assert refused["success"] is False and "not trusted" in refused["error"], refused
        ran = _tool(server, "pytest_run", args, (first / "utils.py").as_uri())
        assert ran["success"] is True, ran
    finally:
        server.kill()
