"""typecheck through a live ty server vs ``ty check`` per call, and p50 of every tool.

Punie spawned ``ty check`` for every ``typecheck`` call, paying for a fresh project load
each time. Under punie-lsp the call is a pull-diagnostics request to a ty that is
already warm. This measures both on a generated workspace of ≥ 50 modules in the same
run (our standalone ``TyBackend`` plays the live server), prints the p50s and their
ratio, then the p50 of each tool on the test fixture project.

    uv run python benchmarks/typed_tools.py [--modules 60] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.typed_tools.conftest import PROJECT, write_tree
from typed_tools import ToolContext, ToolResult, TyBackendPool, builtin_tools
from typed_tools.typecheck import typecheck


def generate(root: Path, modules: int) -> None:
    """A package of chained modules; every tenth has a type error, so results are non-empty."""
    files = {
        "pyproject.toml": '[project]\nname = "bench"\nversion = "0"\n',
        "bench/__init__.py": "",
    }
    for i in range(modules):
        previous = f"from bench.m{i - 1} import Thing{i - 1}, f{i - 1}\n" if i else ""
        body = [
            previous,
            f"class Thing{i}:",
            f'    """Thing number {i}."""',
            "",
            "    def __init__(self, value: int) -> None:",
            "        self.value = value",
            "",
            "    def double(self) -> int:",
            "        return self.value * 2",
            "",
            "",
            f"def f{i}(x: int) -> int:",
            f"    return Thing{i}(x).double()" + (f" + f{i - 1}(x)" if i else ""),
            "",
        ]
        if i % 10 == 0:
            body.append(f'BROKEN{i}: int = "not an int"')
        files[f"bench/m{i}.py"] = "\n".join(body) + "\n"
    write_tree(root, files)


async def p50(call: Callable[[], Awaitable[ToolResult | str]], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = await call()  # a text tool raises when it cannot run
        times.append(time.perf_counter() - start)
        if isinstance(result, ToolResult) and result.error is not None:
            raise RuntimeError(f"benchmark call failed: {result.error}")
    return statistics.median(times)


async def typecheck_comparison(modules: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "bench"
        generate(root, modules)
        pool = TyBackendPool()
        try:
            live = ToolContext(root=root, backend=await pool.get(root))
            cold = ToolContext(root=root)
            first = await typecheck(live, ".")  # warm-up: opens every file once
            reference = await typecheck(cold, ".")
            assert first.error_count == reference.error_count == (modules + 9) // 10, (
                first.error_count,
                reference.error_count,
            )
            live_p50 = await p50(lambda: typecheck(live, "."), rounds)
            cli_p50 = await p50(lambda: typecheck(cold, "."), max(rounds // 3, 3))
        finally:
            await pool.stop_all()
    print(f"typecheck on {modules} modules ({first.error_count} errors found by both):")
    print(f"  live ty server (pull diagnostics, warm) p50: {live_p50 * 1000:8.1f} ms")
    print(f"  ty check subprocess per call        p50: {cli_p50 * 1000:8.1f} ms")
    print(f"  speed-up: {cli_p50 / live_p50:.1f}x (target >= 10x)")


def fixture_repository(scratch: Path) -> Path:
    """The test fixture project as a git repository with one unstaged change."""
    root = write_tree(scratch / "project", PROJECT)
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "fixture"]):
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=root, check=True
        )
    (root / "demo" / "use.py").write_text("import os\nfrom demo.calc import add\n")
    return root


async def per_tool(rounds: int) -> None:
    tools = builtin_tools()
    with tempfile.TemporaryDirectory() as scratch:
        root = fixture_repository(Path(scratch))
        pool = TyBackendPool()
        try:
            backend = await pool.get(root)
            calls: dict[str, dict[str, object]] = {
                "typecheck": {"path": "."},
                "ruff_check": {"path": "."},
                "ruff_fix": {"path": "."},
                "pytest_run": {"path": "tests"},
                "goto_definition": {"file_path": "demo/use.py", "symbol": "add"},
                "find_references": {"file_path": "demo/calc.py", "symbol": "add"},
                "hover": {"file_path": "demo/calc.py", "symbol": "add"},
                "document_symbols": {"file_path": "demo/calc.py"},
                "workspace_symbols": {"query": "add"},
                "git_status": {},
                "git_diff": {},
                "git_log": {},
                "read_file": {"path": "demo/calc.py"},
                "write_file": {"path": "demo/new.py", "content": "X = 1\n"},
                "list_files": {"glob": "**/*.py"},
                "search": {"pattern": r"def \w+"},
            }
            print(f"p50 per tool on the fixture project ({rounds} rounds; live ty for navigation):")
            for name, args in calls.items():
                ctx = ToolContext(root=root, backend=backend, trusted=True)
                function = tools[name].function
                n = max(rounds // 5, 3) if name == "pytest_run" else rounds
                median = await p50(lambda f=function, c=ctx, a=args: f(c, **a), n)
                print(f"  {name:18} {median * 1000:8.1f} ms")
            cli = ToolContext(root=root, trusted=True)
            median = await p50(lambda: tools["typecheck"].function(cli, "."), 3)
            print(f"  {'typecheck (ty check)':18} {median * 1000:8.1f} ms")
        finally:
            await pool.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    asyncio.run(typecheck_comparison(options.modules, options.rounds))
    asyncio.run(per_tool(options.rounds))


if __name__ == "__main__":
    main()
