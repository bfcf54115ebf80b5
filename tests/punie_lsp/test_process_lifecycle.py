"""punie-lsp as an operating-system process: how it ends, and that ty ends with it.

An editor restarts language servers often and kills them rudely; every way a session
can end (the polite ``shutdown``/``exit``, a bare ``exit``, a closed pipe, a dead
editor, SIGKILL, a dropped TCP connection) must leave no ``ty server`` behind, because
an orphaned ty keeps a whole project's index in memory. The processes are real and
found with psutil; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from punie_lsp import __version__
from tests.rawlsp import SERVER, Connection, RawServer, frame, parse_frames, wait_gone

pytestmark = pytest.mark.timeout(90)

EXIT_SECONDS = 10.0
"""Generous on a loaded 2-core machine; a healthy exit takes well under a second."""

Spawn = Callable[..., RawServer]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start punie-lsp processes that are killed (with their children) at teardown."""
    servers: list[RawServer] = []

    def start(*args: str, **kwargs: object) -> RawServer:
        server = RawServer(args or ("--stdio",), **kwargs)  # ty: ignore[invalid-argument-type]  # forwarded keywords
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


def only_ty(server: RawServer) -> psutil.Process:
    """The one ty child a freshly initialized punie-lsp has."""
    children = server.ty_children()
    assert len(children) == 1, children
    return children[0]


def hover_mentions_point(conn: Connection, project: Path) -> None:
    uri = conn.open(project / "pkg" / "app.py")
    response = conn.hover(uri, 7, 23)
    assert "Point" in str(response["result"]["contents"]), response


def test_shutdown_then_exit_is_clean(spawn: Spawn, project: Path) -> None:
    server = spawn()
    server.initialize(project)
    ty = only_ty(server)
    assert server.request("shutdown") == {"jsonrpc": "2.0", "id": "raw-2", "result": None}
    # punie stops ty before answering shutdown, so ty is already on its way out.
    assert wait_gone([ty], EXIT_SECONDS) == []
    server.notify("exit")
    assert server.proc.wait(EXIT_SECONDS) == 0


@pytest.mark.parametrize("punie_loaded", [True, False], ids=["pygls-loaded", "pygls-loading"])
def test_requests_sent_before_shutdown_are_answered_first(
    spawn: Spawn, project: Path, punie_loaded: bool
) -> None:
    """ty answers all it was sent before ``shutdown``; so must punie-lsp, and in order."""
    server = spawn()
    server.initialize(project)
    uri = server.open(project / "pkg" / "app.py")
    if punie_loaded:  # punie's own command is answered once pygls has loaded
        status = server.request(
            "workspace/executeCommand", {"command": "punie.status", "arguments": [{}]}
        )
        assert "result" in status, status
    position = {"line": 7, "character": 23}
    ids = [f"hover-{i}" for i in range(30)]
    for msg_id in ids:
        server.send(
            {
                "jsonrpc": "2.0",
                "id": msg_id,
                "method": "textDocument/hover",
                "params": {"textDocument": {"uri": uri}, "position": position},
            }
        )
    server.send({"jsonrpc": "2.0", "id": "shutdown", "method": "shutdown"})
    answers: dict[str, dict[str, Any]] = {}
    while "shutdown" not in answers:
        message = server.wait_for(lambda m: "id" in m and "method" not in m)
        answers[message["id"]] = message
    assert answers.keys() == {*ids, "shutdown"}
    # ty itself answers some hovers "content modified" (-32801) while it indexes.
    assert all("Point" in str(answers[i]["result"]) for i in ids if "result" in answers[i])
    assert all(answers[i].get("error", {}).get("code") in (None, -32801) for i in ids), answers
    server.notify("exit")
    assert server.proc.wait(EXIT_SECONDS) == 0


def test_exit_without_shutdown_is_code_1(spawn: Spawn, project: Path) -> None:
    server = spawn()
    server.initialize(project)
    ty = only_ty(server)
    server.notify("exit")
    assert server.proc.wait(EXIT_SECONDS) == 1
    assert wait_gone([ty], EXIT_SECONDS) == []


