"""The workspace as ``run_command``'s emulated programs see it: disk, buffers and overlay.

``read_file`` sees the run's proposed files (the overlay) and the editor's unsaved
buffers before the disk; so must ``grep``, ``cat`` or ``find`` run through
``run_command``, or a program that proposes a file and then greps for it would be told
it does not exist. ``View`` answers the few questions those programs ask (is it a
folder, what is in it, what is its text) with that precedence, and confines every
path to the workspace as ``resolve`` does.

Walks skip what no tool walks into (``.git``, ``.venv``, ``node_modules`` …, see
``workspace._ALWAYS_SKIPPED``), do not follow symlinked folders (``grep -r``'s and
``find``'s default), list only regular files (never a FIFO or a device, which would
block a reader), stop descending at ``MAX_WALK_DEPTH``, and stop with an error at
``containment.MAX_WALK_ENTRIES`` entries or the call's deadline.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from typed_tools import containment
from typed_tools.base import ToolContext
from typed_tools.containment import current_deadline, read_regular_file, real_path
from typed_tools.workspace import _ALWAYS_SKIPPED, ToolFailure, overlay_text, read_text, resolve

__all__ = ["MAX_WALK_DEPTH", "View"]

MAX_WALK_DEPTH = 64
"""Folders nested deeper than this are not entered (a guard, not a limit a project meets)."""


@dataclass
class View:
    """One command's view of the workspace, from the working folder ``cwd``."""

    ctx: ToolContext
    cwd: Path
    """Absolute, resolved, inside the workspace."""
    _proposed_dirs: set[Path] = field(default_factory=set)
    _visited: int = 0

    def __post_init__(self) -> None:
        root = real_path(self.ctx.root)
        for key in self.ctx.overlay:
            path = real_path(key)
            for parent in path.parents:
                if parent == root or not parent.is_relative_to(root):
                    break
                self._proposed_dirs.add(parent)

    def path(self, argument: str) -> Path:
        """The resolved path an argument names (relative to ``cwd``); outside: refused."""
        raw = Path(argument)
        return resolve(self.ctx, raw if raw.is_absolute() else self.cwd / raw)

    def proposed(self, path: Path) -> str | None:
        return overlay_text(self.ctx, path)

    def is_dir(self, path: Path) -> bool:
        return path in self._proposed_dirs or (path.is_dir() and self.proposed(path) is None)

    def is_file(self, path: Path) -> bool:
        if self.proposed(path) is not None:
            return True
        try:
            return stat.S_ISREG(path.stat().st_mode)
        except OSError:
            return False

    def exists(self, path: Path) -> bool:
        return self.is_file(path) or self.is_dir(path) or path.is_symlink()

    def children(self, folder: Path) -> list[tuple[str, Path]]:
        """Names and resolved paths in ``folder``, sorted by name; links leaving the
        workspace and special files are left out."""
        entries: dict[str, Path] = {}
        root = real_path(self.ctx.root)
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        for name in names:
            candidate = folder / name
            target = real_path(candidate)
            if not target.is_relative_to(root):
                continue
            if not os.path.exists(candidate):
                continue  # a dangling link or a symlink loop (ELOOP): nothing to read
            if candidate.is_symlink() and target.is_dir():
                entries[name] = candidate  # listed, never entered
                continue
            entries[name] = candidate
        for key in self.ctx.overlay:
            path = real_path(key)
            if path.parent == folder:
                entries[path.name] = path
        for proposed in self._proposed_dirs:
            if proposed.parent == folder:
                entries[proposed.name] = proposed
        return sorted(entries.items())

    def walk(self, top: Path, name: str, depth: int = 0):
        """``(display name, path, depth)`` for ``top`` and everything under it, pre-order.

        Display names join the argument as given with the names below it, as ``grep -r``
        and ``find`` print them (``src/`` + ``a.py`` → ``src/a.py``).
        """
        yield name, top, depth
        self._visited += 1
        if self._visited > containment.MAX_WALK_ENTRIES:
            raise ToolFailure(
                f"stopped after {containment.MAX_WALK_ENTRIES} entries (the walk's budget); "
                "name a smaller folder"
            )
        current_deadline().check()
        if depth >= MAX_WALK_DEPTH or not self.is_dir(top) or (top.is_symlink() and depth):
            return
        for child_name, child in self.children(top):
            if child_name in _ALWAYS_SKIPPED and self.is_dir(child):
                continue
            if not (self.is_dir(child) or self.is_file(child) or child.is_symlink()):
                continue  # FIFOs, sockets, devices: a reader would block or get nonsense
            yield from self.walk(child, join(name, child_name), depth + 1)

    def text(self, path: Path) -> str:
        """The text a read sees (overlay, buffer, disk); ``ToolFailure`` if not UTF-8."""
        return read_text(self.ctx, path)

    def data(self, path: Path) -> bytes:
        """The bytes a read sees: the proposal or buffer encoded as UTF-8, else the disk."""
        proposed = self.proposed(path)
        if proposed is not None:
            return proposed.encode()
        if self.ctx.ty is not None:
            buffer = self.ctx.ty.open_document_text(path.as_uri())
            if buffer is not None:
                return buffer.encode()
        try:
            return read_regular_file(path, self.ctx.max_read_bytes, path.name)
        except OSError as exc:
            raise ToolFailure(f"{path.name}: {exc.strerror}") from exc


def join(name: str, child: str) -> str:
    """``name/child`` without doubling a slash the argument already ends with."""
    if name in ("", "."):
        return child if name == "" else f"./{child}"
    return f"{name}{child}" if name.endswith("/") else f"{name}/{child}"
