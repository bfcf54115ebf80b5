"""The workspace as tools see it: a boundary, an overlay of proposed edits, .gitignore.

Every path a tool receives comes from model-written code, so it is untrusted: it is
resolved (symlinks included) and refused unless it stays inside ``ctx.root``. Refusal is
a ``ToolFailure``, which the tool decorator turns into ``success=False`` — a read outside
the workspace never happens, not even to report that the file exists.

Reads go through the overlay first: ``write_file`` only records text in ``ctx.overlay``,
and every later read, listing and search in the same run must see that text, while the
disk stays untouched until the editor applies the edits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

from typed_tools.base import ToolContext
from typed_tools.lines import read_exact, split_lines

__all__ = [
    "ToolFailure",
    "display_path",
    "is_probably_text",
    "iter_files",
    "overlay_text",
    "read_text",
    "resolve",
    "split_lines",
]

_ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "node_modules"})
"""Directories no tool should walk into even without a .gitignore saying so."""


class ToolFailure(Exception):
    """The tool could not run; the message becomes the result's ``error``.

    A tool returning text (``read_file``) raises ``exception(message)`` to the program
    instead, so the program can catch the kind it expects (``FileNotFoundError`` …).
    """

    def __init__(self, message: str, *, exception: type[OSError] = OSError) -> None:
        super().__init__(message)
        self.exception = exception


def resolve(ctx: ToolContext, path: str | os.PathLike[str]) -> Path:
    """Resolve ``path`` (relative to the root, or absolute) and refuse it outside the root.

    ``Path.resolve`` follows symlinks, so a link pointing out of the workspace is
    refused like ``..`` is; the overlay may hold files that do not exist yet, which
    ``strict=False`` allows.
    """
    root = ctx.root.resolve()
    raw = Path(path)
    candidate = raw if raw.is_absolute() else root / raw
    resolved = candidate.resolve(strict=False)
    if not resolved.is_relative_to(root):
        raise ToolFailure(
            f"path {str(path)!r} is outside the workspace {root}", exception=PermissionError
        )
    return resolved


def display_path(ctx: ToolContext, path: Path) -> str:
    """The workspace-relative POSIX form results use, so they do not leak host paths."""
    root = ctx.root.resolve()
    try:
        relative = path.resolve(strict=False).relative_to(root)
    except ValueError:
        return path.as_posix()
    return relative.as_posix() or "."


def overlay_text(ctx: ToolContext, path: Path) -> str | None:
    """The text ``write_file`` proposed for ``path`` in this run, if any."""
    for key, text in ctx.overlay.items():
        if key.resolve(strict=False) == path:
            return text
    return None


def read_text(ctx: ToolContext, path: Path) -> str:
    """The file's text as this run sees it: the overlay's proposal, else the editor's
    buffer (unsaved changes included) when a backend has it open, else the disk."""
    proposed = overlay_text(ctx, path)
    if proposed is not None:
        return proposed
    if ctx.backend is not None:
        buffer = ctx.backend.open_document_text(path.as_uri())
        if buffer is not None:
            return buffer
    if path.is_dir():
        raise ToolFailure(f"{display_path(ctx, path)} is a folder", exception=IsADirectoryError)
    if not path.is_file():
        raise ToolFailure(f"no such file: {display_path(ctx, path)}", exception=FileNotFoundError)
    try:
        return read_exact(path)
    except UnicodeDecodeError as exc:
        raise ToolFailure(f"{display_path(ctx, path)} is not UTF-8 text ({exc.reason})") from exc


def is_probably_text(path: Path) -> bool:
    """Whether ``search`` should look inside: no NUL byte in the first 8 KiB, like git."""
    try:
        with path.open("rb") as handle:
            return b"\0" not in handle.read(8192)
    except OSError:
        return False


def _gitignore(root: Path) -> pathspec.GitIgnoreSpec:
    """Patterns from every .gitignore under the root, rebased onto root-relative paths."""
    lines: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _ALWAYS_SKIPPED]
        if ".gitignore" not in filenames:
            continue
        base = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        for raw in (Path(dirpath) / ".gitignore").read_text(errors="replace").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line[1:] if negate else line
            # A pattern with an inner slash is anchored to its .gitignore's folder.
            anchored = "/" in pattern.rstrip("/")
            pattern = pattern.lstrip("/")
            rebased = prefix + pattern if anchored or not prefix else f"{prefix}**/{pattern}"
            lines.append(("!" if negate else "") + rebased)
    return pathspec.GitIgnoreSpec.from_lines(lines)


def iter_files(ctx: ToolContext, under: Path) -> Iterator[Path]:
    """Files under ``under`` that git would not ignore, plus the overlay's new files.

    Symlinks are listed only when they resolve inside the workspace, so a listing never
    names something a read would refuse.
    """
    root = ctx.root.resolve()
    ignored = _gitignore(root)
    seen: set[Path] = set()
    if under.is_file():
        seen.add(under)
        yield under
    else:
        for dirpath, dirnames, filenames in os.walk(under):
            here = Path(dirpath)
            kept = []
            for name in sorted(dirnames):
                rel = (here / name).relative_to(root).as_posix() + "/"
                if name in _ALWAYS_SKIPPED or ignored.match_file(rel):
                    continue
                if (here / name).is_symlink():
                    continue
                kept.append(name)
            dirnames[:] = kept
            for name in sorted(filenames):
                path = here / name
                if ignored.match_file(path.relative_to(root).as_posix()):
                    continue
                if path.is_symlink() and not path.resolve().is_relative_to(root):
                    continue
                seen.add(path)
                yield path
    for key in sorted(ctx.overlay):
        path = key.resolve(strict=False)
        if path not in seen and (path == under or path.is_relative_to(under)):
            yield path
