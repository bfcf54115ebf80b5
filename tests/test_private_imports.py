"""No package of ours imports a library's private module (``pydantic_ai._utils``, ``_pytest…``).

import-linter's ``private_modules`` contract keeps our own ``_modules`` inside their
packages; libraries' are outside its graph, so this test reads every import, module level
and function-local, of the shipped packages. A library's private module changes without
notice; what upstream lacks is wrapped in one named place (``*/_upstream.py``) instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "punie_lsp", "punie_validators", "sandbox", "training", "typed_tools")
OURS = {*PACKAGES}


def private_imports(source: str) -> list[str]:
    """Dotted names of private modules of other packages that ``source`` imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] in OURS:
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in parts):
                found.append(name)
    return sorted(set(found))


def test_the_check_sees_module_level_and_function_local_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "from pydantic_ai import _utils\n"
        "import os\n"
        "def f():\n"
        "    from _pytest._code.code import ReprEntryNative\n"
        "    from agent._mlx_chat import chat_tools\n"
    )
    assert private_imports(source) == [
        "_pytest._code.code",
        "_pytest._code.code.ReprEntryNative",
        "pydantic_ai._utils",
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_module_of_a_library_is_imported(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / package).rglob("*.py"))
        if "sample_project" not in path.parts
        and (names := private_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
