"""A subcommand stopped from outside leaves nothing running.

Found by a fresh user's pass: ``timeout 10 punie-lsp run-code x.py`` (SIGTERM) ended
the process at once and its Monty worker ran the program on, orphaned, to its own time
limit; ``punie-lsp tool typecheck`` killed (SIGTERM or SIGKILL) left ``ty check``
running for minutes. Now SIGTERM and SIGHUP end a subcommand as Ctrl-C does, and the
tools' child processes die with the process that started them (Linux).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

PUNIE = [sys.executable, "-m", "punie_lsp"]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; PDEATHSIG")


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            parents[int(name)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return state[state.rfind(b")") + 2 :].split()[0] != b"Z"  # a zombie has stopped


def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)  # polling a condition with a deadline, not waiting a guessed time


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def slow_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module ``ty check`` takes minutes on (400,000 rebindings of one name)."""
    root = tmp_path_factory.mktemp("slow")
    (root / "slow.py").write_text("x = 1\n" * 400_000)
    return root


def _default_stop_signals() -> None:
    """In the child: the test runner may have been started with SIGINT or SIGTERM
    ignored (a shell's background job); a user's terminal has them at their defaults."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PUNIE, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_stop_signals,
    )


def _ty_check_below(process: subprocess.Popen[str]) -> int:
    found: list[int] = []

    def started() -> bool:
        found[:] = [p for p in _descendants(process.pid) if " check " in _command_line(p)]
        return bool(found)

    _until(started, 60, "ty check never started")
    return found[0]


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signalled_tool_stops_its_ty_check_and_says_so(
    slow_workspace: Path, number: signal.Signals
) -> None:
    process = _start(["tool", "typecheck", "--path", "."], slow_workspace)
    child = _ty_check_below(process)
    process.send_signal(number)
    _, err = process.communicate(timeout=30)
    expected = 130 if number == signal.SIGINT else 128 + number
    assert process.returncode == expected, err
    said = "interrupted" if number == signal.SIGINT else f"stopped by {number.name}"
    assert err.strip().splitlines()[-1] == f"punie-lsp: {said}"
    assert "Traceback" not in err
    _until(lambda: not _alive(child), 10, "ty check outlived punie-lsp")


def test_a_killed_tool_takes_its_ty_check_with_it(slow_workspace: Path) -> None:
    process = _start(["tool", "typecheck", "--path", "."], slow_workspace)
    child = _ty_check_below(process)
    process.kill()  # no handler runs: only the kernel can stop the child now
    process.communicate(timeout=30)
    _until(lambda: not _alive(child), 10, "ty check outlived a SIGKILLed punie-lsp")


def test_run_code_stopped_by_sigterm_is_cancelled_and_stops_its_workers(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    program = tmp_path / "spin.py"
    program.write_text('print(read_file("a.py"))\nwhile True:\n    pass\n')
    process = _start(["run-code", str(program), "--workspace", str(tmp_path)], tmp_path)
    assert process.stderr is not None
    line = process.stderr.readline()  # the tool call's line: the program is running
    assert "read_file(path='a.py')" in line, line
    workers = _descendants(process.pid)
    assert workers
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - started < 10, "waited for the sandbox's own time limit"
    assert process.returncode == 1, err
    assert json.loads(out)["error"]["kind"] == "cancelled"
    _until(lambda: not any(_alive(p) for p in workers), 10, "a sandbox worker outlived run-code")
