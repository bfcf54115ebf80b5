"""Each limit trips with a structured error naming it, and only when it should."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from sandbox import ErrorKind, LimitName, SandboxLimits, SandboxPool
from tests.sandbox.conftest import SMALL, run


@pytest.mark.parametrize(
    ("code", "kind", "limit"),
    [
        pytest.param("while True: pass", "timeout", "timeout_seconds", id="timeout"),
        pytest.param("b = 'x' * 64 * 2**20", "memory", "memory_mb", id="memory"),
        pytest.param("def f(n): return f(n + 1)\nf(0)", "limit", "max_recursion_depth", id="depth"),
        pytest.param("for i in range(50): echo(i)", "limit", "max_tool_calls", id="tool-calls"),
        pytest.param("print('x' * 20_000)", "limit", "max_output_bytes", id="stdout"),
        pytest.param("'x' * 20_000", "limit", "max_output_bytes", id="value-size"),
    ],
)
async def test_each_limit_names_itself(
    pool: SandboxPool, code: str, kind: ErrorKind, limit: LimitName
) -> None:
    result = await run(pool, code, type_check=False)

    assert result.error is not None
    assert (result.error.kind, result.error.limit) == (kind, limit)
    assert f"{limit}={getattr(SMALL, limit)}" in result.error.message
    assert result.value is None


RECURSE_150 = "def f(n): return 0 if n == 0 else f(n - 1)\nf(150)"


@pytest.mark.parametrize(
    ("code", "roomier"),
    [
        pytest.param("len('x' * 48 * 2**20)", {"memory_mb": 128}, id="memory"),
        pytest.param(RECURSE_150, {"max_recursion_depth": 300}, id="depth"),
        pytest.param("[echo(i).value for i in range(50)]", {"max_tool_calls": 50}, id="tools"),
        pytest.param("'x' * 20_000", {"max_output_bytes": 30_000}, id="value-size"),
    ],
)
async def test_raising_a_limit_lets_the_same_program_finish(
    pool: SandboxPool, code: str, roomier: dict[str, int]
) -> None:
    tight = await run(pool, code, type_check=False)
    roomy = await run(pool, code, type_check=False, limits=replace(SMALL, **roomier))

    assert tight.error is not None
    assert roomy.error is None, roomy.error
    assert roomy.value is not None


async def test_tool_call_limit_stops_at_the_call_over_budget(pool: SandboxPool) -> None:
    result = await run(pool, "for i in range(100):\n    echo(i)\nprint('never')", type_check=False)

    assert result.error is not None
    assert result.error.limit == "max_tool_calls"
    assert [call.args["value"] for call in result.calls] == list(range(SMALL.max_tool_calls))
    assert "never" not in result.stdout


async def test_output_limit_keeps_the_first_bytes(pool: SandboxPool) -> None:
    started = time.perf_counter()
    result = await run(pool, "print('first')\nwhile True: print('x' * 999)", type_check=False)

    assert result.error is not None
    assert result.error.limit == "max_output_bytes"
    assert result.stdout.startswith("first\nxxx")
    assert len(result.stdout.encode()) == SMALL.max_output_bytes
    # the flood is stopped by the output cap, not by the 0.5 s time limit
    assert time.perf_counter() - started < SMALL.timeout_seconds


async def test_time_spent_in_tools_counts_against_the_timeout(pool: SandboxPool) -> None:
    result = await run(pool, "echo(1)\nhang()", type_check=False)

    assert result.error is not None
    assert (result.error.kind, result.error.limit) == ("timeout", "timeout_seconds")
    assert [call.tool for call in result.calls] == ["echo", "hang"]
    assert [call.success for call in result.calls] == [True, False]


def test_defaults_follow_the_settings() -> None:
    limits = SandboxLimits()

    assert (limits.timeout_seconds, limits.memory_mb) == (30.0, 256)
    assert limits.resource_limits() == {
        "max_feed_duration_secs": 30.0,
        "max_total_sleep_secs": 30.0,
        "max_memory": 256 * 1024 * 1024,
        "max_recursion_depth": 200,
        "max_suspensions": 1200,
    }


@pytest.mark.parametrize(
    "field", ["timeout_seconds", "memory_mb", "max_recursion_depth", "max_output_bytes"]
)
def test_a_limit_cannot_be_switched_off(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SandboxLimits(**{field: 0})


async def test_tool_call_cap_names_its_setting(pool: SandboxPool) -> None:
    result = await run(pool, "for i in range(100):\n    echo(i)", type_check=False)
    assert result.error is not None
    assert "sandbox.maxToolCalls" in result.error.message


async def test_call_log_shows_sizes_of_large_arguments(pool: SandboxPool) -> None:
    """A 5 MB argument is traced as its size; small ones as they are."""
    code = "echo('x' * 5_000_000).success\necho('short')"
    roomy = replace(SMALL, memory_mb=256, timeout_seconds=30)
    result = await run(pool, code, type_check=False, limits=roomy)
    assert result.error is None, result.error
    assert [call.args["value"] for call in result.calls] == ["<5,000,000 characters>", "short"]
    assert len(result.model_dump_json()) < 10_000