def test_closed_stdin_ends_punie_and_ty(spawn: Spawn, project: Path) -> None:
    """The editor crashed or closed the pipe without a word: nothing may linger."""
    server = spawn()
    server.initialize(project)
    ty = only_ty(server)
    server.close_stdin()
    assert server.proc.wait(EXIT_SECONDS) == 1  # no shutdown came first
    assert wait_gone([ty], EXIT_SECONDS) == []


def test_dead_editor_process_ends_punie(spawn: Spawn, project: Path) -> None:
    """The editor's pid from initialize vanished while our stdin stays open.

    This is the case stdin EOF cannot catch: the pipe can outlive the editor when
    another process (a wrapper, a shell) holds its write end.
    """
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        server = spawn()
        server.initialize(project, process_id=editor.pid)
        ty = only_ty(server)
        hover_mentions_point(server, project)  # alive and serving while the editor lives
        editor.kill()
        editor.wait(EXIT_SECONDS)  # reap it: a zombie still answers kill(pid, 0)
        # The server polls the editor's pid every 2 s.
        assert server.proc.wait(EXIT_SECONDS) is not None
        assert wait_gone([ty], EXIT_SECONDS) == []
    finally:
        if editor.poll() is None:
            editor.kill()
            editor.wait(EXIT_SECONDS)


def test_sigkill_of_punie_takes_ty_down(spawn: Spawn, project: Path) -> None:
    """punie gets no chance to clean up: PDEATHSIG (or ty's stdin EOF) must do it."""
    server = spawn()
    server.initialize(project)
    ty = only_ty(server)
    os.kill(server.pid, signal.SIGKILL)
    assert server.proc.wait(EXIT_SECONDS) == -signal.SIGKILL
    assert wait_gone([ty], EXIT_SECONDS) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(server: RawServer) -> None:
    """Block until the server logs that it listens (bounded by the test timeout)."""
    stderr = server.proc.stderr
    assert stderr is not None  # started with PIPE
    seen = []
    while line := stderr.readline():
        seen.append(line)
        if b"listening on" in line:
            return
    raise AssertionError(f"punie-lsp --tcp never listened: {b''.join(seen)!r}")


def test_tcp_serves_one_editor_then_exits(spawn: Spawn, project: Path) -> None:
    port = _free_port()
    server = spawn("--tcp", f"127.0.0.1:{port}", stderr=subprocess.PIPE)
    _wait_listening(server)
    # Logs keep flowing to stderr: drain it so the server never blocks on a full pipe.
    stderr = server.proc.stderr
    assert stderr is not None
    drain = threading.Thread(target=stderr.read, daemon=True)
    drain.start()
    sock = socket.create_connection(("127.0.0.1", port), timeout=EXIT_SECONDS)
    incoming, outgoing = sock.makefile("rb"), sock.makefile("wb")
    conn = Connection(incoming, outgoing)
    try:
        result = conn.initialize(project)
        assert result["capabilities"]["hoverProvider"]
        ty = only_ty(server)
        hover_mentions_point(conn, project)
    finally:
        # What an editor's exit looks like to us: the socket ends (our reader sees EOF).
        sock.shutdown(socket.SHUT_RDWR)
        assert conn.closed.wait(EXIT_SECONDS)
        for stream in (outgoing, incoming, sock):
            stream.close()
    assert server.proc.wait(EXIT_SECONDS) is not None
    assert wait_gone([ty], EXIT_SECONDS) == []
    assert server.received_bytes == 0, "stdout is not the protocol channel under --tcp"


@pytest.mark.parametrize(
    "command",
    [
        [*SERVER, "--version"],
        [str(Path(sys.executable).with_name("punie-lsp")), "--version"],
    ],
    ids=["python-m", "console-script"],
)
def test_version(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, timeout=30, check=True)
    assert done.stdout.decode() == f"punie-lsp {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", __version__)


