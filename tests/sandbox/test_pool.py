"""The pool's lifecycle: lazy start, health, stop, restart, concurrency, crashed workers."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import psutil

from sandbox import SandboxPool
from tests.sandbox.conftest import Echo, assert_answers
from tests.sandbox.test_cancel import PATIENT, started_signal


def monty_workers() -> set[int]:
    """Pids of this process's Monty worker subprocesses."""
    return {
        child.pid
        for child in psutil.Process().children(recursive=True)
        if child.name().startswith("monty")
    }


async def test_the_pool_starts_on_first_use_and_restarts_after_stop() -> None:
    pool = SandboxPool()
    assert not pool.running
    assert pool.status().running is False

    assert (await pool.run("6 * 7")).value == 42
    assert pool.running
    await pool.stop()
    assert not pool.running

    assert (await pool.run("6 * 7")).value == 42
    await pool.stop()


async def test_health_runs_a_probe(pool: SandboxPool) -> None:
    health = await pool.health()

    assert health.ok and health.running
    assert health.latency_ms is not None and health.latency_ms > 0
    assert health.error is None
    assert set(health.model_dump()) >= {"running", "ok", "latencyMs", "runs", "active"}


async def test_a_killed_worker_is_replaced() -> None:
    async with SandboxPool(max_workers=1) as pool:
        killed: set[int] = set()

        async def kill_worker() -> Echo:
            for pid in monty_workers():
                psutil.Process(pid).send_signal(signal.SIGKILL)
                killed.add(pid)
            return Echo(value=len(killed))

        result = await pool.run(
            "kill_worker()\n1", externals={"kill_worker": kill_worker}, type_check=False
        )

        assert killed
        assert result.error is not None
        assert result.error.kind == "runtime"
        assert "worker died" in result.error.message
        await assert_answers(pool)
        assert monty_workers().isdisjoint(killed)


async def test_runs_proceed_concurrently_on_separate_workers() -> None:
    both_inside = asyncio.Barrier(2)

    async def meet() -> Echo:
        await both_inside.wait()
        return Echo(value=1)

    async with SandboxPool(max_workers=2) as pool:
        first, second = await asyncio.gather(
            pool.run("meet().value", externals={"meet": meet}, type_check=False),
            pool.run("meet().value + 1", externals={"meet": meet}, type_check=False),
        )

    assert (first.value, second.value) == (1, 2)


async def test_stop_cancels_runs_in_flight() -> None:
    pool = SandboxPool()
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

    await pool.stop()
    result = await run

    assert result.error is not None
    assert result.error.kind == "cancelled"
    assert not pool.running


async def test_pools_are_independent() -> None:
    async with SandboxPool() as first, SandboxPool() as second:
        await first.run("1")
        await first.stop()
        await assert_answers(second)


def test_importing_the_package_starts_nothing() -> None:
    code = "import sandbox, psutil; print(len(psutil.Process().children()))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "0"
