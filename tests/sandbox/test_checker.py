"""The pool's warm check-only session (``sandbox._checker``): checks alone, runs nothing."""

from __future__ import annotations

import asyncio

import pytest
from pydantic_monty import MontyTypingError

from sandbox import SandboxPool
from tests.sandbox.conftest import EXTERNALS, SMALL, STUBS, run


async def test_each_program_is_checked_against_the_stubs_alone(pool: SandboxPool) -> None:
    checker = pool.checker(STUBS)

    await checker.check("r = echo(1)\nr.value")
    await checker.check('r = check("src")\nr.error_count')  # r rebound to another type
    with pytest.raises(MontyTypingError, match="unresolved-reference"):
        await checker.check("r")  # no earlier program's r
    with pytest.raises(MontyTypingError, match="invalid-argument-type"):
        await checker.check("echo(b'bytes')")
    await checker.check("echo(2)")

    assert checker.sessions == 1  # one warm session served every check


async def test_a_check_started_early_is_claimed_by_the_same_program(pool: SandboxPool) -> None:
    checker = pool.checker(STUBS)
    checker.precheck("echo(1).value")
    checker.precheck("echo(b'bytes')")

    await checker.check("echo(1).value")
    with pytest.raises(MontyTypingError, match="invalid-argument-type"):
        await checker.check("echo(b'bytes')")
    await checker.check("echo(2).value")  # not started early: checked now

    assert (checker.checks, checker.claimed) == (3, 2)


async def test_the_checker_runs_nothing(pool: SandboxPool) -> None:
    checker = pool.checker(STUBS)

    # Were it run, the loop would never end: the checker has no time limit of its own.
    await asyncio.wait_for(checker.check("while True:\n    pass"), timeout=30)
    await asyncio.wait_for(checker.check("hang()"), timeout=30)

    assert checker.sessions == 1


async def test_a_blank_program_gets_the_checker_a_fresh_session(pool: SandboxPool) -> None:
    checker = pool.checker(STUBS)
    await checker.check("x = 1")

    await checker.check("")  # completes in the checker: it may have joined the context
    await checker.check("x = 'a'")

    assert checker.sessions == 2


async def test_a_check_cancelled_midway_leaves_a_working_checker(pool: SandboxPool) -> None:
    checker = pool.checker(STUBS)
    await checker.check("echo(1)")
    program = "\n".join(f"v{i} = [echo(i).value for i in range({i})]" for i in range(300))

    task = asyncio.create_task(checker.check(program))
    await asyncio.sleep(0)  # one turn of the loop: the check is in the worker
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await checker.check("echo(2)")
    result = await run(pool, "echo(3).value")

    assert (result.error, result.value) == (None, 3)


async def test_a_third_stub_text_evicts_the_oldest_checker(pool: SandboxPool) -> None:
    texts = [STUBS, STUBS + "\ndef extra() -> int: ...\n", "def other() -> str: ...\n"]
    checkers = [pool.checker(text) for text in texts]
    for checker, code in zip(checkers, ["echo(1)", "extra()", "other()"], strict=True):
        await checker.check(code)

    assert pool.checker(texts[2]) is checkers[2]
    assert pool.checker(texts[1]) is checkers[1]
    assert pool.checker(texts[0]) is not checkers[0]  # evicted, made again
    await pool.checker(texts[0]).check("echo(1)")


async def test_a_run_stopped_during_its_check_ends_as_stopped(pool: SandboxPool) -> None:
    cancel = asyncio.Event()
    cancel.set()

    result = await run(pool, "echo(1)", cancel=cancel)
    after = await pool.run("echo(4).value", externals=EXTERNALS, stubs=STUBS, limits=SMALL)

    assert result.error is not None and result.error.kind == "cancelled"
    assert (after.error, after.value) == (None, 4)
