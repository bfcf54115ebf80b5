"""Files as the run sees them: read, list, search the workspace and propose writes.

``write_file`` is the only way the model changes code, and it changes nothing on disk:
it records the text in the run's overlay, which every later read, listing and search
in the same run sees. The editor applies the collected edits at the end (with document
versions), so a run that goes wrong leaves the user's files alone.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import regex as regex_engine
from pydantic import Field

from typed_tools.base import Count, ResultItem, ToolContext, ToolResult
from typed_tools.containment import (
    DeadlineExceeded,
    PatternTooSlow,
    describe_size,
    off_loop,
    read_regular_file,
    real_path,
    search_line,
)
from typed_tools.tool import tool
from typed_tools.workspace import (
    ToolFailure,
    display_path,
    overlay_text,
    read_text,
    resolve,
    split_lines,
    walk,
)

__all__ = [
    "ListFilesResult",
    "SearchMatch",
    "SearchResult",
    "SkippedFile",
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
    truncated: bool = False
    """True when the listing is incomplete (the walk's entry budget or the time limit)."""
    truncated_reason: str | None = None
    """Why the listing stopped early, when ``truncated``."""


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


class SkippedFile(ResultItem):
    """A file ``search`` did not look in as text, and why."""

    file: str
    """Workspace-relative path of the file."""
    reason: str
    """One line: ``binary file matches`` (a NUL byte, as grep says), ``not UTF-8 text,
    matches with its undecodable bytes replaced``, or why it could not be read (over
    ``max_read_bytes``, not a regular file, permission)."""


class SearchResult(ToolResult):
    """Lines matching a regular expression in the text files under a path.

    ``success``: the search ran (a search that finds nothing is still a success).
    """

    matches: list[SearchMatch] = Field(default_factory=list)
    """Matches in file and line order, at most ``max_results``."""
    match_count: int = 0
    """Number of matches returned."""
    truncated: bool = False
    """True when the answer is incomplete: more matches than ``max_results``, or the walk
    or the time limit cut the search short (``truncated_reason`` says which)."""
    truncated_reason: str | None = None
    """Why the search stopped early, when ``truncated``."""
    skipped_files: list[SkippedFile] = Field(default_factory=list)
    """Files not searched as text: binary or not UTF-8 ones the pattern matches (with
    undecodable bytes replaced, as ``grep`` says "binary file matches"), and every file
    that could not be read. Their lines are not in ``matches``."""


@tool
async def read_file(ctx: ToolContext, path: str) -> str:
    """Read a text file of the workspace, including edits proposed earlier in this run.

    Returns the whole text, line endings as they are. Raises (catchably, naming the path
    and the reason) ``FileNotFoundError``, ``IsADirectoryError``, ``PermissionError``
    for a path outside the workspace, ``OSError`` for a file that is not UTF-8 text, not
    a regular file (a FIFO, a device) or larger than the read limit.
    """
    return await off_loop(read_text, ctx, resolve(ctx, path))


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
    replaced = [key for key in ctx.overlay if real_path(key) == resolved]
    held = sum(len(text) for key, text in ctx.overlay.items() if key not in replaced)
    if held + len(content) > ctx.max_overlay_bytes:
        raise ToolFailure(
            f"this run's proposed files would hold {describe_size(held + len(content))}, "
            f"over the {describe_size(ctx.max_overlay_bytes)} limit (max_overlay_bytes)"
        )
    for key in replaced:
        del ctx.overlay[key]
    ctx.overlay[resolved] = content
    # Lines as an editor or ``wc -l`` counts them: a final line break ends the last line.
    lines = len(split_lines(content)) - (content[-1:] in ("\n", "\r")) if content else 0
    verb = "create" if not resolved.exists() else "replace"
    counted = f"{lines} line" if lines == 1 else f"{lines} lines"
    return f"Proposed to {verb} {shown} ({counted}); the disk is unchanged until it is applied"


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
    A huge tree is cut at the walk's budget: ``truncated`` then says why.
    """
    matcher = _glob_regex(glob)
    # Walk only below the glob's literal folders ("pkg/**/*.py" walks pkg/), so a huge
    # sibling tree does not use up the walk's budget first.
    literal = []
    for part in glob.split("/")[:-1]:
        if any(char in part for char in "*?["):
            break
        literal.append(part)
    start = resolve(ctx, "/".join(literal) or ".")

    def listing() -> tuple[list[str], str | None]:
        found = walk(ctx, start)  # proposed files count even where no folder exists yet
        files = []
        for relative in found.names:
            if "/" in glob:
                matched = matcher.match(relative) is not None
            else:
                matched = fnmatch.fnmatchcase(relative.rpartition("/")[2], glob)
            if matched:
                if len(files) >= ctx.max_result_items:
                    return sorted(files), (
                        f"more than {ctx.max_result_items:,} files match (max_result_items)"
                    )
                files.append(relative)
        files.sort()
        return files, found.truncated

    files, truncated = await off_loop(listing)
    return ListFilesResult(
        success=True,
        files=files,
        file_count=len(files),
        truncated=truncated is not None,
        truncated_reason=truncated,
    )


_BINARY_SNIFF_BYTES = 8192
"""Bytes looked at for a NUL to call a file binary, as git does."""


def _search_text(
    ctx: ToolContext, file: Path, regex: regex_engine.Pattern[str]
) -> tuple[str | None, str | None]:
    """The text ``search`` looks in, as ``read_file`` sees it (the overlay's, the
    editor's buffer, or the disk's), or ``None`` and why the file is skipped (``None``
    for a binary or non-UTF-8 file the pattern does not match, as grep is silent)."""
    proposed = overlay_text(ctx, file)
    if proposed is not None:
        return proposed, None
    if ctx.ty is not None:
        buffer = ctx.ty.open_document_text(file.as_uri())
        if buffer is not None:
            return buffer, None
    try:
        data = read_regular_file(file, ctx.max_read_bytes, display_path(ctx, file))
    except OSError as exc:  # unreadable, not a regular file, over the size limit
        return None, exc.strerror or str(exc)
    binary = b"\0" in data[:_BINARY_SNIFF_BYTES]
    if not binary:
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            pass  # not UTF-8: not a text file for our purposes
    replaced = data.decode("utf-8", errors="replace")
    if not any(search_line(regex, line) is not None for line in split_lines(replaced)):
        return None, None
    if binary:
        return None, "binary file matches"
    return None, "not UTF-8 text, matches with its undecodable bytes replaced"


def _scan(
    ctx: ToolContext, regex: regex_engine.Pattern[str], under: Path, max_results: int
) -> tuple[list[SearchMatch], list[SkippedFile], str | None]:
    """The blocking part of ``search``: walk, read, match, each bounded by the deadline."""
    found = walk(ctx, under)
    matches: list[SearchMatch] = []
    skipped: list[SkippedFile] = []
    for shown in found.names:
        file = found.root / shown
        try:
            text, reason = _search_text(ctx, file, regex)
        except DeadlineExceeded:
            return matches, skipped, "stopped at the tool's time limit"
        except PatternTooSlow:
            return (
                matches,
                skipped,
                (
                    f"the pattern took too long on {shown} "
                    "(it backtracks catastrophically; simplify it)"
                ),
            )
        if text is None:
            if reason is not None:
                skipped.append(SkippedFile(file=shown, reason=reason))
            continue
        for number, line in enumerate(split_lines(text), start=1):
            try:
                hit = search_line(regex, line)
            except DeadlineExceeded:
                return matches, skipped, "stopped at the tool's time limit"
            except PatternTooSlow:
                return (
                    matches,
                    skipped,
                    (
                        f"the pattern took too long on {shown}:{number} "
                        "(it backtracks catastrophically; simplify it)"
                    ),
                )
            if hit is None:
                continue
            if len(matches) >= max_results:
                return matches, skipped, f"more than max_results={max_results} matches"
            matches.append(SearchMatch(file=shown, line=number, column=hit.start() + 1, text=line))
    return matches, skipped, found.truncated


@tool
async def search(
    ctx: ToolContext, pattern: str, path: str = ".", max_results: Count = 200
) -> SearchResult:
    """Find lines matching a Python regular expression in the text files under ``path``.

    The search stops at the tool's time limit, even for a pattern that backtracks
    catastrophically, and returns what it found with ``truncated`` set. Binary and
    non-UTF-8 files the pattern matches, and unreadable files, are named in
    ``skipped_files`` with the reason, not silently passed over.
    """
    try:
        regex = regex_engine.compile(pattern)
    except regex_engine.error as exc:
        raise ToolFailure(f"invalid regular expression {pattern!r}: {exc}") from exc
    under = resolve(ctx, path)
    if not under.exists() and overlay_text(ctx, under) is None:
        raise ToolFailure(f"no such file or folder: {display_path(ctx, under)}")
    matches, skipped, truncated = await off_loop(_scan, ctx, regex, under, max_results)
    return SearchResult(
        success=True,
        matches=matches,
        match_count=len(matches),
        truncated=truncated is not None,
        truncated_reason=truncated,
        skipped_files=skipped,
    )
