"""Running ty, ruff, pytest and git as child processes without ever blocking forever.

The child is killed when the caller's time limit expires or the run is cancelled (the
sandbox timed out, the editor cancelled the request): an abandoned ``ty check`` or test
run would otherwise keep a core busy after nobody wants its answer. On Linux it also
dies with the process that started it (``PR_SET_PDEATHSIG``), so a ``punie-lsp`` killed
outright (SIGKILL, the OOM killer) leaves no ``ty check`` running on, orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import re
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from typed_tools.workspace import ToolFailure

__all__ = ["MAX_OUTPUT_BYTES", "Completed", "Contained", "run"]


@dataclass(frozen=True, kw_only=True)
class Completed:
    """A finished child process."""

    returncode: int
    """The exit status; tools decide which codes mean "ran and found problems"."""
    stdout: str
    """Everything written to stdout, decoded as UTF-8 (invalid bytes replaced)."""
    stderr: str
    """Everything written to stderr, for error messages."""

    def error_line(self, program: str, limit: int = 2000) -> str:
        """What the child said was wrong, in one line (``limit`` characters at most).

        ruff and ty print a chain of causes over several lines, with source frames and
        warnings between them (``ruff failed`` / ``Cause: Failed to parse …`` / ``1 |
        [tool.ruff`` / ``unclosed table``); the chain is joined with ``: `` and the
        frames and warnings dropped, so a broken ``pyproject.toml`` reads
        ``Failed to parse …/pyproject.toml: TOML parse error at line 1, column 11:
        unclosed table, expected `]```. Falls back to stdout, then the exit status.
        """
        parts: list[str] = []
        in_warning = False
        for raw in (self.stderr.strip() or self.stdout.strip()).splitlines():
            line = raw.strip()
            if not line:
                continue
            if line.startswith("warning:"):
                in_warning = True
                continue
            if in_warning and raw[:1].isspace() and not line.startswith("Cause:"):
                continue  # the warning's own continuation lines
            in_warning = False
            if _SOURCE_FRAME.match(line):
                continue
            line = line.removeprefix("Cause:").strip().removeprefix("error:").strip()
            if line and line != f"{program} failed":
                parts.append(line)
        said = ": ".join(parts) or f"exit status {self.returncode}"
        return said if len(said) <= limit else said[: limit - 1] + "…"


_SOURCE_FRAME = re.compile(r"^\d*\s*\|")
"""A line of a source excerpt in a Rust tool's error (``  |``, ``1 | [tool.ruff``)."""


def _environment(
    base: Mapping[str, str], changes: Mapping[str, str | None] | None
) -> dict[str, str]:
    """``base`` with ``changes`` applied; a ``None`` value removes the variable."""
    merged: dict[str, str | None] = {**base, **(changes or {})}
    return {key: value for key, value in merged.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class Contained:
    """How to run a command that runs the project's own code (``pytest_run``).

    The command runs under ``_reaper.py`` in a session of its own, with these limits
    inherited by everything it starts; at the deadline (or when the call is cancelled)
    the reaper kills every process below it, detached grandchildren included.
    """

    memory_mb: int = 4096
    """Address-space limit of each process, in MiB (``RLIMIT_AS``)."""
    cpu_seconds: int = 0
    """CPU seconds each process may use (``RLIMIT_CPU``); 0 for no limit."""
    file_mb: int = 1024
    """Largest file a process may write, in MiB (``RLIMIT_FSIZE``)."""


MAX_OUTPUT_BYTES = 16_000_000
"""Bytes of stdout (and of stderr) kept from a child; the rest is read and dropped."""

_STOP_GRACE_SECONDS = 2.0
"""How long a contained command's reaper may take to kill its tree before the group is killed."""


async def _collect(stream: asyncio.StreamReader | None, limit: int) -> bytes:
    """Everything ``stream`` yields up to ``limit`` bytes; the rest is drained, not kept."""
    if stream is None:
        return b""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


async def _feed(process: asyncio.subprocess.Process, data: bytes | None) -> None:
    if process.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            process.stdin.write(data)
            await process.stdin.drain()
        process.stdin.close()


async def _stop(process: asyncio.subprocess.Process, contained: bool) -> None:
    """Stop the child (and, when contained, everything below it) and reap it."""
    if contained:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # the reaper kills its whole tree
        try:
            await asyncio.wait_for(process.wait(), _STOP_GRACE_SECONDS)
            return
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()


async def run(
    argv: list[str],
    *,
    cwd: Path,
    timeout: float | None = None,
    stdin: str | None = None,
    env: Mapping[str, str | None] | None = None,
    base_env: Mapping[str, str] | None = None,
    contain: Contained | None = None,
) -> Completed:
    """Run ``argv`` and collect its output; ``ToolFailure`` on timeout or a missing binary.

    The child's environment is ``base_env`` (default ``os.environ``) updated with ``env``
    (a ``None`` value removes a variable). Output beyond ``MAX_OUTPUT_BYTES`` per stream
    is dropped. With ``contain``, the command runs under ``_reaper.py`` (see
    ``Contained``): nothing it starts outlives the call.

    Without ``timeout`` the caller's own limit applies: the tool decorator's ``wait_for``
    cancels this coroutine, and the ``finally`` below still stops the child.
    """
    shown = Path(argv[0]).name
    if contain is not None:
        argv = [
            sys.executable, str(_REAPER),
            "--memory-mb", str(contain.memory_mb),
            "--cpu-seconds", str(contain.cpu_seconds),
            "--file-mb", str(contain.file_mb),
            "--", *argv,
        ]  # fmt: skip
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_environment(os.environ if base_env is None else base_env, env),
            start_new_session=contain is not None,
            preexec_fn=_dying_with_parent(signal.SIGTERM if contain else signal.SIGKILL),
        )
    except OSError as exc:
        raise ToolFailure(f"cannot run {argv[0]}: {exc}") from exc
    try:
        data = stdin.encode() if stdin is not None else None
        _, stdout, stderr = await asyncio.wait_for(
            asyncio.gather(
                _feed(process, data),
                _collect(process.stdout, MAX_OUTPUT_BYTES),
                _collect(process.stderr, MAX_OUTPUT_BYTES),
            ),
            timeout,
        )
        await process.wait()
    except TimeoutError:
        raise ToolFailure(f"{shown} did not finish within {timeout:g} s and was stopped") from None
    finally:
        if process.returncode is None:
            # Reap it so no zombie outlives the tool call; shielded against a second cancel.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(_stop(process, contain is not None))
    return Completed(
        returncode=process.returncode if process.returncode is not None else -1,
        stdout=stdout.decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
    )


_REAPER = Path(__file__).with_name("_reaper.py")

_PR_SET_PDEATHSIG = 1
"""From ``<linux/prctl.h>``."""


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once here in the parent: the forked child only calls
    it (a ``dlopen`` in a child forked from a process with threads can deadlock)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _dying_with_parent(number: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to send the child ``number`` when the thread
    that started it ends (Linux only; None elsewhere). The child of a tool call is
    awaited on that thread's event loop, so the thread outlives it unless the process
    dies. A contained command's reaper gets SIGTERM, on which it kills its whole tree."""
    prctl = _prctl() if sys.platform == "linux" else None
    if prctl is None:
        return None

    def arm() -> None:  # pragma: no cover - runs in the forked child
        prctl(_PR_SET_PDEATHSIG, int(number), 0, 0, 0)

    return arm
