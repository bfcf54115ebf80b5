"""A byte-level LSP client for tests that must control the wire or the process itself.

pytest-lsp owns its server process and always writes well-formed frames; the lifecycle
and fuzz tests need the opposite: the ``Popen`` (to close stdin, SIGKILL, read the exit
code) and the freedom to write any bytes. Frames read from the server are parsed
strictly, so a stray byte of non-protocol output fails the test that reads it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import psutil

__all__ = [
    "SERVER",
    "Connection",
    "FrameError",
    "RawServer",
    "frame",
    "parse_frames",
    "wait_gone",
]

SERVER = [sys.executable, "-m", "punie_lsp"]


class FrameError(Exception):
    """The server wrote something that is not an LSP frame."""


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def parse_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """Split ``data`` into complete frame bodies and the unconsumed rest.

    Only ``Content-Length`` and ``Content-Type`` headers are accepted: anything else
    (a log line, a ``print``) raises ``FrameError``.
    """
    bodies: list[bytes] = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > 4096:
                raise FrameError(f"not a header: {data[:200]!r}")
            return bodies, data
        length: int | None = None
        for line in data[:end].split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep:
                raise FrameError(f"not a header line: {line[:200]!r}")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value.strip())
            elif key != b"content-type":
                raise FrameError(f"unexpected header: {line[:200]!r}")
        if length is None:
            raise FrameError(f"header block without Content-Length: {data[:end]!r}")
        start = end + 4
        if len(data) < start + length:
            return bodies, data
        bodies.append(data[start : start + length])
        data = data[start + length :]


class Incoming(Protocol):
    """A buffered binary stream: ``read1`` returns what is there without waiting for more."""

    def read1(self, size: int = ..., /) -> bytes: ...


class Outgoing(Protocol):
    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...


class Connection:
    """One LSP connection: a thread parses every frame the server writes."""

    def __init__(self, incoming: Incoming, outgoing: Outgoing) -> None:
        self._in = incoming
        self._out = outgoing
        self.messages: queue.Queue[Any] = queue.Queue()
        self.received_bytes = 0
        self.frame_error: FrameError | None = None
        self.closed = threading.Event()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, name="raw-lsp-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self._in.read1(65536):
                self.received_bytes += len(chunk)
                bodies, buffer = parse_frames(buffer + chunk)
                for body in bodies:
                    # A body that is not JSON is a server bug the test must see: keep it.
                    try:
                        self.messages.put(json.loads(body))
                    except ValueError:
                        self.messages.put(body)
            if buffer:
                raise FrameError(f"stream ended inside a frame: {buffer[:200]!r}")
        except FrameError as exc:
            self.frame_error = exc
        except (OSError, ValueError):
            pass  # closed under us at teardown
        finally:
            self.closed.set()

    # -- writing -------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self._out.write(data)
        self._out.flush()

    def send(self, message: Any) -> None:
        self.write(frame(json.dumps(message).encode()))

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> dict[str, Any]:
        """Send a request and return its response; other messages are skipped."""
        self._next_id += 1
        msg_id = f"raw-{self._next_id}"
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return self.wait_for(lambda m: m.get("id") == msg_id and "method" not in m, timeout)

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """The next message ``match`` accepts; server requests are answered with null."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no matching message within {timeout} s") from None
            if not isinstance(message, dict):
                raise FrameError(f"frame body is not a JSON object: {message!r:.200}")
            if "method" in message and "id" in message:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": self.reply(message)})
            if match(message):
                return message

    def reply(self, request: dict[str, Any]) -> Any:
        """The result for a server-to-client request: an editor's defaults.

        ``workspace/configuration`` gets one empty section per item (ty rejects ``null``
        there); everything else ``null``.
        """
        if request.get("method") == "workspace/configuration":
            items = (request.get("params") or {}).get("items") or []
            return [{} for _ in items]
        return None

    def initialize(self, root: Path, process_id: int | None = None) -> dict[str, Any]:
        """``initialize`` + ``initialized`` with minimal capabilities; return the result."""
        response = self.request(
            "initialize",
            {
                "processId": process_id,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {},
            },
        )
        assert "result" in response, response
        self.notify("initialized", {})
        return response["result"]

    def open(self, path: Path) -> str:
        uri = path.as_uri()
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": 1,
                    "text": path.read_text(),
                }
            },
        )
        return uri

    def hover(self, uri: str, line: int, character: int) -> dict[str, Any]:
        return self.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )


class RawServer(Connection):
    """A ``punie-lsp`` process spoken to over its stdin/stdout."""

    def __init__(
        self,
        args: Sequence[str] = ("--stdio",),
        *,
        cwd: Path | None = None,
        stderr: Any = subprocess.DEVNULL,
        env: dict[str, str] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            [*SERVER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=cwd,
            env=env,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # PIPEs
        super().__init__(self.proc.stdout, self.proc.stdin)  # ty: ignore[invalid-argument-type]  # Popen's pipes are buffered binary files

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ty_children(self) -> list[psutil.Process]:
        """punie's ``ty`` processes (found by name: the wheel's binary is ``ty``)."""
        children = psutil.Process(self.pid).children(recursive=True)
        return [c for c in children if c.name() == "ty"]

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def kill(self) -> None:
        """Clean-up for a test that failed half-way: nothing may outlive the test."""
        survivors: list[psutil.Process] = []
        if self.proc.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                survivors = psutil.Process(self.pid).children(recursive=True)
            self.proc.kill()
            self.proc.wait(10)
        for child in survivors:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self.closed.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait (bounded) until every process has exited; return the ones still alive.

    An orphaned child is re-parented to PID 1, which in a container may never reap it:
    a zombie has released its memory and descriptors, so it counts as gone.
    """
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while alive:
        _, alive = psutil.wait_procs(alive, timeout=min(0.2, max(0.0, deadline - time.monotonic())))
        alive = [p for p in alive if not _zombie(p)]
        if time.monotonic() >= deadline:
            break
    return alive


def _zombie(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
