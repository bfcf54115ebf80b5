"""Code Mode with the real typed tools on a temporary workspace (real ty, real Monty)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agent.code_mode import CodeModeTools, run_code
from sandbox import SandboxLimits, SandboxPool
from tests.sandbox.conftest import assert_answers
from typed_tools.base import ToolContext

SECRET = "TOP-SECRET-42"
LIMITS = SandboxLimits(timeout_seconds=20, memory_mb=64, max_tool_calls=50)


@pytest.fixture(scope="module")
def tools() -> CodeModeTools:
    return CodeModeTools.load()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text('x: int = "one"\nprint(x)\n')
    (tmp_path / "secret.txt").write_text(SECRET)
    return root


async def test_read_file_returns_text_as_in_punie(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path
) -> None:
    code = (
        'content = read_file("a.py")\n'
        'lines = content.split("\\n")\n'
        'print(read_file("a.py"))\n'
        "lines[1]"
    )
    result = await run_code(code, ToolContext(root=workspace), pool=pool, tools=tools)

    assert result.error is None, result.error
    assert result.value == "print(x)"
    assert result.stdout == (workspace / "a.py").read_text() + "\n"
    assert [(c.tool, c.args, c.success) for c in result.calls] == [
        ("read_file", {"path": "a.py"}, True)
    ] * 2


async def test_an_uncaught_read_failure_names_the_path_and_reason(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path
) -> None:
    result = await run_code(
        'read_file("gone.py")', ToolContext(root=workspace), pool=pool, tools=tools
    )

    assert result.error is not None and result.error.kind == "runtime"
    assert "FileNotFoundError" in (result.error.traceback or result.error.message)
    assert "read_file: no such file: gone.py" in result.error.message
    assert [(c.tool, c.success) for c in result.calls] == [("read_file", False)]


async def test_typecheck_reports_the_real_diagnostic(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path
) -> None:
    code = 'r = typecheck("a.py")\n[(e.line, e.column, e.severity) for e in r.errors]'
    result = await run_code(
        code, ToolContext(root=workspace), pool=pool, tools=tools, limits=LIMITS
    )

    assert result.error is None, result.error
    assert result.value == [[1, 10, "error"]]
    assert result.calls[0].tool == "typecheck"
    assert not result.calls[0].success  # Punie's verdict: ty found an error


async def test_positional_arguments_are_named_in_the_trace(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path
) -> None:
    result = await run_code(
        'search("print", "a.py").success', ToolContext(root=workspace), pool=pool, tools=tools
    )

    assert result.error is None, result.error
    assert result.calls[0].args == {"pattern": "print", "path": "a.py"}


async def test_json_is_there_without_an_import(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path
) -> None:
    code = 'data = json.loads(json.dumps({"n": len(read_file("a.py"))}))\ndata["n"]'
    result = await run_code(code, ToolContext(root=workspace), pool=pool, tools=tools)

    assert result.error is None, result.error
    assert result.value == len((workspace / "a.py").read_text())


async def test_a_typo_against_the_real_stubs_is_caught_before_running(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path
) -> None:
    code = 'r = typecheck("a.py")\nr.eror_count'
    result = await run_code(code, ToolContext(root=workspace), pool=pool, tools=tools)

    assert result.error is not None
    assert (result.error.kind, result.error.line, result.error.column) == ("typing", 2, 1)
    assert result.calls == []


@pytest.mark.parametrize(
    "path", ["../secret.txt", "/etc/passwd", "../../../../etc/passwd", "a.py/../../secret.txt"]
)
async def test_reading_outside_the_workspace_is_refused(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path, path: str
) -> None:
    started = time.perf_counter()
    code = (
        "try:\n"
        f"    text = read_file({path!r})\n"
        "except PermissionError as error:\n"
        "    text = 'refused: ' + str(error)\n"
        "text"
    )
    result = await run_code(code, ToolContext(root=workspace), pool=pool, tools=tools)

    assert time.perf_counter() - started < LIMITS.timeout_seconds + 1
    assert result.error is None, result.error
    assert isinstance(result.value, str)
    assert result.value.startswith("refused: read_file: path")
    assert "outside the workspace" in result.value
    assert SECRET not in result.model_dump_json()
    await assert_answers(pool)


async def test_writes_are_proposals_and_a_cancelled_run_drops_its_own(
    pool: SandboxPool, tools: CodeModeTools, workspace: Path
) -> None:
    ctx = ToolContext(root=workspace)
    first = await run_code('write_file("b.py", "kept = 1\\n")', ctx, pool=pool, tools=tools)
    assert first.error is None, first.error
    assert not (workspace / "b.py").exists()
    kept = dict(ctx.overlay)

    cancel = asyncio.Event()
    wrote = asyncio.Event()

    async def on_call(tool: str, args: dict[str, object]) -> None:
        if tool == "read_file":  # the program's second call: its write has landed
            wrote.set()

    ctx.on_call = on_call
    code = 'write_file("c.py", "dropped = 1\\n")\nread_file("c.py")\nwhile True:\n    pass'
    run = asyncio.create_task(
        run_code(code, ctx, pool=pool, tools=tools, cancel=cancel, limits=LIMITS)
    )
    await wrote.wait()
    assert any(path.name == "c.py" for path in ctx.overlay)
    cancel.set()
    result = await run

    assert result.error is not None
    assert result.error.kind == "cancelled"
    assert ctx.overlay == kept
