"""Warm Monty sessions for an agent run's programs, made ready before they are needed.

A program checked against the stubs in a *fresh* session pays for setting up Monty's
type checker first (measured 4-9 ms here, more than everything else in an agent turn
together). An agent run submits a few programs in a row, so ``SandboxPool.session``
gives it a ``SandboxSession`` that keeps one *spare* session checked out and warmed in
the background (its type checker set up by a checked no-op, ``warm_up_code``):
``prewarm`` when the run starts, while the model writes the first program; each
program takes the spare, and once it ends the next spare starts warming; a used
session goes back to the pool without the run waiting for it.

Every program still gets a session of its own: programs of one run do not share
variables, as in Punie. Sharing them (one session for the whole run, a REPL) was
measured and rejected: Monty checks each snippet against the ones before it with
their *inferred* types as declarations, so ``r = read_file(...)`` in one program makes
``r = typecheck(...)`` in the next a type error (``invalid-assignment``, even after
``del r``), and models reuse names like ``r`` and ``result`` all the time. A session
cannot be reset either (``load_session`` works only on a fresh one).
``tests/sandbox/test_upstream.py`` keeps both cases.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncGenerator, Coroutine, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from types import TracebackType
from typing import Protocol, Self

from pydantic_monty import AsyncMonty, AsyncMontySession, MontyError

from sandbox._limits import SandboxLimits
from sandbox._result import RunResult
from sandbox._runner import CancelSignal, Execution, External, SignatureCache, checkout

__all__ = ["SandboxSession", "warm_up_code"]

_BUILTIN_USES = "sum(i * i for i in range(3)), len([1]), str(1), [c for c in 'ab'], print()"
"""Builtins and constructs nearly every program uses, inferred once during the warm-up.

Measured: after a bare ``None`` warm-up, ``sum(i * i for i in range(100))`` still cost
~6 ms more to check than after one that used a generator, ``sum`` and ``range``."""


def warm_up_code(stubs: str) -> str:
    """What a spare session checks and runs before its program: a no-op that binds nothing.

    A lambda that is never called, naming every function and class the stubs declare
    and using common builtins: the type checker sets itself up and infers them now,
    while the model writes, instead of during the program's own check.
    """
    try:
        tree = ast.parse(stubs)
    except SyntaxError:  # the program's check will say what is wrong with them
        tree = ast.Module(body=[], type_ignores=[])
    names = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    return f"(lambda: ({', '.join([*names, _BUILTIN_USES])}))\nNone"


_Opened = tuple[AsyncExitStack, AsyncMontySession]


class _Pool(Protocol):
    """What a session uses of the ``SandboxPool`` that made it.

    Named here so this module does not import ``sandbox._pool`` (which imports it):
    the package's modules import one way (an import-linter contract checks it).
    """

    _signatures: SignatureCache

    async def _started(self) -> AsyncMonty: ...

    def _release_later(self, release: Coroutine[object, object, None]) -> None: ...

    async def _execute(self, execution: Execution, cancel: CancelSignal | None) -> RunResult: ...


class SandboxSession:
    """Programs run in warm sessions: ``async with pool.session(...) as s: await s.run(...)``.

    Made by ``SandboxPool.session``; the pool closes a spare left open when it stops.
    """

    def __init__(self, pool: _Pool, *, stubs: str, limits: SandboxLimits, type_check: bool) -> None:
        self._pool = pool
        self._stubs = stubs
        self._limits = limits
        self._type_check = type_check
        self._warm_up = warm_up_code(stubs)
        self._spare: asyncio.Task[_Opened] | None = None
        self._released = False
        self._opening: set[asyncio.Task[_Opened]] = set()
        self.programs = 0
        """Programs run so far."""
        self.sessions = 0
        """Monty sessions opened so far (one per program, and the spare)."""

    def prewarm(self) -> None:
        """Start opening and warming a spare session in the background, if none is."""
        if self._spare is None and not self._released:
            self._spare = self._start_opening()

    def _start_opening(self) -> asyncio.Task[_Opened]:
        task = asyncio.create_task(self._open())
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)
        self.sessions += 1
        return task

    async def _open(self) -> _Opened:
        monty = await self._pool._started()
        stack = AsyncExitStack()
        opening = checkout(monty, self._limits, stubs=self._stubs, type_check=self._type_check)
        session = await stack.enter_async_context(opening)
        if self._type_check:
            # Its own failure is the first program's to report, on a session that works.
            with suppress(MontyError):
                await session.feed_run(self._warm_up, print_callback=_ignore_output)
        return stack, session

    async def run(
        self,
        code: str,
        *,
        externals: Mapping[str, External] | None = None,
        cancel: CancelSignal | None = None,
    ) -> RunResult:
        """Run ``code`` in a warm session of its own, as ``SandboxPool.run`` would.

        After ``release`` it still runs, in a session opened for it.
        """
        self.programs += 1
        execution = Execution(
            self._lend,
            code,
            externals=externals or {},
            limits=self._limits,
            signatures=self._pool._signatures,
        )
        return await self._pool._execute(execution, cancel)

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
            self._pool._release_later(_close(opened))
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
            self._pool._release_later(_close(spare))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


async def _close(opened: asyncio.Task[_Opened]) -> None:
    """Leave the checkout once it opened (or after it failed to): the worker goes back."""
    try:
        stack, _ = await opened
    except (Exception, asyncio.CancelledError):  # never opened: nothing to give back
        return
    with suppress(MontyError):  # a worker that died is gone already; the pool replaces it
        await stack.aclose()


def _ignore_output(stream: str, text: str) -> None:
    """The warm-up prints nothing; Monty asks for a callback all the same."""
