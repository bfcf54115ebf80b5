"""A poisoned workspace, through the real server: every case contained, hover stays fast.

One workspace holds every hostile thing the containment issue found: a catastrophic
regex target, a FIFO, symlink loops, a 200,000-file tree, a module and a .gitignore
symlinked outside, a git repository whose config names programs for every mechanism,
a test that leaves a detached child behind, and room for a 200 MB tool argument. Each
case runs as ``punie.runCode`` under a 10 s sandbox limit (pytest starts slowly on a
busy machine); while its tool call runs
(the ``$/progress`` report naming the tool has arrived), a hover is sent and must be
answered in under 100 ms, and the run must end within the limit plus a second of its
tool call starting (a fresh server's first run also spawns a sandbox worker; a warm-up
run comes first). One server takes every case in turn, as an editor's would: each case
must also leave it able to serve the next.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from tests.conftest import FIXTURE_PROJECT, SERVER_COMMAND, Client, initialize_params, make_client

pytestmark = [pytest.mark.timeout(180), pytest.mark.asyncio(loop_scope="module")]

LIMIT = 10.0
HOVER_MS = 100.0

DETACH_TEST = """
import os, time

PID = {pid!r}
MARKER = {marker!r}


def test_leaves_a_child():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            open(PID, "w").write(str(os.getpid()))
            time.sleep(30)
            open(MARKER, "w").write("outlived pytest_run")
            os._exit(0)
        os._exit(0)
    while not os.path.exists(PID) or not open(PID).read():
        time.sleep(0.01)
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=root, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text(
        'def leak() -> int:\n    """SECRET"""\n    x: int = "SECRET"\n'
    )
    (outside / "ignore").write_text("*.py\n")
    marker_program = outside / "mark.sh"
    marker_program.write_text(f'#!/bin/sh\ntouch "{outside}/RAN-$(basename "$0")"\ncat\n')
    marker_program.chmod(0o755)

    root = base / "ws"
    shutil.copytree(FIXTURE_PROJECT, root)
    # ty is not under test here: keep it from indexing the huge tree on every start.
    with (root / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.ty.src]\nexclude = ["huge", "hostile"]\n')
    bad = root / "hostile"
    bad.mkdir()
    (bad / "a.txt").write_text("a" * 40 + "!\n")
    os.mkfifo(bad / "pipe.txt")
    (bad / "loop_a.py").symlink_to(bad / "loop_b.py")
    (bad / "loop_b.py").symlink_to(bad / "loop_a.py")
    (bad / "again").symlink_to(root)
    (bad / "link.py").symlink_to(outside / "secret.py")
    (root / ".gitignore").symlink_to(outside / "ignore")
    tests = root / "tests"
    tests.mkdir()
    pid, marker = outside / "child.pid", outside / "CHILD-OUTLIVED"
    (tests / "test_orphan.py").write_text(DETACH_TEST.format(pid=str(pid), marker=str(marker)))
    huge = root / "huge"
    for folder in range(200):
        here = huge / f"d{folder:03}"
        here.mkdir(parents=True)
        for name in range(1000):
            os.close(os.open(here / f"f{name}.txt", os.O_CREAT | os.O_WRONLY, 0o644))

    git(root, "init", "-q", "-b", "main")
    (root / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    git(root, "add", "pkg", ".gitattributes")
    git(root, "commit", "-q", "-m", "first")
    hooks = outside / "hooks"
    hooks.mkdir()
    for hook in ("post-index-change", "pre-commit", "reference-transaction"):
        (hooks / hook).symlink_to(marker_program)
    for key in (
        "core.fsmonitor",
        "filter.evil.clean",
        "filter.evil.smudge",
        "diff.external",
        "diff.evil.command",
        "diff.evil.textconv",
        "core.pager",
        "credential.helper",
    ):
        git(root, "config", key, str(marker_program))
    git(root, "config", "core.hooksPath", str(hooks))
    (root / "pkg" / "app.py").write_text((root / "pkg" / "app.py").read_text() + "\n# changed\n")
    return root


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client),
    scope="module",
)
async def client(lsp_client: Client, hostile: Path) -> Any:
    lsp_client.root = hostile
    options = {"punie": {"trust": True, "sandbox": {"timeoutSeconds": LIMIT, "memoryMb": 512}}}
    await lsp_client.initialize_session(initialize_params("visual-studio-code", hostile, options))
    await hover_ms(lsp_client)  # ty warm
    await lsp_client.workspace_execute_command_async(  # a sandbox worker spawned
        types.ExecuteCommandParams(command="punie.runCode", arguments=[{"code": "1"}])
    )
    yield lsp_client
    await lsp_client.shutdown_session()


async def hover_ms(client: Client) -> float:
    started = time.perf_counter()
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=(client.root / "pkg/app.py").as_uri()),
            position=types.Position(line=7, character=23),
        )
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert hover is not None and "Point" in str(hover.contents)
    return elapsed


