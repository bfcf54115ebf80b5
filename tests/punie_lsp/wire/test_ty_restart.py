"""ty crashes: punie-lsp restarts it, replays the editor's buffers, and answers again.

The crash is real (SIGKILL of the ty process punie reports in ``punie.status``).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig
from ty import find_ty_bin

from punie_lsp.wire import ty_child
from tests.conftest import (
    SERVER_COMMAND,
    Client,
    change_document,
    initialize_params,
    make_client,
    open_document,
)

pytestmark = pytest.mark.timeout(60)

FRESH = "\n\ndef fresh_only_in_buffer(count: int) -> list[int]:\n    return [count]\n"


async def status(client: Client) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="punie.status", arguments=[{}])
    )
    assert isinstance(result, dict)
    return result


def open_with_unsaved_change(client: Client) -> tuple[str, int]:
    """Open app.py, then type a function the file on disk does not have."""
    path = client.root / "pkg" / "app.py"
    text = path.read_text()
    uri = open_document(client, path)
    change_document(client, uri, 2, text + FRESH)
    return uri, len((text + FRESH).splitlines()) - 2  # the line of `def fresh_only_in_buffer`


async def hover_fresh(client: Client, uri: str, line: int) -> str:
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=6),
        )
    )
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    return hover.contents.value


async def test_killed_ty_is_back_within_2s_with_unsaved_buffer(client: Client) -> None:
    uri, line = open_with_unsaved_change(client)
    assert "fresh_only_in_buffer" in await hover_fresh(client, uri, line)
    before = await status(client)

    os.kill(before["ty"]["pid"], signal.SIGKILL)
    started = time.monotonic()
    text = await hover_fresh(client, uri, line)
    elapsed = time.monotonic() - started

    assert "def fresh_only_in_buffer(count: int) -> list[int]" in text
    assert elapsed < 2.0
    after = await status(client)
    assert after["ty"]["state"] == "running"
    assert after["ty"]["restarts"] == 1
    assert after["ty"]["pid"] != before["ty"]["pid"]
    assert any("restarting ty" in m.message for m in client.log_messages)


async def test_requests_queued_during_restart_can_be_cancelled(client: Client) -> None:
    uri, line = open_with_unsaved_change(client)
    await hover_fresh(client, uri, line)
    os.kill((await status(client))["ty"]["pid"], signal.SIGKILL)
    hovers = [asyncio.ensure_future(hover_fresh(client, uri, line)) for _ in range(3)]
    hovers[0].cancel()  # pygls' client sends $/cancelRequest
    done = await asyncio.gather(*hovers, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError)
    assert all("fresh_only_in_buffer" in str(d) for d in done[1:])


def ty_that_dies_after_first_run(tmp: Path) -> str:
    """A ty command that works once; every restart exits at once (a broken install)."""
    script = tmp / "ty_once.py"
    script.write_text(
        "import os, sys\n"
        "marker = sys.argv[1]\n"
        "if os.path.exists(marker):\n"
        "    sys.exit(3)\n"
        "open(marker, 'w').close()\n"
        f"os.execv({find_ty_bin()!r}, [{find_ty_bin()!r}, 'server'])\n"
    )
    return shlex.join([sys.executable, str(script), str(tmp / "ran-once")])


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=SERVER_COMMAND,
        client_factory=make_client,
        server_env={
            **os.environ,
            "PUNIE_LSP_TY_COMMAND": ty_that_dies_after_first_run(
                Path(tempfile.mkdtemp(prefix="punie-ty-once-"))
            ),
            "PUNIE_LSP_TY_WAIT_SECONDS": "1",
        },
    )
)
async def broken_client(lsp_client: Client, project: Path) -> AsyncIterator[Client]:
    lsp_client.root = project
    await lsp_client.initialize_session(initialize_params("neovim", project))
    yield lsp_client
    await lsp_client.shutdown_session()


async def test_request_during_failed_restart_errors_clearly(broken_client: Client) -> None:
    client = broken_client
    uri, line = open_with_unsaved_change(client)
    await hover_fresh(client, uri, line)
    os.kill((await status(client))["ty"]["pid"], signal.SIGKILL)

    started = time.monotonic()
    with pytest.raises(Exception, match="did not answer within 1 s") as failure:
        await hover_fresh(client, uri, line)
    assert time.monotonic() - started < 3.0
    assert "ty exited" in str(failure.value) or "restart failed" in str(failure.value)
    assert "punie-lsp keeps retrying" in str(failure.value)
    # punie itself keeps serving its own features.
    assert (await status(client))["ty"]["state"] in ("restarting", "failed")


async def test_a_crash_loop_keeps_retrying_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the 7 quick failures that once ended all retries, ty is still being retried."""
    monkeypatch.setattr(ty_child, "BACKOFF_SECONDS", (0.0, 0.01, 0.02))
    failures: asyncio.Queue[str] = asyncio.Queue()
    child = ty_child.TyChild(
        command=shlex.split(ty_that_dies_after_first_run(tmp_path)),
        cwd=str(tmp_path),
        initialize_params=lambda: {"processId": None, "rootUri": None, "capabilities": {}},
        on_message=lambda *_: None,
        on_ready=lambda _: None,
        on_crash=lambda _: None,
        on_restart_failed=failures.put_nowait,
    )
    await child.start()
    try:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        messages = [await asyncio.wait_for(failures.get(), 20) for _ in range(10)]
        assert child.state == "restarting"
        assert all("punie-lsp keeps retrying" in m for m in messages), messages
        assert "10 attempt(s)" in messages[-1]
        assert "keeps retrying" in child.describe()
    finally:
        await child.stop()
    assert child.state == "stopped"
