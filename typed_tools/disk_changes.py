"""What changed on disk under a workspace since last time, by a stat scan of its Python files.

A ty server in ``workspace`` diagnostic mode analyses the files on disk, but it learns
that one changed only from the client (``workspace/didChangeWatchedFiles``): it
registers file watchers with the editor, and a client of our own has none. Before each
workspace-wide question, ``DiskScan.changes`` stats the ``.py``/``.pyi`` files (about
1 ms for 450 modules here) and names the ones created, changed or deleted since the
previous scan, for the connection to tell ty.

A file rewritten with the same size within one tick of the file system's clock (a few
milliseconds on Linux) keeps its stat and is missed; an editor saving by replacement
changes the inode, which is compared too.

Directories ty never analyses by default (hidden ones such as ``.git`` and ``.venv``,
``__pycache__``, ``node_modules``, ``site-packages``) are not descended into, nor are
symbolic links to directories (no loops); only regular files count.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["Change", "DiskScan"]

Change = tuple[str, Literal["created", "changed", "deleted"]]
"""A file's path and what happened to it."""

_SKIPPED = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})
"""Directory names never descended into, besides hidden ones (``.git``, ``.venv``…)."""

_SUFFIXES = (".py", ".pyi")


def _scan(root: str) -> dict[str, tuple[int, int, int]]:
    """``path -> (mtime_ns, size, inode)`` of every Python file under ``root``."""
    found: dict[str, tuple[int, int, int]] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = os.scandir(folder)
        except OSError:  # vanished or unreadable: nothing in it counts
            continue
        with entries:
            for entry in entries:
                name = entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not name.startswith(".") and name not in _SKIPPED:
                            stack.append(entry.path)
                    elif name.endswith(_SUFFIXES):
                        info = entry.stat(follow_symlinks=True)
                        if stat.S_ISREG(info.st_mode):
                            found[entry.path] = (info.st_mtime_ns, info.st_size, info.st_ino)
                except OSError:  # a dangling link or a file removed meanwhile
                    continue
    return found


@dataclass
class DiskScan:
    """The Python files under ``root`` as last seen, and what changed since."""

    root: Path
    """The folder scanned."""
    files: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """``path -> (mtime_ns, size, inode)`` at the last scan."""

    @classmethod
    def take(cls, root: Path) -> DiskScan:
        """A first scan, to compare later ones with."""
        return cls(root, _scan(str(root)))

    def changes(self) -> list[Change]:
        """Scan again: files created, changed (time, size or inode) and deleted since last time."""
        now = _scan(str(self.root))
        before, self.files = self.files, now
        found: list[Change] = []
        for path, seen in now.items():
            previous = before.get(path)
            if previous is None:
                found.append((path, "created"))
            elif previous != seen:
                found.append((path, "changed"))
        found.extend((path, "deleted") for path in before.keys() - now.keys())
        return found
