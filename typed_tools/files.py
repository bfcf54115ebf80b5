"""Files as the run sees them: read, list, search the workspace and propose writes.

``write_file`` is the only way the model changes code, and it changes nothing on disk:
it records the text in the run's overlay, which every later read, listing and search
in the same run sees. The editor applies the collected edits at the end (with document
versions), so a run that goes wrong leaves the user's files alone.
"""

from __future__ import annotations

import fnmatch
import re

from pydantic import Field

from typed_tools.base import ResultItem, ToolContext, ToolResult
from typed_tools.tool import tool
from typed_tools.workspace import (
    ToolFailure,
    display_path,
    is_probably_text,
    iter_files,
    overlay_text,
    read_text,
    resolve,
    split_lines,
)

__all__ = [
    "ListFilesResult",
    "SearchMatch",
    "SearchResult",
    "list_files",
    "read_file",
    "search",
    "write_file",
]


class ListFilesResult(ToolResult):
    """Files matching a glob, skipping what .gitignore ignores. ``success``: the listing ran."""

    files: list[str] = Field(default_factory=list)
    """Workspace-relative paths, sorted."""
    file_count: int = 0
    """Number of files listed."""


class SearchMatch(ResultItem):
    """One line matching the pattern."""

    file: str
    """Workspace-relative path of the file."""
    line: int
    """1-based line number."""
    column: int
    """1-based character column where the match starts."""
    text: str
    """The whole matching line."""


class SearchResult(ToolResult):
    """Lines matching a regular expression in the text files under a path.

    ``success``: the search ran (a search that finds nothing is still a success).
    """

    matches: list[SearchMatch] = Field(default_factory=list)
    """Matches in file and line order, at most ``max_results``."""
    match_count: int = 0
    """Number of matches returned."""
    truncated: bool = False
    """True when more matches exist than were returned."""


@tool
async def read_file(ctx: ToolContext, path: str) -> str:
    """Read a text file of the workspace, including edits proposed earlier in this run.

    Returns the whole text, line endings as they are. Raises (catchably, naming the path
    and the reason) ``FileNotFoundError``, ``IsADirectoryError``, ``PermissionError``
    for a path outside the workspace, ``OSError`` for a file that is not UTF-8 text.
    """
    return read_text(ctx, resolve(ctx, path))


@tool
async def write_file(ctx: ToolContext, path: str, content: str) -> str:
    """Propose new content for a file; later reads see it, the disk is not changed.

    Returns a one-line confirmation naming the file. The editor (or the user) applies
    the proposals after the run. Raises ``IsADirectoryError`` or ``PermissionError``
    (outside the workspace) when the proposal cannot be recorded.
    """
    resolved = resolve(ctx, path)
    shown = display_path(ctx, resolved)
    if resolved.is_dir():
        raise ToolFailure(f"{shown} is a folder", exception=IsADirectoryError)
    for key in list(ctx.overlay):
        if key.resolve(strict=False) == resolved:
            del ctx.overlay[key]
    ctx.overlay[resolved] = content
    lines = len(split_lines(content)) if content else 0
    verb = "create" if not resolved.exists() else "replace"
    return f"Proposed to {verb} {shown} ({lines} lines); the disk is unchanged until it is applied"


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob where ``**`` spans folders and ``*`` stays inside one, as in gitignore."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts) + r"\Z")


@tool
async def list_files(ctx: ToolContext, glob: str = "**/*") -> ListFilesResult:
    """List workspace files matching a glob (``**/*.py``, ``src/*.py``), honouring .gitignore.

    A pattern without a slash matches file names in any folder, like ``.gitignore`` does.
    """
    root = resolve(ctx, ".")
    matcher = _glob_regex(glob)
    files = []
    for path in iter_files(ctx, root):
        relative = display_path(ctx, path)
        if "/" in glob:
            matched = matcher.match(relative) is not None
        else:
            matched = fnmatch.fnmatchcase(path.name, glob)
        if matched:
            files.append(relative)
    files.sort()
    return ListFilesResult(success=True, files=files, file_count=len(files))


@tool
async def search(
    ctx: ToolContext, pattern: str, path: str = ".", max_results: int = 200
) -> SearchResult:
    """Find lines matching a Python regular expression in the text files under ``path``."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ToolFailure(f"invalid regular expression {pattern!r}: {exc}") from exc
    under = resolve(ctx, path)
    if not under.exists() and overlay_text(ctx, under) is None:
        raise ToolFailure(f"no such file or folder: {display_path(ctx, under)}")
    matches: list[SearchMatch] = []
    truncated = False
    for file in iter_files(ctx, under):
        proposed = overlay_text(ctx, file)
        if proposed is None and not is_probably_text(file):
            continue
        try:
            text = proposed if proposed is not None else read_text(ctx, file)
        except ToolFailure:
            continue  # not UTF-8: not a text file for our purposes
        for number, line in enumerate(split_lines(text), start=1):
            found = regex.search(line)
            if found is None:
                continue
            if len(matches) >= max_results:
                truncated = True
                break
            matches.append(
                SearchMatch(
                    file=display_path(ctx, file), line=number, column=found.start() + 1, text=line
                )
            )
        if truncated:
            break
    return SearchResult(
        success=True, matches=matches, match_count=len(matches), truncated=truncated
    )
