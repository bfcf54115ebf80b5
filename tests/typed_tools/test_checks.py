"""typecheck, ruff_check, ruff_fix and pytest_run on real files with the real tools."""

from __future__ import annotations

import shutil
from pathlib import Path

import iniconfig
import pytest

from typed_tools import ToolContext, TyClientPool
from typed_tools.lint import ruff_check, ruff_fix
from typed_tools.testing import pytest_run
from typed_tools.typecheck import typecheck

TYPE_ERROR = ("demo/calc.py", 5, 14, "error", "invalid-assignment")


async def test_typecheck_cli_finds_the_type_error(ctx: ToolContext) -> None:
    result = await typecheck(ctx, ".")
    # Punie's verdict: ty ran (no error, no parse_error) and found an error, so no success.
    assert not result.success and result.error is None and result.parse_error is None
    assert result.error_count == 1
    [error] = result.errors
    assert (error.file, error.line, error.column, error.severity, error.code) == TYPE_ERROR
    assert "not assignable to `int`" in error.message


@pytest.mark.parametrize("workspace_mode", [True, False], ids=["workspace", "per-file"])
async def test_typecheck_through_the_live_server_matches_and_sees_changes(
    ctx: ToolContext, workspace_mode: bool
) -> None:
    pool = TyClientPool(workspace_diagnostics=workspace_mode)
    try:
        ctx.ty = await pool.get(ctx.root)
        await _live_typecheck(ctx)
    finally:
        await pool.stop_all()


async def _live_typecheck(ctx: ToolContext) -> None:
    result = await typecheck(ctx, ".")
    assert not result.success and result.error is None
    assert [(e.file, e.line, e.column, e.severity, e.code) for e in result.errors] == [TYPE_ERROR]
    # An overlay edit (what an unsaved buffer is to the server) is seen, the disk is not read.
    ctx.overlay[ctx.root / "demo" / "use.py"] = "from demo.calc import add\n\nX: str = add(1, 2)\n"
    changed = await typecheck(ctx, "demo")
    assert {(e.file, e.line, e.column) for e in changed.errors} == {
        ("demo/calc.py", 5, 14),
        ("demo/use.py", 3, 10),
    }
    # A change on disk is picked up on the next call too.
    ctx.overlay.clear()
    (ctx.root / "demo" / "calc.py").write_text("def add(a: int, b: int) -> int:\n    return a\n")
    clean = await typecheck(ctx, ".")
    assert clean.error_count == 0 and clean.success


async def test_typecheck_missing_path_and_timeout_are_results(ctx: ToolContext) -> None:
    missing = await typecheck(ctx, "nope")
    assert not missing.success and missing.error == "no such file or folder: nope"
    assert missing.parse_error == missing.error  # Punie's name, set whenever it could not run
    ctx.timeouts["typecheck"] = 0.001
    slow = await typecheck(ctx, ".")
    assert not slow.success and slow.error == "typecheck did not finish within 0.001 s"
    assert slow.parse_error == slow.error


async def test_ruff_check_reports_fixable_violation(ctx: ToolContext) -> None:
    result = await ruff_check(ctx)
    assert not result.success and result.error is None
    assert result.violation_count == 1 and result.fixable_count == 1
    [violation] = result.violations
    assert (violation.file, violation.line, violation.column, violation.code) == (
        "demo/use.py",
        1,
        8,
        "F401",
    )
    assert violation.fixable


async def test_ruff_sees_the_overlay(ctx: ToolContext) -> None:
    ctx.overlay[ctx.root / "demo" / "use.py"] = "from demo.calc import add\n"
    ctx.overlay[ctx.root / "demo" / "fresh.py"] = "import sys\nimport json\n"
    result = await ruff_check(ctx, "demo")
    assert [(v.file, v.line, v.code) for v in result.violations] == [
        ("demo/fresh.py", 1, "F401"),
        ("demo/fresh.py", 2, "F401"),
        ("demo/use.py", 1, "F401"),
    ]


async def test_ruff_fix_proposes_without_writing(ctx: ToolContext) -> None:
    before = (ctx.root / "demo" / "use.py").read_text()
    result = await ruff_fix(ctx)
    assert result.success and result.fixed_count == 1 and result.remaining_count == 0
    [fix] = result.fixes
    assert fix.file == "demo/use.py"
    assert fix.new_content == "from demo.calc import add\n\nTOTAL = add(1, 2)\n"
    assert "-import os\n" in fix.diff
    assert (ctx.root / "demo" / "use.py").read_text() == before


async def test_pytest_run_reports_each_test(ctx: ToolContext) -> None:
    result = await pytest_run(ctx, "tests")
    assert not result.success and result.error is None  # one test failed: not Punie's success
    assert (result.passed, result.failed, result.errors, result.skipped) == (1, 1, 0, 0)
    by_name = {t.name: t for t in result.tests}
    passed = by_name["tests/test_calc.py::test_passes"]
    failed = by_name["tests/test_calc.py::test_fails"]
    assert passed.outcome == "passed" and passed.message is None and passed.duration >= 0
    assert failed.outcome == "failed"
    assert failed.message is not None and "assert 4 == 5" in failed.message
    assert failed.traceback is not None and "def test_fails" in failed.traceback
    assert not (ctx.root / ".pytest_cache").exists()


