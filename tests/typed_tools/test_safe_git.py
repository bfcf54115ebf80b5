"""A poisoned repository names programs git would run: the tools' git runs none of them.

Each test plants one mechanism whose program touches a marker file, shows that plain
git runs it (so the test can fail), then runs the typed tools (or ``run_git`` for what
the tools never ask for, such as a fetch) and checks the marker is absent.
"""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.typed_tools.conftest import git
from typed_tools import ToolContext
from typed_tools.git import git_diff, git_log, git_status
from typed_tools.safe_git import GIT_ENVIRONMENT, git_command, run_git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("one\n")
    (root / ".gitattributes").write_text("*.txt filter=evil diff=evil\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    (root / "a.txt").write_text("one\ntwo\n")
    return root


def marker_program(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A script that touches ``tmp_path/name`` (outside the workspace) and passes stdin on."""
    marker = tmp_path / f"RAN-{name}"
    script = tmp_path / f"{name}.sh"
    script.write_text(f'#!/bin/sh\ntouch "{marker}"\ncat 2>/dev/null\nexit 0\n')
    script.chmod(0o755)
    return marker, str(script)


def plain_git(root: Path, *args: str, stdin: str | None = None) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(
        ["git", *args], cwd=root, input=stdin, text=True, capture_output=True, env=env, timeout=30
    )


async def run_all_tools(root: Path) -> None:
    ctx = ToolContext(root=root)
    for result in (await git_status(ctx), await git_diff(ctx), await git_log(ctx)):
        assert result.success, result.error


Plant = Callable[[Path, Path], Path]


def fsmonitor(tmp: Path, root: Path) -> Path:
    marker, program = marker_program(tmp, "fsmonitor")
    git(root, "config", "core.fsmonitor", program)
    return marker


def hooks(tmp: Path, root: Path) -> Path:
    marker, program = marker_program(tmp, "hook")
    hook_dir = tmp / "hooks"
    hook_dir.mkdir()
    for name in ("post-index-change", "pre-commit", "post-checkout", "reference-transaction"):
        (hook_dir / name).symlink_to(program)
    git(root, "config", "core.hooksPath", str(hook_dir))
    os.utime(root / "a.txt", (0, 0))  # stat info changed: a plain status rewrites the index
    return marker


def filter_clean(tmp: Path, root: Path) -> Path:
    marker, program = marker_program(tmp, "filter")
    git(root, "config", "filter.evil.clean", program)
    git(root, "config", "filter.evil.smudge", program)
    git(root, "config", "filter.evil.required", "true")
    return marker


def external_diff(tmp: Path, root: Path) -> Path:
    marker, program = marker_program(tmp, "external-diff")
    git(root, "config", "diff.external", program)
    return marker


def diff_driver(tmp: Path, root: Path) -> Path:
    marker, program = marker_program(tmp, "diff-driver")
    git(root, "config", "diff.evil.command", program)
    return marker


def textconv(tmp: Path, root: Path) -> Path:
    marker, program = marker_program(tmp, "textconv")
    git(root, "config", "diff.evil.textconv", program)
    return marker


@pytest.mark.parametrize(
    ("plant", "control"),
    [
        (fsmonitor, ("status",)),
        (hooks, ("status",)),
        (filter_clean, ("diff",)),
        (external_diff, ("diff",)),
        (diff_driver, ("diff",)),
        (textconv, ("diff",)),
    ],
    ids=["fsmonitor", "hooks", "filter", "external-diff", "diff-driver", "textconv"],
)
async def test_repository_programs_do_not_run(
    tmp_path: Path, repo: Path, plant: Plant, control: tuple[str, ...]
) -> None:
    marker = plant(tmp_path, repo)
    plain_git(repo, *control)
    assert marker.exists(), "plain git should have run the planted program"
    marker.unlink()
    if plant is hooks:
        os.utime(repo / "a.txt", (0, 0))
    await run_all_tools(repo)
    completed = await run_git(["show", "HEAD"], cwd=repo)
    assert completed.returncode == 0, completed.stderr
    completed = await run_git(["blame", "a.txt"], cwd=repo)
    assert completed.returncode == 0, completed.stderr
    assert not marker.exists()


def run_on_terminal(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Run ``argv`` with stdout on a pseudo-terminal: git starts its pager only on a tty."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
        )
        os.close(follower)
        while True:
            try:
                if not os.read(leader, 4096):
                    break
            except OSError:  # EIO: the terminal's other side closed
                break
        process.wait(timeout=30)
    finally:
        os.close(leader)


async def test_pager_does_not_run(tmp_path: Path, repo: Path) -> None:
    marker, program = marker_program(tmp_path, "pager")
    git(repo, "config", "core.pager", program)
    git(repo, "config", "pager.log", program)
    env = {k: v for k, v in os.environ.items() if k not in ("PAGER", "GIT_PAGER")}
    run_on_terminal(["git", "log"], repo, env)
    assert marker.exists(), "plain git on a terminal should have started the pager"
    marker.unlink()
    run_on_terminal(await git_command(["log"], repo), repo, {**env, **GIT_ENVIRONMENT})
    assert not marker.exists()


async def test_credential_helper_and_askpass_do_not_run(tmp_path: Path, repo: Path) -> None:
    """``git credential fill`` is what a fetch runs to get a password."""
    marker, program = marker_program(tmp_path, "credential")
    git(repo, "config", "credential.helper", f"!{program}")
    git(repo, "config", "core.askPass", program)
    request = "protocol=https\nhost=example.invalid\n\n"
    plain_git(repo, "credential", "fill", stdin=request)
    assert marker.exists(), "plain git should have asked the credential helper"
    marker.unlink()
    completed = await run_git(["credential", "fill"], cwd=repo, stdin=request, timeout=30)
    assert completed.returncode != 0
    assert not marker.exists()
