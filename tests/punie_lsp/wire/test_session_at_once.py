"""A whole session written at once, shutdown and exit included, then the end of input.

ty is still starting when ``shutdown`` and ``exit`` arrive, so both wait behind the
requests before them; the end of input then races them. ``shutdown`` must be answered
(before pygls has even loaded), ``exit`` must wait for that answer, and the code must
be 0. It used to lose the answer and print a ``CancelledError`` traceback: ending the
input cancelled the one shared task that shuts ty down, under every other waiter.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.rawlsp import SERVER, frame, parse_frames

pytestmark = pytest.mark.timeout(120)


def test_shutdown_and_exit_written_at_once_are_honoured(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\nprint(x)\n")
    uri = (tmp_path / "a.py").as_uri()
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
        },
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "textDocument/hover",
            "params": {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 7}},
        },
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    session = tmp_path / "session.lsp"
    session.write_bytes(b"".join(frame(json.dumps(m).encode()) for m in messages))
    with session.open("rb") as stdin:
        done = subprocess.run(
            [*SERVER, "--stdio"],
            stdin=stdin,
            capture_output=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    bodies, rest = parse_frames(done.stdout)
    assert rest == b""
    answers = {m["id"]: m for m in map(json.loads, bodies) if "id" in m and "method" not in m}
    assert answers.keys() == {1, 2, 3}, done.stderr.decode(errors="replace")
    assert answers[3] == {"jsonrpc": "2.0", "id": 3, "result": None}
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    assert done.returncode == 0
