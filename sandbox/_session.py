"""Sessions for an agent run's programs, each opened before it is needed.

An agent run submits a few programs in a row. ``SandboxPool.session`` gives it a
``SandboxSession`` that keeps one *spare* session checked out, with the prelude run:
``prewarm`` when the run starts, while the model writes the first program; each
program takes the spare, and once it ends the next spare opens; a used session goes
back to the pool without the run waiting for it. ``prewarm`` also sets up the pool's
check-only session for these stubs (``sandbox._checker``), so the first program's
type check finds it warm.

Every program gets a session of its own: programs of one run do not share variables,
as in Punie (its programs never relied on it). Sharing them (one session for the whole
run, a REPL) was measured and rejected: Monty checks each snippet against the ones
before it with their *inferred* types as declarations, so ``r = read_file(...)`` in
one program makes ``r = typecheck(...)`` in the next a type error
(``invalid-assignment``, even after ``del r``), and models reuse names like ``r`` and
``result`` all the time. A session cannot be reset either (``load_session`` works
only on a fresh one). ``tests/sandbox/test_upstream.py`` keeps both cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Protocol, Self

from pydantic_monty import AsyncMonty, AsyncMontySession

from sandbox._checker import Opened, TypeChecker, close_opened
from sandbox._externals import External, SignatureCache
from sandbox._limits import SandboxLimits
from sandbox._result import RunResult
from sandbox._runner import CancelSignal, Execution, checkout

__all__ = ["SandboxSession"]


class _Pool(Protocol):
    """What a session uses of the ``SandboxPool`` that made it.

    Named here so this module does not import ``sandbox._pool`` (which imports it):
    the package's modules import one way (an import-linter contract checks it).
    """

    _signatures: SignatureCache

    def checker(self, stubs: str) -> TypeChecker: ...

    async def _started(self) -> AsyncMonty: ...

    def _release_later(self, release: Coroutine[object, object, None]) -> None: ...

    async def _execute(self, execution: Execution, cancel: CancelSignal | None) -> RunResult: ...


class SandboxSession:
    """Programs in sessions opened ahead: ``async with pool.session(...) as s: await s.run(...)``.

    Made by ``SandboxPool.session``; the pool closes a spare left open when it stops.
    """

    def __init__(self, pool: _Pool, *, stubs: str, limits: SandboxLimits, type_check: bool) -> None:
        self._pool = pool
        self._stubs = stubs
        self._limits = limits
        self._type_check = type_check
        self._spare: asyncio.Task[Opened] | None = None
        self._released = False
        self._opening: set[asyncio.Task[Opened]] = set()
        self.programs = 0
        """Programs run so far."""
        self.sessions = 0
        """Monty sessions opened so far (one per program, and the spare)."""

    def prewarm(self) -> None:
        """Start opening a spare session, and setting up the checker, in the background."""
        if self._type_check and not self._released:
            self._pool.checker(self._stubs).prepare()
        if self._spare is None and not self._released:
            self._spare = self._start_opening()

    def _start_opening(self) -> asyncio.Task[Opened]:
        task = asyncio.create_task(self._open())
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)
        self.sessions += 1
        return task

    async def _open(self) -> Opened:
        monty = await self._pool._started()
        stack = AsyncExitStack()
        session = await stack.enter_async_context(checkout(monty, self._limits))
        return stack, session

    async def run(
        self,
        code: str,
        *,
        externals: Mapping[str, External] | None = None,
        cancel: CancelSignal | None = None,
    ) -> RunResult:
        """Run ``code`` in a session of its own, opened ahead, as ``SandboxPool.run`` would.

        After ``release`` it still runs, in a session opened for it.
        """
        self.programs += 1
        execution = Execution(
            self._lend,
            code,
            externals=externals or {},
            limits=self._limits,
            signatures=self._pool._signatures,
            check=self._check if self._type_check else None,
        )
        return await self._pool._execute(execution, cancel)

    def precheck(self, code: str) -> None:
        """Start type-checking ``code`` before it is submitted (``TypeChecker.precheck``)."""
        if self._type_check and not self._released:
            self._pool.checker(self._stubs).precheck(code)

    async def _check(self, code: str) -> None:
        # Looked up each time: the pool's stop or a third stub text may have replaced it.
        await self._pool.checker(self._stubs).check(code)

    @asynccontextmanager
    async def _lend(self) -> AsyncGenerator[AsyncMontySession]:
        opened = self._spare
        if opened is None:
            opened = self._start_opening()
        self._spare = None
        try:
            # Shielded: a program stopped while its session opens still gives it back.
            _, session = await asyncio.shield(opened)
            yield session
        finally:
            self._pool._release_later(close_opened(opened))
            # The next program's, warming while the model writes it: not earlier, where
            # it would compete with this program for the CPU.
            self.prewarm()

    def release(self, *, stopping: bool = False) -> None:
        """Give the spare back to the pool in the background, and make no more.

        ``stopping`` (the pool's ``stop``): every session still opening is cancelled,
        since it may be waiting for the very pool that is stopping.
        """
        self._released = True
        if stopping:
            for opening in self._opening:
                opening.cancel()
        spare, self._spare = self._spare, None
        if spare is not None:
            self._pool._release_later(close_opened(spare))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
