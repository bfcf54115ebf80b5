"""The command line: subcommands dispatch to the tools, the sandbox and the agent."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import FIXTURE_PROJECT

PUNIE = [sys.executable, "-m", "punie_lsp"]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PUNIE, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_run_code_prints_the_result_and_each_call() -> None:
    code = 'r = typecheck("pkg")\n[(e.file, e.line) for e in r.errors]\n'
    done = run("run-code", "-", "--workspace", str(FIXTURE_PROJECT), stdin=code)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["value"] == [["pkg/app.py", 13]]
    assert [c["tool"] for c in result["calls"]] == ["typecheck"]
    assert "typecheck(path='pkg')" in done.stderr


def test_run_code_failure_is_exit_1_with_the_reason() -> None:
    done = run("run-code", "-", "--workspace", str(FIXTURE_PROJECT), stdin="1 / 0\n")
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["kind"] == "runtime"


def test_run_code_misuse_is_exit_2() -> None:
    done = run("run-code", "/no/such/file.py")
    assert done.returncode == 2
    assert "cannot read /no/such/file.py" in done.stderr


def test_tool_subcommand() -> None:
    done = run("tool", "typecheck", "--path", "pkg/app.py", "--workspace", str(FIXTURE_PROJECT))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["error_count"] == 1


def test_server_options_are_checked() -> None:
    done = run("--tcp", "nonsense")
    assert done.returncode == 2
    assert "--tcp expects HOST:PORT" in done.stderr
