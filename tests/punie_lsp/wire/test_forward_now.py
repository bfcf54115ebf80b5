"""The reading threads' short path: what is forwarded without the event loop, and what is not.

On stdio, ``Router.forward_now`` runs on the thread that reads the editor and
``Router.answer_now`` on the one that reads ty (``wire/pipes.py``). These tests pin
what may take that path (a request ty serves and a document notification, in Neovim's
key order as in VS Code's), what must not (a body that is not JSON reaches no ty: ty
exits on one), and that a real session behaves the same either way.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from punie_lsp.wire.pipes import PipeWriter
from punie_lsp.wire.router import Router
from punie_lsp.wire.transport import FrameParser, FrameWriter
from tests.rawlsp import RawServer, frame
from typed_tools.ty_environment import ty_environment, ty_executable

pytestmark = pytest.mark.timeout(120)

HOVER_PARAMS = {"textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 0, "character": 1}}


def _compact(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


VSCODE_HOVER = _compact(
    {"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover", "params": HOVER_PARAMS}
)
NEOVIM_HOVER = _compact(  # Neovim 0.12's key order, captured from a real nvim: id last
    {"method": "textDocument/hover", "params": HOVER_PARAMS, "jsonrpc": "2.0", "id": 8}
)


class _TyStdin:
    """Stands for a running ty's process: its stdin is a real pipe read back here."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.read_end, write_end = os.pipe()
        os.set_blocking(self.read_end, False)
        self.stdin = PipeWriter(write_end, loop)

    def bodies(self) -> list[bytes]:
        got: list[bytes] = []
        parser = FrameParser(got.append)
        try:
            while data := os.read(self.read_end, 1 << 20):
                parser.feed(data)
        except BlockingIOError:
            pass
        return got


async def _running_router() -> tuple[Router, _TyStdin, list[bytes]]:
    loop = asyncio.get_running_loop()
    out_read, out_write = os.pipe()
    os.set_blocking(out_read, False)
    router = Router(FrameWriter(PipeWriter(out_write, loop)), on_exit=lambda _: None)
    ty = _TyStdin(loop)
    # As after initialize: ty advertised hover, the session is up, ty is ready.
    router.raw_initialize_params = {}
    router._early = None
    router.release_held()
    router.routes.advertise({"hoverProvider": True, "textDocumentSync": 2})
    router.ty._process = ty  # ty: ignore[invalid-assignment]  # only its stdin is used
    router.ty._ready.set()
    sent: list[bytes] = []
    router.writer.write_body = sent.append  # ty: ignore[invalid-assignment]
    return router, ty, sent


@pytest.mark.parametrize("body", [VSCODE_HOVER, NEOVIM_HOVER], ids=["vscode", "neovim"])
async def test_a_request_ty_serves_is_forwarded_on_the_thread_as_the_same_bytes(
    body: bytes,
) -> None:
    router, ty, sent = await _running_router()
    assert router.forward_now(body)
    assert ty.bodies() == [body]
    msg_id = json.loads(body)["id"]
    answer = _compact({"jsonrpc": "2.0", "id": msg_id, "result": {"contents": "x"}})
    assert router.answer_now(msg_id, answer)
    assert sent == [answer]  # ty's bytes, unchanged


@pytest.mark.parametrize(
    "body",
    [
        # not JSON, with a hover's envelope around it: ty would exit on it
        b'{"jsonrpc":"2.0","id":9,"method":"textDocument/hover","params":{"x":}}',
        # not UTF-8 inside params
        b'{"jsonrpc":"2.0","id":9,"method":"textDocument/hover","params":{"x":"\xff"}}',
        # punie's own, or punie adds to the answer, or an id ty cannot read
        _compact({"jsonrpc": "2.0", "id": 9, "method": "workspace/executeCommand"}),
        _compact({"jsonrpc": "2.0", "id": 9, "method": "textDocument/codeAction"}),
        _compact({"jsonrpc": "2.0", "id": 2**40, "method": "textDocument/hover"}),
        _compact({"jsonrpc": "2.0", "id": "punie:1", "method": "textDocument/hover"}),
        _compact({"jsonrpc": "2.0", "id": True, "method": "textDocument/hover"}),
        _compact({"jsonrpc": "2.0", "id": 9, "method": "textDocument/hover", "params": 3}),
        _compact({"jsonrpc": "1.0", "id": 9, "method": "textDocument/hover"}),
        _compact({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}}),
        _compact({"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration"}),
        _compact({"jsonrpc": "2.0", "id": 9, "result": None}),
        b"[]",
    ],
)
async def test_anything_else_is_left_to_the_loop_untouched(body: bytes) -> None:
    router, ty, sent = await _running_router()
    assert not router.forward_now(body)
    assert ty.bodies() == []
    assert sent == []


async def test_nothing_is_forwarded_on_the_thread_before_ty_is_ready() -> None:
    router, ty, _ = await _running_router()
    router.ty._ready.clear()
    assert not router.forward_now(VSCODE_HOVER)
    assert ty.bodies() == []


async def test_a_document_notification_reaches_ty_at_once_and_pygls_on_the_loop() -> None:
    router, ty, _ = await _running_router()
    given: list[dict[str, Any]] = []
    router.to_punie = given.append  # ty: ignore[invalid-assignment]
    change = _compact(
        {
            "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": "file:///w/a.py", "version": 2}},
            "jsonrpc": "2.0",
        }
    )
    assert router.forward_now(change)
    assert ty.bodies() == [change]
    assert given == []  # not yet: pygls is served by the loop
    await asyncio.sleep(0)
    assert given == [json.loads(change)]


def test_ty_alone_exits_on_a_body_that_is_not_json(tmp_path: Path) -> None:
    """The upstream trap ``read_envelope`` guards against: one bad body ends ty."""
    ty = subprocess.Popen(
        [ty_executable(), "server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ty_environment(),
        cwd=tmp_path,
    )
    assert ty.stdin is not None
    initialize = {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
    ty.stdin.write(
        frame(_compact({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize}))
    )
    ty.stdin.write(frame(b'{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"x":}}'))
    ty.stdin.flush()
    assert ty.wait(30) != 0


def test_through_punie_such_a_body_is_a_parse_error_and_ty_lives_on(tmp_path: Path) -> None:
    source = tmp_path / "a.py"
    source.write_text("value = 1\nprint(value)\n")
    server = RawServer(cwd=tmp_path)
    try:
        server.initialize(tmp_path)
        uri = server.open(source)
        assert server.hover(uri, 1, 7).get("result"), "ty answers before"
        ty_pids = {p.pid for p in server.ty_children()}
        body = b'{"jsonrpc":"2.0","id":"bad","method":"textDocument/hover","params":{"x":}}'
        server.write(frame(body))
        error = server.wait_for(lambda m: m.get("id") is None and "error" in m)
        assert error["error"]["code"] == -32700
        assert server.hover(uri, 1, 7).get("result"), "ty answers after"
        assert {p.pid for p in server.ty_children()} == ty_pids  # the same ty, never restarted
    finally:
        server.kill()
