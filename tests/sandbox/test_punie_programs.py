"""Punie's 26 functions as Punie's programs call them, through the sandbox (Code Mode).

The programs are written here in the style of Punie's training data (positional
arguments in Punie's order, ``.success`` read as Punie's verdict, ``json`` without an
import, text tools whose output is split and printed) and run against a small project
with a type error, a lint violation, a failing test, git history and tdom/svcs code.
Each program prints; the assertion is on what it printed, which is what a Punie-tuned
model reads back.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agent.code_mode import CodeModeTools, run_code
from sandbox import SandboxLimits, SandboxPool
from typed_tools import ToolContext, TyClientPool

FILES = {
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0"\n',
    "src/shop/__init__.py": "",
    "src/shop/models.py": (
        "class Order:\n"
        '    """An order."""\n\n'
        "    def total(self) -> int:\n"
        "        return 1\n\n\n"
        "def make_order() -> Order:\n"
        "    return Order()\n"
    ),
    "src/shop/views.py": (
        "import os\n"
        "from shop.models import Order, make_order\n\n"
        'count: int = "three"\n'
        "order = make_order()\n"
        "print(order.total())\n"
    ),
    "src/shop/clean.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
    "src/shop/components.py": (
        "from dataclasses import dataclass\n\n"
        "from tdom import Node, html\n\n\n"
        "@dataclass\n"
        "class Card:\n"
        "    title: str\n\n"
        "    def __call__(self) -> Node:\n"
        '        return html(f"<div>{self.title}</div>")\n'
    ),
    "src/shop/services.py": (
        "from dataclasses import dataclass\n\n"
        "from svcs_di import Inject, injectable\n\n\n"
        "@injectable\n"
        "@dataclass\n"
        "class Orders:\n"
        "    db: Inject[Database]\n"
    ),
    "src/shop/routes.py": 'routes = [Route("/orders/{id}", None), Route("health", None)]\n',
    "src/shop/middleware.py": (
        '@middleware(categories=["auth"])\n'
        "class Auth:\n"
        "    def __call__(self, target, props, context):\n"
        "        return props\n"
    ),
    "tests/test_shop.py": (
        "def test_passes():\n    assert 1 + 1 == 2\n\n\ndef test_fails():\n    assert 1 + 1 == 3\n"
    ),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    env = {"GIT_AUTHOR_NAME": "Ann", "GIT_AUTHOR_EMAIL": "a@e", "GIT_COMMITTER_NAME": "Ann"}
    env |= {"GIT_COMMITTER_EMAIL": "a@e", "PATH": "/usr/bin:/bin", "HOME": str(root)}
    for words in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "Initial shop"]):
        subprocess.run(["git", *words], cwd=root, check=True, env=env)
    (root / "src/shop/clean.py").write_text(FILES["src/shop/clean.py"] + "\nVALUE = 2\n")
    return root


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def context(project: Path) -> AsyncIterator[tuple[ToolContext, SandboxPool, CodeModeTools]]:
    clients = TyClientPool()
    ty = await clients.get(project)
    async with SandboxPool() as pool:
        yield ToolContext(root=project, ty=ty, trusted=True), pool, CodeModeTools.load()
    await clients.stop_all()


PROGRAMS = [
    pytest.param(
        'content = read_file("src/shop/clean.py")\n'
        'lines = content.split("\\n")\n'
        'print(f"{len(lines)} lines; first: {lines[0]}")',
        "5 lines; first: def add(a: int, b: int) -> int:",
        id="read_file",
    ),
    pytest.param(
        'result = write_file("src/shop/new.py", "X = 1\\n")\n'
        'print(result)\nprint(read_file("src/shop/new.py"))',
        "Proposed to create src/shop/new.py (1 line); the disk is unchanged until it is "
        "applied\nX = 1\n",
        id="write_file",
    ),
    pytest.param(
        "output = run_command(\"grep -rn 'def make_order' --include='*.py' src/\")\n"
        'for line in output.strip().split("\\n"):\n    print(line)',
        "src/shop/models.py:8:def make_order() -> Order:",
        id="run_command-line",
    ),
    pytest.param(
        'files = run_command("find", args=["src", "-name", "*.py"]).splitlines()\n'
        "print(len(files))",
        "8",
        id="run_command-args",
    ),
    pytest.param(
        'result = typecheck("src/shop/views.py")\n'
        "if result.success:\n    print('No type errors')\n"
        "else:\n    for e in result.errors:\n        print(f'{e.file}:{e.line} {e.code}')",
        "src/shop/views.py:4 invalid-assignment",
        id="typecheck-errors",
    ),
    pytest.param(
        'ty = typecheck("src/shop/clean.py")\nruff = ruff_check("src/shop/clean.py")\n'
        'if ruff.success and ty.success:\n    print("All checks pass")\n'
        'else:\n    print(f"{ty.error_count} type errors, {ruff.violation_count} violations")',
        "All checks pass",
        id="typecheck-and-ruff-clean",
    ),
    pytest.param(
        'result = ruff_check("src/shop/views.py")\n'
        "if not result.success:\n"
        "    for v in result.violations:\n"
        '        print(f"{v.line}:{v.column} {v.code} fixable={v.fixable}")',
        "1:1 I001 fixable=True\n1:8 F401 fixable=True\n2:25 F401 fixable=True",
        id="ruff_check",
    ),
    pytest.param(
        'result = pytest_run("tests/")\n'
        "if not result.success:\n"
        "    for t in result.tests:\n"
        "        if t.outcome == 'failed':\n"
        "            print(f'{t.name} failed')\n"
        'print(f"passed={result.passed} failed={result.failed}")',
        "tests/test_shop.py::test_fails failed\npassed=1 failed=1",
        id="pytest_run",
    ),
    pytest.param(
        'result = goto_definition("src/shop/views.py", 5, 9, "make_order")\n'
        "if result.success:\n    loc = result.locations[0]\n"
        '    print(f"{result.symbol} at {loc.file}:{loc.line}")\n'
        'else:\n    print("Definition not found")',
        "make_order at src/shop/models.py:8",
        id="goto_definition",
    ),
    pytest.param(
        'result = find_references("src/shop/models.py", 1, 7, "Order")\n'
        "if result.success:\n"
        '    print(f"{result.reference_count} references")',
        "4 references",
        id="find_references",
    ),
    pytest.param(
        'result = hover("src/shop/models.py", 1, 7, "Order")\n'
        "if result.success:\n    print(result.language, 'An order.' in result.content)",
        "plaintext True",  # what Punie's ty client got: it declared no hover format
        id="hover",
    ),
    pytest.param(
        'result = document_symbols("src/shop/models.py")\n'
        "if result.success:\n"
        '    print(f"Found {result.symbol_count} symbols")\n'
        "    for s in result.symbols:\n"
        '        print(f"  {s.name} (kind={s.kind}) at line {s.line}")',
        "Found 3 symbols\n  Order (kind=5) at line 1\n  make_order (kind=12) at line 8",
        id="document_symbols",
    ),
    pytest.param(
        'result = workspace_symbols("make_order")\n'
        "if result.success:\n    first = result.symbols[0]\n"
        '    print(f"{first.name} in {first.file}:{first.line}")',
        "make_order in src/shop/models.py:8",
        id="workspace_symbols",
    ),
    pytest.param(
        'result = git_status(".")\n'
        "if not result.clean:\n"
        '    print(f"{result.file_count} changed: " + ", ".join(f.file for f in result.files))',
        "1 changed: src/shop/clean.py",
        id="git_status",
    ),
    pytest.param(
        'result = git_diff(".", False)\n'
        "for f in result.files:\n"
        '    print(f"{f.file}: +{f.additions} -{f.deletions} {len(f.hunks)} hunk")',
        "src/shop/clean.py: +2 -0 1 hunk",
        id="git_diff",
    ),
    pytest.param(
        'result = git_log(".", 5)\n'
        "for c in result.commits:\n"
        '    print(f"{len(c.hash) < 40} {c.author}: {c.message}")',
        "True Ann: Initial shop",
        id="git_log",
    ),
    pytest.param(
        'result = cst_find_pattern("src/shop/models.py", "FunctionDef")\n'
        "if result.success:\n"
        "    for m in result.matches:\n"
        '        print(f"{m.line}:{m.column} {m.code_snippet}")',
        "4:4 def total(self) -> int:\n8:0 def make_order() -> Order:",
        id="cst_find_pattern",
    ),
    pytest.param(
        'result = cst_rename("src/shop/models.py", "make_order", "new_order")\n'
        "if result.success and result.rename_count > 0:\n"
        '    write_file("src/shop/models.py", result.modified_source)\n'
        '    print(f"Renamed {result.rename_count} occurrences")\n'
        'print("def new_order" in read_file("src/shop/models.py"))',
        "Renamed 1 occurrences\nTrue",
        id="cst_rename",
    ),
    pytest.param(
        'result = cst_add_import("src/shop/clean.py", "from typing import Optional")\n'
        "if result.success and result.import_added:\n"
        "    print(result.modified_source.splitlines()[0])",
        "from typing import Optional",
        id="cst_add_import",
    ),
    pytest.param(
        'result = validate_component("src/shop/components.py")\n'
        "if not result.valid:\n"
        "    for issue in result.issues:\n"
        '        print(f"[{issue.severity}] {issue.rule}: line {issue.line}")',
        "[error] component-no-fstring-in-html: line 11",
        id="validate_component",
    ),
    pytest.param(
        'result = validate_escape_context("src/shop/components.py")\n'
        "print(result.domain, result.valid, [i.rule for i in result.issues])",
        "tdom False ['no-fstring-in-html']",
        id="validate_escape_context",
    ),
    pytest.param(
        'result = check_render_tree("src/shop/components.py")\nprint(result.valid)',
        "True",
        id="check_render_tree",
    ),
    pytest.param(
        'result = validate_service_registration("src/shop/services.py")\n'
        "print(result.domain, result.valid, len(result.issues))",
        "svcs True 0",
        id="validate_service_registration",
    ),
    pytest.param(
        'result = check_dependency_graph("src/shop/services.py")\nprint(result.valid)',
        "True",
        id="check_dependency_graph",
    ),
    pytest.param(
        'result = validate_injection_site("src/shop/services.py")\n'
        "for issue in result.issues:\n"
        '    print(f"[{issue.severity}] {issue.message}")',
        "[warning] Inject[Database] in 'Orders': 'Database' not found in imports",
        id="validate_injection_site",
    ),
    pytest.param(
        'result = validate_middleware_chain("src/shop/middleware.py")\n'
        "print(result.domain, result.valid)",
        "tdom-svcs True",
        id="validate_middleware_chain",
    ),
    pytest.param(
        'result = check_di_template_binding("src/shop/components.py")\nprint(result.valid)',
        "True",
        id="check_di_template_binding",
    ),
    pytest.param(
        'result = validate_route_pattern("src/shop/routes.py")\n'
        "if not result.valid:\n"
        "    for issue in result.issues:\n"
        '        print(f"Route error: {issue.message}")',
        "Route error: Route path 'health' must start with '/'",
        id="validate_route_pattern",
    ),
    pytest.param(
        'data = json.loads(json.dumps({"errors": typecheck("src/shop/views.py").error_count}))\n'
        'print(data["errors"])',
        "1",
        id="json-without-import",
    ),
    pytest.param(
        'try:\n    read_file("src/missing.py")\nexcept Exception as e:\n    print(f"Error: {e}")',
        "Error: read_file: no such file: src/missing.py",
        id="read_file-raises",
    ),
    pytest.param(
        'result = goto_definition("src/shop/missing.py", 1, 1, "x")\n'
        "print(result.success, result.parse_error)",
        "False no such file: src/shop/missing.py",
        id="parse_error-could-not-run",
    ),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("code", "printed"), PROGRAMS)
async def test_punie_program(
    context: tuple[ToolContext, SandboxPool, CodeModeTools], code: str, printed: str
) -> None:
    base, pool, tools = context
    ctx = ToolContext(root=base.root, ty=base.ty, trusted=True)
    limits = SandboxLimits(timeout_seconds=60)
    result = await run_code(code, ctx, pool=pool, tools=tools, limits=limits)
    assert result.error is None, result.error
    assert result.stdout.rstrip("\n") == printed.rstrip("\n")
