"""Workarounds for pydantic-monty (1.4.0) behaviour, kept in one place with their tests.

Each entry says what Monty does, what we do instead, and which test in
``tests/sandbox/test_upstream.py`` shows the behaviour, so the workaround can be deleted
the day that test starts failing.

1. **The print cap does not stop the program.** ``CollectString(max_bytes=…)`` stops
   *collecting* at the cap but the feed keeps running until it ends on its own, so
   ``while True: print("x")`` runs until the time limit (forever without one), and the
   error that finally arrives is an indistinguishable ``MemoryError``. ``OutputSink``
   counts bytes host-side and, at the cap, asks the runner to stop the run at once
   (which discards the worker); the error names ``max_output_bytes``.
   Test: ``test_collect_string_cap_does_not_stop_the_feed``.

2. **The host can abort at exit right after a pool closes.** Leaving ``AsyncMonty``'s
   ``async with`` returns while native threads are still finishing; if the interpreter
   shuts down within about a millisecond (a CLI that ran one snippet, a test process),
   it dies with SIGABRT about a third of the time, printing nothing. There is nothing
   observable to wait on (the threads outlive the pool, the workers are already
   reaped), so ``settle_after_close`` waits a fixed, generous 50 ms: measured here,
   1 ms already avoids it in 30 out of 30 exits. ``SandboxPool.stop`` calls it, so an
   owner that stops its pool before exiting exits cleanly.
   Tests: ``test_exiting_right_after_closing_a_pool_can_abort`` (upstream) and
   ``test_a_stopped_pool_lets_the_process_exit_cleanly`` (ours).

3. **The type checker does not know ``OSError``'s subclasses.** Monty raises and catches
   ``FileNotFoundError``, ``PermissionError`` … at run time, but its type checker
   rejects ``except FileNotFoundError:`` as an unresolved name. ``read_file`` raises
   exactly those (Punie's programs catch them), so ``OS_ERROR_STUBS`` declares them to
   the checker. Test: ``test_type_checker_lacks_os_error_subclasses``.

4. **A session's type check treats earlier snippets' variables as declared.** After
   ``r = 1`` in one feed, ``r = 'a'`` in the next is an ``invalid-assignment`` (also
   after ``del r``), and a used session cannot be reset (``load_session`` only on a
   fresh one). So programs of an agent run cannot share one warm session without
   breaking ordinary code; ``sandbox._session`` gives each program a session of its
   own. Test: ``test_a_session_checks_later_snippets_against_earlier_inferred_types``.

5. **There is no check-only feed, and a checker's set-up is per session.** A fresh
   session's first check costs 10-20 ms of set-up; a check in a session already set up
   costs about one. ``sandbox._checker`` keeps one warm session checked out with
   ``max_memory=0``: each feed is checked, then stops at its first allocation with a
   ``MemoryError``, and a failed feed joins no context, so every program is checked
   against the stubs alone. What runs before that allocation is at most a print of a
   constant (its output is dropped); only a blank snippet completes, and the checker
   then replaces its session. Test:
   ``test_a_session_without_memory_checks_each_snippet_and_runs_none``.

6. **A lost session raises a plain ``RuntimeError``, not a ``MontyError``.** When Monty
   discards a session's worker (a feed cancelled mid-flight, asynchronously; a value it
   cannot convert; a print callback that raised; a worker terminated for memory, exit
   65, reported once as ``MemoryError: the worker exceeded its memory limit and was
   terminated``), every later feed raises ``RuntimeError('this checkout has already
   been finished')`` or a like message. The checker and the runner treat it as the
   sandbox's fault: the check or the program starts again, once, in a fresh session
   (``SessionLost`` in ``sandbox._errors``). Tests: ``tests/sandbox/test_lost_sessions.py``.

7. **A worker busy in a program outlives a host killed outright** (SIGKILL, the OOM
   killer). Not worked around; the gap is bounded and stated here. The Rust pool spawns
   ``monty subprocess`` itself (``binary_path``, empty environment, no ``pre_exec`` hook
   for us), so nothing of ours runs in the child before ``exec``. An idle worker, and
   one waiting on the host (a tool call, a sleep), reads end of input and leaves at
   once; one running a CPU-bound program reads nothing until the feed ends, so it runs
   on to the feed's own limit (``max_feed_duration_secs`` = ``sandbox.timeoutSeconds``,
   30 s by default), then finds its pipe closed and exits. Measured and not kept: a
   ``binary_path`` wrapper that arms ``PR_SET_PDEATHSIG`` (``setpriv --pdeathsig
   KILL``) and execs monty does kill the orphan, but the kernel sends that signal when
   the *thread* that spawned the worker ends, and the spawn happens on a thread of
   pydantic-monty's tokio runtime (its threads come and go: of eight threads, three were
   left after 20 s idle here), so a healthy worker would die whenever upstream spawns from a
   thread that later ends; a supervisor process per worker (watching the host process
   itself, arming the signal for its one-threaded self) would be a process and an
   interpreter start more per worker, and would have to mirror monty's exit statuses
   (65: memory) that the pool reads. The fix belongs upstream (the pool arming the
   signal from a thread that lives as long as the pool, or the worker watching its
   input while it runs).
   Test: ``test_a_busy_worker_outlives_a_killed_host_until_its_own_time_limit``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Literal

__all__ = ["OS_ERROR_STUBS", "OutputSink", "settle_after_close"]

OS_ERROR_STUBS = "".join(
    f"class {name}(OSError): ...\n"
    for name in (
        "FileExistsError",
        "FileNotFoundError",
        "IsADirectoryError",
        "NotADirectoryError",
        "PermissionError",
    )
)
"""Monty's run-time ``OSError`` subclasses, declared for its type checker (workaround 3)."""

_SETTLE_SECONDS = 0.05
"""How long Monty's native threads get after a pool closes (workaround 2)."""


async def settle_after_close() -> None:
    """Give Monty's threads time to finish after ``AsyncMonty.__aexit__`` (workaround 2)."""
    await asyncio.sleep(_SETTLE_SECONDS)


class OutputSink:
    """Print callback for Monty that keeps at most ``max_bytes`` of output (workaround 1).

    Monty calls it from a worker-reader thread, hence the lock; ``on_overflow`` must be
    thread-safe (the runner passes ``loop.call_soon_threadsafe``-wrapped abort).
    """

    def __init__(self, max_bytes: int, on_overflow: Callable[[], object]) -> None:
        self._max_bytes = max_bytes
        self._on_overflow = on_overflow
        self._parts: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self.overflowed = False
        """True once the program printed more than ``max_bytes``."""

    def __call__(self, stream: Literal["stdout", "stderr"], text: str) -> None:
        """Keep ``text`` (both streams interleaved, in order) up to the cap."""
        with self._lock:
            if self.overflowed:
                return
            encoded = text.encode("utf-8", errors="replace")
            room = self._max_bytes - self._size
            if len(encoded) <= room:
                self._parts.append(text)
                self._size += len(encoded)
                return
            self._parts.append(encoded[:room].decode("utf-8", errors="ignore"))
            self._size = self._max_bytes
            self.overflowed = True
        self._on_overflow()

    @property
    def text(self) -> str:
        """Everything kept so far."""
        with self._lock:
            return "".join(self._parts)
