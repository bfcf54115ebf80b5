"""One ``ty server`` process: how it is found and started, and its pipes.

``TyChild`` (``ty_child``) owns the lifecycle (initialize, restarts, stop); this module
knows the binary (``typed_tools.ty_environment``: the installed wheel's ty, run from
outside punie-lsp's environment), the environment it runs in, and the asyncio protocol
that frames ty's stdout and logs its stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

from punie_lsp.wire.pipes import FrameReaderThread, PipeWriter

__all__ = ["TyProcess", "die_with_parent", "launch", "ty_command", "ty_process_environment"]

logger = logging.getLogger("punie_lsp.wire.ty_child")


def _ty_environment_module() -> ModuleType:
    """``typed_tools.ty_environment``, loaded without the ``typed_tools`` package.

    The package's ``__init__`` imports pygls and lsprotocol (~0.8 s, see
    ``punie_lsp.runner``) and ty must start before they have loaded; this one module
    imports nothing of ours, so it is loaded from its file and registered under its
    own name (a later ``import typed_tools.ty_environment`` finds the same module).
    """
    name = "typed_tools.ty_environment"
    module = sys.modules.get(name)
    if module is not None:
        return module
    package = importlib.util.find_spec("typed_tools")  # finds, does not import
    folders = package.submodule_search_locations if package is not None else None
    if not folders:
        raise ImportError("the typed_tools package is not installed")
    path = Path(next(iter(folders))) / "ty_environment.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ty_command() -> list[str]:
    """``ty server`` from the installed ty wheel, run from outside punie-lsp's environment.

    PATH is not consulted; see ``typed_tools.ty_environment`` for why the binary is not
    run from the wheel's own folder.
    """
    return [_ty_environment_module().ty_executable(), "server"]


def ty_process_environment() -> dict[str, str]:
    """The environment ty runs in: the editor's, without punie-lsp's own venv."""
    return _ty_environment_module().ty_environment()


def launch(command: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """The command (``ty_command()`` unless overridden) and environment to start ty with."""
    return command or ty_command(), ty_process_environment()


def _libc_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl() if sys.platform == "linux" else None
"""libc's ``prctl``, looked up here in the parent: the forked child only calls it (a
``dlopen`` in a child forked from a process with threads can deadlock)."""


def die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class TyProcess(asyncio.SubprocessProtocol):
    """One ty process: stdin and stdout are pipes of ours, stderr is logged by line.

    ty's stdout is read and framed by a thread (``FrameReaderThread``): a response to a
    forwarded request is offered to ``now`` there (the router writes it to the editor
    at once); every other message goes to ``on_body`` on the loop, in order. ty's stdin
    is a ``PipeWriter`` the loop and the editor's reading thread share. ``exited`` is
    set once the process has exited *and* everything it wrote has been handled, so a
    crash is seen after ty's last words.
    """

    def __init__(
        self,
        on_body: Callable[[TyProcess, bytes], None],
        now: Callable[[TyProcess, bytes], bool],
    ) -> None:
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        self.started_at = time.monotonic()
        self.transport: asyncio.SubprocessTransport | None = None
        self._stderr = bytearray()
        self.watcher: asyncio.Task[None] | None = None
        self._child_stdin, stdin = os.pipe()
        stdout, self._child_stdout = os.pipe()
        self.stdin: PipeWriter | None = PipeWriter(stdin, loop)
        self._reader = FrameReaderThread(
            stdout, "punie-ty-stdout", lambda why: logger.warning("ty sent %s", why), close_fd=True
        )
        self._on_body = on_body
        self._now = now

    def child_fds(self) -> tuple[int, int]:
        """The ends ty gets as its stdin and stdout (closed here once it has them)."""
        return self._child_stdin, self._child_stdout

    def started(self) -> None:
        """ty has its ends of the pipes: close ours, start reading its output."""
        for fd in self.child_fds():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reader.bind(partial(self._on_body, self), partial(self._now, self))

    def abandon(self) -> None:
        """The spawn failed: close every pipe end."""
        for fd in self.child_fds():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reader.close_unstarted()
        if self.stdin is not None:
            self.stdin.close()

    # asyncio.SubprocessProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self.transport = transport

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self._stderr += data.encode() if isinstance(data, str) else data
        while (newline := self._stderr.find(b"\n")) >= 0:
            line = bytes(self._stderr[:newline]).decode(errors="replace").rstrip()
            del self._stderr[: newline + 1]
            logger.debug("ty: %s", line)

    def process_exited(self) -> None:
        if self.transport is None:
            return
        code = self.transport.get_returncode()
        code = code if code is not None else -1

        def done(_: object = None) -> None:
            if not self.exited.done():
                self.exited.set_result(code)

        if self._reader.closed.done():
            done()
            return
        # ty's output ends with it (nobody else holds the pipe): handled, then exited.
        self._reader.closed.add_done_callback(done)

    # the process

    @property
    def pid(self) -> int | None:
        return self.transport.get_pid() if self.transport is not None else None

    @property
    def running(self) -> bool:
        return not self.exited.done()

    def signal(self, kill: bool) -> None:
        if self.transport is not None and self.running:
            with contextlib.suppress(ProcessLookupError):
                self.transport.kill() if kill else self.transport.terminate()

    def close(self) -> None:
        if self.stdin is not None:
            self.stdin.close()
        if self.transport is not None:
            self.transport.close()
