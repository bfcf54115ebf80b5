"""ty's workspace diagnostics long-poll; typecheck must still answer when all is clean."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from typed_tools import ToolContext, TyBackend
from typed_tools.typecheck import typecheck

FIXTURE = Path(__file__).parents[1] / "fixtures" / "project"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Path, TyBackend]]:
    root = Path(shutil.copytree(FIXTURE, tmp_path / "project"))
    backend = TyBackend(root, workspace_diagnostics=True)
    await backend.start()
    yield root, backend
    await backend.stop()


async def test_a_clean_result_comes_back_at_once(live: tuple[Path, TyBackend]) -> None:
    root, backend = live
    app = root / "pkg" / "app.py"
    before = await typecheck(ToolContext(root=root, backend=backend), "pkg")
    assert before.error_count == 1
    fixed = app.read_text().replace('return "not an int"', "return 1")
    ctx = ToolContext(root=root, backend=backend, overlay={app: fixed}, timeouts={"typecheck": 5})
    after = await typecheck(ctx, "pkg")
    assert after.error is None  # before the fix: "typecheck did not finish within 5 s"
    assert after.success
    assert after.error_count == 0