@pytest.mark.parametrize("log_to", ["stderr", "log-file"])
def test_stdout_is_protocol_only(spawn: Spawn, project: Path, tmp_path: Path, log_to: str) -> None:
    """With DEBUG logging every byte on stdout still parses as LSP frames.

    The session touches the noisy paths: start-up, ty's stderr, a forwarded request, a
    malformed frame and an unknown method (both logged), shutdown.
    """
    log = tmp_path / "punie.log"
    args = ["--stdio", "--log-level", "DEBUG"]
    if log_to == "log-file":
        server = spawn(*args, "--log-file", str(log))
    else:
        with log.open("wb") as stderr:
            server = spawn(*args, stderr=stderr)
    server.initialize(project)
    hover_mentions_point(server, project)
    server.write(b"Content-Length: abc\r\n\r\n")
    assert server.request("punie/noSuchMethod", {})["error"]["code"] == -32601
    assert server.request("shutdown")["result"] is None
    server.notify("exit")
    assert server.proc.wait(EXIT_SECONDS) == 0
    assert server.closed.wait(EXIT_SECONDS)
    assert server.frame_error is None, server.frame_error
    logged = log.read_text(errors="replace")
    assert " DEBUG " in logged, "DEBUG logging was on, so the log cannot be empty"
    assert "malformed frame" in logged


def test_stdin_from_dev_null_ends_at_once() -> None:
    """``punie-lsp --stdio </dev/null``: epoll refuses /dev/null; an empty session ends.

    It used to print asyncio's traceback (``PermissionError`` registering fd 0) and hang.
    """
    done = subprocess.run(
        [*SERVER, "--stdio"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=EXIT_SECONDS * 3,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # the input ended without a shutdown
    assert done.stdout == b""
    assert b"Traceback" not in done.stderr
    assert b"ERROR" not in done.stderr


def _batch(project: Path, *, shut_down: bool, exit: bool = False) -> tuple[bytes, set[str]]:
    """A whole session as bytes, written before the server reads any; the ids it owes.

    ``exit`` ends it with the ``exit`` notification after ``shutdown``."""
    app = project / "pkg" / "app.py"
    messages: list[dict[str, Any]] = [
        {
            "jsonrpc": "2.0",
            "id": "init",
            "method": "initialize",
            "params": {"processId": None, "rootUri": project.as_uri(), "capabilities": {}},
        },
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": app.as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": app.read_text(),
                }
            },
        },
        {
            "jsonrpc": "2.0",
            "id": "hover",
            "method": "textDocument/hover",
            "params": {
                "textDocument": {"uri": app.as_uri()},
                "position": {"line": 7, "character": 23},
            },
        },
        {
            "jsonrpc": "2.0",
            "id": "status",
            "method": "workspace/executeCommand",
            "params": {"command": "punie.status", "arguments": [{}]},
        },
    ]
    if shut_down:
        messages.append({"jsonrpc": "2.0", "id": "shutdown", "method": "shutdown"})
    if exit:
        messages.append({"jsonrpc": "2.0", "method": "exit"})
    data = b"".join(frame(json.dumps(m).encode()) for m in messages)
    return data, {m["id"] for m in messages if "id" in m}


@pytest.mark.parametrize(
    ("stdin_kind", "shut_down", "exit"),
    [
        ("file", False, False),
        ("pipe", False, False),
        ("pipe", True, False),
        ("file", True, True),
    ],
    ids=["file-then-eof", "pipe-then-eof", "pipe-shutdown-then-eof", "file-shutdown-exit"],
)
def test_messages_before_the_end_of_input_are_answered(
    project: Path, tmp_path: Path, stdin_kind: str, shut_down: bool, exit: bool
) -> None:
    """Messages written at once, then EOF: each request is answered, then the server exits.

    ``punie-lsp --stdio <session.lsp`` (or a pipe closed right after writing) used to
    end at EOF with nothing answered. Exit code as LSP says: 0 after shutdown, else 1.
    With ``exit`` read while pygls still loads, ``punie.status`` and ``shutdown`` (both
    pygls's to answer) were lost: ``exit`` ended the process at once (a fresh user's pass).
    """
    data, ids = _batch(project, shut_down=shut_down, exit=exit)
    if stdin_kind == "file":
        session = tmp_path / "session.lsp"
        session.write_bytes(data)
        with session.open("rb") as stdin:
            done = subprocess.run(
                [*SERVER, "--stdio"], stdin=stdin, capture_output=True, timeout=60, check=False
            )
    else:
        done = subprocess.run(
            [*SERVER, "--stdio"], input=data, capture_output=True, timeout=60, check=False
        )
    bodies, rest = parse_frames(done.stdout)
    assert rest == b""
    answers = {m["id"]: m for m in map(json.loads, bodies) if "id" in m and "method" not in m}
    assert answers.keys() == ids, done.stderr.decode(errors="replace")
    assert "capabilities" in answers["init"]["result"]
    assert answers["status"]["result"]["version"] == __version__, answers["status"]
    assert done.returncode == (0 if shut_down else 1)
    assert b"Traceback" not in done.stderr


