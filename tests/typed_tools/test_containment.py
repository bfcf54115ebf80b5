"""Hostile workspaces: FIFOs, symlink loops, huge trees, slow patterns, outside links, huge texts.

Each case is contained: the tool answers (``success`` or a clear ``error``) within its
time limit plus a second, and never reads what it must not.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from typed_tools import ToolContext, containment
from typed_tools.containment import walk_files
from typed_tools.files import list_files, read_file, search, write_file
from typed_tools.visibility import PathVisibility

LIMIT = 2.0


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "good.py").write_text("x = 1\n")
    return workspace


def context(root: Path) -> ToolContext:
    return ToolContext(root=root, timeout_seconds=LIMIT)


async def test_fifo_is_skipped_and_refused(root: Path) -> None:
    os.mkfifo(root / "pipe.py")
    ctx = context(root)
    started = time.monotonic()
    listed = await list_files(ctx)
    found = await search(ctx, "x")
    with pytest.raises(OSError, match="not a regular file"):
        await read_file(ctx, "pipe.py")
    assert time.monotonic() - started < LIMIT + 1
    assert listed.files == ["good.py"]
    assert [m.file for m in found.matches] == ["good.py"]


async def test_symlink_loops_do_not_crash(root: Path) -> None:
    (root / "a.py").symlink_to(root / "b.py")
    (root / "b.py").symlink_to(root / "a.py")
    (root / "again").symlink_to(root)  # a folder looping back to the root
    (root / "self.py").symlink_to(root / "self.py")
    ctx = context(root)
    listed = await list_files(ctx)
    found = await search(ctx, "x")
    with pytest.raises(OSError, match="symlink loop"):
        await read_file(ctx, "a.py")
    assert listed.success and listed.files == ["good.py"]
    assert found.success and found.match_count == 1


async def test_huge_tree_is_cut_and_says_so(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containment, "MAX_WALK_ENTRIES", 500)
    for index in range(30):
        folder = root / f"d{index:02}"
        folder.mkdir()
        for name in range(30):
            (folder / f"f{name}.py").write_text("x = 1\n")
    listed = await list_files(context(root))
    assert listed.success and listed.truncated
    assert "500 entries" in (listed.truncated_reason or "")
    assert 400 < listed.file_count <= 500
    found = await search(context(root), "x", max_results=10_000)
    assert found.truncated and "500 entries" in (found.truncated_reason or "")


async def test_walk_stops_at_the_deadline(root: Path) -> None:
    for index in range(200):
        (root / f"f{index}.py").write_text("")
    with containment.using_deadline(containment.Deadline.after(0)):
        found = walk_files(root, root)
    assert found.truncated == "stopped at the tool's time limit"


async def test_catastrophic_regex_stops_at_the_limit(root: Path) -> None:
    (root / "a.txt").write_text("a" * 40 + "!\n")
    started = time.monotonic()
    found = await search(context(root), r"(a|aa)+$")
    elapsed = time.monotonic() - started
    assert elapsed < LIMIT + 1, elapsed
    # Normally cut at the line with a partial answer; on a starved machine the regex
    # engine's coarse clock can overshoot into the hard stop, which is contained too.
    assert ("a.txt:1" in (found.truncated_reason or "")) or "within 2 s" in (found.error or "")


async def test_gitignore_symlinked_outside_is_not_applied(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-ignore"
    outside.write_text("*.py\n")
    (root / ".gitignore").symlink_to(outside)
    listed = await list_files(context(root), "*.py")
    assert listed.files == ["good.py"]
    (root / ".gitignore").unlink()
    (root / ".gitignore").write_text("*.py\n")  # the same rule inside applies
    assert (await list_files(context(root), "*.py")).files == []


async def test_big_arguments_and_reads_are_refused_by_name(root: Path) -> None:
    ctx = ToolContext(
        root=root, max_argument_bytes=1000, max_read_bytes=100, max_overlay_bytes=1500
    )
    with pytest.raises(OSError, match=r"argument 'content' is 1\.0 kB.*max_argument_bytes"):
        await write_file(ctx, "big.py", "x" * 1001)
    assert not ctx.overlay
    (root / "large.txt").write_text("y" * 101)
    with pytest.raises(OSError, match="max_read_bytes"):
        await read_file(ctx, "large.txt")
    await write_file(ctx, "one.py", "x" * 900)
    with pytest.raises(OSError, match="max_overlay_bytes"):
        await write_file(ctx, "two.py", "x" * 900)
    await write_file(ctx, "one.py", "z" * 900)  # replacing a proposal is fine
    assert await read_file(ctx, "one.py") == "z" * 900


def test_visibility_rule(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 1\n")
    (root / "link.py").symlink_to(secret)
    library = tmp_path / "site-packages"
    library.mkdir()
    (library / "lib.py").write_text("")
    rule = PathVisibility(root, [str(library)])
    assert rule.visible(root / "good.py") and rule.visible("good.py")
    assert not rule.visible(root / "link.py") and not rule.visible("link.py")
    assert not rule.visible(secret)
    assert rule.visible(library / "lib.py")
    assert not rule.visible(str(root) + "-sibling/x.py")  # a prefix is not a parent


async def test_run_command_grep_is_contained(root: Path) -> None:
    """run_command's grep shares the walk's and the pattern's bounds."""
    from typed_tools.commands import run_command

    (root / "a.txt").write_text("a" * 40 + "!\n")
    os.mkfifo(root / "pipe.txt")
    (root / "loop.py").symlink_to(root / "loop.py")
    (root / "again").symlink_to(root)
    ctx = context(root)
    started = time.monotonic()
    assert await run_command(ctx, "grep -rn 'x = 1' .") == "./good.py:1:x = 1\n"
    with pytest.raises(TimeoutError, match=r"took too long|did not finish within 2 s"):
        await run_command(ctx, "grep -rE '(a|aa)+$' .")
    assert time.monotonic() - started < LIMIT + 1


async def test_list_files_sees_proposals_in_folders_not_on_disk(root: Path) -> None:
    ctx = context(root)
    await write_file(ctx, "tests/test_new.py", "x = 1\n")
    assert (await list_files(ctx, "tests/*.py")).files == ["tests/test_new.py"]
