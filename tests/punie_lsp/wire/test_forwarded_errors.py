"""ty's error answers go back to the editor byte for byte, several-line messages included.

A fresh user's pass: ``textDocument/hover`` with ``"textDocument": 5`` comes back with
ty's four-line ``JSON parsing failure`` message, where LSP asks for "a short
description". Decided: forwarding is byte for byte by contract (ARCHITECTURE.md, the
short path), so punie-lsp does not rewrite ty's answers; this pins it against ty run
directly on the same session.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ty import find_ty_bin

from tests.rawlsp import SERVER, frame, parse_frames

pytestmark = pytest.mark.timeout(120)


def _answer_bytes(argv: list[str], root: Path) -> bytes:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}},
        },
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "textDocument/hover",
            "params": {"textDocument": 5, "position": {"line": 0, "character": 0}},
        },
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    done = subprocess.run(
        argv,
        input=b"".join(frame(json.dumps(m).encode()) for m in messages),
        capture_output=True,
        cwd=root,
        timeout=60,
        check=False,
    )
    bodies, _ = parse_frames(done.stdout)
    [answer] = [b for b in bodies if json.loads(b).get("id") == 2]
    return answer


def test_ty_refusing_a_forwarded_request_is_passed_on_unchanged(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    ours = _answer_bytes([*SERVER, "--stdio"], tmp_path)
    tys = _answer_bytes([find_ty_bin(), "server"], tmp_path)
    assert ours == tys
    error = json.loads(ours)["error"]
    assert error["code"] == -32602 and "\n" in error["message"]  # ty's, several lines, kept


def test_the_routers_own_invalid_params_have_pygls_shape(tmp_path: Path) -> None:
    """What the router refuses before pygls sees it (params that are not an object or an
    array, ``initialize`` without its object) reads as every other refused argument:
    "Invalid Params: …" in one line (it was "Invalid params: …", and no prefix at all)."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": [1]},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "initialize",
            "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
        },
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 3, "method": "workspace/executeCommand", "params": 5},
        {"jsonrpc": "2.0", "id": 4, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    done = subprocess.run(
        [*SERVER, "--stdio"],
        input=b"".join(frame(json.dumps(m).encode()) for m in messages),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    bodies, _ = parse_frames(done.stdout)
    errors = {m["id"]: m["error"] for b in bodies if "error" in (m := json.loads(b))}
    assert errors[1] == {
        "code": -32602,
        "message": "Invalid Params: initialize needs an object of params",
    }
    assert errors[3] == {"code": -32602, "message": "Invalid Params: not an object or array"}
