"""What reaches ty through punie-lsp: the editor's own bytes, and every sync notification."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import shlex
import sys
from collections.abc import AsyncIterator
from concurrent.futures import Future
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types

from tests.conftest import Client, initialize_params, make_client, open_document

pytestmark = pytest.mark.timeout(60)

TEE = Path(__file__).parents[2] / "ty_tee.py"


def received(log: Path) -> list[str]:
    return [ast.literal_eval(line) for line in log.read_text().splitlines()]


@pytest_asyncio.fixture
async def recorded(project: Path, tmp_path: Path) -> AsyncIterator[tuple[Client, Path]]:
    log = tmp_path / "ty-received.log"
    client = make_client()
    env = {**os.environ, "PUNIE_LSP_TY_COMMAND": shlex.join([sys.executable, str(TEE), str(log)])}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    client.root = project
    await client.initialize_session(initialize_params("neovim", project))
    yield client, log
    await client.shutdown_session()
    await client.stop()


async def test_forwarded_request_reaches_ty_byte_for_byte(recorded: tuple[Client, Path]) -> None:
    client, log = recorded
    uri = (client.root / "pkg" / "app.py").as_uri()
    # An unusual but valid encoding: key order, spacing and escapes a re-encoder would change.
    body = (
        '{"params": {"position": {"character": 23, "line": 7}, '
        '"textDocument": {"uri": "' + uri + '"}}, "id": 4242, "method": "textDocument/hover",'
        '   "jsonrpc": "2.0", "x-note": "caf\\u00e9"}'
    )
    waiter: Future[object] = Future()
    client.protocol._request_futures[4242] = waiter  # pygls resolves it with the response
    writer = client.protocol.writer
    assert writer is not None
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()))
    assert "Point" in str(await asyncio.wait_for(asyncio.wrap_future(waiter), 10))
    assert body in received(log)


async def test_sync_notifications_reach_ty_in_order(recorded: tuple[Client, Path]) -> None:
    client, log = recorded
    path = client.root / "pkg" / "app.py"
    uri = path.as_uri()
    open_document(client, path)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri, type=types.FileChangeType.Changed)]
        )
    )
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Point"))  # a barrier
    methods = [json.loads(body).get("method") for body in received(log)]
    expected = [
        "textDocument/didOpen",
        "textDocument/didSave",
        "workspace/didChangeConfiguration",
        "workspace/didChangeWatchedFiles",
        "textDocument/didClose",
        "workspace/symbol",
    ]
    assert [m for m in methods if m in expected] == expected


async def test_empty_lua_tables_reach_ty_as_objects(project: Path, tmp_path: Path) -> None:
    """Neovim sends ``ty = { inlayHints = {} }`` as ``[]``; ty would drop its whole section."""
    log = tmp_path / "ty-received.log"
    client = make_client()
    env = {**os.environ, "PUNIE_LSP_TY_COMMAND": shlex.join([sys.executable, str(TEE), str(log)])}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    options = {"ty": {"inlayHints": [], "completions": {"autoImport": False}}, "punie": []}
    await client.initialize_session(initialize_params("neovim", project, options))
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"ty": {"configuration": {"rules": []}}})
    )
    await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Point"))  # a barrier
    messages = [json.loads(body) for body in received(log)]
    [initialize] = [m for m in messages if m.get("method") == "initialize"]
    assert initialize["params"]["initializationOptions"] == {
        "inlayHints": {},
        "completions": {"autoImport": False},
    }
    [changed] = [m for m in messages if m.get("method") == "workspace/didChangeConfiguration"]
    assert changed["params"]["settings"]["ty"] == {"configuration": {"rules": {}}}
    await client.shutdown_session()
    await client.stop()
