"""An agent run's warm sessions (``SandboxPool.session``): spare ready, programs apart."""

from __future__ import annotations

import ast
import asyncio

from sandbox import SandboxPool
from sandbox._checker import warm_up_code
from tests.sandbox.conftest import EXTERNALS, SMALL, STUBS, assert_answers


async def test_each_program_runs_in_a_warmed_session_of_its_own(pool: SandboxPool) -> None:
    session = pool.session(stubs=STUBS, limits=SMALL)
    session.prewarm()

    first = await session.run("r = echo(3)\nr.value", externals=EXTERNALS)
    # A name the first program bound is unknown to the second: the check says so.
    second = await session.run("r.value", externals=EXTERNALS)
    # Rebinding a name to another type is fine, as in a fresh interpreter.
    third = await session.run('r = check("src")\nr.error_count', externals=EXTERNALS)
    session.release()

    assert (first.error, first.value) == (None, 3)
    assert second.error is not None and second.error.kind == "typing"
    assert "unresolved-reference" in second.error.message
    assert (third.error, third.value) == (None, 2)  # the test check() reports two
    assert [call.tool for call in first.calls + third.calls] == ["echo", "check"]
    # One spare made up front, then one after each program for the next (each program
    # starts in its session while the checker checks it, so the second took one too).
    assert (session.programs, session.sessions) == (3, 4)


async def test_errors_name_the_line_of_the_program_not_of_the_warm_up(pool: SandboxPool) -> None:
    session = pool.session(stubs=STUBS, limits=SMALL)
    session.prewarm()

    runtime = await session.run("x = [1]\n\nx[10]", externals=EXTERNALS)
    typing = await session.run('y = 1\necho(value=b"bytes")', externals=EXTERNALS)
    session.release()

    assert runtime.error is not None and runtime.error.kind == "runtime"
    assert runtime.error.line == 3
    assert typing.error is not None and typing.error.kind == "typing"
    assert typing.error.line == 2


async def test_a_stopped_program_does_not_spoil_the_next(pool: SandboxPool) -> None:
    async with pool.session(stubs=STUBS, limits=SMALL) as session:
        session.prewarm()
        stopped = await session.run("while True:\n    pass", externals=EXTERNALS)
        after = await session.run("echo(5).value", externals=EXTERNALS)

    assert stopped.error is not None and stopped.error.kind == "timeout"
    assert (after.error, after.value) == (None, 5)


async def test_stopping_the_pool_gives_back_a_spare_still_warming() -> None:
    pool = SandboxPool(max_workers=1)
    session = pool.session(stubs=STUBS, limits=SMALL)
    session.prewarm()  # starts the pool and warms on its only worker
    await asyncio.wait_for(pool.stop(), timeout=10)

    assert not pool.running
    # A session made before the stop still runs a program (the pool starts again).
    result = await session.run("echo(7).value", externals=EXTERNALS)
    assert (result.error, result.value) == (None, 7)
    await assert_answers(pool)
    await pool.stop()


async def test_a_released_session_makes_no_more_spares(pool: SandboxPool) -> None:
    session = pool.session(stubs=STUBS, limits=SMALL)
    session.prewarm()
    session.release()
    session.prewarm()

    result = await session.run("echo(1).value", externals=EXTERNALS)

    assert result.value == 1
    assert session.sessions == 2  # the released spare and the program's own, nothing after


def test_the_warm_up_names_every_declared_function_and_class_and_binds_nothing() -> None:
    code = warm_up_code(STUBS)
    tree = ast.parse(code)

    named = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert named >= {"check", "echo", "fail", "hang", "flaky", "CheckResult", "Diagnostic", "Echo"}
    assert all(isinstance(statement, ast.Expr) for statement in tree.body)
    # Stubs that do not parse leave the builtins part: still a valid no-op.
    assert all(isinstance(s, ast.Expr) for s in ast.parse(warm_up_code("def broken(:")).body)
