"""Git status, diff and log, parsed from git's machine formats.

Only ``--porcelain=v2 -z`` and ``-z`` output is parsed: the human formats quote names
with spaces or non-ASCII characters, change with the user's config and locale, and
hide whether a change is staged. Paths in results are relative to the workspace even
when the repository's top level is above it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from typed_tools.base import Count, ResultItem, ToolContext, ToolResult
from typed_tools.safe_git import run_git
from typed_tools.tool import tool
from typed_tools.workspace import ToolFailure, resolve

__all__ = [
    "DiffFile",
    "GitCommit",
    "GitDiffResult",
    "GitFileStatus",
    "GitLogResult",
    "GitStatusResult",
    "git_diff",
    "git_log",
    "git_status",
]

ChangeKind = Literal[
    "modified", "added", "deleted", "renamed", "copied", "type_changed", "unmerged", "untracked"
]

_KINDS: dict[str, ChangeKind] = {
    "M": "modified",
    "A": "added",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type_changed",
    "U": "unmerged",
}


class GitFileStatus(ResultItem):
    """One changed file: what happened to it, and whether the change is staged."""

    file: str
    """Workspace-relative path (the new name of a renamed file)."""
    status: ChangeKind
    """What happened to the file: the staged change's kind when there is one, else the
    working tree's."""
    staged: bool
    """True when the index holds a change (what ``git commit`` would record)."""
    unstaged: bool = False
    """True when the working tree also differs from the index (or the file is untracked)."""
    original_file: str | None = None
    """The old name of a renamed or copied file."""


class GitStatusResult(ToolResult):
    """The repository's state under a path. ``success``: git ran (Punie's meaning)."""

    branch: str | None = None
    """The checked-out branch, or None when HEAD is detached."""
    clean: bool = False
    """True when there is nothing staged, unstaged or untracked."""
    file_count: int = 0
    """Number of changed files: always ``len(files)``."""
    files: list[GitFileStatus] = Field(default_factory=list)
    """One entry per changed file."""


class DiffFile(ResultItem):
    """One file in a diff."""

    file: str
    """Workspace-relative path (the new name of a renamed file)."""
    additions: int = 0
    """Lines added (0 for binary files)."""
    deletions: int = 0
    """Lines deleted (0 for binary files)."""
    hunks: list[str] = Field(default_factory=list)
    """The hunk headers (``@@ -12,7 +12,9 @@ def main():``), one per changed region."""
    status: ChangeKind = "modified"
    """What happened to the file."""
    original_file: str | None = None
    """The old name of a renamed or copied file."""
    binary: bool = False
    """True when git treats the file as binary (no line counts)."""


class GitDiffResult(ToolResult):
    """Changes of the working tree against the index, or of the index against HEAD.

    ``success``: git ran (Punie's meaning; an empty diff is a success).
    """

    file_count: int = 0
    """Number of files changed."""
    additions: int = 0
    """Lines added in all files."""
    deletions: int = 0
    """Lines deleted in all files."""
    files: list[DiffFile] = Field(default_factory=list)
    """Per-file summary."""
    diff: str = ""
    """The unified diff itself."""


class GitCommit(ResultItem):
    """One commit."""

    hash: str
    """Abbreviated commit hash, as ``git log --oneline`` shows it (Punie's ``%h``)."""
    message: str
    """The subject line."""
    author: str
    """Author name."""
    date: str
    """Author date, ISO 8601 with offset."""
    full_hash: str = ""
    """The full 40-hex commit hash."""
    email: str = ""
    """Author e-mail."""


class GitLogResult(ToolResult):
    """Recent commits, newest first. ``success``: git ran (Punie's meaning)."""

    commits: list[GitCommit] = Field(default_factory=list)
    """The commits."""
    commit_count: int = 0
    """Number of commits returned."""


async def _git(ctx: ToolContext, *args: str, check: bool = True) -> str:
    completed = await run_git(args, cwd=resolve(ctx, "."))
    if check and completed.returncode != 0:
        raise ToolFailure(f"git {args[0]} failed: {completed.error_line('git')}")
    return completed.stdout


async def _prefix(ctx: ToolContext) -> str:
    """The workspace's folder inside the repository ('' at the top level, else 'sub/')."""
    completed = await run_git(("rev-parse", "--show-prefix"), cwd=resolve(ctx, "."))
    if completed.returncode != 0:
        if "not a git repository" in completed.stderr:
            raise ToolFailure(
                "the workspace is not in a git repository (git_status, git_diff and git_log "
                "need one; `git init` makes it one)"
            )
        raise ToolFailure(f"git rev-parse failed: {completed.error_line('git')}")
    return completed.stdout.strip()


def _relative(prefix: str, repo_path: str) -> str:
    return repo_path.removeprefix(prefix)


