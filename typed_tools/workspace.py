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
from typed_tools.containment import Walk, read_regular_file, real_path, walk_files
from typed_tools.lines import split_lines

__all__ = [
    "ToolFailure",
    "display_path",
    "is_probably_text",
    "iter_files",
    "overlay_text",
    "read_text",
    "require_trust",
    "resolve",
    "split_lines",
    "walk",
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
    root = Path(os.path.realpath(ctx.root))
    raw = Path(path)
    candidate = raw if raw.is_absolute() else root / raw
    # os.path.realpath, unlike Path.resolve on Python 3.11, does not raise on a symlink
    # loop: the looping path stays as it is and the read then fails with ELOOP.
    resolved = Path(os.path.realpath(candidate))
    if not resolved.is_relative_to(root):
        # Inside by its name, outside by a symbolic link: name where the link leads.
        linked = Path(os.path.normpath(candidate)).is_relative_to(root)
        shown = f"{str(path)!r} -> {resolved}" if linked else repr(str(path))
        raise ToolFailure(
            f"path {shown} is outside the workspace {root}", exception=PermissionError
        )
    return resolved


def display_path(ctx: ToolContext, path: Path) -> str:
    """The workspace-relative POSIX form results use, so they do not leak host paths."""
    root = real_path(ctx.root)
    try:
        relative = real_path(path).relative_to(root)
    except ValueError:
        return path.as_posix()
    return relative.as_posix() or "."


def overlay_text(ctx: ToolContext, path: Path) -> str | None:
    """The text ``write_file`` proposed for ``path`` in this run, if any."""
    for key, text in ctx.overlay.items():
        if real_path(key) == path:
            return text
    return None


def read_text(ctx: ToolContext, path: Path) -> str:
    """The file's text as this run sees it: the overlay's proposal, else the editor's
    buffer (unsaved changes included) when the editor has it open, else the disk."""
    proposed = overlay_text(ctx, path)
    if proposed is not None:
        return proposed
    if ctx.ty is not None:
        buffer = ctx.ty.open_document_text(path.as_uri())
        if buffer is not None:
            return buffer
    shown = display_path(ctx, path)
    if path.is_dir():
        raise ToolFailure(f"{shown} is a folder", exception=IsADirectoryError)
    if not os.path.lexists(path):
        raise ToolFailure(f"no such file: {shown}", exception=FileNotFoundError)
    try:
        # Bytes decoded as they are: line endings stay (see lines.read_exact); a FIFO,
        # a device or a file over max_read_bytes is refused without blocking.
        return read_regular_file(path, ctx.max_read_bytes, shown).decode("utf-8")
    except OSError as exc:
        raise ToolFailure(exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise ToolFailure(f"{display_path(ctx, path)} is not UTF-8 text ({exc.reason})") from exc


def is_probably_text(path: Path) -> bool:
    """Whether ``search`` should look inside: no NUL byte in the first 8 KiB, like git."""
    try:
        with path.open("rb") as handle:
            return b"\0" not in handle.read(8192)
    except OSError:
        return False


_MAX_GITIGNORE_BYTES = 1_000_000
"""A .gitignore larger than this is not read (a real one is a few kB)."""


class _Ignored:
    """``.gitignore`` patterns collected while walking, each rebased onto root-relative paths.

    A folder's .gitignore is read when the walk enters the folder, so it applies to that
    folder's entries and everything below, as git applies it. A .gitignore that is not a
    regular file inside the workspace (a symlink pointing out of it, a FIFO) is not read.
    """

    def __init__(self, root: Path) -> None:
        self._root = os.path.realpath(root)
        self._lines: list[str] = []
        self._spec = pathspec.GitIgnoreSpec.from_lines([])

    def enter(self, folder: Path, relative: str) -> None:
        """Pick up ``folder/.gitignore`` (``relative`` is the folder's ``a/b/`` form)."""
        path = folder / ".gitignore"
        real = os.path.realpath(path)
        if not (real == self._root or real.startswith(self._root + os.sep)):
            return
        try:
            text = read_regular_file(path, _MAX_GITIGNORE_BYTES, ".gitignore")
        except OSError:
            return
        added = False
        for raw in text.decode("utf-8", errors="replace").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line[1:] if negate else line
            # A pattern with an inner slash is anchored to its .gitignore's folder.
            anchored = "/" in pattern.rstrip("/")
            pattern = pattern.lstrip("/")
            rebased = relative + pattern if anchored or not relative else f"{relative}**/{pattern}"
            self._lines.append(("!" if negate else "") + rebased)
            added = True
        if added:
            self._spec = pathspec.GitIgnoreSpec.from_lines(self._lines)

    def match(self, relative: str) -> bool:
        """Whether git would ignore the root-relative path (folders end in ``/``)."""
        return bool(self._lines) and self._spec.match_file(relative)


def walk(ctx: ToolContext, under: Path) -> Walk:
    """Files under ``under`` that git would not ignore, plus the overlay's new files.

    Blocking (run it through ``containment.off_loop``); safe on hostile trees (see
    ``containment.walk_files``): ``Walk.truncated`` says when the walk was cut short.
    Symlinks are listed only when they resolve inside the workspace, so a listing never
    names something a read would refuse.
    """
    root = Path(os.path.realpath(ctx.root))
    found = Walk(root=root)
    if under.is_file():
        found.names.append(under.relative_to(root).as_posix())
    elif under.is_dir():
        ignored = _Ignored(root)
        # Patterns of the folders above ``under`` apply too.
        for parent in reversed([under, *under.parents]):
            if parent != under and parent.is_relative_to(root):
                relative = parent.relative_to(root).as_posix()
                ignored.enter(parent, "" if relative == "." else relative + "/")
        found = walk_files(
            root,
            under,
            skip_dir=lambda rel: rel.rsplit("/", 2)[-2] in _ALWAYS_SKIPPED or ignored.match(rel),
            skip_file=ignored.match,
            on_dir=ignored.enter,
        )
    seen = set(found.names)
    for key in sorted(ctx.overlay):
        path = Path(os.path.realpath(key))
        if path == under or path.is_relative_to(under):
            name = path.relative_to(root).as_posix()
            if name not in seen:
                found.names.append(name)
    return found


def iter_files(ctx: ToolContext, under: Path) -> Iterator[Path]:
    """The files of ``walk(ctx, under)`` (blocking; tools call ``walk`` off the loop)."""
    yield from walk(ctx, under).files


def require_trust(ctx: ToolContext, tool_name: str) -> None:
    """Refuse ``tool_name`` unless the workspace is trusted: it would run the project's code.

    Raises ``ToolFailure`` naming the setting that grants trust.
    """
    if not ctx.trusted:
        raise ToolFailure(
            f"{tool_name} runs the project's own code, and this workspace is not trusted; "
            "trust it in the editor (VS Code: workspace trust; Neovim: its folder in "
            "setup's 'trusted'; other editors: the 'punie.trust' setting) or pass --trust "
            "on the command line"
        )
