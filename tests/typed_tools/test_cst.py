"""cst_find_pattern, cst_rename, cst_add_import: Punie's results, over the run's text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from typed_tools import ToolContext
from typed_tools.cst import cst_add_import, cst_find_pattern, cst_rename
from typed_tools.files import read_file, write_file

SOURCE = '''"""Components."""
from dataclasses import dataclass


@dataclass
class Greeting:
    name: str

    def __call__(self) -> str:
        return render(f"Hello {self.name}")  # Greeting renders


def render(text):
    return text.upper()


greeting = Greeting("x")
print(greeting.name, "Greeting")
'''


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "components.py").write_text(SOURCE)
    (tmp_path / "broken.py").write_text("def f(:\n")
    return ToolContext(root=tmp_path)


async def test_find_pattern_reports_positions_snippets_and_types(ctx: ToolContext) -> None:
    classes = await cst_find_pattern(ctx, "src/components.py", "ClassDef")
    assert classes.success and classes.match_count == 1
    [match] = classes.matches
    # LibCST's position of a decorated class is its ``class`` line, while its code (the
    # snippet's source, as in Punie) starts with the decorator. Columns count from 0.
    assert (match.line, match.column, match.node_type) == (6, 0, "ClassDef")
    assert match.code_snippet == "@dataclass"

    calls = await cst_find_pattern(ctx, "src/components.py", "call:render")
    assert [(c.line, c.column, c.code_snippet) for c in calls.matches] == [
        (10, 15, 'render(f"Hello {self.name}")')
    ]
    decorators = await cst_find_pattern(ctx, "src/components.py", "decorator:dataclass")
    assert [d.line for d in decorators.matches] == [5]
    imports = await cst_find_pattern(ctx, "src/components.py", "import:dataclasses")
    assert [i.code_snippet for i in imports.matches] == ["from dataclasses import dataclass"]
    functions = await cst_find_pattern(ctx, "src/components.py", "FunctionDef")
    assert [f.code_snippet for f in functions.matches] == [
        "def __call__(self) -> str:",
        "def render(text):",
    ]


async def test_find_pattern_failures_are_parse_errors(ctx: ToolContext) -> None:
    unknown = await cst_find_pattern(ctx, "src/components.py", "Lambda")
    assert not unknown.success and unknown.parse_error is not None
    assert "unknown pattern 'Lambda'" in unknown.parse_error and "call:NAME" in unknown.parse_error
    broken = await cst_find_pattern(ctx, "broken.py", "Call")
    assert not broken.success and "broken.py does not parse" in (broken.parse_error or "")
    missing = await cst_find_pattern(ctx, "nope.py", "Call")
    assert not missing.success and missing.parse_error == "no such file: nope.py"


async def test_rename_returns_the_source_and_writes_nothing(ctx: ToolContext) -> None:
    result = await cst_rename(ctx, "src/components.py", "Greeting", "Welcome")
    assert result.success and result.rename_count == 2  # the class and its use, not strings
    assert result.modified_source is not None
    assert "class Welcome:" in result.modified_source
    assert 'greeting = Welcome("x")' in result.modified_source
    assert "# Greeting renders" in result.modified_source
    assert 'print(greeting.name, "Greeting")' in result.modified_source
    assert await read_file(ctx, "src/components.py") == SOURCE  # nothing proposed
    assert not ctx.overlay

    bad = await cst_rename(ctx, "src/components.py", "Greeting", "not valid")
    assert not bad.success and "not a Python identifier" in (bad.parse_error or "")


async def test_rename_reads_what_the_run_proposed(ctx: ToolContext) -> None:
    await write_file(ctx, "src/components.py", "render = 1\nprint(render)\n")
    result = await cst_rename(ctx, "src/components.py", "render", "draw")
    assert result.modified_source == "draw = 1\nprint(draw)\n"


async def test_add_import_is_idempotent_and_keeps_formatting(ctx: ToolContext) -> None:
    added = await cst_add_import(ctx, "src/components.py", "from typing import Optional")
    assert added.success and added.import_added
    assert added.modified_source is not None
    assert "from typing import Optional\n" in added.modified_source
    assert added.modified_source.startswith('"""Components."""\n')
    assert added.modified_source.endswith(SOURCE.split("\n\n\n", 1)[1])

    again = await cst_add_import(ctx, "src/components.py", "from dataclasses import dataclass")
    assert again.success and not again.import_added and again.modified_source == SOURCE

    several = await cst_add_import(ctx, "src/components.py", "from typing import List, Any as A")
    assert several.modified_source is not None
    assert "from typing import Any as A, List" in several.modified_source
    module = await cst_add_import(ctx, "src/components.py", "import os")
    assert module.modified_source is not None and "import os\n" in module.modified_source

    wrong = await cst_add_import(ctx, "src/components.py", "print('x')")
    assert not wrong.success and "not an import statement" in (wrong.parse_error or "")
    assert not ctx.overlay


def test_the_server_starts_without_importing_libcst() -> None:
    """LibCST takes ~1 s to import: the server's start-up must not pay for it."""
    code = "import sys, punie_lsp.server.language_server; print('libcst' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
