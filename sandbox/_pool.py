"""The warm worker pool a server owns: started lazily, probed, stopped; never a global.

A Monty worker costs a process spawn (tens of milliseconds) and warms up on its first
run; keeping ``min_workers`` alive makes a Code Mode turn cost a fraction of a
millisecond of sandbox overhead. Type checks go to warm check-only sessions on workers
of their own (``sandbox._checker``; one more process, started with the pool, never
running a program). The pool belongs to whoever creates it (the LSP
server, the CLI, a test), which also means its lifetime is explicit: ``stop()`` (or
leaving ``async with``) ends the workers, and in-flight runs end as ``cancelled``.

Monty replaces a crashed worker by itself; the run that was on it reports kind
``runtime`` and the next run gets a fresh worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Self
from weakref import WeakKeyDictionary, WeakSet

from pydantic_monty import AsyncMonty

from sandbox._checker import TypeChecker
from sandbox._externals import External, SignatureCache
from sandbox._limits import SandboxLimits
from sandbox._result import RunError, RunResult
from sandbox._runner import (
    CancelSignal,
    Execution,
    _Stop,  # a pool stopped under a session's program ends it as a cancel does
    checkout,
)
from sandbox._session import SandboxSession
from sandbox._upstream import settle_after_close
from sandbox._wire import WireModel

__all__ = ["PoolHealth", "SandboxPool"]

_STOPPED = RunError(kind="cancelled", message="the pool was stopped")

_HEALTH_LIMITS = SandboxLimits(timeout_seconds=5, memory_mb=16, max_tool_calls=0)

_CHECKERS = 2
"""Stub texts with a warm checker at once (a server has one; a third evicts the oldest)."""
_CHECKER_WORKERS = _CHECKERS + 1
"""Worker processes for checkers: one more, for a replacement opening while one closes."""


class PoolHealth(WireModel):
    """What ``punie.status`` reports about the sandbox (camelCase on the wire)."""

    running: bool
    """Whether workers are up (the pool starts on first use)."""
    ok: bool
    """Whether a trivial program ran correctly just now."""
    latency_ms: float | None = None
    """How long that trivial run took, in milliseconds."""
    runs: int = 0
    """Runs completed since the pool started."""
    active: int = 0
    """Runs in flight right now."""
    error: str | None = None
    """Why the probe failed, when it did."""


class SandboxPool:
    """A pool of Monty workers and the one entry point that runs code in it.

    ``async with SandboxPool() as pool: await pool.run(...)``, or call ``start()`` /
    ``stop()`` explicitly from a server's lifecycle hooks; ``run`` starts the pool on
    first use either way.
    """

    def __init__(
        self,
        *,
        min_workers: int = 1,
        max_workers: int = 2,
        binary_path: str | Path | None = None,
    ) -> None:
        """Configure the pool; nothing is spawned until ``start()`` or the first run.

        ``max_workers`` bounds concurrent runs (others wait for a worker); keep it at
        or below the number of cores, since a worker busy in a loop burns a whole one.
        """
        self._min_workers = min_workers
        self._max_workers = max_workers
        self._binary_path = binary_path
        self._monty: AsyncMonty | None = None
        self._checker_monty: AsyncMonty | None = None
        self._checkers: OrderedDict[str, TypeChecker] = OrderedDict()
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()
        self._active: set[Execution] = set()
        self._signatures: SignatureCache = WeakKeyDictionary()
        self._drained = asyncio.Event()
        self._drained.set()
        self._runs = 0
        self._sessions: WeakSet[SandboxSession] = WeakSet()
        self._releases: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        """Whether the workers are up."""
        return self._monty is not None

    async def start(self) -> None:
        """Spawn the warm workers; idempotent and safe to race with ``run``."""
        async with self._lock:
            if self._monty is not None:
                return
            stack = AsyncExitStack()
            monty = AsyncMonty(
                binary_path=self._binary_path,
                min_processes=self._min_workers,
                max_processes=self._max_workers,
            )
            await stack.enter_async_context(monty)
            # The checkers' worker, spawned now rather than during the first checked run.
            checker_monty = AsyncMonty(
                binary_path=self._binary_path, min_processes=1, max_processes=_CHECKER_WORKERS
            )
            await stack.enter_async_context(checker_monty)
            self._stack, self._monty, self._runs = stack, monty, 0
            self._checker_monty = checker_monty

    async def stop(self) -> None:
        """Cancel in-flight runs, then end the workers; the pool can be started again.

        Owners must call this (or leave ``async with``) before the process exits: see
        ``sandbox._upstream`` workaround 2 for what happens otherwise.
        """
        async with self._lock:
            stack, self._stack, self._monty = self._stack, None, None
            self._checker_monty = None
            for execution in list(self._active):
                execution.stop()
            await self._drained.wait()
            for session in list(self._sessions):
                session.release(stopping=True)
            for checker in self._checkers.values():
                checker.release(stopping=True)
            self._checkers.clear()
            if self._releases:
                await asyncio.gather(*self._releases, return_exceptions=True)
            if stack is not None:
                await stack.aclose()
                await settle_after_close()

    async def health(self) -> PoolHealth:
        """Run a trivial program and report; starts the pool if it was not running."""
        started = time.perf_counter()
        result = await self.run("1 + 1", limits=_HEALTH_LIMITS, type_check=False)
        latency_ms = (time.perf_counter() - started) * 1000
        ok = result.error is None and result.value == 2
        return PoolHealth(
            running=self.running,
            ok=ok,
            latency_ms=latency_ms,
            runs=self._runs,
            active=len(self._active),
            error=None if ok else (result.error.message if result.error else repr(result.value)),
        )

    def status(self) -> PoolHealth:
        """What is known without running anything (for a status request that must not wait)."""
        return PoolHealth(
            running=self.running, ok=self.running, runs=self._runs, active=len(self._active)
        )

    async def run(
        self,
        code: str,
        *,
        externals: Mapping[str, External] | None = None,
        stubs: str = "",
        limits: SandboxLimits | None = None,
        cancel: CancelSignal | None = None,
        type_check: bool = True,
    ) -> RunResult:
        """Run ``code`` in a fresh session of a warm worker and report what happened.

        ``externals`` are the only way out of the sandbox: async functions the program
        calls by name like plain functions. ``stubs`` declares them (and their result
        models) for the type check, which runs first unless ``type_check=False``; it
        must declare every external, or the check rejects calls to them. Setting
        ``cancel`` stops the run within a second with kind ``cancelled``.
        """
        if self._monty is None:
            await self.start()
        monty = self._monty
        if monty is None:  # stopped while we waited for the start lock
            return RunResult(error=_STOPPED)
        limits = limits or SandboxLimits()
        execution = Execution(
            lambda: checkout(monty, limits),
            code,
            externals=externals or {},
            limits=limits,
            signatures=self._signatures,
            check=self.checker(stubs).check if type_check else None,
        )
        return await self._execute(execution, cancel)

    def session(
        self, *, stubs: str = "", limits: SandboxLimits | None = None, type_check: bool = True
    ) -> SandboxSession:
        """Sessions for several programs in a row, each opened before it is needed.

        For an agent run: ``prewarm()`` it when the run starts, ``run`` each program in
        it, ``release()`` it (or leave ``async with``) when the run ends. Programs do not
        share variables. It holds one worker for the next program from its first
        program (or ``prewarm``) until released, so ``max_workers`` also bounds how many
        such runs go on at once. See ``sandbox._session``.
        """
        session = SandboxSession(
            self, stubs=stubs, limits=limits or SandboxLimits(), type_check=type_check
        )
        self._sessions.add(session)
        return session

    def checker(self, stubs: str) -> TypeChecker:
        """The warm check-only session for ``stubs`` (made on first use; not yet set up).

        ``prepare()`` it to set it up in the background, before a program needs it.
        """
        checker = self._checkers.get(stubs)
        if checker is None:
            checker = TypeChecker(
                stubs, started=self._checker_started, release_later=self._release_later
            )
            self._checkers[stubs] = checker
            if len(self._checkers) > _CHECKERS:
                _, oldest = self._checkers.popitem(last=False)
                oldest.release()
        self._checkers.move_to_end(stubs)
        return checker

    async def _started(self) -> AsyncMonty:
        """The running workers, starting them if needed; a stopped pool ends the program."""
        if self._monty is None:
            await self.start()
        if self._monty is None:
            raise _Stop(_STOPPED)
        return self._monty

    async def _checker_started(self) -> AsyncMonty:
        """The checkers' workers, started with the pool's; a stopped pool ends the program."""
        await self._started()
        if self._checker_monty is None:  # stopped meanwhile
            raise _Stop(_STOPPED)
        return self._checker_monty

    async def settled(self) -> None:
        """Return once the sessions being given back in the background are back.

        For measurements that must not count the previous run's clean-up (a benchmark's
        interleaved cells); ``stop`` waits for them itself.
        """
        while self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)

    def _release_later(self, release: Coroutine[object, object, None]) -> None:
        """Give a session back off the caller's path; ``stop`` waits for it."""
        task = asyncio.create_task(release)
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _execute(self, execution: Execution, cancel: CancelSignal | None) -> RunResult:
        self._active.add(execution)
        self._drained.clear()
        try:
            return await execution.run(cancel)
        finally:
            self._active.discard(execution)
            self._runs += 1
            if not self._active:
                self._drained.set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