async def contained(client: Client, code: str, tool: str) -> tuple[dict[str, Any], float]:
    """Run ``code``; hover while ``tool`` runs; return the result and the hover's ms."""
    token = f"run-{time.monotonic_ns()}"
    started = time.monotonic()
    run = asyncio.ensure_future(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="punie.runCode", arguments=[{"code": code}], work_done_token=token
            )
        )
    )
    while not any(tool in str(r) for r in client.progress_reports.get(token, [])):
        note = asyncio.ensure_future(client.wait_for_notification("$/progress"))
        await asyncio.wait({note, run}, return_when=asyncio.FIRST_COMPLETED)
        note.cancel()
        if run.done():
            break  # refused before it ran (an oversized argument): still measured below
    began = time.monotonic() - started
    # Three hovers one after another while the tool runs, judged by their median: a loop
    # held by the tool delays them all, one scheduler hiccup of a 2-core machine does not.
    hovers = [await hover_ms(client)]
    while len(hovers) < 3 and not run.done():
        hovers.append(await hover_ms(client))
    during = statistics.median(hovers)
    result = await run
    elapsed = time.monotonic() - started
    assert isinstance(result, dict)
    assert elapsed - began < LIMIT + 1, (
        f"{tool} took {elapsed:.1f} s (its call began at {began:.1f} s): "
        f"{result.get('error')} {result.get('calls')}"
    )
    shown = [round(h, 1) for h in hovers]
    print(f"{tool}: ended {elapsed - began:.2f} s after its call began; hovers {shown} ms")
    assert during < HOVER_MS, f"hovers during {tool} took {shown} ms (median {during:.0f})"
    assert isinstance(result, dict)
    return result, during


async def test_catastrophic_regex(client: Client) -> None:
    result, _ = await contained(client, 'search(r"(a|aa)+$", "hostile").truncated_reason', "search")
    assert "took too long on hostile/a.txt:1" in result["value"]


async def test_fifo_and_symlink_loops(client: Client) -> None:
    code = (
        "out = []\n"
        "for p in ['hostile/pipe.txt', 'hostile/loop_a.py']:\n"
        "    try:\n        read_file(p)\n    except OSError as e:\n        out.append(str(e))\n"
        "out.append(list_files('hostile/**').files)\nout"
    )
    result, _ = await contained(client, code, "read_file")
    fifo, loop, listed = result["value"]
    assert "not a regular file" in fifo and "symlink loop" in loop
    assert listed == ["hostile/a.txt"]


async def test_huge_tree_is_cut(client: Client) -> None:
    code = (
        "r = list_files('**/*.txt')\ns = list_files('huge/d00*/f1.txt')\n"
        "[r.truncated, r.truncated_reason, r.file_count, s.truncated_reason, s.file_count]"
    )
    result, _ = await contained(client, code, "list_files")
    truncated, reason, count, walk_reason, walked = result["value"]
    assert truncated and "max_result_items" in reason and count == 10_000, result
    assert "100000 entries" in walk_reason and 0 < walked < 100, result


async def test_symlinked_module_and_gitignore(client: Client) -> None:
    code = (
        "t = typecheck('hostile')\nr = ruff_check('hostile')\n"
        "[[e.file for e in t.errors], [v.file for v in r.violations],"
        " 'pkg/app.py' in list_files('pkg/**/*.py').files]"
    )
    result, _ = await contained(client, code, "typecheck")
    assert "SECRET" not in str(result)
    typed, linted, app_listed = result["value"]
    assert "hostile/link.py" not in typed + linted
    assert app_listed, result  # the outside .gitignore ("*.py") was not applied


async def test_git_runs_no_repository_program(client: Client) -> None:
    code = (
        "[git_status('pkg').file_count, git_diff('pkg').file_count, git_log('.', 5).commit_count]"
    )
    result, _ = await contained(client, code, "git_status")
    assert result["value"] == [1, 1, 1], result
    outside = client.root.parent / "outside"
    assert sorted(p.name for p in outside.glob("RAN-*")) == []


async def test_orphaned_pytest_child_is_killed(client: Client) -> None:
    result, _ = await contained(client, "pytest_run('tests/test_orphan.py').passed", "pytest_run")
    assert result["value"] == 1, result
    assert not child_alive(client.root.parent / "outside" / "child.pid")


def child_alive(pid_file: Path) -> bool:
    stat = Path(f"/proc/{int(pid_file.read_text())}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


async def test_huge_result_is_refused_without_stalling(client: Client) -> None:
    """git status of the root lists 200,000 untracked files: refused by name, in time."""
    code = "r = git_status('.')\nr.error"
    result, _ = await contained(client, code, "git_status")
    assert "max_result_items" in (result["value"] or "") or "timeout" in str(result), result


async def test_200_mb_argument_is_refused_and_logged_by_size(client: Client) -> None:
    code = (
        "try:\n    write_file('big.py', 'x' * 200_000_000)\n"
        "except OSError as e:\n    err = str(e)\nerr"
    )
    result, _ = await contained(client, code, "write_file")
    assert "max_argument_bytes" in result["value"]
    [call] = result["calls"]
    assert call["args"]["content"] == "<200,000,000 characters>"
    assert len(str(result)) < 10_000
