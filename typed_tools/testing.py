"""``pytest_run``: the workspace's tests, one structured result per test.

pytest runs in a child process with the workspace's own interpreter (``.venv`` when
there is one, because that is where the project's dependencies are), under the tool's
time limit. Results come from a small plugin writing JSON from pytest's report objects
(node ids, outcomes, durations, crash messages, failure reports): pytest's terminal
text changes between versions and plugins, and JUnit XML loses node ids. Tests run on
the disk's files: the run's overlay is not applied.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from typed_tools.base import ToolContext
from typed_tools.containment import current_deadline
from typed_tools.models import TestCase, TestResult
from typed_tools.process import Completed, Contained, run
from typed_tools.tool import tool
from typed_tools.visibility import library_roots
from typed_tools.workspace import ToolFailure, display_path, require_trust, resolve

__all__ = ["pytest_run", "workspace_python"]

_PLUGIN = "_punie_pytest_report"

_EXIT_MEANING = {3: "pytest hit an internal error", 4: "pytest was called wrongly"}


def workspace_python(root: Path) -> str:
    """The interpreter that has the project's dependencies: its .venv's, else ours."""
    for candidate in (root / ".venv" / "bin" / "python", root / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _read_report(report: Path, completed: Completed) -> dict[str, Any]:
    """The plugin's JSON; its absence means pytest never reached the end of a session."""
    if not report.exists():
        reason = _EXIT_MEANING.get(completed.returncode, "pytest did not run")
        detail = (completed.stderr or completed.stdout).strip()[-2000:]
        raise ToolFailure(f"{reason} (exit {completed.returncode}): {detail}")
    return json.loads(report.read_text(encoding="utf-8"))


@tool
async def pytest_run(ctx: ToolContext, path: str = ".", keyword: str | None = None) -> TestResult:
    """Run the tests under ``path`` (optionally only those matching ``-k keyword``).

    Runs the project's own code, so only in a trusted workspace; the tests run in a
    session of their own under resource limits, and every process they start is killed
    when the run ends or reaches its time limit.
    """
    require_trust(ctx, "pytest_run")
    root = resolve(ctx, ".")
    target = resolve(ctx, path)
    if not target.exists():
        raise ToolFailure(f"no such file or folder: {display_path(ctx, target)}")
    with tempfile.TemporaryDirectory(prefix="punie-pytest-") as scratch:
        shutil.copy(Path(__file__).with_name("_pytest_plugin.py"), Path(scratch, f"{_PLUGIN}.py"))
        report = Path(scratch, "report.json")
        argv = [
            workspace_python(root), "-m", "pytest", str(target),
            "-p", _PLUGIN, "-p", "no:cacheprovider", "-q", "--color=no",
            *(["-k", keyword] if keyword else []),
        ]  # fmt: skip
        remaining = current_deadline().remaining()
        cpu_seconds = math.ceil(remaining) + 1 if math.isfinite(remaining) else 0
        completed = await run(
            argv,
            cwd=root,
            contain=Contained(memory_mb=ctx.process_memory_mb, cpu_seconds=cpu_seconds),
            env={
                "PUNIE_PYTEST_REPORT": str(report),
                "PUNIE_PYTEST_VISIBLE": os.pathsep.join([str(root), *library_roots(root)]),
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [scratch, os.environ.get("PYTHONPATH")])
                ),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )
        data = _read_report(report, completed)
    if data["exitstatus"] in _EXIT_MEANING:
        raise ToolFailure(
            f"{_EXIT_MEANING[data['exitstatus']]}: {completed.stderr.strip()[-2000:]}"
        )
    tests = [TestCase.model_validate(item) for item in data["tests"]]
    return TestResult(
        success=not any(t.outcome in ("failed", "error") for t in tests),
        passed=sum(t.outcome == "passed" for t in tests),
        failed=sum(t.outcome == "failed" for t in tests),
        errors=sum(t.outcome == "error" for t in tests),
        skipped=sum(t.outcome == "skipped" for t in tests),
        duration=round(data["duration"], 3),
        tests=tests,
    )
