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


def _read_report(report: Path, progress: Path, completed: Completed) -> dict[str, Any]:
    """The plugin's JSON; without it pytest never reached the end of its session.

    Then the tests it finished are taken from the plugin's progress lines, and the test
    that was running when the process ended is reported as an error saying so: a test
    calling ``os._exit`` or crashing the interpreter lost every result before it, and
    the message was pytest's unrelated warnings with "internal error".
    """
    if report.exists():
        return json.loads(report.read_text(encoding="utf-8"))
    finished: dict[str, dict[str, Any]] = {}
    running: str | None = None
    if progress.exists():
        for line in progress.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "started" in record:
                running = record["started"]
            else:
                finished[record["finished"]["name"]] = record["finished"]
                running = None if running == record["finished"]["name"] else running
    if running is None and not finished:
        reason = _EXIT_MEANING.get(completed.returncode, "pytest did not run")
        detail = (completed.stderr or completed.stdout).strip()[-2000:]
        raise ToolFailure(f"{reason} (exit {completed.returncode}): {detail}")
    tests = list(finished.values())
    if running is not None:
        tests.append(
            {
                "name": running,
                "outcome": "error",
                "duration": 0.0,
                "message": (
                    f"the test process ended during this test (exit {completed.returncode}) "
                    "before pytest could report it; tests after it did not run"
                ),
                "traceback": None,
            }
        )
    return {"exitstatus": 1, "duration": 0.0, "tests": tests}


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
        report, progress = Path(scratch, "report.json"), Path(scratch, "progress.jsonl")
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
                "PUNIE_PYTEST_PROGRESS": str(progress),
                "PUNIE_PYTEST_VISIBLE": os.pathsep.join([str(root), *library_roots(root)]),
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [scratch, os.environ.get("PYTHONPATH")])
                ),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )
        data = _read_report(report, progress, completed)
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
