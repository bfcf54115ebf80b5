"""git_status / git_diff / git_log on a repository built here: renames, spaces, staged vs not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.typed_tools.conftest import git
from typed_tools import ToolContext
from typed_tools.git import git_diff, git_log, git_status


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "old name.py").write_text("".join(f"line {i}\n" for i in range(20)))
    (root / "keep.py").write_text("a = 1\n")
    (root / "both.py").write_text("b = 1\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first commit")
    git(root, "mv", "old name.py", "new name.py")  # a staged rename, spaces in both names
    (root / "keep.py").write_text("a = 2\nextra = 3\n")  # unstaged only
    (root / "both.py").write_text("b = 2\n")
    git(root, "add", "both.py")
    (root / "both.py").write_text("b = 3\n")  # staged and then changed again
    (root / "sub dir").mkdir()
    (root / "sub dir" / "fresh file.txt").write_text("new\n")  # untracked, in a folder
    return root


async def test_status_separates_staged_unstaged_untracked(repo: Path) -> None:
    result = await git_status(ToolContext(root=repo))
    assert result.success and result.branch == "main" and not result.clean
    got = {(c.file, c.status, c.staged, c.unstaged, c.original_file) for c in result.files}
    assert got == {
        ("new name.py", "renamed", True, False, "old name.py"),
        ("keep.py", "modified", False, True, None),
        ("both.py", "modified", True, True, None),
        ("sub dir/fresh file.txt", "untracked", False, True, None),
    }
    # One entry per file, as Punie's porcelain parser gives: the count is the list's length.
    assert result.file_count == len(result.files) == 4
    narrowed = await git_status(ToolContext(root=repo), "sub dir")
    assert [c.file for c in narrowed.files] == ["sub dir/fresh file.txt"]


async def test_status_from_a_subfolder_is_relative_to_it(repo: Path) -> None:
    result = await git_status(ToolContext(root=repo / "sub dir"))
    assert [(c.file, c.status) for c in result.files] == [("fresh file.txt", "untracked")]


async def test_diff_unstaged_and_staged(repo: Path) -> None:
    ctx = ToolContext(root=repo)
    unstaged = await git_diff(ctx)
    assert unstaged.success
    assert {(f.file, f.status, f.additions, f.deletions) for f in unstaged.files} == {
        ("keep.py", "modified", 2, 1),
        ("both.py", "modified", 1, 1),
    }
    assert "+extra = 3" in unstaged.diff
    hunks = {f.file: f.hunks for f in unstaged.files}
    assert hunks == {"keep.py": ["@@ -1 +1,2 @@"], "both.py": ["@@ -1 +1 @@"]}

    staged = await git_diff(ctx, staged=True)
    assert {(f.file, f.status, f.original_file) for f in staged.files} == {
        ("new name.py", "renamed", "old name.py"),
        ("both.py", "modified", None),
    }
    assert (staged.additions, staged.deletions) == (1, 1)


async def test_log_reads_commits(repo: Path) -> None:
    git(repo, "commit", "-q", "-m", "second: with\ttab and ünïcode")
    result = await git_log(ToolContext(root=repo), count=5)
    assert [c.message for c in result.commits] == ["second: with\ttab and ünïcode", "first commit"]
    assert result.commits[0].author == "Tester" and result.commits[0].email == "t@example.com"
    assert result.commit_count == 2
    newest = result.commits[0]
    assert len(newest.full_hash) == 40 and newest.full_hash.startswith(newest.hash)
    assert 7 <= len(newest.hash) < 40  # abbreviated, as Punie's ``%h``
    assert (await git_log(ToolContext(root=repo), ".", 1)).commit_count == 1  # Punie's order


async def test_outside_a_repository_is_an_error_result(tmp_path: Path) -> None:
    result = await git_status(ToolContext(root=tmp_path))
    assert not result.success
    # It said "git rev-parse failed: fatal: not a git repository (or any of the parent …"
    assert result.error == (
        "the workspace is not in a git repository (git_status, git_diff and git_log need "
        "one; `git init` makes it one)"
    )
