"""One run of a program in a checked-out Monty session, driven from one pause to the next.

Externals are ``async`` host functions, but the program calls them like plain functions
(``r = typecheck("src")``), matching the generated stubs and Punie's training data.
So the runner does not hand coroutines to Monty: it starts the feed with
``feed_start`` and answers each pause itself (Monty's ``AsyncSnapshot``; ``paused``
here, since in punie-lsp a snapshot is the editor's documents at one moment), awaiting
the external on the host loop and resuming with its (converted) result. That loop is
also where the per-run trace is recorded, the tool-call budget is enforced and unknown
names are refused.

Stopping a run from outside (cancel, wall clock, output flood) cancels the awaiting
task; Monty then discards the worker, so a program stuck in a tight loop stops at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeAlias

from pydantic_monty import (
    AsyncFunctionSnapshot,
    AsyncMonty,
    AsyncMontySession,
    AsyncNameLookupSnapshot,
    AsyncSnapshot,
    ExternalResult,
    MontyComplete,
    MontyError,
)

from sandbox._convert import to_json, to_monty, trace_value
from sandbox._errors import (
    CANCELLED,
    SessionLost,
    from_monty_error,
    limit_error,
    sandbox_lost,
    timeout_error,
)
from sandbox._externals import (
    External,
    SignatureCache,
    exc_type_for,
    is_large,
    positional_trace,
    signature_of,
    stand_in,
)
from sandbox._limits import SandboxLimits
from sandbox._result import RunError, RunResult, ToolCall
from sandbox._upstream import OS_ERROR_STUBS, OutputSink

__all__ = ["CancelSignal", "Checker", "Execution", "SessionOpener", "checkout"]

SessionOpener: TypeAlias = Callable[[], AbstractAsyncContextManager[AsyncMontySession]]
"""Where an ``Execution`` gets its session: a fresh checkout, or a warm session lent to it."""


Checker: TypeAlias = Callable[[str], Awaitable[None]]
"""Checks a program before it runs; raises Monty's typing or syntax error when it fails
(``sandbox._checker.TypeChecker.check``)."""


@asynccontextmanager
async def checkout(monty: AsyncMonty, limits: SandboxLimits) -> AsyncGenerator[AsyncMontySession]:
    """A new session of a pool worker with ``PRELUDE`` run, for one program.

    Unchecked: programs are checked beforehand in the pool's warm check-only session
    (``sandbox._checker``), which costs a millisecond where a check here would first
    set up a checker of its own.
    """
    async with monty.checkout(script_name="main.py", limits=limits.resource_limits()) as session:
        await session.feed_run(PRELUDE)
        yield session


PRELUDE = "import json"
"""Run before every program, unchecked: Punie's sandbox offers ``json`` without an import
(``punie/agent/monty_runner.py``), and its programs rely on that."""
PRELUDE_STUBS = "import json as json\n" + OS_ERROR_STUBS
"""What the type checker is told the prelude defines (``as json`` re-exports it), and
the exception names Monty has but its checker lacks (``sandbox/_upstream.py``, 3)."""

_SLEEPS = frozenset({"system.sleep", "system.async_sleep"})
"""OS calls for ``time.sleep`` / ``asyncio.sleep`` under the default ``'system'`` policy."""


class CancelSignal(Protocol):
    """What ``cancel=`` accepts: ``asyncio.Event`` or anything awaitable the same way."""

    def is_set(self) -> bool:
        """True once cancellation was requested."""
        ...

    async def wait(self) -> Any:
        """Return once cancellation is requested."""
        ...


class _Stop(Exception):
    """Raised inside the drive to end the run with a prepared error (a host-side limit)."""

    def __init__(self, error: RunError) -> None:
        super().__init__(error.message)
        self.error = error


class _ProgramRun:
    """The state of one run: its trace, output and why it was stopped, if it was."""

    def __init__(
        self,
        externals: Mapping[str, External],
        limits: SandboxLimits,
        sink: OutputSink,
        signatures: SignatureCache,
    ) -> None:
        self.externals = externals
        self.limits = limits
        self.sink = sink
        self.calls: list[ToolCall] = []
        self.stop_reason: RunError | None = None
        self.checked: asyncio.Future[None] | None = None
        """The program's type check, running beside it: no suspension is answered (no
        tool runs, nothing is slept) before it passed."""
        self._signatures = signatures
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + limits.wall_clock_seconds

    async def drive(self, session: AsyncMontySession, code: str) -> MontyComplete:
        """Feed the code into ``session`` and answer suspensions until it completes."""
        try:
            step = await session.feed_start(code, print_callback=self.sink)
        except MontyError:
            raise
        except RuntimeError as lost:
            # Not the program's doing: the session was gone before it started (Monty
            # raises a plain RuntimeError for a checkout whose worker was discarded).
            raise SessionLost(lost) from lost
        while not isinstance(step, MontyComplete):
            if self.checked is not None:
                await self.checked  # raises the check's error when it failed
            self._raise_if_stopped()
            try:
                step = await self._answer(step)
            except MontyError:
                raise
            except RuntimeError as lost:  # the session went away under the program
                raise _Stop(sandbox_lost(lost, started=True)) from lost
        return step

    def _raise_if_stopped(self) -> None:
        """End the run if it was stopped or is past its deadline but still running.

        Stopping cancels the awaiting task, but an external can swallow that
        cancellation: on Python 3.11, ``asyncio.wait_for`` returns the inner result
        instead of raising when the inner call finishes just as the cancel arrives.
        The run must not resume the program after that.
        """
        if self.stop_reason is not None:
            raise _Stop(self.stop_reason)
        if self._loop.time() >= self._deadline:
            raise _Stop(timeout_error(self.limits))

    async def _answer(self, paused: AsyncSnapshot) -> AsyncSnapshot:
        """Resume one suspension: an external call, an OS call, a name or attribute lookup."""
        if isinstance(paused, AsyncFunctionSnapshot):
            if paused.is_os_function:
                if paused.function_name in _SLEEPS:
                    # Monty already charged it against max_total_sleep_secs (capped per
                    # call); under feed_start the waiting itself is the host's job.
                    await asyncio.sleep(min(float(paused.args[0]), self.limits.timeout_seconds))
                    return await paused.resume({"return_value": None})
                # No mounts and no OS handler: Monty's default refuses files, environment
                # and unknown imports. This is the whole filesystem/network policy.
                return await paused.resume_not_handled()
            if paused.object_id is not None:
                # A method call on a wrapped model; its policy exposes no methods.
                return await paused.resume_auto()
            name = paused.function_name
            external = self.externals.get(name)
            if external is None:
                return await paused.resume(
                    {"exc_type": "NameError", "message": f"name {name!r} is not defined"}
                )
            result = await self._call(name, external, paused.args, paused.kwargs)
            self._raise_if_stopped()
            return await paused.resume(result)
        if isinstance(paused, AsyncNameLookupSnapshot):
            if paused.object_id is not None:
                return await paused.resume_auto()
            if paused.variable_name in self.externals:
                return await paused.resume(value=stand_in(paused.variable_name))
            return await paused.resume()
        # Only reachable if a future was handed to Monty, which this runner never does.
        raise _Stop(RunError(kind="runtime", message=f"unsupported suspension {paused!r}"))

    async def _call(
        self, name: str, external: External, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> ExternalResult:
        """Await one external, record it in the trace, and turn its outcome into a resume."""
        if len(self.calls) >= self.limits.max_tool_calls:
            raise _Stop(
                limit_error(
                    "max_tool_calls",
                    self.limits,
                    f"the program made more than {self.limits.max_tool_calls} tool calls",
                )
            )
        try:
            named = self._named_arguments(name, external, args, kwargs)
        except TypeError as error:
            self.calls.append(
                ToolCall(
                    tool=name, args=positional_trace(args, kwargs), duration_ms=0, success=False
                )
            )
            return {"exc_type": "TypeError", "message": f"{name}(): {error}"}
        started = time.perf_counter()
        success = False
        try:
            value = await external(*args, **kwargs)
            success = getattr(value, "success", True) is not False
            if is_large(value):
                # Wrapping costs ~0.25 ms per model: thousands of them would stall the loop.
                return {"return_value": await asyncio.to_thread(to_monty, value)}
            return {"return_value": to_monty(value)}
        except Exception as error:
            success = False
            return {"exc_type": exc_type_for(error), "message": str(error)}
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.calls.append(
                ToolCall(tool=name, args=named, duration_ms=elapsed_ms, success=success)
            )

    def _named_arguments(
        self, name: str, external: External, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Arguments by parameter name for the trace; raises TypeError on a bad call.

        Checking the call against the signature host-side gives the program Python's own
        ``TypeError`` message instead of whatever the external would do with bad input.
        """
        signature = signature_of(self._signatures, external)
        if signature is None:
            return positional_trace(args, kwargs)
        bound = signature.bind(*args, **kwargs)
        return {key: trace_value(value) for key, value in bound.arguments.items()}


