"""A function-local import says why it is not at the top (ARCHITECTURE, "Layers").

Importing inside a function is kept only for a measured start-up cost (mlx-lm ~1.3 s,
LibCST ~1 s, the OpenAI client ~3 s, Pydantic AI for a CLI's ``--help``). The reason
must be written where a reader meets the import: a comment on the import or just above
its block, the function's docstring, or a module docstring that says its imports are
made inside the functions (``DEFERRED`` lists the wordings).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "punie_lsp", "punie_validators", "sandbox", "training", "typed_tools")
DEFERRED = ("imported inside the functions", "imports its module", "imports what it needs")
"""Module docstring wordings that give the reason for every import inside its functions."""


def unexplained(source: str) -> list[int]:
    """Lines of function-local imports in ``source`` that give no reason."""
    tree = ast.parse(source)
    lines = source.splitlines()
    module_doc = " ".join((ast.get_docstring(tree) or "").split())
    if any(wording in module_doc for wording in DEFERRED):
        return []
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if "import" in (ast.get_docstring(function) or "").lower():
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom) and not _commented(lines, node):
                found.append(node.lineno)
    return sorted(set(found))


def _commented(lines: list[str], node: ast.Import | ast.ImportFrom) -> bool:
    """A comment on the import, on another import of its block, or right above the block."""
    index = node.lineno - 1
    if any("#" in lines[i] for i in range(index, (node.end_lineno or node.lineno))):
        return True
    while index > 0:
        above = lines[index - 1].strip()
        if above.startswith("#") or "  # " in lines[index - 1]:
            return True
        if not above.startswith(("from ", "import ", ")")) and not above.endswith(","):
            return False
        index -= 1
    return False


def test_the_check_wants_a_reason_for_a_deferred_import() -> None:
    bare = "def f():\n    import json\n    return json\n"
    commented = "def f():\n    # costly: ~2 s\n    import json\n    import re\n    return json\n"
    inline = "def f():\n    import json  # costly\n    return json\n"
    documented = 'def f():\n    """Imports json on first use."""\n    import json\n'
    module = '"""Things; mlx is imported inside the functions (slow)."""\ndef f():\n    import x\n'
    assert unexplained(bare) == [2]
    assert unexplained(commented) == []
    assert unexplained(inline) == []
    assert unexplained(documented) == []
    assert unexplained(module) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_deferred_import_says_why(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / package).rglob("*.py"))
        if "sample_project" not in path.parts
        and (lines := unexplained(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
