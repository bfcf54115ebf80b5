"""ty's workspace diagnostics long-poll; typecheck must still answer when all is clean."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from typed_tools import ToolContext, TyClient
from typed_tools.typecheck import typecheck

FIXTURE = Path(__file__).parents[2] / "training" / "sample_project"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Path, TyClient]]:
    root = Path(shutil.copytree(FIXTURE, tmp_path / "project"))
    ty = TyClient(root, workspace_diagnostics=True)
    await ty.start()
    yield root, ty
    await ty.stop()


async def test_a_clean_result_comes_back_at_once(live: tuple[Path, TyClient]) -> None:
    root, ty = live
    app = root / "pkg" / "app.py"
    before = await typecheck(ToolContext(root=root, ty=ty), "pkg")
    assert before.error_count == 1
    fixed = app.read_text().replace('return "not an int"', "return 1")
    ctx = ToolContext(root=root, ty=ty, overlay={app: fixed}, timeouts={"typecheck": 5})
    after = await typecheck(ctx, "pkg")
    assert after.error is None  # before the fix: "typecheck did not finish within 5 s"
    assert after.success
    assert after.error_count == 0


HINTS = {
    # ty marks the unused variable with an LSP hint (faded in editors): not a diagnostic
    # `ty check` prints, so not one typecheck reports.
    "pkg/hinted.py": "def f() -> None:\n    unused = 1\n",
    "pkg/wrong.py": 'x: int = "no"\n',
}


async def test_one_report_gives_what_ty_check_gives(live: tuple[Path, TyClient]) -> None:
    root, ty = live
    for name, text in HINTS.items():
        (root / name).write_text(text)  # after ty started: seen through the disk scan
    reports = await ty.workspace_report({})
    assert any(item.get("severity") == 4 for r in reports for item in r["items"])

    live_result = await typecheck(ToolContext(root=root, ty=ty), ".")
    cli_result = await typecheck(ToolContext(root=root), ".")

    assert live_result.model_dump() == cli_result.model_dump()
    assert {e.file for e in live_result.errors} >= {"pkg/wrong.py"}
    assert "pkg/hinted.py" not in {e.file for e in live_result.errors}


async def test_files_created_and_deleted_on_disk_are_seen(live: tuple[Path, TyClient]) -> None:
    root, ty = live
    ctx = ToolContext(root=root, ty=ty)
    before = await typecheck(ctx, ".")
    new = root / "pkg" / "new.py"
    new.write_text("y: str = 1\n")
    created = await typecheck(ctx, ".")
    new.unlink()
    deleted = await typecheck(ctx, ".")

    assert created.error_count == before.error_count + 1
    assert ("pkg/new.py", 1, 10) in {(e.file, e.line, e.column) for e in created.errors}
    assert deleted.model_dump() == before.model_dump()


async def test_a_folder_is_asked_about_alone_and_links_out_are_left_out(
    live: tuple[Path, TyClient], tmp_path: Path
) -> None:
    root, ty = live
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.py").write_text('secret: int = "text from outside"\n')
    (root / "pkg" / "linked.py").symlink_to(outside / "leak.py")
    (root / "other").mkdir()
    (root / "other" / "bad.py").write_text('z: int = "z"\n')
    ctx = ToolContext(root=root, ty=ty)

    everything = await typecheck(ctx, ".")
    folder = await typecheck(ctx, "other")

    assert "other/bad.py" in {e.file for e in everything.errors}
    assert all("outside" not in e.message and "leak" not in e.file for e in everything.errors)
    assert {e.file for e in folder.errors} == {"other/bad.py"}
