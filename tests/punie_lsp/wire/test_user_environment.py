"""ty resolves imports against the user's environment, never punie-lsp's own venv.

The project has an empty virtual environment of its own, except for one package that
only it has. ``pygls`` and ``mlx_lm`` are installed in punie-lsp's venv and nowhere
else: ty must report them unresolved, and find the project's own package, whether it
is asked by the editor (the router's ty child), by a typed tool's own ``ty server``
(``TyClient``) or by the CLI's ``typecheck`` (``ty check``). punie-lsp is started as
``uv run`` starts it: ``VIRTUAL_ENV`` and the head of ``PATH`` name its own venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rawlsp import RawServer
from typed_tools import TyClient

pytestmark = pytest.mark.timeout(120)

SOURCE = "import json\nimport pygls\nimport mlx_lm\nimport only_in_project\n"


UNRESOLVED_CODES = frozenset({"import-not-found", "unresolved-import"})
"""ty's rule for a module it cannot find (named ``unresolved-import`` before 0.0.100)."""


def _as_uv_runs_us() -> dict[str, str]:
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = sys.prefix
    env["PATH"] = os.pathsep.join([str(Path(sys.prefix) / "bin"), env.get("PATH", "")])
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user-env") / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "user-env"\nversion = "0"\n')
    (root / "uses.py").write_text(SOURCE)
    venv = root / ".venv"
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv],
        check=True,
    )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    package = venv / "lib" / version / "site-packages" / "only_in_project"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    return root


def _unresolved(codes_and_messages: list[tuple[str, str]]) -> set[str]:
    """The module names reported as unresolved imports."""
    names = set()
    for code, message in codes_and_messages:
        if code in UNRESOLVED_CODES:
            names.update(n for n in ("json", "pygls", "mlx_lm", "only_in_project") if n in message)
    return names


def test_the_editor_sees_the_projects_environment(project: Path) -> None:
    server = RawServer(cwd=project, env=_as_uv_runs_us())
    try:
        root = project.as_uri()
        response = server.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root,
                "workspaceFolders": [{"uri": root, "name": "project"}],
                "capabilities": {"textDocument": {"diagnostic": {"dynamicRegistration": False}}},
            },
        )
        assert "result" in response, response
        server.notify("initialized", {})
        uri = server.open(project / "uses.py")
        report = server.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
        items = report["result"]["items"]
        found = _unresolved([(d.get("code", ""), d["message"]) for d in items])
        assert found == {"pygls", "mlx_lm"}, items
    finally:
        server.kill()


async def test_a_tools_own_ty_sees_the_projects_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _as_uv_runs_us().items():
        monkeypatch.setenv(name, value)
    ty = TyClient(project, workspace_diagnostics=False)
    await ty.start()
    try:
        uri = (project / "uses.py").as_uri()
        await ty.sync_documents({uri: SOURCE})
        report = await ty.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
        items = report["items"]
        assert _unresolved([(d.get("code", ""), d["message"]) for d in items]) == {
            "pygls",
            "mlx_lm",
        }, items
    finally:
        await ty.stop()


def test_the_cli_typecheck_agrees_with_the_editor(project: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "punie_lsp", "tool", "typecheck", "--path", "uses.py"],
        cwd=project,
        env=_as_uv_runs_us(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(completed.stdout)
    errors = result["errors"]
    assert _unresolved([(e["code"], e["message"]) for e in errors]) == {"pygls", "mlx_lm"}, errors


def test_the_environment_the_editor_names_wins(project: Path, tmp_path: Path) -> None:
    """ty's ``environment.python`` from the editor: that venv, not ``.venv``, not ours."""
    other = tmp_path / "selected-venv"
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", other],
        check=True,
    )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    package = other / "lib" / version / "site-packages" / "pygls"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")  # the selected environment has its own pygls
    server = RawServer(cwd=project, env=_as_uv_runs_us())
    try:
        root = project.as_uri()
        response = server.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root,
                "workspaceFolders": [{"uri": root, "name": "project"}],
                "capabilities": {"textDocument": {"diagnostic": {"dynamicRegistration": False}}},
                "initializationOptions": {
                    "ty": {"configuration": {"environment": {"python": str(other)}}}
                },
            },
        )
        assert "result" in response, response
        server.notify("initialized", {})
        uri = server.open(project / "uses.py")
        report = server.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
        items = report["result"]["items"]
        found = _unresolved([(d.get("code", ""), d["message"]) for d in items])
        assert found == {"mlx_lm", "only_in_project"}, items
        # A tool asked in the same session, about a file the editor has not opened
        # (punie's private ty answers): the same environment.
        (project / "unopened.py").write_text(SOURCE)
        tool = server.request(
            "workspace/executeCommand",
            {
                "command": "punie.tool",
                "arguments": [{"name": "typecheck", "args": {"path": "unopened.py"}}],
            },
        )
        errors = tool["result"]["errors"]
        found = _unresolved([(e["code"], e["message"]) for e in errors])
        assert found == {"mlx_lm", "only_in_project"}, errors
    finally:
        server.kill()
