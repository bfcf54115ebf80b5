"""A workspace module symlinked to a file outside the workspace: no result quotes that file.

ty, ruff and pytest all follow the link; ``read_file`` refuses it. The outside file is
full of ``SECRET`` so any leak shows in a result's JSON. Controls show that the real
tools do report the linked file, so each test can fail. Installed libraries stay
visible (a definition in ty's typeshed).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel
from ruff.__main__ import find_ruff_bin

from tests.typed_tools.conftest import write_tree
from typed_tools import ToolContext, TyClientPool
from typed_tools.lint import ruff_check
from typed_tools.navigation import find_references, goto_definition, hover
from typed_tools.testing import pytest_run
from typed_tools.typecheck import typecheck

OUTSIDE = '''import os  # SECRET unused import


def leak() -> int:
    """SECRET docstring."""
    value: int = "SECRET"
    raise RuntimeError("boom")  # SECRET line
'''

APP = "from link import leak\n\nlength = len('a')\nleak()\n"

TEST = "from link import leak\n\n\ndef test_leak():\n    leak()\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere" / "secret.py"
    outside.parent.mkdir()
    outside.write_text(OUTSIDE)
    workspace = write_tree(tmp_path / "ws", {"app.py": APP, "test_app.py": TEST})
    (workspace / "link.py").symlink_to(outside)
    return workspace


def leaks(result: BaseModel) -> bool:
    return "SECRET" in result.model_dump_json()


async def test_typecheck_drops_the_linked_file(root: Path) -> None:
    result = await typecheck(ToolContext(root=root), ".")
    assert result.error is None
    assert not leaks(result)
    assert all(e.file != "link.py" for e in result.errors)


def test_control_ruff_reports_the_linked_file(root: Path) -> None:
    out = subprocess.run(
        [find_ruff_bin(), "check", "--no-cache", "--output-format", "json", "--select", "F", "."],
        cwd=root, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "SECRET" not in out or "link.py" in out
    assert any(item["filename"].endswith("link.py") for item in json.loads(out))


async def test_ruff_drops_the_linked_file(root: Path) -> None:
    result = await ruff_check(ToolContext(root=root), ".")
    assert result.error is None and not leaks(result)
    assert all(v.file != "link.py" for v in result.violations)


async def test_navigation_hides_the_linked_file_but_not_libraries(root: Path) -> None:
    pool = TyClientPool()
    try:
        ctx = ToolContext(root=root, ty=await pool.get(root))
        shown = await hover(ctx, "app.py", 4, 1)
        assert not shown.success and "outside the workspace" in (shown.error or "")
        assert not leaks(shown)
        definition = await goto_definition(ctx, "app.py", 4, 1)
        assert definition.locations == [] and not leaks(definition)
        # Said, as hover says it: not "defined nowhere" (a path dependency's definition).
        assert "outside the workspace" in (definition.error or ""), definition
        references = await find_references(ctx, "app.py", 4, 1)
        assert all("secret" not in r.file and r.file != "link.py" for r in references.references)
        builtin = await goto_definition(ctx, "app.py", 3, 10)
        assert builtin.success and builtin.locations[0].file.endswith("builtins.pyi")
        library_hover = await hover(ctx, "app.py", 3, 10)
        assert library_hover.success and "len" in library_hover.content
    finally:
        await pool.stop_all()


async def test_pytest_hides_frames_from_the_linked_file(root: Path) -> None:
    result = await pytest_run(ToolContext(root=root, trusted=True), "test_app.py")
    assert result.failed == 1, result
    assert "outside the workspace is hidden" in (result.tests[0].traceback or "")
    assert not leaks(result)
