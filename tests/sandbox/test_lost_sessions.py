"""Sessions Monty lost before they answered: the sandbox's fault, never the program's.

Monty finishes a checkout when it discards the session's worker: a feed cancelled
mid-flight (the discard happens later, on Monty's own runtime), a value it cannot
convert, a print callback that raised, a worker that outgrew its memory and was
terminated. Every later feed of that session raises a plain ``RuntimeError`` ('this
checkout has already been finished', 'a previous feed_run was cancelled mid-run ...').
These tests lose real sessions the first three ways and check that the next program is
still checked and run, in a fresh session (``sandbox._checker``, ``sandbox._runner``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack

import pytest
from pydantic_monty import (
    AsyncMonty,
    AsyncMontySession,
    MontyConversionError,
    MontyError,
    MontyRuntimeError,
    MontyTypingError,
)

from sandbox import SandboxPool
from sandbox._checker import CHECK_ONLY, Opened, TypeChecker, stopped_at_first_allocation
from sandbox._runner import _Stop
from sandbox._session import SandboxSession
from tests.sandbox.conftest import EXTERNALS, SMALL, STUBS, run


async def _lose_by_conversion(session: AsyncMontySession) -> None:
    """Finish ``session`` the way Monty's own tests do: a value it cannot convert."""
    with pytest.raises(MontyConversionError):
        await session.feed_run("x", external_lookup={"x": object()}, skip_type_check=True)
    with pytest.raises(RuntimeError, match="this checkout has already been finished"):
        await session.feed_run("1", skip_type_check=True)


async def _lose_by_a_raising_print(session: AsyncMontySession) -> None:
    """Finish ``session`` with a print callback that raises before a call it suspended at."""

    def refuse(stream: str, text: str) -> None:
        raise ValueError("refused")

    with pytest.raises(MontyRuntimeError, match="refused"):
        await session.feed_run(
            "print('a')\nf()",
            external_lookup={"f": lambda: 1},
            print_callback=refuse,
            skip_type_check=True,
        )
    with pytest.raises(RuntimeError, match="this checkout has already been finished"):
        await session.feed_run("1", skip_type_check=True)


async def _lose_by_cancelling(session: AsyncMontySession) -> None:
    """Finish ``session`` by cancelling a feed mid-flight (Monty discards the worker).

    A cancel that arrives as the worker's reply does leaves the session usable, so it
    is tried again until a probe finds the session gone.
    """
    loop = asyncio.get_running_loop()
    for _ in range(5):
        printed = asyncio.Event()

        def started(stream: str, text: str, printed: asyncio.Event = printed) -> None:
            loop.call_soon_threadsafe(printed.set)  # called on Monty's reader thread

        feed = asyncio.ensure_future(
            session.feed_run("print('started')\nwhile True:\n    pass", print_callback=started)
        )
        await printed.wait()  # the loop is running in the worker
        feed.cancel()
        await asyncio.gather(feed, return_exceptions=True)
        try:
            await session.feed_run("None", skip_type_check=True)
        except RuntimeError:
            return  # gone: 'a previous feed_run was cancelled mid-run ...'
        except MontyError:
            pass  # still usable (the checker's session stops every feed)
    pytest.fail("five cancels mid-flight left the session usable")


async def test_a_checker_whose_session_was_lost_checks_in_a_fresh_one(pool: SandboxPool) -> None:
    """As after its worker was terminated for memory, or its warm-up crashed: the checker
    holds a session Monty finished (put there by hand: a check-only session cannot be
    lost on purpose, it stops every feed at once)."""
    checker = pool.checker(STUBS)
    await checker.check("echo(1).value")
    stack = AsyncExitStack()
    lost = await stack.enter_async_context(
        (await pool._checker_started()).checkout(script_name="main.py")
    )
    await _lose_by_conversion(lost)
    checker.release()
    checker._opening = asyncio.ensure_future(_opened(stack, lost))

    await checker.check("echo(2).value")  # was: RuntimeError out of the check
    with pytest.raises(MontyTypingError, match="invalid-argument-type"):
        await checker.check("echo(b'bytes')")  # the program's own verdict still comes
    result = await run(pool, "echo(3).value")

    assert (result.error, result.value) == (None, 3)
    assert checker.sessions == 2  # the first, and the one that replaced the lost one


