"""typecheck through a live ty server vs ``ty check`` per call, and p50 of every tool.

Punie spawned ``ty check`` for every ``typecheck`` call, paying for a fresh project load
each time. Under punie-lsp the call is one ``workspace/diagnostic`` request to the
server's private ty, already warm (``TyClient.workspace_report``: the same object the
server's ``EditorTyConnection`` hands the run's proposals and the editor's buffers to).
This measures both, interleaved, on the generated 60-module fixture and on installed
libraries copied into git repositories (``mlx_lm``, 202 modules; ``pydantic_ai``, 451),
checks that both give the same diagnostics, prints the p50s and their ratio, then the
p50 of each tool on the test fixture project.

    uv run python benchmarks/typed_tools.py [--modules 60] [--rounds 15] [--library NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.typed_tools.conftest import PROJECT, write_tree
from typed_tools import ToolContext, ToolResult, TyClientPool, builtin_tools
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


LIBRARIES = ("mlx_lm", "pydantic_ai")
"""Installed libraries measured as real workspaces (202 and 451 modules here)."""


def library_repository(scratch: Path, name: str) -> Path:
    """An installed library's source copied into a fresh git repository, as a user's project."""
    source = Path(sysconfig.get_paths()["purelib"]) / name
    root = scratch / f"{name}-repo"
    shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}-copy"\nversion = "0"\n')
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "copy"]):
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=root, check=True
        )
    return root


async def typecheck_comparison(root: Path, label: str, rounds: int, target: float) -> None:
    """Live ty (workspace report) vs ``ty check`` per call on ``root``, interleaved."""
    pool = TyClientPool()
    try:
        live = ToolContext(root=root, ty=await pool.get(root), timeout_seconds=300)
        cold = ToolContext(root=root, timeout_seconds=300)
        first = await typecheck(live, ".")  # ty's first full check of the workspace
        reference = await typecheck(cold, ".")
        same = first.model_dump() == reference.model_dump()
        live_times: list[float] = []
        edited_times: list[float] = []
        cli_times: list[float] = []
        # A proposed edit (what write_file leaves in the overlay) to one module, which ty
        # must check again: new text each call, so nothing of it is cached. A leaf
        # module (one no other module names): an edit to a module everything imports
        # makes ty check everything again, which is ty's cost, not ours.
        edited = await asyncio.to_thread(leaf_module, root)
        original = await asyncio.to_thread(edited.read_text)
        for index in range(rounds):  # interleaved: noise from other work hits both alike
            cli_times.append(await timed(lambda: typecheck(cold, ".")))
            live_times.extend([await timed(lambda: typecheck(live, ".")) for _ in range(5)])
            for step in range(2):
                live.overlay[edited] = f"{original}\nEDITED_{index}_{step}: int = {step}\n"
                edited_times.append(await timed(lambda: typecheck(live, ".")))
            live.overlay.clear()
    finally:
        await pool.stop_all()
    modules = len(await asyncio.to_thread(lambda: list(root.rglob("*.py"))))
    live_p50, cli_p50 = statistics.median(live_times), statistics.median(cli_times)
    edited_p50 = statistics.median(edited_times)
    ratio = cli_p50 / live_p50
    print(f"typecheck on {label} ({modules} modules, {len(reference.errors)} diagnostics):")
    print(f"  same diagnostics as ty check (severity filter included): {same}")
    for name, p50_s, calls in (
        ("live ty, one workspace report", live_p50, len(live_times)),
        ("live ty, a module just edited", edited_p50, len(edited_times)),
        ("ty check subprocess per call", cli_p50, len(cli_times)),
    ):
        print(f"  {name:30s} p50: {p50_s * 1000:8.1f} ms ({calls} calls)")
    verdict = "met" if ratio >= target and same else "MISSED"
    print(f"  speed-up: {ratio:.1f}x (target >= {target:.0f}x and the same diagnostics: {verdict})")
    print(f"  speed-up with {edited.relative_to(root)} just edited: {cli_p50 / edited_p50:.1f}x")


def leaf_module(root: Path) -> Path:
    """The first module (by path) whose name no other module's text mentions."""
    modules = sorted(p for p in root.rglob("*.py") if p.name != "__init__.py")
    texts = {p: p.read_text(errors="replace") for p in modules}
    for module in modules:
        if not any(module.stem in text for other, text in texts.items() if other != module):
            return module
    return modules[0]


async def timed(call: Callable[[], Awaitable[ToolResult]]) -> float:
    start = time.perf_counter()
    result = await call()
    elapsed = time.perf_counter() - start
    if result.error is not None:
        raise RuntimeError(f"benchmark call failed: {result.error}")
    return elapsed


async def typecheck_workspaces(modules: int, rounds: int, libraries: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        fixture = Path(scratch) / "bench"
        generate(fixture, modules)
        await typecheck_comparison(fixture, f"the generated {modules}-module fixture", rounds, 30)
        for name in libraries:
            root = library_repository(Path(scratch), name)
            await typecheck_comparison(root, f"{name} copied into a git repository", rounds, 100)


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
        pool = TyClientPool()
        try:
            ty = await pool.get(root)
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
                ctx = ToolContext(root=root, ty=ty, trusted=True)
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
    parser.add_argument("--library", action="append", help=f"default: {', '.join(LIBRARIES)}")
    parser.add_argument("--skip-tools", action="store_true", help="only the typecheck comparison")
    options = parser.parse_args()
    libraries = options.library or list(LIBRARIES)
    asyncio.run(typecheck_workspaces(options.modules, max(options.rounds // 3, 3), libraries))
    if not options.skip_tools:
        asyncio.run(per_tool(options.rounds))


if __name__ == "__main__":
    main()
