"""A real Monty pool and small async externals returning Pydantic models, like typed tools.

The externals mimic the typed-tool contract (async, a model with ``success``/``error``)
without depending on ``typed_tools``: the sandbox is generic and is tested as such.
``hang`` waits on an event nobody sets, so "a tool that never returns" needs no sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from sandbox import CancelSignal, External, RunResult, SandboxLimits, SandboxPool


class Diagnostic(BaseModel):
    file: str
    line: int
    column: int
    message: str


class CheckResult(BaseModel):
    success: bool
    error: str | None = None
    error_count: int
    errors: list[Diagnostic]


class Echo(BaseModel):
    success: bool = True
    value: int | str | list[int] | None


async def check(path: str, strict: bool = False) -> CheckResult:
    """Two diagnostics for any path: enough to index, iterate and count."""
    errors = [
        Diagnostic(file=path, line=3, column=5, message="undefined name"),
        Diagnostic(file=path, line=7, column=1, message="bad return" if strict else "unused"),
    ]
    return CheckResult(success=True, error_count=len(errors), errors=errors)


async def echo(value: int | str | list[int] | None) -> Echo:
    await asyncio.sleep(0)
    return Echo(value=value)


async def fail(message: str) -> Echo:
    raise KeyError(message)


async def hang() -> Echo:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def flaky() -> Echo:
    """A tool that ran but could not do its job: ``success`` False, no exception."""
    return Echo(success=False, value=None)


EXTERNALS: dict[str, External] = {
    "check": check,
    "echo": echo,
    "fail": fail,
    "hang": hang,
    "flaky": flaky,
}

STUBS = '''
class Diagnostic:
    file: str
    line: int
    column: int
    message: str

class CheckResult:
    success: bool
    error: str | None
    error_count: int
    errors: list[Diagnostic]

class Echo:
    success: bool
    value: int | str | list[int] | None

def check(path: str, strict: bool = False) -> CheckResult:
    """Type-check ``path``."""

def echo(value: int | str | list[int] | None) -> Echo: ...
def fail(message: str) -> Echo: ...
def hang() -> Echo: ...
def flaky() -> Echo: ...
'''

SMALL = SandboxLimits(
    timeout_seconds=0.5,
    memory_mb=32,
    max_recursion_depth=100,
    max_tool_calls=20,
    max_output_bytes=10_000,
)
"""Limits small enough that every guard trips in well under a second."""


@pytest.fixture
async def pool() -> AsyncIterator[SandboxPool]:
    async with SandboxPool(max_workers=2) as sandbox_pool:
        yield sandbox_pool


async def run(
    pool: SandboxPool,
    code: str,
    *,
    limits: SandboxLimits = SMALL,
    type_check: bool = True,
    cancel: CancelSignal | None = None,
) -> RunResult:
    """Run with the test externals and stubs under ``SMALL`` limits unless told otherwise."""
    return await pool.run(
        code,
        externals=EXTERNALS,
        stubs=STUBS,
        limits=limits,
        type_check=type_check,
        cancel=cancel,
    )


async def assert_answers(pool: SandboxPool) -> None:
    """The pool still runs a simple program correctly."""
    result = await pool.run("1 + 1", limits=SMALL)
    assert result.error is None, result.error
    assert result.value == 2