def _status_entries(out: str, prefix: str) -> tuple[str | None, list[GitFileStatus]]:
    """Branch and one entry per file from ``git status --porcelain=v2 -z --branch``."""
    fields = out.split("\0")
    branch: str | None = None
    files: list[GitFileStatus] = []
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if not entry:
            continue
        if entry.startswith("# branch.head "):
            head = entry.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif entry.startswith("? "):
            files.append(
                GitFileStatus(
                    file=_relative(prefix, entry[2:]),
                    status="untracked",
                    staged=False,
                    unstaged=True,
                )
            )
        elif entry[0] in "12u":
            # "1 XY sub mH mI mW hH hI path"; "2 ... Xscore path" + NUL + origPath; "u ... path"
            parts = entry.split(" ", {"1": 8, "2": 9, "u": 10}[entry[0]])
            xy, path = parts[1], parts[-1]
            original = None
            if entry[0] == "2":
                original = _relative(prefix, fields[index])
                index += 1
            staged, unstaged = xy[0] != ".", xy[1] != "."
            code = xy[0] if staged else xy[1]
            kind = "unmerged" if entry[0] == "u" else _KINDS.get(code, "modified")
            files.append(
                GitFileStatus(
                    file=_relative(prefix, path),
                    status=kind,
                    staged=staged and entry[0] != "u",
                    unstaged=unstaged,
                    original_file=original if kind in ("renamed", "copied") else None,
                )
            )
    return branch, files


@tool
async def git_status(ctx: ToolContext, path: str = ".") -> GitStatusResult:
    """Branch and changed files (staged, unstaged, untracked) under ``path``, one entry each."""
    target = resolve(ctx, path)
    prefix = await _prefix(ctx)
    out = await _git(
        ctx,
        "status",
        "--porcelain=v2",
        "-z",
        "--branch",
        "-uall",
        "--ignore-submodules=all",
        "--",
        str(target),
    )
    branch, files = _status_entries(out, prefix)
    return GitStatusResult(
        success=True, branch=branch, clean=not files, file_count=len(files), files=files
    )


def _hunks(patch: str) -> list[list[str]]:
    """The ``@@`` headers of each file's section of a unified diff, in the patch's order."""
    sections: list[list[str]] = []
    for line in patch.split("\n"):
        if line.startswith("diff --git "):
            sections.append([])
        elif line.startswith("@@") and sections:
            sections[-1].append(line)
    return sections


@tool
async def git_diff(ctx: ToolContext, path: str = ".", staged: bool = False) -> GitDiffResult:
    """The unstaged diff under ``path`` (or the staged one with ``staged=True``)."""
    target = resolve(ctx, path)
    prefix = await _prefix(ctx)
    base = [
        "diff",
        "--no-color",
        "--ignore-submodules=all",
        "-M",
        *(["--cached"] if staged else []),
    ]
    names = (await _git(ctx, *base, "--name-status", "-z", "--", str(target))).split("\0")
    numbers = (await _git(ctx, *base, "--numstat", "-z", "--", str(target))).split("\0")
    patch = await _git(ctx, *base, "--", str(target))

    files: list[DiffFile] = []
    index = 0
    while index < len(names) and names[index]:
        code = names[index]
        if code[0] in "RC":
            original, new = names[index + 1], names[index + 2]
            index += 3
        else:
            original, new = None, names[index + 1]
            index += 2
        files.append(
            DiffFile(
                file=_relative(prefix, new),
                status=_KINDS.get(code[0], "modified"),
                original_file=_relative(prefix, original) if original else None,
            )
        )
    # The patch lists files in the same order as --name-status (same diff, same options).
    for entry, hunks in zip(files, _hunks(patch), strict=False):
        entry.hunks = hunks
    # numstat -z: "added<TAB>deleted<TAB>path" NUL, or for a rename
    # "added<TAB>deleted<TAB>" NUL old NUL new NUL.
    by_name = {f.file: f for f in files}
    index = 0
    while index < len(numbers) and numbers[index]:
        added, deleted, path_field = numbers[index].split("\t", 2)
        if path_field:
            new = path_field
            index += 1
        else:
            new = numbers[index + 2]
            index += 3
        entry = by_name.get(_relative(prefix, new))
        if entry is None:
            continue
        if added == "-":
            entry.binary = True
        else:
            entry.additions, entry.deletions = int(added), int(deleted)
    return GitDiffResult(
        success=True,
        file_count=len(files),
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        files=files,
        diff=patch,
    )


@tool
async def git_log(ctx: ToolContext, path: str = ".", count: Count = 10) -> GitLogResult:
    """The last ``count`` commits touching ``path``, newest first."""
    target = resolve(ctx, path)
    await _prefix(ctx)  # fails clearly outside a repository
    if not (await _git(ctx, "rev-parse", "--verify", "-q", "HEAD", check=False)).strip():
        return GitLogResult(success=True)  # a repository without commits yet
    out = await _git(
        ctx,
        "log",
        "-z",
        f"-n{max(count, 0)}",
        "--format=%h%x1f%H%x1f%an%x1f%ae%x1f%aI%x1f%s",
        "--",
        str(target),
    )
    commits = []
    for record in out.split("\0"):
        if not record.strip():
            continue
        short, sha, author, email, date, subject = record.strip("\n").split("\x1f", 5)
        commits.append(
            GitCommit(
                hash=short, full_hash=sha, author=author, email=email, date=date, message=subject
            )
        )
    return GitLogResult(success=True, commits=commits, commit_count=len(commits))