async def _opened(stack: AsyncExitStack, session: AsyncMontySession) -> Opened:
    return stack, session


LOSERS = [_lose_by_conversion, _lose_by_a_raising_print, _lose_by_cancelling]


@pytest.mark.parametrize("lose", LOSERS)
async def test_a_program_whose_lent_session_was_lost_runs_in_a_fresh_one(
    pool: SandboxPool, lose: Callable[[AsyncMontySession], Awaitable[None]]
) -> None:
    session = pool.session(stubs=STUBS, limits=SMALL)
    session.prewarm()
    await lose(await _spare(session))
    first = await session.run("print('once')\necho(4).value", externals=EXTERNALS)
    await lose(await _spare(session))
    second = await session.run("echo(5).value", externals=EXTERNALS)
    session.release()

    # was: RuntimeError('this checkout has already been finished') out of run()
    assert (first.error, first.value, first.stdout) == (None, 4, "once\n")
    assert (second.error, second.value) == (None, 5)
    assert [call.tool for call in first.calls + second.calls] == ["echo", "echo"]


async def test_a_program_unchecked_in_a_lost_session_runs_in_a_fresh_one(
    pool: SandboxPool,
) -> None:
    session = pool.session(stubs=STUBS, limits=SMALL, type_check=False)
    session.prewarm()
    await _lose_by_conversion(await _spare(session))

    result = await session.run("echo(6).value", externals=EXTERNALS)
    session.release()

    assert (result.error, result.value) == (None, 6)


async def _spare(session: SandboxSession) -> AsyncMontySession:
    spare = session._spare
    assert spare is not None
    _, monty_session = await spare
    return monty_session


async def test_the_two_memory_errors_are_told_apart_by_their_message(
    pool: SandboxPool,
) -> None:
    """The checker's expected stop, and Monty's words for a terminated worker (status 65,
    raised here by a program only to get Monty's own error object around them)."""
    monty = await pool._checker_started()
    async with monty.checkout(script_name="main.py", limits=CHECK_ONLY) as session:
        with pytest.raises(MontyRuntimeError) as stopped:
            await session.feed_run("x = [1]")
    async with monty.checkout(script_name="main.py") as session:
        with pytest.raises(MontyRuntimeError) as terminated:
            await session.feed_run(
                "raise MemoryError('the worker exceeded its memory limit and was terminated')"
            )

    assert stopped_at_first_allocation(stopped.value)
    assert not stopped_at_first_allocation(terminated.value)


async def test_a_worker_terminated_for_memory_is_reported_as_the_memory_limit(
    pool: SandboxPool,
) -> None:
    """Monty's words for a worker terminated for memory (exit 65) name ``memory_mb``, as
    its interpreter's own stop does (here a program raises them, to get Monty's error)."""
    result = await run(
        pool, "raise MemoryError('the worker exceeded its memory limit and was terminated')"
    )

    assert result.error is not None
    assert (result.error.kind, result.error.limit) == ("memory", "memory_mb")


async def test_a_checker_that_keeps_losing_its_session_ends_with_the_sandboxs_error() -> None:
    """Workers killed on every request (a ``request_timeout`` no check can meet): the
    checker retries once, then ends the run with an error naming itself; it never
    raises Monty's crash or 'this checkout has already been finished' at the program."""
    releases: list[Coroutine[object, object, None]] = []
    async with AsyncMonty(min_processes=1, max_processes=2, request_timeout=0.001) as monty:

        async def started() -> AsyncMonty:
            return monty

        checker = TypeChecker(STUBS, started=started, release_later=releases.append)
        checker.prepare()  # warm: its warm-up is killed too
        with pytest.raises(_Stop) as stopped:
            await checker.check("echo(1).value")
        for release in releases:
            await release

    assert stopped.value.error.kind == "runtime"
    assert stopped.value.error.message.startswith("the sandbox's type checker failed twice")
    assert checker.sessions >= 2  # it opened a fresh one (3 when that one's feed died)
