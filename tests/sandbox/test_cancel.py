"""Cancellation: a run stops within a second of being cancelled, wherever it is."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from sandbox import External, RunResult, SandboxLimits, SandboxPool
from tests.sandbox.conftest import SMALL, Echo, assert_answers, hang

PATIENT = SandboxLimits(timeout_seconds=20)
"""Long enough that only the cancellation can end these runs."""


def started_signal(*, then_hang: bool = False) -> tuple[asyncio.Event, External]:
    """An external the program calls first, so the test knows the run is under way.

    With ``then_hang`` it never returns: the run is inside a tool when cancelled.
    """
    reached = asyncio.Event()

    async def started() -> Echo:
        reached.set()
        if then_hang:
            return await hang()
        return Echo(value=None)

    return reached, started


@pytest.mark.parametrize(
    ("code", "calls"),
    [
        pytest.param("started()\nwhile True: pass", ["started"], id="busy-loop"),
        pytest.param("x = 1\nstarted()", ["started"], id="inside-a-tool"),
        pytest.param("started()\nimport time\ntime.sleep(15)", ["started"], id="sleeping"),
    ],
)
async def test_cancel_stops_the_run_within_a_second(
    pool: SandboxPool, code: str, calls: list[str]
) -> None:
    reached, started = started_signal(then_hang=code.endswith("started()"))
    cancel = asyncio.Event()
    run = asyncio.create_task(
        pool.run(
            code,
            externals={"started": started},
            limits=PATIENT,
            cancel=cancel,
            type_check=False,
        )
    )
    await reached.wait()

    cancelled_at = time.perf_counter()
    cancel.set()
    result: RunResult = await run
    elapsed = time.perf_counter() - cancelled_at

    assert elapsed < 1.0
    assert result.error is not None
    assert result.error.kind == "cancelled"
    assert result.discard_proposals
    assert [c.tool for c in result.calls] == calls
    await assert_answers(pool)


async def test_a_run_cancelled_before_it_starts_does_nothing(pool: SandboxPool) -> None:
    reached, started = started_signal()
    cancel = asyncio.Event()
    cancel.set()

    result = await pool.run("started()", externals={"started": started}, cancel=cancel)

    assert result.error is not None
    assert result.error.kind == "cancelled"
    assert not reached.is_set()
    assert result.calls == []


async def test_cancelling_the_calling_task_propagates(pool: SandboxPool) -> None:
    reached, started = started_signal()
    run = asyncio.create_task(
        pool.run(
            "started()\nwhile True: pass",
            externals={"started": started},
            limits=PATIENT,
            type_check=False,
        )
    )
    await reached.wait()

    run.cancel()

    with pytest.raises(asyncio.CancelledError):
        await run
    await assert_answers(pool)


async def test_a_completed_run_is_not_void(pool: SandboxPool) -> None:
    result = await pool.run("1", cancel=asyncio.Event())

    assert result.error is None
    assert not result.discard_proposals


def swallowing_tool() -> tuple[asyncio.Event, External]:
    """A tool that eats its cancellation, as ``asyncio.wait_for`` can on Python 3.11."""
    entered = asyncio.Event()

    async def eat() -> Echo:
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        return Echo(value="swallowed")

    return entered, eat


async def test_a_tool_that_swallows_cancellation_still_ends_the_run(pool: SandboxPool) -> None:
    entered, eat = swallowing_tool()
    cancel = asyncio.Event()
    run = asyncio.create_task(
        pool.run(
            "eat()\nprint('resumed')\nwhile True: pass",
            externals={"eat": eat},
            limits=PATIENT,
            cancel=cancel,
            type_check=False,
        )
    )
    await entered.wait()
    cancel.set()
    result = await asyncio.wait_for(run, 1.0)

    assert result.error is not None
    assert result.error.kind == "cancelled"
    assert "resumed" not in result.stdout


async def test_a_tool_that_swallows_cancellation_still_meets_the_deadline(
    pool: SandboxPool,
) -> None:
    _, eat = swallowing_tool()
    result = await pool.run(
        "eat()\nprint('resumed')\nwhile True: pass",
        externals={"eat": eat},
        limits=SMALL,
        type_check=False,
    )

    assert result.error is not None
    assert (result.error.kind, result.error.limit) == ("timeout", "timeout_seconds")
    assert "resumed" not in result.stdout
