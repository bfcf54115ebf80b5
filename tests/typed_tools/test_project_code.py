"""pytest_run runs the project's code: only when trusted, limited, and nothing it starts survives.

The projects are written here; their tests start detached grandchildren (double fork
and ``setsid``, so they leave pytest's process group) that would write a marker
outside the workspace later. Each grandchild writes its pid first, so the test checks
it is gone the moment pytest_run returns — no waiting.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.typed_tools.conftest import write_tree
from typed_tools import ToolContext
from typed_tools.testing import pytest_run

DETACH = """
import os, time

def detach(pid_file, marker):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(pid_file, "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(30)
            open(marker, "w").write("outlived pytest_run")
            os._exit(0)
        os._exit(0)
    while not os.path.exists(pid_file) or not open(pid_file).read():
        time.sleep(0.01)
"""


def project(tmp_path: Path, test_body: str) -> tuple[Path, Path, Path]:
    root = tmp_path / "project"
    pid_file, marker = tmp_path / "child.pid", tmp_path / "MARKER"
    write_tree(
        root,
        {
            "tests/helper.py": DETACH,
            "tests/test_it.py": (
                "import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\n"
                "from helper import detach\n\n"
                f"PID, MARKER = {str(pid_file)!r}, {str(marker)!r}\n"
                f"open({str(tmp_path / 'RAN')!r}, 'w').close()\n\n" + test_body
            ),
        },
    )
    return root, pid_file, marker


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_untrusted_workspace_refuses_to_run_tests(tmp_path: Path) -> None:
    root, _, _ = project(tmp_path, "def test_one():\n    pass\n")
    result = await pytest_run(ToolContext(root=root), "tests")
    assert not result.success
    assert "not trusted" in (result.error or "") and "--trust" in (result.error or "")
    assert not (tmp_path / "RAN").exists()  # the project's code never ran


async def test_detached_child_does_not_outlive_a_finished_run(tmp_path: Path) -> None:
    root, pid_file, marker = project(
        tmp_path, "def test_spawns():\n    detach(PID, MARKER)\n    assert True\n"
    )
    result = await pytest_run(ToolContext(root=root, trusted=True), "tests")
    assert result.success and result.passed == 1, result
    pid = int(pid_file.read_text())
    assert not alive(pid), f"the detached grandchild {pid} outlived pytest_run"
    assert not marker.exists()


async def test_detached_child_does_not_outlive_the_deadline(tmp_path: Path) -> None:
    root, pid_file, marker = project(
        tmp_path,
        "import time\n\ndef test_hangs():\n    detach(PID, MARKER)\n    time.sleep(60)\n",
    )
    ctx = ToolContext(root=root, trusted=True, timeouts={"pytest_run": 10})
    started = time.monotonic()
    result = await pytest_run(ctx, "tests")
    assert time.monotonic() - started < 10 + 1
    assert not result.success and "did not finish within 10 s" in (result.error or "")
    pid = int(pid_file.read_text())
    assert not alive(pid), f"the detached grandchild {pid} outlived the deadline"
    assert not marker.exists()


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="Linux resource limits")
async def test_memory_is_limited(tmp_path: Path) -> None:
    root, _, _ = project(
        tmp_path, "def test_hog():\n    block = bytearray(2 * 1024**3)\n    assert block\n"
    )
    result = await pytest_run(ToolContext(root=root, trusted=True, process_memory_mb=1024), "tests")
    assert result.failed == 1 and "MemoryError" in (result.tests[0].message or "")
