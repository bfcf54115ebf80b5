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
