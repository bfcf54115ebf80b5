"""Fixture projects built fresh in tmp dirs: real files for real ty, ruff, pytest and git."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from typed_tools import ToolContext, TyClient, TyClientPool, default_pool

PROJECT = {
    "pyproject.toml": (
        '[project]\nname = "demo"\nversion = "0"\n\n[tool.ruff.lint]\nselect = ["F"]\n'
    ),
    "demo/__init__.py": "",
    # Line 5: a type error after non-ASCII text, so columns must count characters.
    "demo/calc.py": (
        "def add(a: int, b: int) -> int:\n"
        '    """Add two numbers."""\n'
        "    return a + b\n\n"
        'label: int = "é😀"\n'
    ),
    # A fixable lint error (F401) and uses of add.
    "demo/use.py": "import os\nfrom demo.calc import add\n\nTOTAL = add(1, 2)\n",
    "tests/test_calc.py": (
        "from demo.calc import add\n\n\n"
        "def test_passes():\n    assert add(1, 2) == 3\n\n\n"
        "def test_fails():\n    assert add(2, 2) == 5\n"
    ),
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "project", PROJECT)


@pytest.fixture
def ctx(project: Path) -> ToolContext:
    return ToolContext(root=project, timeout_seconds=30, trusted=True)


@pytest.fixture
async def ty_pool() -> AsyncIterator[TyClientPool]:
    pool = TyClientPool()
    yield pool
    await pool.stop_all()


@pytest.fixture
async def ty(project: Path, ty_pool: TyClientPool) -> TyClient:
    return await ty_pool.get(project)


@pytest.fixture
async def stop_default_pool() -> AsyncIterator[None]:
    """For tests that let navigation tools start the process-wide ty themselves."""
    yield
    await default_pool().stop_all()


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
