"""A workspace folder deleted or moved under a session: every tool says so, the same way.

Found by a fresh user's pass (``rm -rf`` of the project while ``run-code`` ran): git
tools said "cannot run /usr/bin/git: No such file or directory", ``run_command`` said
"cwd None is not a folder" though no ``cwd`` was passed, navigation tools gave a bare
"[Errno 2] …", and ``write_file`` proposed a file into a folder that was gone.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.typed_tools.conftest import PROJECT, write_tree
from typed_tools import ToolContext
from typed_tools.registry import call_tool, load_tools

FILE = "demo/calc.py"
ARGS: dict[str, dict[str, Any]] = {
    "typecheck": {"path": "demo"},
    "ruff_check": {"path": "demo"},
    "ruff_fix": {"path": "demo"},
    "pytest_run": {"path": "tests"},
    "goto_definition": {"file_path": FILE, "line": 1, "column": 5},
    "find_references": {"file_path": FILE, "line": 1, "column": 5},
    "hover": {"file_path": FILE, "line": 1, "column": 5},
    "document_symbols": {"file_path": FILE},
    "workspace_symbols": {"query": "add"},
    "git_status": {},
    "git_diff": {},
    "git_log": {},
    "cst_find_pattern": {"file_path": FILE, "pattern": "FunctionDef"},
    "cst_rename": {"file_path": FILE, "old_name": "add", "new_name": "plus"},
    "cst_add_import": {"file_path": FILE, "import_stmt": "import os"},
    "read_file": {"path": FILE},
    "write_file": {"path": "new.py", "content": "x = 1\n"},
    "run_command": {"command": "git status"},
    "list_files": {},
    "search": {"pattern": "add"},
}
"""Arguments for each built-in tool; the domain validators take a ``file_path``."""

SAID = "the workspace folder {root} no longer exists (deleted or moved)"


@pytest.fixture
def vanished(tmp_path: Path) -> ToolContext:
    root = write_tree(tmp_path / "project", PROJECT)
    ctx = ToolContext(root=root, timeout_seconds=30, trusted=True)
    shutil.rmtree(root)
    return ctx


@pytest.mark.parametrize("name", sorted(load_tools()))
async def test_every_tool_names_a_vanished_workspace(vanished: ToolContext, name: str) -> None:
    args = ARGS.get(name, {"file_path": FILE})
    expected = SAID.format(root=vanished.root)
    spec = load_tools()[name]
    if spec.result_model is str:  # the text tools raise what the program would catch
        with pytest.raises(FileNotFoundError, match="no longer exists"):
            await call_tool(name, vanished, args)
        return
    result = await call_tool(name, vanished, args)
    assert not isinstance(result, str), result
    assert result.success is False
    assert result.error is not None and expected in result.error, result.error
