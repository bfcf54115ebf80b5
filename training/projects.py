"""Sample projects prepared for generating examples: a copy with planted bugs and git history.

``prepare_project`` copies a project (or an installed package's source) into a
temporary folder, plants type errors for check-and-fix examples, commits, and leaves
one uncommitted change for the git tools; ``PreparedProject`` records the facts templates
draw on (files, top-level functions and classes, the planted bugs).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import random
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PreparedProject",
    "Target",
    "copy_project",
    "package_source",
    "prepare_project",
    "prepared_projects",
]


@dataclass(frozen=True)
class Target:
    file: str
    symbol: str


_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Punie Trainer",
    "GIT_AUTHOR_EMAIL": "trainer@example.invalid",
    "GIT_COMMITTER_NAME": "Punie Trainer",
    "GIT_COMMITTER_EMAIL": "trainer@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T12:00:00+00:00",
}
"""Fixed identity and dates: ``git_log`` results (hashes included) are reproducible."""


@dataclass(frozen=True, kw_only=True)
class PreparedProject:
    """A prepared workspace and the facts templates draw on."""

    root: Path
    """The temporary copy the tools run against."""
    files: list[str]
    """Python files, relative, sorted."""
    functions: dict[str, list[str]]
    """Top-level function names per file."""
    classes: dict[str, list[str]]
    """Top-level class names per file."""
    buggy: list[tuple[str, str, str]]
    """Planted type errors: (file, wrong line, fixed line)."""

    def target(self, rng: random.Random) -> Target:
        """A random file with a random symbol defined in it."""
        candidates = [f for f in self.files if self.functions.get(f) or self.classes.get(f)]
        file = rng.choice(candidates or self.files)
        symbols = self.functions.get(file, []) + self.classes.get(file, [])
        return Target(file=file, symbol=rng.choice(symbols) if symbols else "")


_BUGS = [
    ("def {name}() -> int:\n    return {word!r}\n", "    return {word!r}", "    return {size}"),
    ("def {name}(n: int) -> str:\n    return n * 2\n", "    return n * 2", "    return str(n * 2)"),
    ("def {name}() -> list[int]:\n    return None\n", "    return None", "    return []"),
]
_NAMES = ["label", "count", "total", "width", "score", "limit", "offset", "title", "ratio"]


def copy_project(source: Path, into: Path, *, leave_out: Sequence[str] = ()) -> Path:
    """Copy a project for training or evaluation without leaving it or hanging.

    Symbolic links are copied as links, never followed: following them (copytree's
    default) copied whatever a link named, ``/`` or a file such as ``~/.ssh/id_rsa``,
    into the copy the tools then read and the dataset records. In the copy a link out
    of the workspace is refused by the tools' containment, as in the editor. FIFOs,
    sockets and devices are left out: opening a FIFO to copy it waited forever.
    ``leave_out`` holds glob patterns of names not copied (``.git``, ``__pycache__``).
    """
    patterns = shutil.ignore_patterns(*leave_out)

    def not_copied(folder: str, names: list[str]) -> set[str]:
        skipped = set(patterns(folder, names))
        for name in names:
            try:
                mode = os.lstat(os.path.join(folder, name)).st_mode
            except OSError:  # gone since the listing
                skipped.add(name)
                continue
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                skipped.add(name)
        return skipped

    return Path(shutil.copytree(source, into, symlinks=True, ignore=not_copied))


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, **_GIT_ENV}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def prepare_project(
    source: Path, into: Path, *, rng: random.Random, bugs: int = 3
) -> PreparedProject:
    """Copy ``source`` to ``into``, plant ``bugs`` type errors, commit, leave one change.

    The planted errors are what check-and-fix examples repair; the uncommitted change
    gives ``git_status``/``git_diff`` something to report.
    """
    copy_project(source, into, leave_out=("__pycache__", "*.pyc", ".git"))
    package = next((p for p in sorted(into.iterdir()) if (p / "__init__.py").exists()), into)
    buggy: list[tuple[str, str, str]] = []
    for index in range(bugs):
        template, wrong, right = _BUGS[index % len(_BUGS)]
        name, word = rng.choice(_NAMES) + f"_{index}", rng.choice(_NAMES)
        values = {"name": name, "word": word, "size": len(word)}
        path = package / f"planted_{index}.py"
        path.write_text(template.format(**values))
        relative = path.relative_to(into).as_posix()
        buggy.append((relative, wrong.format(**values), right.format(**values)))
    _git(into, "init", "-q", "-b", "main")
    _git(into, "add", ".")
    _git(into, "commit", "-q", "-m", "Initial import")
    notes = into / "NOTES.md"
    notes.write_text("# Notes\n\nWork in progress.\n")
    _git(into, "add", "NOTES.md")
    _git(into, "commit", "-q", "-m", "Add notes")
    notes.write_text("# Notes\n\nWork in progress: review the planted modules.\n")
    files = sorted(p.relative_to(into).as_posix() for p in into.rglob("*.py"))
    functions: dict[str, list[str]] = {}
    classes: dict[str, list[str]] = {}
    for file in files:
        try:
            tree = ast.parse((into / file).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):  # not Python 3 in UTF-8: no examples of it
            continue
        functions[file] = [
            n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        classes[file] = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    return PreparedProject(
        root=into, files=files, functions=functions, classes=classes, buggy=buggy
    )


def package_source(name: str) -> Path:
    """The source directory of an installed package (e.g. ``iniconfig``)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{name!r} is not an installed package with a source directory")
    return Path(next(iter(spec.submodule_search_locations)))


@contextmanager
def prepared_projects(
    sources: Sequence[Path], *, seed: int = 0
) -> Generator[list[PreparedProject]]:
    """Prepared copies of ``sources`` in a temporary directory, removed afterwards.

    A package directory (one with ``__init__.py``) is copied under a folder of its own,
    so it stays importable as a package inside the workspace.
    """
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="punie-data-") as tmp:
        prepared = []
        for index, source in enumerate(sources):
            staging = Path(tmp) / f"src-{index}"
            if (source / "__init__.py").exists():
                staging.mkdir()
                copy_project(source, staging / source.name)
            else:
                staging = source
            prepared.append(prepare_project(staging, Path(tmp) / f"project-{index}", rng=rng))
        yield prepared