def test_a_refused_request_is_one_log_line_not_a_traceback(
    spawn: Spawn, project: Path, tmp_path: Path
) -> None:
    """A user's bad arguments are answered as errors and logged in one line each.

    pygls logged a traceback at ERROR for each (``Exception occurred for message``),
    found by a fresh user's pass reading the server's log.
    """
    log = tmp_path / "punie.log"
    with log.open("wb") as stderr:
        server = spawn("--stdio", stderr=stderr)
    server.initialize(project)
    refused = [
        {"command": "punie.tool", "arguments": [{"name": "git_log", "args": {"count": -5}}]},
        {"command": "punie.tool", "arguments": [{"name": "nosuch", "args": {}}]},
        {"command": "punie.runCode", "arguments": [{"code": 5}]},
        {"command": "punie.nope", "arguments": []},
    ]
    answers = [server.request("workspace/executeCommand", params) for params in refused]
    assert all(a["error"]["code"] in (-32602, -32803) for a in answers), answers
    assert answers[0]["error"]["message"] == (
        "Invalid Params: punie.tool git_log: "
        "argument 'count' must be int from 1 to 10000, got int -5"
    )
    assert server.request("shutdown")["result"] is None
    server.notify("exit")
    assert server.proc.wait(EXIT_SECONDS) == 0
    logged = log.read_text(errors="replace")
    assert "Traceback" not in logged
    assert " ERROR " not in logged
    assert logged.count("answered with an error") == len(refused)


def test_a_ty_that_cannot_start_is_its_own_error_naming_what_to_fix(
    spawn: Spawn, project: Path
) -> None:
    """It was shown as "ignored in initializationOptions (defaults used): ty could not
    start …", as if a setting were wrong (found by a fresh user's pass)."""
    env = {**os.environ, "PUNIE_LSP_TY_COMMAND": "/no/such/ty server"}
    server = spawn("--stdio", env=env)
    server.initialize(project)
    shown = server.wait_for(lambda m: m.get("method") == "window/showMessage", 60)
    assert shown["params"]["type"] == 1  # Error
    message = shown["params"]["message"]
    assert message.startswith("punie-lsp: ty could not start (")
    assert "check PUNIE_LSP_TY_COMMAND" in message
    assert "ignored in" not in message
    assert server.request("shutdown")["result"] is None


def test_ctrl_c_ends_the_server_without_a_traceback(
    spawn: Spawn, project: Path, tmp_path: Path
) -> None:
    """SIGINT (Ctrl-C where it was started by hand) printed a KeyboardInterrupt traceback;
    found by a fresh user's pass. ty goes with it."""
    log = tmp_path / "punie.log"
    with log.open("wb") as stderr:
        server = spawn("--stdio", stderr=stderr)
    server.initialize(project)
    ty = only_ty(server)
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(EXIT_SECONDS) == 130
    assert wait_gone([ty], EXIT_SECONDS) == []
    logged = log.read_text(errors="replace")
    assert "Traceback" not in logged
    assert logged.rstrip().endswith("punie-lsp: interrupted")


def test_input_that_ends_inside_a_message_says_so(tmp_path: Path) -> None:
    """The cut message used to vanish without a word in the log."""
    session = tmp_path / "cut.lsp"
    session.write_bytes(b'Content-Length: 999\r\n\r\n{"jsonrpc": "2.0", "id": 1, "meth')
    with session.open("rb") as stdin:
        done = subprocess.run(
            [*SERVER, "--stdio"], stdin=stdin, capture_output=True, timeout=60, check=False
        )
    assert done.returncode == 1
    assert b"the input ended inside a message" in done.stderr
    assert b"Traceback" not in done.stderr
