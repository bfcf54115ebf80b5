"""What tool results may show: the workspace, and installed libraries — nothing else.

ty, ruff and pytest follow symlinks, so a workspace module linked to a file outside the
workspace would put that file's text into their results, although ``read_file``
refuses to read it. ``PathVisibility`` is the one rule every tool filters by.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from typed_tools.containment import inside as _inside

__all__ = ["PathVisibility", "library_roots"]


def _ty_cache() -> Path:
    """Where ty keeps its vendored typeshed (``$XDG_CACHE_HOME/ty``, else ``~/.cache/ty``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "ty")


def _venv_library_roots(venv: Path) -> list[str]:
    """site-packages of a virtual environment and the stdlib of the Python it was made from.

    Read from ``pyvenv.cfg`` and the folder layout, never by running its interpreter
    (that would be running the project's code).
    """
    roots = [str(p) for p in (venv / "lib").glob("python3*/site-packages")]
    roots += [str(venv / "Lib" / "site-packages")]
    try:
        config = (venv / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return roots
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            prefix = Path(value.strip()).parent  # home is the base interpreter's bin/
            roots += [str(p) for p in (prefix / "lib").glob("python3*")]
            roots.append(str(prefix / "Lib"))
    return roots


@functools.lru_cache(maxsize=16)
def library_roots(root: Path) -> tuple[str, ...]:
    """The real paths whose files results may show although they are outside the workspace.

    The workspace's ``.venv`` (its site-packages and its base Python's stdlib), the
    stdlib and site-packages of the Python running punie-lsp (pytest runs with it when
    the workspace has no ``.venv``) and ty's vendored typeshed. Cached per root.
    """
    candidates = [
        *_venv_library_roots(root / ".venv"),
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        os.path.join(sys.base_prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}"),
        str(_ty_cache() / "vendored"),
    ]
    return tuple(dict.fromkeys(os.path.realpath(c) for c in candidates if os.path.isdir(c)))


class PathVisibility:
    """Which paths a tool result may name or quote: the workspace and installed libraries.

    The rule: a path reported by ty, ruff or pytest may appear in a result when its
    *real* path (symlinks resolved) is inside the workspace root, or inside a library
    root (``library_roots``: the workspace's virtual environment's site-packages and
    its base Python's stdlib, punie-lsp's Python's stdlib, ty's vendored typeshed).
    Anything else (a workspace module symlinked to ``~/.ssh/config``, another
    project's source) is dropped from results, as ``read_file`` refuses to read it.
    Answers are cached per path string: ty and ruff repeat the same file many times.
    """

    def __init__(self, root: Path, libraries: Iterable[str] | None = None) -> None:
        self._root = os.path.realpath(root)
        self._libraries = tuple(libraries) if libraries is not None else library_roots(root)
        self._cache: dict[str, str | None] = {}

    def display(self, path: str | os.PathLike[str]) -> str | None:
        """How a result names ``path`` (absolute, or relative to the root), or None when
        it may not: workspace-relative POSIX inside the workspace, the real path in a
        library. One ``realpath`` per distinct path, however often it is asked."""
        key = os.fspath(path)
        try:
            return self._cache[key]
        except KeyError:
            pass
        real = os.path.realpath(os.path.join(self._root, key))
        shown: str | None = None
        if _inside(real, self._root):
            shown = Path(os.path.relpath(real, self._root)).as_posix()
        elif any(_inside(real, lib) for lib in self._libraries):
            shown = Path(real).as_posix()
        self._cache[key] = shown
        return shown

    def visible(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` (absolute, or relative to the root) may appear in a result."""
        return self.display(path) is not None
