"""Run ty so that it sees the user's Python environment, never punie-lsp's own.

ty resolves third-party imports against the environment the editor names (its own
``environment.python`` setting, the interpreter VS Code's Python extension selected),
else one it discovers: ``VIRTUAL_ENV``, ``CONDA_PREFIX``, the project's ``.venv``, a
``python3`` on ``PATH``. With no environment, or with only a local ``.venv``, it *adds*
"site-packages from ty's environment": the environment its own executable lives in
(``std::env::current_exe()``; ty's ``self_environment_search_paths``). Installed as a
wheel, that executable is ``<punie-lsp's venv>/bin/ty``, so a project with an empty
``.venv`` would resolve ``import pygls`` against punie-lsp's dependencies; ``uv run``
also puts punie-lsp's venv into ``VIRTUAL_ENV`` and at the head of ``PATH``.

So every ty punie-lsp starts (the editor's child, the tools' own ``ty server``, ``ty
check``) runs as ``ty_executable()`` with ``ty_environment()``:

- the wheel's binary hard-linked (copied when linking is impossible) into a cache
  folder that is no Python environment, so ty's own environment contributes nothing;
- ``VIRTUAL_ENV`` and ``CONDA_PREFIX`` dropped when they name punie-lsp's environment,
  and punie-lsp's ``bin`` folder dropped from ``PATH``; a user's own values stay.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

__all__ = ["ty_environment", "ty_executable"]

logger = logging.getLogger(__name__)


def _wheel_binary() -> Path:
    """The ty wheel's binary: beside our interpreter when installed there (a venv, a
    ``uv tool``), else where ``ty.find_ty_bin`` looks (it imports ``sysconfig``, ~0.1 s)."""
    name = "ty.exe" if sys.platform == "win32" else "ty"
    beside = Path(sys.prefix) / ("Scripts" if sys.platform == "win32" else "bin") / name
    if beside.is_file():
        return beside
    from ty import find_ty_bin

    return Path(find_ty_bin())


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "punie-lsp" / "ty"


@cache
def ty_executable() -> str:
    """The ``ty`` binary to run: the installed wheel's, placed outside any environment.

    The copy lives in ``$XDG_CACHE_HOME/punie-lsp/ty/<size>-<mtime>/ty`` (``~/.cache``
    by default; the system temporary folder if that cannot be written), keyed by the
    wheel's binary so an upgraded ty gets a new one. When neither place works the
    wheel's own path is returned and a warning logged: ty then still runs, with
    punie-lsp's packages visible to it.
    """
    source = _wheel_binary()
    stat = source.stat()
    key = f"{stat.st_size}-{stat.st_mtime_ns}"
    for root in (_cache_root(), Path(tempfile.gettempdir()) / "punie-lsp-ty"):
        target = root / key / source.name
        try:
            if not (target.is_file() and target.stat().st_size == stat.st_size):
                _place(source, target)
            return str(target)
        except OSError as exc:
            logger.debug("cannot place ty at %s: %s", target, exc)
    logger.warning(
        "could not place ty outside punie-lsp's environment; its packages are visible to ty"
    )
    return str(source)


def _place(source: Path, target: Path) -> None:
    """Hard-link (else copy) ``source`` to ``target`` atomically: concurrent starts agree."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        os.link(source, partial)
    except OSError:  # another file system, or links not allowed: a copy works as well
        shutil.copy2(source, partial)
    os.replace(partial, target)


@cache
def _own_prefixes() -> frozenset[str]:
    """punie-lsp's environment, spelled as given and with links resolved."""
    prefixes = {sys.prefix, sys.exec_prefix}
    return frozenset(
        os.path.normpath(p) for p in prefixes | {os.path.realpath(p) for p in prefixes}
    )


def _names_own(value: str | None, own: frozenset[str]) -> bool:
    return bool(value) and os.path.normpath(value or ".") in own


def ty_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment for ty: ``base`` (``os.environ``) without punie-lsp's venv.

    Only punie-lsp's own environment (``sys.prefix``) is removed; a ``VIRTUAL_ENV`` or
    ``PATH`` entry naming any other environment is the user's choice and stays.
    """
    env = dict(os.environ if base is None else base)
    own = _own_prefixes()
    if sys.prefix == sys.base_prefix:
        return env  # punie-lsp runs without a venv of its own: nothing of ours to hide
    for name in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        if _names_own(env.get(name), own):
            del env[name]
    if "PATH" in env:
        # Compared as strings (no file-system calls: this runs before every ty start).
        kept = [
            entry
            for entry in env["PATH"].split(os.pathsep)
            if not (entry and os.path.dirname(os.path.normpath(entry)) in own)
        ]
        env["PATH"] = os.pathsep.join(kept)
    return env
