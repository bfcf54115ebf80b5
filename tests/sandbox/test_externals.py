"""Externals: called like plain functions, results read by attribute and index, traced."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from sandbox import RunResult, SandboxPool, to_json, to_monty
from tests.sandbox.conftest import CheckResult, check, echo, run


@pytest.mark.parametrize(
    ("code", "value"),
    [
        pytest.param("check('src').errors[0].line", 3, id="index-then-field"),
        pytest.param("[e.line for e in check('src').errors]", [3, 7], id="iterate"),
        pytest.param("len(check('src').errors)", 2, id="len"),
        pytest.param("check('src').errors[-1].message", "unused", id="negative-index"),
        pytest.param("check('src', strict=True).errors[1].message", "bad return", id="keyword"),
        pytest.param("check('src', True).errors[1].message", "bad return", id="positional"),
        pytest.param("r = check('a')\nr.success and r.error is None", True, id="optional-field"),
        pytest.param("type(check('src')).__name__", "CheckResult", id="class-name"),
        pytest.param(
            "v = echo([1, 2]).value\nv[1] if isinstance(v, list) else None", 2, id="json-list"
        ),
    ],
)
async def test_results_are_read_by_attribute_and_index(
    pool: SandboxPool, code: str, value: object
) -> None:
    result = await run(pool, code)

    assert result.error is None, result.error
    assert result.value == value


async def test_returned_model_comes_back_as_json(pool: SandboxPool) -> None:
    result = await run(pool, "r = check('src')\nr")

    assert result.error is None, result.error
    expected = CheckResult.model_validate(result.value)
    assert expected.errors[1].line == 7
    assert result.value == (await check("src")).model_dump(mode="json")


async def test_print_and_json_are_available(pool: SandboxPool) -> None:
    code = (
        "import json\n"
        "r = check('src')\n"
        "print(json.dumps({'n': r.error_count}))\n"
        "json.loads('[1, 2]')"
    )
    result = await run(pool, code)

    assert result.error is None, result.error
    assert json.loads(result.stdout) == {"n": 2}
    assert result.value == [1, 2]


async def test_calls_are_traced_in_order_with_named_arguments(pool: SandboxPool) -> None:
    result = await run(pool, "check('a')\necho(7)\ncheck('b', True)\nflaky()")

    assert result.error is None, result.error
    assert [(c.tool, c.args, c.success) for c in result.calls] == [
        ("check", {"path": "a"}, True),
        ("echo", {"value": 7}, True),
        ("check", {"path": "b", "strict": True}, True),
        ("flaky", {}, False),
    ]
    wire = result.model_dump()["calls"][0]
    assert set(wire) == {"tool", "args", "durationMs", "success"}
    assert wire["durationMs"] >= 0
    assert RunResult.model_validate_json(result.model_dump_json()) == result


async def test_external_exception_is_catchable_and_traced(pool: SandboxPool) -> None:
    code = "try:\n    fail('boom')\nexcept KeyError as e:\n    caught = str(e)\ncaught"
    result = await run(pool, code)

    assert result.error is None, result.error
    assert "boom" in str(result.value)
    assert [(c.tool, c.success) for c in result.calls] == [("fail", False)]


async def test_wrong_arguments_raise_type_error_in_the_program(pool: SandboxPool) -> None:
    result = await run(pool, "echo(1, 2, 3)", type_check=False)

    assert result.error is not None
    assert result.error.kind == "runtime"
    assert result.error.message.startswith("TypeError: echo()")
    assert result.calls[0].success is False


async def test_runtime_traceback_points_at_the_failing_line(pool: SandboxPool) -> None:
    code = (
        "def first_error(path):\n    r = check(path)\n    return r.errors[5]\n\nfirst_error('src')"
    )
    result = await run(pool, code)

    assert result.error is not None
    assert result.error.kind == "runtime"
    assert result.error.line == 3
    assert result.error.message == "IndexError: list index out of range"
    assert result.error.traceback is not None
    assert "line 5, in <module>" in result.error.traceback
    assert "line 3, in first_error" in result.error.traceback


async def test_unknown_names_are_not_externals(pool: SandboxPool) -> None:
    result = await run(pool, "open_socket()", type_check=False)

    assert result.error is not None
    assert result.error.message == "NameError: name 'open_socket' is not defined"
    assert result.calls == []


async def test_an_external_can_be_passed_around(pool: SandboxPool) -> None:
    result = await pool.run(
        "f = alias\n[f(5).value, alias(6).value]", externals={"alias": echo}, type_check=False
    )

    assert result.error is None, result.error
    assert result.value == [5, 6]
    assert [c.tool for c in result.calls] == ["alias", "alias"]


class _Leaf(BaseModel):
    name: str


class _Tree(BaseModel):
    leaves: dict[str, _Leaf]
    pairs: list[tuple[int, _Leaf]]


def test_conversion_wraps_nested_models_and_round_trips() -> None:
    tree = _Tree(leaves={"a": _Leaf(name="x")}, pairs=[(1, _Leaf(name="y"))])

    wrapped = to_monty(tree)

    assert wrapped.get_eager_attrs()["leaves"]["a"].get_eager_attrs() == {"name": "x"}
    assert to_json(wrapped) == tree.model_dump(mode="json")
    assert to_json({1: {2, 3}, "f": float("inf"), "b": b"\xff"}) == {
        "1": [2, 3],
        "f": "inf",
        "b": "\ufffd",
    }
