"""``punie.runCode``: the user's code in the Monty sandbox, with progress and cancellation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import Client, change_document, open_document

pytestmark = pytest.mark.timeout(90)


async def run_code(client: Client, code: str, token: str | None = None) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="punie.runCode", arguments=[{"code": code}], work_done_token=token
        )
    )
    assert isinstance(result, dict)
    return result


async def hover_works(client: Client) -> None:
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=(client.root / "pkg/app.py").as_uri()),
            position=types.Position(line=7, character=23),
        )
    )
    assert hover is not None
    assert "Point" in str(hover.contents)


async def test_typed_results_with_field_access_and_a_trace(client: Client) -> None:
    code = 'r = typecheck("pkg/app.py")\nprint(r.error_count)\n[(e.line, e.code) for e in r.errors]'
    result = await run_code(client, code, token="run-1")
    assert "error" not in result
    assert result["stdout"] == "1\n"
    assert result["value"] == [[13, "invalid-explicit-return"]]
    [call] = result["calls"]
    assert call["tool"] == "typecheck"
    assert call["success"] is False  # Punie's verdict: ty found an error
    assert call["durationMs"] >= 0
    reports = client.progress_reports["run-1"]
    assert [type(r).__name__ for r in reports] == [
        "WorkDoneProgressBegin",
        "WorkDoneProgressReport",
        "WorkDoneProgressEnd",
    ]
    assert "typecheck(path='pkg/app.py')" in str(reports[1])


async def test_sees_unsaved_buffers(client: Client) -> None:
    path = client.root / "pkg" / "app.py"
    uri = open_document(client, path)
    change_document(client, uri, 2, path.read_text().replace('"not an int"', "1"))
    result = await run_code(client, 'typecheck("pkg/app.py").error_count')
    assert result["value"] == 0


BAD_CODE = [
    ("open('/etc/passwd').read()", "typing"),  # Monty has no open()
    ("import os\nos.system('true')", "typing"),
    ("try:\n    read_file('../../../etc/passwd')\nexcept OSError:\n    x = False\nx", None),
    ("def f(:\n  pass", "syntax"),
    ("x: int = 'a'", "typing"),
    ("1 / 0", "runtime"),
]


async def test_bad_code_is_a_result_and_the_server_keeps_serving(client: Client) -> None:
    # One server takes every case in turn: each must be a result, and the server must
    # still answer after each (and after all of them).
    for code, kind in BAD_CODE:
        result = await run_code(client, code)
        if kind is None:
            assert result["value"] is False, (code, result)  # the tool refused: not a read
        else:
            assert result["error"]["kind"] == kind, (code, result)
        await hover_works(client)


@pytest.mark.parametrize("client", ["neovim"], indirect=True)  # one profile is enough for timing
async def test_cancelling_the_progress_stops_a_run_within_1s(client: Client) -> None:
    running = asyncio.ensure_future(run_code(client, "while True:\n    pass", token="spin"))
    while "spin" not in client.progress_reports:
        await asyncio.wait_for(client.wait_for_notification(types.PROGRESS), 10)
    started = time.monotonic()
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token="spin"))
    result = await asyncio.wait_for(running, 5)
    assert time.monotonic() - started < 1.0
    assert result["error"]["kind"] == "cancelled"
    await hover_works(client)


@pytest.mark.parametrize("client", ["neovim"], indirect=True)  # one profile is enough for timing
async def test_cancelling_the_request_stops_a_run(client: Client) -> None:
    params = types.ExecuteCommandParams(
        command="punie.runCode",
        arguments=[{"code": "while True:\n    pass"}],
        work_done_token="spin2",
    )
    running = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND, params, msg_id="run-to-cancel"
        )
    )
    while "spin2" not in client.progress_reports:
        await asyncio.wait_for(client.wait_for_notification(types.PROGRESS), 10)
    started = time.monotonic()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="run-to-cancel"))
    with pytest.raises(JsonRpcException, match="cancel"):
        await asyncio.wait_for(running, 5)
    assert time.monotonic() - started < 1.0
    await hover_works(client)


# Argument checks do not depend on the client's capabilities: one profile.
@pytest.mark.parametrize("client", ["neovim"], indirect=True)
async def test_misuse_is_invalid_params(client: Client) -> None:
    with pytest.raises(JsonRpcException, match="'code' must be a string"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="punie.runCode", arguments=[{"code": 3}])
        )


@pytest.mark.parametrize("client", ["neovim"], indirect=True)
async def test_hover_after_write_file_sees_the_proposal_not_the_open_buffer(
    client: Client,
) -> None:
    """The hover tool shows ty the editor's buffers before it asks, but never over a text
    the run proposed: the proposal, not the editor's buffer, is what the run reads."""
    open_document(client, client.root / "pkg" / "app.py")
    code = (
        'text = read_file("pkg/app.py")\n'
        'added = "\\n\\ndef proposed(n: int) -> str:\\n    return str(n)\\n"\n'
        'write_file("pkg/app.py", text + added)\n'
        'h = hover("pkg/app.py", symbol="proposed")\n'
        "(h.success, h.content.splitlines()[0] if h.content else '')"
    )
    result = await run_code(client, code)
    assert "error" not in result, result
    assert result["value"] == [True, "def proposed(n: int) -> str"], result
