"""Running ty, ruff, pytest and git as child processes without ever blocking forever.

The child is killed when the caller's time limit expires or the run is cancelled (the
sandbox timed out, the editor cancelled the request): an abandoned ``ty check`` or test
run would otherwise keep a core busy after nobody wants its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from typed_tools.workspace import ToolFailure

__all__ = ["Completed", "run"]


@dataclass(frozen=True, kw_only=True)
class Completed:
    """A finished child process."""

    returncode: int
    """The exit status; tools decide which codes mean "ran and found problems"."""
    stdout: str
    """Everything written to stdout, decoded as UTF-8 (invalid bytes replaced)."""
    stderr: str
    """Everything written to stderr, for error messages."""


def _environment(
    base: Mapping[str, str], changes: Mapping[str, str | None] | None
) -> dict[str, str]:
    """``base`` with ``changes`` applied; a ``None`` value removes the variable."""
    merged: dict[str, str | None] = {**base, **(changes or {})}
    return {key: value for key, value in merged.items() if value is not None}


async def run(
    argv: list[str],
    *,
    cwd: Path,
    timeout: float | None = None,
    stdin: str | None = None,
    env: Mapping[str, str | None] | None = None,
    base_env: Mapping[str, str] | None = None,
) -> Completed:
    """Run ``argv`` and collect its output; ``ToolFailure`` on timeout or a missing binary.

    The child's environment is ``base_env`` (default ``os.environ``) updated with ``env``.

    Without ``timeout`` the caller's own limit applies: the tool decorator's ``wait_for``
    cancels this coroutine, and the ``finally`` below still kills the child.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_environment(os.environ if base_env is None else base_env, env),
        )
    except OSError as exc:
        raise ToolFailure(f"cannot run {argv[0]}: {exc}") from exc
    try:
        data = stdin.encode() if stdin is not None else None
        stdout, stderr = await asyncio.wait_for(process.communicate(data), timeout)
    except TimeoutError:
        raise ToolFailure(
            f"{Path(argv[0]).name} did not finish within {timeout:g} s and was stopped"
        ) from None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            # Reap it so no zombie outlives the tool call; shielded against a second cancel.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(process.wait())
    return Completed(
        returncode=process.returncode if process.returncode is not None else -1,
        stdout=stdout.decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
    )
