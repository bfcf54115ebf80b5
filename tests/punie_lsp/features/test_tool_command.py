"""``punie.tool``: typed tools run inside the server, seeing the editor's unsaved buffers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from punie_lsp.features import commands
from punie_lsp.wire import initialize
from tests.conftest import Client, change_document, open_document
from tests.rawlsp import RawServer

pytestmark = pytest.mark.timeout(90)


async def run_tool(client: Client, name: str, **args: Any) -> dict[str, Any]:
    result = await call(client, name, **args)
    assert isinstance(result, dict)
    return result


async def call(client: Client, name: str, **args: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="punie.tool", arguments=[{"name": name, "args": args}])
    )


def edit_buffer(client: Client, relative: str, new_text: str) -> str:
    """Open a file and replace its buffer text without saving (disk keeps the old text)."""
    uri = open_document(client, client.root / relative)
    change_document(client, uri, 2, new_text)
    return uri


def test_advertised_commands_are_the_registered_ones() -> None:
    assert set(initialize.PUNIE_COMMANDS) == set(commands.COMMANDS)


async def test_typecheck_sees_the_unsaved_buffer(client: Client) -> None:
    on_disk = await run_tool(client, "typecheck", path="pkg/app.py")
    assert [(e["line"], e["code"]) for e in on_disk["errors"]] == [(13, "invalid-explicit-return")]

    text = (client.root / "pkg" / "app.py").read_text()
    edited = text.replace('return "not an int"', "return 1") + "\n\nbad: int = 'buffer only'\n"
    edit_buffer(client, "pkg/app.py", edited)
    in_buffer = await run_tool(client, "typecheck", path="pkg/app.py")
    assert in_buffer["success"] is False and in_buffer["error"] is None  # ran, found one
    assert [(e["line"], e["code"]) for e in in_buffer["errors"]] == [
        (len(edited.splitlines()), "invalid-assignment")
    ]


async def test_folder_typecheck_leaves_the_editor_view_alone(client: Client) -> None:
    result = await run_tool(client, "typecheck", path="pkg")
    assert {(e["file"], e["code"]) for e in result["errors"]} == {
        ("pkg/app.py", "invalid-explicit-return")
    }
    shapes = (client.root / "pkg" / "shapes.py").as_uri()
    assert shapes not in client.diagnostics  # the editor never opened it: no diagnostics pushed


async def test_navigation_sees_the_unsaved_buffer(client: Client) -> None:
    text = (
        client.root / "pkg" / "app.py"
    ).read_text() + "\n\ndef helper() -> int:\n    return 2\n\n\nx = helper()\n"
    edit_buffer(client, "pkg/app.py", text)
    result = await run_tool(
        client,
        "goto_definition",
        file_path="pkg/app.py",
        symbol="helper",
        line=len(text.splitlines()),
    )
    assert result["success"] is True
    assert [(loc["file"], loc["line"]) for loc in result["locations"]] == [
        ("pkg/app.py", len(text.splitlines()) - 4)
    ]


async def test_hover_in_an_open_buffer_is_plain_text_as_punies_was(client: Client) -> None:
    """The editor's ty answers hovers in the editor's format (markdown, with an escaped
    docstring); the hover tool gives ty's plain text for an open buffer too, as Punie's did."""
    text = (client.root / "pkg" / "app.py").read_text() + (
        '\n\ndef scale(raw_size: int) -> int:\n    """raw_size -> pixels."""\n    return raw_size\n'
    )
    edit_buffer(client, "pkg/app.py", text)
    result = await run_tool(client, "hover", file_path="pkg/app.py", symbol="scale")
    assert result["success"] is True and result["language"] == "plaintext", result
    assert result["content"].startswith("def scale(raw_size: int) -> int"), result
    assert "raw_size -> pixels." in result["content"]


@pytest.mark.parametrize("client", ["neovim"], indirect=True)
async def test_hover_in_a_file_the_editor_has_not_opened_is_plain_text_too(
    client: Client,
) -> None:
    """One format whatever the editor has open: a file only on disk was answered by the
    editor's ty, in the editor's markdown (a fenced signature, ``raw\\_size``)."""
    (client.root / "pkg" / "units.py").write_text(
        'def scale(raw_size: int) -> int:\n    """raw_size -> pixels."""\n    return raw_size\n'
    )
    result = await run_tool(client, "hover", file_path="pkg/units.py", symbol="scale")
    assert result["success"] is True and result["language"] == "plaintext", result
    assert result["content"].startswith("def scale(raw_size: int) -> int"), result
    assert "raw_size -> pixels." in result["content"] and "```" not in result["content"]


async def test_read_file_sees_the_unsaved_buffer(client: Client) -> None:
    edit_buffer(client, "pkg/shapes.py", "# only in the editor\n")
    assert await call(client, "read_file", path="pkg/shapes.py") == "# only in the editor\n"


async def test_every_text_tool_sees_the_unsaved_buffer(client: Client) -> None:
    """``search`` read the disk while ``read_file``, ``grep`` and ``cat`` read the buffer
    (found by a fresh user's pass): one run, one view of the file."""
    edit_buffer(client, "pkg/shapes.py", "# only in the editor: UNSAVED_MARK\n")
    found = await run_tool(client, "search", pattern="UNSAVED_MARK")
    assert [(m["file"], m["line"]) for m in found["matches"]] == [("pkg/shapes.py", 1)]
    grep = await call(client, "run_command", command="grep -rn UNSAVED_MARK .")
    assert grep == "./pkg/shapes.py:1:# only in the editor: UNSAVED_MARK\n"


# Argument checks do not depend on the client's capabilities: one profile.
@pytest.mark.parametrize("client", ["neovim"], indirect=True)
async def test_failures_are_results_and_misuse_is_invalid_params(client: Client) -> None:
    outside = await run_tool(client, "typecheck", path="../../etc")
    assert outside["success"] is False
    assert "outside the workspace" in outside["error"]
    assert outside["parse_error"] == outside["error"]
    with pytest.raises(JsonRpcException, match=r"read_file: path .* is outside the workspace"):
        await call(client, "read_file", path="../../etc/passwd")
    with pytest.raises(JsonRpcInvalidParams, match="unknown tool 'nope'"):
        await run_tool(client, "nope")
    with pytest.raises(JsonRpcInvalidParams, match=r"punie\.tool read_file"):
        await run_tool(client, "read_file", path=3)


def test_a_workspace_opened_through_a_symlink_sees_the_buffers(
    project: Path, tmp_path: Path
) -> None:
    """The editor names files under the link, the tools by real path: every tool read
    the disk instead of the unsaved buffer (found by a fresh user's pass)."""
    link = tmp_path / "linked"
    link.symlink_to(project)
    server = RawServer()
    try:
        server.initialize(link)
        uri = (link / "pkg" / "app.py").as_uri()
        text = "def f() -> int:\n    return UNSAVED_MARK\n\nbad: int = 'buffer only'\n"
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        )

        def tool(name: str, **args: Any) -> Any:
            params = {"command": "punie.tool", "arguments": [{"name": name, "args": args}]}
            answer = server.request("workspace/executeCommand", params, timeout=60)
            assert "result" in answer, answer
            return answer["result"]

        assert tool("read_file", path="pkg/app.py") == text
        assert tool("search", pattern="UNSAVED_MARK")["match_count"] == 1
        checked = tool("typecheck", path="pkg")
        assert ("pkg/app.py", 4) in {(e["file"], e["line"]) for e in checked["errors"]}, checked
        assert server.request("shutdown")["result"] is None
    finally:
        server.kill()