async def test_pytest_run_collection_error_and_keyword(ctx: ToolContext) -> None:
    (ctx.root / "tests" / "test_broken.py").write_text("import does_not_exist\n")
    broken = await pytest_run(ctx, "tests")
    assert not broken.success and broken.error is None and broken.errors == 1
    assert any(t.name == "tests/test_broken.py" and t.outcome == "error" for t in broken.tests)
    only = await pytest_run(ctx, "tests/test_calc.py", keyword="passes")
    assert [(t.name, t.outcome) for t in only.tests] == [
        ("tests/test_calc.py::test_passes", "passed")
    ]
    assert only.success  # every test that ran passed


@pytest.fixture
def installed_source(tmp_path: Path) -> Path:
    """An installed package's own source (iniconfig from site-packages): real-world code."""
    source = Path(iniconfig.__file__).parent
    target = tmp_path / "iniconfig"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["ALL"]\n')
    return target


def python_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.py")}


async def test_parsers_on_an_installed_package(installed_source: Path) -> None:
    ctx = ToolContext(root=installed_source, timeout_seconds=60)
    lint = await ruff_check(ctx)
    assert not lint.success and lint.error is None and lint.violation_count > 10
    files = python_files(installed_source)
    for v in lint.violations:
        assert v.file in files and v.line >= 1 and v.column >= 1 and v.code
    assert lint.fixable_count == sum(v.fixable for v in lint.violations) > 0

    types_ = await typecheck(ctx)
    assert types_.error is None and types_.success == (types_.error_count == 0)
    for e in types_.errors:
        assert e.file in files and e.line >= 1 and e.column >= 1 and e.code

    fixes = await ruff_fix(ctx)
    assert fixes.success and fixes.fixed_count > 0
    assert all(f.diff.startswith("--- a/") for f in fixes.fixes)


@pytest.mark.parametrize("live", [False, True], ids=["ty-check", "live-server"])
async def test_a_file_that_is_not_utf8_is_reported_and_the_rest_checked(
    ctx: ToolContext, live: bool
) -> None:
    (ctx.root / "demo" / "latin1.py").write_bytes(b"name = '\xe9'\n")
    pool = TyClientPool()
    try:
        if live:
            ctx.ty = await pool.get(ctx.root)
        result = await typecheck(ctx, "demo")
    finally:
        await pool.stop_all()
    assert result.error is None and not result.success
    found = {(e.file, e.code) for e in result.errors}
    assert found == {("demo/calc.py", "invalid-assignment"), ("demo/latin1.py", "io")}
    [io] = [e for e in result.errors if e.code == "io"]
    assert io.message.startswith("Failed to read file:") and "UTF-8" in io.message


async def test_a_broken_pyproject_is_one_line_naming_the_cause(
    ctx: ToolContext, tmp_path: Path
) -> None:
    """ruff and ty print a chain of causes with a source frame; the result said
    "ruff failed: ruff failed\\n  Cause: …\\n  |\\n1 | [tool.ruff\\n  |           ^\\n…"."""
    (ctx.root / "pyproject.toml").write_text("[tool.ruff\nselect = \n")
    for result in (
        await ruff_check(ctx, "demo"),
        await ruff_fix(ctx, "demo"),
        await typecheck(ctx, "demo"),
    ):
        assert result.success is False
        error = result.error or ""
        assert "\n" not in error and "  |" not in error and "failed: ruff failed" not in error
        assert "pyproject.toml" in error
        assert error.endswith(
            ": TOML parse error at line 1, column 11: unclosed table, expected `]`"
        ), error
    (ctx.root / "pyproject.toml").write_text('[tool.ruff]\nselect = ["XYZ999"]\n')
    error = (await ruff_check(ctx, "demo")).error or ""
    assert error.startswith("ruff failed: Unknown rule selector `XYZ999`"), error  # no warning


async def test_a_test_that_ends_the_test_process_is_named_and_earlier_results_kept(
    ctx: ToolContext,
) -> None:
    """A test calling ``os._exit`` (or crashing the interpreter): the result was "pytest
    hit an internal error (exit 3)" with pytest's unrelated warnings as the reason, and
    the tests that had passed before it were lost."""
    (ctx.root / "tests" / "test_zexit.py").write_text(
        "import os\n\n\ndef test_first():\n    assert True\n\n\n"
        "def test_ends_the_process():\n    os._exit(3)\n\n\ndef test_never_runs():\n    pass\n"
    )
    result = await pytest_run(ctx, "tests/test_zexit.py")
    assert result.error is None and not result.success
    assert [(t.name, t.outcome) for t in result.tests] == [
        ("tests/test_zexit.py::test_first", "passed"),
        ("tests/test_zexit.py::test_ends_the_process", "error"),
    ]
    assert (result.passed, result.errors) == (1, 1)
    message = result.tests[1].message or ""
    assert message.startswith("the test process ended during this test (exit 3)")
