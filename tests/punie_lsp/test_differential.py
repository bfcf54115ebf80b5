"""punie-lsp answers exactly as ``ty server`` does, on a real library's source.

The workspace is an installed library's package in this venv (``cattrs``: typed,
generic code nobody here wrote). A seeded random plan asks every request kind
punie-lsp forwards at random positions, of ty directly and of punie-lsp, and every
answer must be equal (``tests/differential.py`` says what is normalised and why).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cattrs
import pytest

from tests.differential import NOT_COMPARED, compare

pytestmark = pytest.mark.timeout(300)

LIBRARY = Path(cattrs.__file__).parent


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy, so renames and ty's own files can never touch the installed library."""
    root = tmp_path_factory.mktemp("differential") / LIBRARY.name
    shutil.copytree(LIBRARY, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("seed", [14])
async def test_punie_answers_as_ty_does(workspace: Path, seed: int) -> None:
    files = [workspace / name for name in ("converters.py", "gen/__init__.py", "dispatch.py")]
    totals = await compare(workspace, files, seed=seed, per_file=4)
    assert not totals.differing, totals.differing[:3]
    missing = totals.forwarded - totals.covered - set(NOT_COMPARED)
    assert not missing, f"forwarded kinds the plan never asked: {sorted(missing)}"
    assert totals.total > 200