class Execution:
    """One run, stoppable from outside: ``await execution.run(cancel)``, ``stop(error)``.

    Everything that ends a run early (the caller's cancel signal, the owner stopping the
    pool, the output cap from Monty's reader thread, the wall clock) goes through one
    ``asyncio.timeout`` that is rescheduled to "now": the awaiting task is cancelled
    wherever it is (in the worker, in a tool) and the reason decides the error kind.
    ``check``, when given, runs beside the program under the same deadline (``_drive``):
    a program that fails it calls no tool and its result is the check's error.
    """

    def __init__(
        self,
        open_session: SessionOpener,
        code: str,
        *,
        externals: Mapping[str, External],
        limits: SandboxLimits,
        signatures: SignatureCache,
        check: Checker | None = None,
    ) -> None:
        self._open_session = open_session
        self._check = check
        self._check_failed = False
        self._code = code
        self._limits = limits
        self._loop = asyncio.get_running_loop()
        self._timeout = asyncio.timeout(limits.wall_clock_seconds)
        self._running = False
        output_error = limit_error(
            "max_output_bytes", limits, "the program printed more than max_output_bytes"
        )
        sink = OutputSink(
            limits.max_output_bytes,
            on_overflow=lambda: self._loop.call_soon_threadsafe(self.stop, output_error),
        )
        self._run = _ProgramRun(externals, limits, sink, signatures)

    def stop(self, error: RunError = CANCELLED) -> None:
        """End the run now with ``error`` (first reason wins); a no-op once it ended.

        Call it on the event loop's thread.
        """
        if self._running and self._run.stop_reason is None and not self._timeout.expired():
            self._run.stop_reason = error
            self._timeout.reschedule(self._loop.time())

    async def run(self, cancel: CancelSignal | None = None) -> RunResult:
        """Run the code once; always returns a result unless the calling task is cancelled.

        Cancelling the *calling task* propagates ``CancelledError`` as asyncio expects (the
        worker is discarded); setting ``cancel`` returns a result of kind ``cancelled``.
        """
        if cancel is not None and cancel.is_set():
            return RunResult(error=CANCELLED)
        watcher = None
        if cancel is not None:
            watcher = asyncio.create_task(self._watch(cancel))
        run = self._run
        error: RunError | None = None
        value: Any = None
        try:
            async with self._timeout:
                self._running = True
                async with self._open_session() as session:
                    complete = await self._drive(session)
            value = to_json(complete.output)
        except TimeoutError:
            error = run.stop_reason or timeout_error(self._limits)
        except _Stop as stopped:
            error = stopped.error
        except MontyError as monty_error:
            error = from_monty_error(monty_error, self._limits)
        except RuntimeError as failed:  # Monty's own plain errors: a result, not a raise
            error = RunError(kind="runtime", message=f"the sandbox failed: {failed}")
        finally:
            self._running = False
            if watcher is not None:
                watcher.cancel()
        if self._check_failed:
            return RunResult(error=error)  # the program did not pass: nothing it did counts
        if error is None and len(json.dumps(value)) > self._limits.max_output_bytes:
            value = None
            error = limit_error(
                "max_output_bytes",
                self._limits,
                "the returned value is larger than max_output_bytes",
            )
        return RunResult(stdout=run.sink.text, value=value, error=error, calls=run.calls)

    async def _drive(self, session: AsyncMontySession) -> MontyComplete:
        """Run the program, its type check (if any) beside it; the check's verdict first.

        The program starts at once in its own session while the checker checks it; it
        may compute and print meanwhile, but its first suspension (a tool call, a sleep,
        an OS call) waits for the check to pass. A failed check ends the run with the
        check's error, whatever the program did meanwhile (it is stopped if still
        running, and its output is dropped): the same result as checking first, one
        process hop sooner.
        """
        if self._check is None:
            return await self._drive_program(session)
        checking = asyncio.ensure_future(self._check(self._code))
        self._run.checked = checking
        driving = asyncio.ensure_future(self._drive_program(session))
        try:
            try:
                await checking
            except (MontyError, _Stop):
                self._check_failed = True
                raise
            return await driving
        finally:
            for task in (checking, driving):
                task.cancel()  # a no-op once done; else the worker is dropped
            await asyncio.gather(checking, driving, return_exceptions=True)

    async def _drive_program(self, session: AsyncMontySession) -> MontyComplete:
        """Drive the program; in a fresh session, once, if the lent one was already lost.

        A lent session can be finished before the program starts in it (its worker was
        discarded while it waited); nothing of the program ran, so it starts again in
        a session opened for it. A second loss ends the run with an error naming the
        sandbox, never an exception out of it.
        """
        try:
            return await self._run.drive(session, self._code)
        except SessionLost:
            pass
        async with self._open_session() as fresh:
            try:
                return await self._run.drive(fresh, self._code)
            except SessionLost as again:
                raise _Stop(sandbox_lost(again, started=False)) from again

    async def _watch(self, cancel: CancelSignal) -> None:
        await cancel.wait()
        self.stop(CANCELLED)
