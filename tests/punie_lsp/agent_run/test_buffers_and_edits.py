"""Buffers and edits end to end: punie-lsp's text is the editor's, and an edit never lands
on text it was not computed from (a real server, ty, sandbox and pygls client; only the
model is scripted, see ``tests/scripted_models.py``)."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.uris import to_fs_path

from tests import lsp_client_model as editor
from tests.conftest import Client, change_document, initialize_params, make_client, open_document
from tests.punie_lsp.agent_run.test_agent_in_editor import (
    BROKEN,
    Editor,
    command,
    diagnostic_of,
    session,
)
from tests.punie_lsp.session.test_lsp_lines import PIECES

pytestmark = pytest.mark.timeout(180)

HELIX_CAPABILITIES: dict[str, Any] = {
    # Helix 25.x (helix-lsp/src/client.rs): versioned edits and resource operations, no
    # change annotations, no window.showMessage; it answers showMessageRequest with
    # MethodNotFound (this client has no handler for it, so pygls answers the same).
    "workspace": {
        "applyEdit": True,
        "workspaceEdit": {
            "documentChanges": True,
            "resourceOperations": ["create", "rename", "delete"],
            "failureHandling": "abort",
            "normalizesLineEndings": False,
        },
        "configuration": True,
        "workspaceFolders": True,
    },
    "window": {"workDoneProgress": True},
    "general": {"positionEncodings": ["utf-8", "utf-32", "utf-16"]},
}


def did_open(client: Client, uri: str, text: str, version: int = 0) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=text
            )
        )
    )


async def started(client: Client, token: str) -> None:
    """Wait until the command with work-done ``token`` has begun (its first report)."""
    while token not in client.progress_reports:
        await asyncio.wait_for(client.wait_for_notification(types.PROGRESS), 10)


async def test_a_file_closed_and_reopened_during_the_run_gets_nothing(project: Path) -> None:
    """Neovim reopens a file that changed on disk at version 0, the version the run read."""
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.3"}
    async with session(project, "fixer", punie={"edits": "auto"}, env=slow) as client:
        path = project / "pkg" / "app.py"
        uri = path.as_uri()
        did_open(client, uri, path.read_text(), version=0)
        running = asyncio.ensure_future(
            command(client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}, "fix")
        )
        await started(client, "fix")
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        reloaded = path.read_text().replace("def ", "def  ", 1)  # changed on disk meanwhile
        path.write_text(reloaded)
        did_open(client, uri, reloaded, version=0)
        result = await running
        assert result["applied"] is False
        assert "app.py (closed and reopened)" in result["reason"]
        assert client.applied == []
        assert any("closed and reopened" in m.message for m in client.messages)
        assert result["edits"][0]["text"].count("return 1") == 1  # still in the result


async def test_a_file_open_through_a_symbolic_link_is_edited_as_that_buffer(
    project: Path,
) -> None:
    """The editor has ``linked.py -> pkg/app.py`` open; the model writes ``pkg/app.py``.

    The tools resolve the link (the run reads the buffer), so the edit must be planned
    against that buffer and its version too: Neovim applies an edit for the real path to
    the linked buffer (one buffer per file), so an edit planned against the disk landed
    over what the user typed there meanwhile.
    """
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.3"}
    async with session(project, "fixer", punie={"edits": "auto"}, env=slow) as client:
        (project / "linked.py").symlink_to(project / "pkg" / "app.py")
        uri = (project / "linked.py").as_uri()
        text = (project / "pkg" / "app.py").read_text()
        did_open(client, uri, text, version=0)
        running = asyncio.ensure_future(
            command(client, "punie.ask", {"prompt": "fix it", "uri": uri}, "fix")
        )
        # The program has run (it read the buffer): now the user types in that buffer.
        while not any(m.get("kind") == "toolResult" for m in client.messages_from_punie):
            await asyncio.wait_for(client.wait_for_notification("punie/message"), 10)
        typed = text.replace('return "not an int"', 'return "typed meanwhile"')
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=1),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=typed)],
            )
        )
        result = await running
        assert result["applied"] is False, client.applied
        assert "linked.py (edited)" in result["reason"]
        assert client.applied == []
        # Planned against the buffer the user has, not the disk behind the link.
        assert result["edits"][0]["uri"] == uri


async def test_a_crlf_file_is_fixed_with_crlf_endings(project: Path) -> None:
    path = project / "pkg" / "app.py"
    crlf = path.read_text().replace("\n", "\r\n")
    path.write_bytes(crlf.encode())
    async with session(project, "fixer", punie={"edits": "auto"}) as client:
        uri = path.as_uri()
        did_open(client, uri, crlf, version=4)
        result = await command(
            client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}
        )
        assert result["applied"] is True, result
        [params] = client.applied
        [doc_edit] = params.edit.document_changes or []
        assert isinstance(doc_edit, types.TextDocumentEdit)
        assert doc_edit.text_document.version == 4
        sent = []
        for e in doc_edit.edits:
            assert isinstance(e, types.TextEdit)
            start, end = e.range.start, e.range.end
            sent.append(((start.line, start.character), (end.line, end.character), e.new_text))
        after = editor.apply_all(crlf, sent, "utf-8")  # neovim's profile negotiates utf-8
        assert after == crlf.replace(BROKEN, "return 1")
        assert after.count("\n") == after.count("\r\n")  # not one LF line among them
        assert len(sent) == 1  # one changed line, not the whole file


async def test_read_file_keeps_crlf_cr_and_mixed_endings(project: Path) -> None:
    texts = {"crlf.py": "a = 1\r\nb = 2\r\n", "cr.py": "a = 1\rb = 2\r", "mixed.py": "a\r\nb\nc\rd"}
    for name, text in texts.items():
        (project / name).write_bytes(text.encode())
    async with session(project, "hello") as client:
        did_open(client, (project / "open.py").as_uri(), "x = 1\r\n\fy = 2\r")
        code = "[read_file(p) for p in ['crlf.py', 'cr.py', 'mixed.py', 'open.py']]"
        result = await command(client, "punie.runCode", {"code": code})
        assert result["value"] == [*texts.values(), "x = 1\r\n\fy = 2\r"]


async def test_helix_without_show_message_request_gets_the_edits_and_the_answer(
    project: Path,
) -> None:
    """``edits: "ask"`` (the shipped Helix set-up) in an editor that cannot ask."""
    client = make_client({types.WORKSPACE_APPLY_EDIT: _refuse_apply}, Editor)
    client.root = project
    env = {**os.environ, "PUNIE_LSP_MODEL_FACTORY": "tests.scripted_models:fixer"}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    params = initialize_params("neovim", project, {"punie": {"edits": "ask"}})
    params.capabilities = client.protocol._converter.structure(
        HELIX_CAPABILITIES, types.ClientCapabilities
    )
    await client.initialize_session(params)
    try:
        uri = (project / "pkg" / "app.py").as_uri()
        result = await command(
            client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}
        )
        assert result["applied"] is False
        assert "window/showMessageRequest" in result["reason"]
        assert result["answer"].startswith("Fixed: broken() now returns an int.")
        assert "return 1" in result["edits"][0]["text"]
        shown = [m.message for m in client.messages]
        assert any("window/showMessageRequest" in m for m in shown), shown
        assert any("Fixed: broken() now returns an int." in m for m in shown), shown
    finally:
        await client.shutdown_session()
        await client.stop()


def _refuse_apply(client: Editor, params: types.ApplyWorkspaceEditParams) -> Any:
    raise AssertionError("nothing may be applied without the user's OK")


async def test_an_editor_that_errors_on_apply_edit_still_gets_the_answer(project: Path) -> None:
    client = make_client({types.WORKSPACE_APPLY_EDIT: _refuse_apply}, Editor)
    client.root = project
    env = {**os.environ, "PUNIE_LSP_MODEL_FACTORY": "tests.scripted_models:fixer"}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    params = initialize_params("neovim", project, {"punie": {"edits": "auto"}})
    await client.initialize_session(params)
    try:
        uri = (project / "pkg" / "app.py").as_uri()
        result = await command(
            client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}
        )
        assert result["applied"] is False
        assert result["reason"].startswith("not applied: the editor refused workspace/applyEdit")
        assert result["answer"].startswith("Fixed: broken() now returns an int.")
        assert any("refused workspace/applyEdit" in m.message for m in client.messages)
    finally:
        await client.shutdown_session()
        await client.stop()


def _type_then_refuse(
    client: Editor, params: types.ApplyWorkspaceEditParams
) -> types.ApplyWorkspaceEditResult:
    """VS Code with the edit in its Refactor Preview: the user types in the file, then
    presses *Apply*; VS Code refuses ("Cannot apply refactoring because 'app.py' has
    changed in the meantime", a dialog) and the language client answers applied: false
    with no failureReason."""
    client.applied.append(params)
    [change] = [
        c for c in params.edit.document_changes or [] if isinstance(c, types.TextDocumentEdit)
    ]
    uri = change.text_document.uri
    typed = (Path(to_fs_path(uri) or "")).read_text().replace("def ", "def  ", 1)
    change_document(client, uri, (change.text_document.version or 0) + 1, typed)
    return types.ApplyWorkspaceEditResult(applied=False)


async def test_an_edit_refused_because_the_user_typed_meanwhile_says_so(project: Path) -> None:
    """The user typed while VS Code asked to confirm the edit, and VS Code refused it:
    the result and the warning name the change (the panel said "the editor did not
    apply it: declined", as if the user had said no)."""
    client = make_client({types.WORKSPACE_APPLY_EDIT: _type_then_refuse}, Editor)
    assert isinstance(client, Editor)
    client.root = project
    env = {**os.environ, "PUNIE_LSP_MODEL_FACTORY": "tests.scripted_models:fixer"}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    params = initialize_params("visual-studio-code", project, {"punie": {"edits": "ask"}})
    await client.initialize_session(params)
    try:
        path = project / "pkg" / "app.py"
        uri = open_document(client, path)
        result = await command(
            client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}
        )
        assert len(client.applied) == 1  # asked once, with change annotations
        assert result["applied"] is False
        assert result["reason"].startswith("not applied: changed while Punie worked: app.py")
        assert any("changed while Punie worked" in m.message for m in client.messages)
    finally:
        await client.shutdown_session()
        await client.stop()


# -- the property, through the real server ------------------------------------------------

texts = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


@pytest.mark.parametrize("profile", ["visual-studio-code", "neovim"])
async def test_the_servers_copy_is_the_editors_after_random_changes(
    project: Path, profile: str
) -> None:
    """Random documents and incremental changes, sent by a real client to punie-lsp; its
    copy (what ``read_file`` returns inside the server) equals the editor's after each.
    VS Code's profile speaks UTF-16, Neovim's UTF-8."""
    client = make_client()
    client.root = project
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio")
    result = await client.initialize_session(initialize_params(profile, project))
    encoding = result.capabilities.position_encoding or "utf-16"
    loop = asyncio.get_running_loop()
    counter = iter(range(10**6))

    async def exchange(name: str, text: str, changes: list[editor.Edit]) -> Any:
        """didOpen, the changes, then the server's copy (``read_file``), then didClose."""
        uri = (project / name).as_uri()
        did_open(client, uri, text)
        for version, edit in enumerate(changes, start=1):
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(
                                start=types.Position(line=edit.start[0], character=edit.start[1]),
                                end=types.Position(line=edit.end[0], character=edit.end[1]),
                            ),
                            text=edit.text,
                        )
                    ],
                )
            )
        theirs = await command(client, "punie.tool", {"name": "read_file", "args": {"path": name}})
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        return theirs

    # Hypothesis drives a plain function; it runs in a worker thread and hands each
    # example's messages to this test's event loop, where the client lives.
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(texts, st.lists(texts, min_size=1, max_size=5), st.data())
    def check(text: str, inserts: list[str], data: st.DataObject) -> None:
        mine, changes = text, []
        for insert in inserts:
            offsets = editor.valid_offsets(mine)
            a, b = sorted(data.draw(st.lists(st.sampled_from(offsets), min_size=2, max_size=2)))
            edit = editor.Edit(
                editor.position_of(mine, a, encoding), editor.position_of(mine, b, encoding), insert
            )
            mine = editor.apply(mine, edit, encoding)
            changes.append(edit)
        name = f"doc{next(counter)}.py"
        future = asyncio.run_coroutine_threadsafe(exchange(name, text, changes), loop)
        assert future.result(timeout=60) == mine

    try:
        await asyncio.to_thread(check)
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_a_restarted_ty_is_replayed_the_editors_text(project: Path, tmp_path: Path) -> None:
    """After a crash, ty gets the buffer as the editor has it (form feed, CRLF and all)."""
    log = tmp_path / "ty-received.log"
    tee = [sys.executable, str(Path(__file__).parents[2] / "ty_tee.py"), str(log)]
    client = make_client()
    env = {**os.environ, "PUNIE_LSP_TY_COMMAND": shlex.join(tee)}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    await client.initialize_session(initialize_params("visual-studio-code", project))
    try:
        uri = (project / "ff.py").as_uri()
        text = "a = 1\f\nb = 2\r\nc = 3\r\n"
        did_open(client, uri, text, version=1)
        change = editor.Edit((2, 4), (2, 5), "4 # \U0001f600")
        mine = editor.apply(text, change, "utf-16")
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=2, character=4),
                            end=types.Position(line=2, character=5),
                        ),
                        text=change.text,
                    )
                ],
            )
        )
        status = await command(client, "punie.status", {})
        os.kill(status["ty"]["pid"], signal.SIGKILL)
        await client.text_document_hover_async(  # answered by the restarted ty
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=0, character=0),
            )
        )
        bodies = [json.loads(ast.literal_eval(line)) for line in log.read_text().splitlines()]
        opened = [
            b["params"]["textDocument"]
            for b in bodies
            if b.get("method") == "textDocument/didOpen"
            and b["params"]["textDocument"]["uri"] == uri
        ]
        assert len(opened) == 2  # the editor's didOpen, then the replay
        assert opened[1]["text"] == mine == "a = 1\f\nb = 2\r\nc = 4 # \U0001f600\r\n"
        assert opened[1]["version"] == 2
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_buffers_of_files_whose_uri_is_percent_encoded_are_read(project: Path) -> None:
    """pygls keys documents by the decoded URI; a lookup by the encoded one missed them."""
    async with session(project, "hello") as client:
        for name in ["my file.py", "caf\u00e9 #1.py"]:
            path = project / name
            path.write_text("on_disk = 1\n")
            uri = path.as_uri()
            assert "%" in uri
            did_open(client, uri, "in_the_buffer = 2\r\n")
            read = await command(
                client, "punie.tool", {"name": "read_file", "args": {"path": name}}
            )
            assert read == "in_the_buffer = 2\r\n", name


async def test_a_folder_check_sees_buffers_whose_uri_is_percent_encoded(
    project: Path, tmp_path: Path
) -> None:
    """The workspace folder's own URI is encoded too (a space in its path)."""
    project = Path(shutil.copytree(project, tmp_path / "my projects" / "p"))
    folder = project / "my pkg"
    folder.mkdir()
    path = folder / "caf\u00e9 b.py"
    path.write_text("x: int = 1\n")
    async with session(project, "hello") as client:
        did_open(client, path.as_uri().replace("%C3%A9", "%c3%a9"), 'x: int = "unsaved"\r\n')
        result = await command(
            client, "punie.tool", {"name": "typecheck", "args": {"path": "my pkg"}}
        )
        assert [(e["file"], e["line"]) for e in result["errors"]] == [("my pkg/caf\u00e9 b.py", 1)]
