"""The type check runs before the program, against the externals' stubs, and can be skipped."""

from __future__ import annotations

import pytest

from sandbox import SandboxPool
from tests.sandbox.conftest import assert_answers, run


@pytest.mark.parametrize(
    ("code", "line", "column", "rule"),
    [
        pytest.param("r = check('src')\nr.erors", 2, 1, "unresolved-attribute", id="typo"),
        pytest.param("check(42)", 1, 7, "invalid-argument-type", id="wrong-argument"),
        pytest.param(
            "x = 1\ny: str = check('a').error_count", 2, 10, "invalid-assignment", id="assign"
        ),
        pytest.param("typecheck('src')", 1, 1, "unresolved-reference", id="unknown-tool"),
        pytest.param("import os\nos.system('id')", 2, 1, "unresolved-attribute", id="no-os-system"),
    ],
)
async def test_type_error_is_reported_without_running(
    pool: SandboxPool, code: str, line: int, column: int, rule: str
) -> None:
    result = await run(pool, f"print('ran')\n{code}")

    assert result.error is not None
    assert result.error.kind == "typing"
    assert (result.error.line, result.error.column) == (line + 1, column)
    assert result.error.message.startswith(rule)
    assert result.error.traceback is not None
    assert f"main.py:{line + 1}:{column}" in result.error.traceback
    assert result.stdout == ""
    assert result.calls == []


async def test_every_diagnostic_is_kept(pool: SandboxPool) -> None:
    result = await run(pool, "check(1)\ncheck('a').nope")

    assert result.error is not None
    assert result.error.message.endswith("(and 1 more)")
    assert result.error.traceback is not None
    assert result.error.traceback.count("main.py:") == 2


async def test_syntax_error_is_kind_syntax_with_or_without_the_check(pool: SandboxPool) -> None:
    checked = await run(pool, "x = 1\ndef f(:\n    pass")
    unchecked = await run(pool, "x = 1\ndef f(:\n    pass", type_check=False)

    for result in (checked, unchecked):
        assert result.error is not None
        assert result.error.kind == "syntax"
        assert (result.error.line, result.error.column) == (2, 7)


async def test_well_typed_program_runs(pool: SandboxPool) -> None:
    result = await run(pool, "r = check('src', strict=True)\n[e.message for e in r.errors]")

    assert result.error is None, result.error
    assert result.value == ["undefined name", "bad return"]


async def test_skipping_the_check_runs_the_program_as_is(pool: SandboxPool) -> None:
    code = "print('ran')\nx: int = echo('a').value\nx"
    checked = await run(pool, code)
    unchecked = await run(pool, code, type_check=False)

    assert checked.error is not None
    assert checked.error.kind == "typing"
    assert unchecked.error is None, unchecked.error
    assert unchecked.stdout == "ran\n"
    assert unchecked.value == "a"
    assert unchecked.calls[0].args == {"value": "a"}


async def test_a_program_failing_its_check_is_stopped_however_it_started(
    pool: SandboxPool,
) -> None:
    """The program starts beside its check (``Execution._drive``): a failed check stops it."""
    # (A loop ty cannot prove endless: after ``while True`` it reports nothing.)
    spinning = await run(pool, "i = 0\nwhile i >= 0:\n    i += 1\nx: int = check('a').errors")
    calling = await run(pool, "print(echo(1).value)\nx: int = check('a').errors")

    assert spinning.error is not None and calling.error is not None
    assert (spinning.error.kind, spinning.error.line) == ("typing", 4)
    assert (calling.error.kind, calling.error.line) == ("typing", 2)
    for result in (spinning, calling):
        assert (result.stdout, result.calls) == ("", [])
    await assert_answers(pool)
