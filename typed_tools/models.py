"""Result models of the checking tools: ty, ruff and pytest.

Field names and ``success`` meanings are a contract: they are Punie's
(``src/punie/agent/typed_tools.py``), so datasets written against
``typecheck(...).errors[0].line`` or ``if ruff.success and ty.success:`` keep working.
Every field has a default so a tool that could not run still returns its model
(``success=False`` plus ``error`` and ``parse_error``), and the sandboxed code never has
to guard against a missing attribute. Lines and columns
count from 1, columns in characters, as an editor shows them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from typed_tools.base import ResultItem, ToolResult

__all__ = [
    "FileFix",
    "RuffFixResult",
    "RuffResult",
    "RuffViolation",
    "TestCase",
    "TestResult",
    "TypeCheckError",
    "TypeCheckResult",
]

Severity = Literal["error", "warning", "info"]


class TypeCheckError(ResultItem):
    """One diagnostic from ty."""

    file: str
    """Workspace-relative path of the file."""
    line: int
    """1-based line where the diagnostic starts."""
    column: int
    """1-based character column where the diagnostic starts."""
    severity: Severity
    """How ty classifies it; only ``error`` fails a check."""
    code: str
    """ty's rule name, e.g. ``invalid-assignment``; usable in ``# ty: ignore[...]``."""
    message: str
    """What ty says is wrong."""


class TypeCheckResult(ToolResult):
    """ty's verdict on a file or folder. ``success``: ty ran and found no error (warnings pass)."""

    error_count: int = 0
    """Diagnostics with severity ``error``."""
    warning_count: int = 0
    """Diagnostics with severity ``warning``."""
    errors: list[TypeCheckError] = Field(default_factory=list)
    """Every diagnostic (errors, warnings and infos), in file and line order."""


class RuffViolation(ResultItem):
    """One lint violation from ruff."""

    file: str
    """Workspace-relative path of the file."""
    line: int
    """1-based line where the violation starts."""
    column: int
    """1-based character column where the violation starts."""
    code: str
    """Ruff's rule code, e.g. ``F401``; usable in ``# noqa: ...``."""
    message: str
    """What ruff says is wrong."""
    fixable: bool
    """Whether ``ruff_fix`` would fix it (ruff offers a safe fix)."""


class RuffResult(ToolResult):
    """Ruff's lint verdict. ``success``: ruff ran and found no violation."""

    violation_count: int = 0
    """Number of violations."""
    fixable_count: int = 0
    """Violations that ``ruff_fix`` would fix."""
    violations: list[RuffViolation] = Field(default_factory=list)
    """Every violation, in file and line order."""


class FileFix(ResultItem):
    """Ruff's proposed new text for one file."""

    file: str
    """Workspace-relative path of the file."""
    fixed_count: int
    """How many violations the new text fixes."""
    diff: str
    """Unified diff from the current text to ``new_content``, for showing to a person."""
    new_content: str
    """The whole file after the fixes; pass it to ``write_file`` to propose it."""


class RuffFixResult(ToolResult):
    """Fixes ruff would apply, computed on the current text; nothing is written.

    ``success``: ruff ran (punie-lsp's tool; Punie has none).
    """

    fixed_count: int = 0
    """Violations the proposed fixes remove."""
    remaining_count: int = 0
    """Violations that remain after the fixes (no safe fix exists)."""
    fixes: list[FileFix] = Field(default_factory=list)
    """One entry per file that would change."""


Outcome = Literal["passed", "failed", "error", "skipped"]


class TestCase(ResultItem):
    """One collected test and how it went."""

    __test__ = False  # a result model, not something for pytest to collect

    name: str
    """pytest's node id, e.g. ``tests/test_math.py::test_add[1-2]``."""
    outcome: Outcome
    """``error`` means the test could not run (a fixture or collection failed)."""
    duration: float
    """Seconds the test took, setup and teardown included."""
    message: str | None = None
    """The failure or skip reason's one-line message, when there is one."""
    traceback: str | None = None
    """pytest's failure report (assertion introspection included), when it failed."""


class TestResult(ToolResult):
    """A pytest run. ``success``: pytest ran and no test failed or errored (none ran counts)."""

    __test__ = False  # a result model, not something for pytest to collect

    passed: int = 0
    """Tests that passed."""
    failed: int = 0
    """Tests whose assertions failed."""
    errors: int = 0
    """Tests (or modules) that could not run: fixture or collection errors."""
    skipped: int = 0
    """Tests skipped or expected to fail."""
    duration: float = 0.0
    """Wall-clock seconds of the whole run."""
    tests: list[TestCase] = Field(default_factory=list)
    """Every test in the order pytest ran them."""
