"""Type checks in one warm Monty session that never runs a program.

Monty type-checks a snippet when it is fed to a session checked out with
``type_check=True``, before running it. Setting its checker up costs a fresh session
10-20 ms (60+ on a loaded machine), more than everything else in an agent turn; a
check in a session already set up costs 0.5-1 ms. A used session cannot simply check
the next program, though: each snippet it *ran* joins the context later snippets are
checked against, with its inferred types as declarations, so ``r = 1`` then
``r = "a"`` would be an error (``sandbox._upstream``, workaround 4).

So checking and running are split. The pool keeps a ``TypeChecker`` per stub text: one
session checked out with no memory and no time (``CHECK_ONLY``), warmed once by
``warm_up_code``. Each program is fed to it; Monty checks the program, then stops it at
its first allocation with a ``MemoryError``. A feed that fails joins no context, so
every program is checked against the stubs and the prelude alone, exactly as in a
fresh session (``tests/sandbox/test_upstream.py`` keeps the upstream behaviour this
relies on). The program then runs in a session of its own without a check
(``sandbox._runner.checkout``).

What a program does never happens in the checker: at most a print of a constant runs
before the first allocation (its output is dropped); a tool or OS call would suspend
the feed, and the checker never answers one. Its session is replaced in the background
when anything but that ``MemoryError`` ends a passing feed (a feed that completes or
suspends: only a blank program does), when its worker is lost (a crash, or a check
cancelled midway, which makes Monty drop the worker: a loop that allocated nothing
would run until the run's deadline cancels its check), and after ``RECYCLE_AFTER``
checks. A check that finds its session lost gave no verdict (Monty raises a plain
``RuntimeError``, or a ``MemoryError`` saying the worker was terminated, not the
interpreter's stop: ``stopped_at_first_allocation``); it checks again, once, in a
fresh session, and a second loss is an error naming the sandbox, not the program. Checks of
concurrent runs take turns (a lock); each takes about a millisecond.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, suppress

from pydantic_monty import (
    AsyncMonty,
    AsyncMontySession,
    MontyError,
    MontyRuntimeError,
    MontySyntaxError,
    MontyTypingError,
    ResourceLimits,
)

from sandbox._errors import SessionLost
from sandbox._result import RunError
from sandbox._runner import PRELUDE_STUBS, _Stop

__all__ = [
    "CHECK_ONLY",
    "PRECHECKS",
    "RECYCLE_AFTER",
    "TypeChecker",
    "close_opened",
    "stopped_at_first_allocation",
    "warm_up_code",
]

CHECK_ONLY = ResourceLimits(max_memory=0, max_total_sleep_secs=0.0)
"""The checker session's limits: a fed snippet is checked, then stopped at its first
allocation (measured: before anything but a print of a constant has run). No time
limit: Monty's parent kills a worker whose request outlives ``max_feed_duration_secs``
plus a second's grace, type check included, so a zero limit killed the checker
whenever a check took a second (a loaded machine, the first check's set-up)."""

PRECHECKS = 8
"""Checks started ahead (``TypeChecker.precheck``) kept for a program to claim."""

RECYCLE_AFTER = 1_000
"""Checks one session serves before a fresh one replaces it (its heap grows ~0.4 KB
per check, and the checker's caches with it)."""

_BUILTIN_USES = "sum(i * i for i in range(3)), len([1]), str(1), [c for c in 'ab'], print()"
"""Builtins and constructs nearly every program uses, inferred once during the warm-up.

Measured: after a bare ``None`` warm-up, ``sum(i * i for i in range(100))`` still cost
~6 ms more to check than after one that used a generator, ``sum`` and ``range``."""

Opened = tuple[AsyncExitStack, AsyncMontySession]
"""A checked-out session and the exit stack that gives its worker back."""


def warm_up_code(stubs: str) -> str:
    """What the checker checks once, first: a no-op that names everything the stubs declare.

    A lambda that is never called, naming every function and class the stubs declare
    and using common builtins: the type checker sets itself up and infers them now,
    not during a program's check.
    """
    try:
        tree = ast.parse(stubs)
    except SyntaxError:  # a program's check will say what is wrong with them
        tree = ast.Module(body=[], type_ignores=[])
    names = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    return f"(lambda: ({', '.join([*names, _BUILTIN_USES])}))\nNone"


class TypeChecker:
    """One warm check-only session for programs declared by ``stubs``; made by the pool.

    ``prepare()`` sets it up in the background; ``check(code)`` returns when ``code``
    passes and raises Monty's ``MontyTypingError`` / ``MontySyntaxError`` when it does
    not (anything else Monty raises, such as a crash, propagates too).
    """

    def __init__(
        self,
        stubs: str,
        *,
        started: Callable[[], Awaitable[AsyncMonty]],
        release_later: Callable[[Coroutine[object, object, None]], None],
    ) -> None:
        """``started`` gives the running checker workers; ``release_later`` closes off-path."""
        self.stubs = stubs
        self._started = started
        self._release_later = release_later
        self._lock = asyncio.Lock()
        self._opening: asyncio.Task[Opened] | None = None
        self._prechecks: dict[str, asyncio.Task[None]] = {}
        self._checks = 0
        self.sessions = 0
        """Check-only sessions opened so far."""
        self.checks = 0
        """Programs checked so far."""
        self.claimed = 0
        """Checks a program found already started by ``precheck``."""

    def prepare(self, *, warm: bool = True) -> None:
        """Start setting up the session in the background, if none is set up or on its way.

        ``warm``: check ``warm_up_code`` first, so that later checks find the stubs
        inferred; a check that finds no session opens one without (it would only wait).
        """
        if self._opening is None:
            self._opening = asyncio.create_task(self._open(warm=warm))
            self.sessions += 1

    async def _open(self, *, warm: bool) -> Opened:
        monty = await self._started()
        stack = AsyncExitStack()
        session = await stack.enter_async_context(
            monty.checkout(
                script_name="main.py",
                limits=CHECK_ONLY,
                type_check=True,
                type_check_stubs=PRELUDE_STUBS + self.stubs,
                type_check_format="concise",
            )
        )
        if warm:
            # It ends in the MemoryError every check ends in. A session it lost (a
            # worker terminated) is found by the first check, which checks afresh.
            with suppress(MontyError):
                await session.feed_run(warm_up_code(self.stubs), print_callback=_ignore_output)
        return stack, session

    def precheck(self, code: str) -> None:
        """Start checking ``code`` now, for the ``check`` of the same text to claim.

        A check runs nothing, so starting it early is safe: an agent run starts it as
        soon as the model's call is complete, while Pydantic AI takes ~1.5 ms to get to
        the tool. Unclaimed ones are dropped, oldest first, beyond ``PRECHECKS``.
        """
        if code in self._prechecks:
            return
        task = asyncio.create_task(self._check(code))
        task.add_done_callback(_retrieve)
        self._prechecks[code] = task
        while len(self._prechecks) > PRECHECKS:
            oldest = next(iter(self._prechecks))
            self._prechecks.pop(oldest).cancel()

    async def check(self, code: str) -> None:
        """Check ``code`` against the stubs; raise Monty's error when it does not pass.

        Claims a ``precheck`` of the same text when there is one.
        """
        started = self._prechecks.pop(code, None)
        if started is None:
            await self._check(code)
        else:
            self.claimed += 1
            await started

    async def _check(self, code: str) -> None:
        async with self._lock:
            try:
                await self._check_once(code)
            except SessionLost:
                pass
            else:
                return
            # The session was lost before it gave a verdict (its worker discarded or
            # dead, the checkout finished): that is the sandbox's fault, not the
            # program's, so it is checked again, once, in the fresh session _replace()
            # started. A second loss ends the run with an error naming the sandbox.
            try:
                await self._check_once(code)
            except SessionLost as lost:
                raise _Stop(
                    RunError(
                        kind="runtime",
                        message=f"the sandbox's type checker failed twice ({lost}); "
                        "the program did not run: submit it again",
                    )
                ) from lost.__cause__

    async def _check_once(self, code: str) -> None:
        """One check; raises ``SessionLost`` (the session replaced) when it gave no verdict."""
        self.prepare(warm=False)
        opening = self._opening
        assert opening is not None  # prepare() made it
        try:
            # Shielded: a run stopped while the session opens leaves it opening.
            _, session = await asyncio.shield(opening)
        except (asyncio.CancelledError, _Stop):  # the run was stopped, or the pool
            if opening.done() and self._opening is opening:
                self._opening = None  # it failed: the next check tries again
            raise
        except Exception as failed:  # a worker that would not start or warm up
            if self._opening is opening:
                self._opening = None
            raise SessionLost(failed) from failed
        self.checks += 1
        try:
            await session.feed_start(code, print_callback=_ignore_output)
        except MontyRuntimeError as stopped:
            if stopped_at_first_allocation(stopped):
                self._counted()  # checked, then stopped at its first allocation
                return
            self._replace()
            if isinstance(stopped.exception(), MemoryError):
                # Monty's other MemoryError: the worker process outgrew its limit and
                # was terminated, which finishes the checkout; no verdict was given.
                raise SessionLost(stopped) from stopped
            return  # stopped some other way after the check passed: start afresh
        except (MontyTypingError, MontySyntaxError):
            self._counted()
            raise
        except asyncio.CancelledError:
            self._replace()  # cancelled midway: Monty drops the worker
            raise
        except Exception as lost:
            # A crash, or a session whose worker was discarded (Monty raises a plain
            # RuntimeError: 'this checkout has already been finished', 'a previous
            # feed_run was cancelled mid-run ...'), or a conversion error: no verdict.
            self._replace()
            raise SessionLost(lost) from lost
        # It completed or suspended without allocating: it may have joined the context.
        self._replace()

    def _counted(self) -> None:
        self._checks += 1
        if self._checks >= RECYCLE_AFTER:
            self._replace()

    def _replace(self) -> None:
        """Close the current session off the caller's path and start setting up another."""
        self.release()
        self.prepare()

    def release(self, *, stopping: bool = False) -> None:
        """Close the session in the background (after any check in progress).

        ``stopping`` (the pool's ``stop``): one still opening is cancelled, since it
        may be waiting for the very workers that are stopping.
        """
        opening, self._opening = self._opening, None
        self._checks = 0
        if stopping:
            for started in self._prechecks.values():
                started.cancel()
            self._prechecks.clear()
        if opening is None:
            return
        if stopping:
            opening.cancel()
        self._release_later(self._close_after_checks(opening))

    async def _close_after_checks(self, opening: asyncio.Task[Opened]) -> None:
        async with self._lock:  # a check still using it finishes first
            pass
        await close_opened(opening)


async def close_opened(opened: asyncio.Task[Opened]) -> None:
    """Leave a checkout once it opened (or after it failed to): the worker goes back."""
    try:
        stack, _ = await opened
    except (Exception, asyncio.CancelledError):  # never opened: nothing to give back
        return
    with suppress(MontyError):  # a worker that died is gone already; the pool replaces it
        await stack.aclose()


def stopped_at_first_allocation(error: MontyRuntimeError) -> bool:
    """Whether a check-only feed ended the expected way: checked, then stopped in the
    interpreter at its first allocation (``MemoryError: memory limit exceeded: N bytes >
    0 bytes``).

    Monty has a second ``MemoryError``, ``the worker exceeded its memory limit and was
    terminated`` (the worker process exited with status 65), after which every feed of
    the session raises ``RuntimeError('this checkout has already been finished')``; the
    message is what tells them apart (``tests/sandbox/test_lost_sessions.py``).
    """
    inner = error.exception()
    return isinstance(inner, MemoryError) and str(inner).startswith(_IN_INTERPRETER_STOP)


_IN_INTERPRETER_STOP = "memory limit exceeded"
"""How Monty's interpreter words its own memory stop (``sandbox._errors`` maps it too)."""


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark an early check's outcome as seen: nobody may claim it (the claimant re-raises)."""
    if not task.cancelled():
        task.exception()


def _ignore_output(stream: str, text: str) -> None:
    """Nothing a check feeds prints; Monty asks for a callback all the same."""
