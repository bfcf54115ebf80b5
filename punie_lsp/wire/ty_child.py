"""The ``ty server`` child process: spawn, talk raw JSON-RPC, restart after crashes, stop.

Messages to and from ty stay bytes: forwarding an editor's request never re-encodes it,
and an answer to one is routed by the id read from its first bytes
(``transport.peek_response_id``), on ty's reading thread when it can go back as is.
Punie's own requests to ty (typed tools, restart replay) use string ids with a prefix no
editor request is forwarded with.

Lifecycle: ``start`` spawns ty and performs ``initialize``/``initialized``. If ty exits
without being asked, it is restarted with backoff (immediately, then 0.25 s, 0.5 s, …
up to 60 s; the count resets once a child has lived 30 s) and ``on_ready`` replays
state (open documents) before anything new is forwarded. A ty that keeps crashing is
retried for as long as the session lasts, each wait longer up to the cap, and
``describe`` says so (a ty fixed meanwhile comes back by itself). ``replace`` takes the
same path on purpose (new settings), without the backoff. ``stop`` asks ty to
shut down, then terminates and finally kills it. On Linux the child also gets
``PR_SET_PDEATHSIG`` so even a SIGKILLed punie-lsp leaves no ty behind (ty also exits
when its stdin closes).

Why over 400 lines (~500): one state machine (starting, running, restarting, failed, stopping)
that punie's own requests to ty wait on; how the process is found, spawned and read
is in ``ty_process``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from punie_lsp.wire.transport import frame, peek_response_id
from punie_lsp.wire.ty_process import TyProcess, die_with_parent, launch, ty_command

__all__ = ["OWN_ID_PREFIX", "ChildState", "TyChild", "TyError", "TyReplaced", "ty_command"]

logger = logging.getLogger(__name__)

OWN_ID_PREFIX = "punie:"
"""Prefix of the ids of punie's own requests to ty."""

BACKOFF_SECONDS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)
"""Waits before restart attempts 1, 2, …; the last repeats for as long as ty fails."""
STABLE_AFTER_SECONDS = 30.0
"""A child that lived this long was healthy: the next crash starts the backoff afresh."""
INITIALIZE_TIMEOUT_SECONDS = 20.0

ChildState = Literal["stopped", "starting", "running", "restarting", "failed", "stopping"]


class TyError(Exception):
    """ty answered with an error, could not be reached, or is not running."""

    def __init__(self, message: str, code: int = -32803, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class TyReplaced(TyError):
    """The ty a request went to was replaced on purpose (``TyChild.replace``)."""


class TyChild:
    """One ty language server process at a time, restarted when it dies unasked."""

    def __init__(
        self,
        *,
        command: list[str] | None = None,
        cwd: str | None = None,
        initialize_params: Callable[[], dict[str, Any]],
        on_message: Callable[[dict[str, Any], bytes], None],
        on_response: Callable[[int | str, bytes], None] | None = None,
        on_response_now: Callable[[int | str, bytes], bool] | None = None,
        on_ready: Callable[[bool], None],
        on_crash: Callable[[str], None],
        on_restart_failed: Callable[[str], None] | None = None,
        before_restart: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self._command = command
        self.cwd = cwd
        self._initialize_params = initialize_params
        self._on_message = on_message
        self._on_response = on_response
        self._on_response_now = on_response_now
        """Called on ty's reading thread; True when it routed the response itself."""
        self._on_ready = on_ready
        self._on_crash = on_crash
        self._on_restart_failed = on_restart_failed
        self.next_attempt_at: float | None = None
        """``time.monotonic()`` of the next restart attempt while waiting for it."""
        self._before_restart = before_restart
        self._process: TyProcess | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ready = asyncio.Event()
        self._failed_starts = 0
        self._restart_task: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Task[None] | None = None
        self._launching: asyncio.Future[tuple[list[str], dict[str, str]]] | None = None
        self.state: ChildState = "stopped"
        self.restarts = 0
        self.initialize_result: dict[str, Any] | None = None
        self.last_error: str | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True when messages written now reach an initialized ty."""
        return self._ready.is_set()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def describe(self) -> str:
        """What ty is doing, for a request that cannot be answered now (one sentence)."""
        error = self.last_error or "no error recorded"
        if self.state == "restarting":
            if self.next_attempt_at is None:
                when = "a restart is under way"
            else:
                wait = max(0.0, self.next_attempt_at - time.monotonic())
                when = f"next attempt in {wait:.1f} s"
            return (
                f"ty is restarting ({error}; {self._failed_starts} attempt(s) since it last"
                f" ran; {when}); punie-lsp keeps retrying"
            )
        if self.state == "failed":
            return f"ty could not start ({error}); restart the language server to try again"
        return f"ty is {self.state} ({error})"

    async def wait_ready(self, timeout: float) -> None:
        """Wait until ty is running; raise ``TyError`` when it is not back in time."""
        if self._ready.is_set():
            return
        if self.state in ("failed", "stopped", "stopping"):
            raise TyError(f"ty is not running ({self.state}): {self.last_error or 'stopped'}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise TyError(
                f"ty is restarting and did not come back within {timeout:g} s"
                f" (last error: {self.last_error or 'none'}); see the punie-lsp log"
            ) from None

    # -- start / stop --------------------------------------------------------------------

    def prepare(self) -> asyncio.Future[tuple[list[str], dict[str, str]]]:
        """Work out ty's command and environment in a thread, once, ahead of ``start``.

        The first call may place ty's binary (a hard link, a copy at worst) and reads
        the environment; started when the router is built, it is ready by the time the
        editor's ``initialize`` arrives.
        """
        if self._launching is None:
            loop = asyncio.get_running_loop()  # RuntimeError outside one, before any work
            self._launching = loop.create_task(asyncio.to_thread(launch, self._command))
        return self._launching

    async def start(self) -> dict[str, Any]:
        """Spawn ty and initialize it; return its ``InitializeResult``."""
        self.state = "starting"
        self._shutdown = None
        try:
            result = await self._spawn_and_initialize()
        except Exception as exc:
            self.state = "failed"
            self.last_error = str(exc)
            raise
        self._failed_starts = 0
        return result

    async def _spawn_and_initialize(self) -> dict[str, Any]:
        command, env = await self.prepare()
        loop = asyncio.get_running_loop()
        process = TyProcess(self._on_body, self._on_body_now)
        child_stdin, child_stdout = process.child_fds()
        try:
            await loop.subprocess_exec(
                lambda: process,
                *command,
                stdin=child_stdin,
                stdout=child_stdout,
                stderr=subprocess.PIPE,
                cwd=self.cwd,
                env=env,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        except BaseException:
            process.abandon()
            raise
        process.started()
        self._process = process
        process.watcher = asyncio.create_task(self._exited(process))
        try:
            result = await asyncio.wait_for(
                self._request_unready("initialize", self._initialize_params()),
                INITIALIZE_TIMEOUT_SECONDS,
            )
        except BaseException:
            await self._kill(process)
            raise
        if not isinstance(result, dict):
            await self._kill(process)
            raise TyError(f"ty answered initialize with {result!r}")
        self.initialize_result = result
        self._write(process, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        restarted = self.restarts > 0
        self.state = "running"
        # The ready flag and the replay (documents, queued requests) happen in one
        # synchronous step, so no editor message can slip between replayed state and
        # live forwarding.
        self._ready.set()
        try:
            self._on_ready(restarted)
        except Exception:
            logger.exception("replaying state into ty failed")
        logger.info("ty started (pid %s)%s", process.pid, " after a restart" if restarted else "")
        return result

    def shutdown(self, timeout: float = 1.0) -> asyncio.Task[None]:
        """Ask ty to ``shutdown`` (LSP); the same task for every caller.

        ty answers what it was sent before ``shutdown`` first, and those answers are
        still routed: the process stays current until ``stop``. From here on a crash
        is not restarted. The task ends with ty's answer (ty is then sent ``exit``: nothing
        is forwarded after shutdown), or after ``timeout`` seconds. Callers that may be
        cancelled await it through ``asyncio.shield``; one cancelled anyway is started
        again for the next caller.
        """
        if self._shutdown is None or self._shutdown.cancelled():
            self._shutdown = asyncio.get_running_loop().create_task(self._shut_down(timeout))
        return self._shutdown

    async def _shut_down(self, timeout: float) -> None:
        self.state = "stopping"
        if self._restart_task is not None:
            self._restart_task.cancel()
        process = self._process
        if process is None or not process.running:
            return
        try:
            await asyncio.wait_for(self._send_request(process, "shutdown", None), timeout)
        except Exception as exc:
            logger.warning("ty did not answer shutdown: %s", exc or type(exc).__name__)
            return  # ``stop`` terminates it
        # Nothing more is forwarded after shutdown: let ty exit now, reaped by ``stop``.
        with contextlib.suppress(Exception):
            self._write(process, {"jsonrpc": "2.0", "method": "exit", "params": None})
            stdin = process.stdin
            if stdin is not None:
                stdin.close()

    async def stop(self, timeout: float = 2.0) -> None:
        """Shut ty down politely, then ``exit``, terminate, and finally kill. Idempotent."""
        await self.shutdown(timeout / 2)
        self.state = "stopping"
        self._ready.clear()
        process, self._process = self._process, None
        if process is None:
            self.state = "stopped"
            return
        if process.running:
            with contextlib.suppress(Exception):
                self._write(process, {"jsonrpc": "2.0", "method": "exit", "params": None})
                stdin = process.stdin
                if stdin is not None:
                    stdin.close()
            try:
                await asyncio.wait_for(asyncio.shield(process.exited), timeout / 2)
            except TimeoutError:
                await self._kill(process)
        await self._reap(process)
        self._fail_pending("ty was stopped")
        self.state = "stopped"

    async def _kill(self, process: TyProcess) -> None:
        if process.running:
            process.signal(kill=False)
            try:
                await asyncio.wait_for(asyncio.shield(process.exited), 1.0)
            except TimeoutError:
                process.signal(kill=True)
                await process.exited
        await self._reap(process)

    async def _reap(self, process: TyProcess) -> None:
        watcher = process.watcher
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        with contextlib.suppress(Exception):
            await process.exited
        process.close()

    # -- messages ------------------------------------------------------------------------

    def send_body(self, body: bytes) -> bool:
        """Forward an already-encoded message; False when ty is not ready to take it."""
        process = self._process
        if process is None or not self._ready.is_set():
            return False
        stdin = process.stdin
        if stdin is None or stdin.is_closing():
            return False
        stdin.write(frame(body))
        return True

    def send(self, message: dict[str, Any]) -> bool:
        """Encode and forward a message; False when ty is not ready to take it."""
        return self.send_body(json.dumps(message, separators=(",", ":")).encode())

    async def request(self, method: str, params: Any, timeout: float = 30.0) -> Any:
        """Punie's own request to ty (waits for a restart to finish, bounded).

        One that the ty it went to could not answer because it was replaced (``replace``)
        is sent once more, to its successor, as the editor's requests are.
        """
        for attempt in (1, 2):
            await self.wait_ready(timeout)
            process = self._process
            if process is None:
                raise TyError("ty is not running")
            try:
                return await asyncio.wait_for(self._send_request(process, method, params), timeout)
            except TyReplaced:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _request_unready(self, method: str, params: Any) -> Any:
        process = self._process
        if process is None:
            raise TyError("ty is not running")
        return await self._send_request(process, method, params)

    def _send_request(self, process: TyProcess, method: str, params: Any) -> asyncio.Future[Any]:
        msg_id = f"{OWN_ID_PREFIX}{next(self._ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
        self._write(process, message)
        future.add_done_callback(lambda _: self._pending.pop(msg_id, None))
        return future

    def _write(self, process: TyProcess, message: dict[str, Any]) -> None:
        stdin = process.stdin
        if stdin is None or stdin.is_closing():
            raise TyError("ty's input is closed")
        stdin.write(frame(json.dumps(message, separators=(",", ":")).encode()))

    def _fail_pending(self, reason: str, error: type[TyError] = TyError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error(reason))

    def _on_body_now(self, process: TyProcess, body: bytes) -> bool:
        """On ty's reading thread: route a response to an editor's request now, if it can be.

        True when ``on_response_now`` took it; otherwise it goes to ``_on_body`` on the
        loop, in order.
        """
        on_response_now = self._on_response_now
        if on_response_now is None or process is not self._process:
            return False
        msg_id = peek_response_id(body)
        if msg_id is None or (isinstance(msg_id, str) and msg_id.startswith(OWN_ID_PREFIX)):
            return False
        return on_response_now(msg_id, body)

    def _on_body(self, process: TyProcess, body: bytes) -> None:
        """One message from ty, in the pipe callback that received it."""
        if process is not self._process:
            return  # a replaced ty's last words
        msg_id = peek_response_id(body)
        if (
            msg_id is not None
            and self._on_response is not None
            and not (isinstance(msg_id, str) and msg_id.startswith(OWN_ID_PREFIX))
        ):
            try:
                self._on_response(msg_id, body)
            except Exception:
                logger.exception("failed to route a response from ty")
            return
        try:
            message = json.loads(body)
        except ValueError:
            logger.warning("ty sent invalid JSON: %.200r", body)
            return
        if not isinstance(message, dict):
            return
        msg_id = message.get("id")
        if "method" not in message and isinstance(msg_id, str) and msg_id.startswith(OWN_ID_PREFIX):
            self._resolve(msg_id, message)
            return
        try:
            self._on_message(message, body)
        except Exception:
            logger.exception("failed to route a message from ty")

    def _resolve(self, msg_id: str, message: dict[str, Any]) -> None:
        future = self._pending.pop(msg_id, None)
        if future is None or future.done():
            return
        if "error" in message and isinstance(message["error"], dict):
            error = message["error"]
            future.set_exception(
                TyError(
                    str(error.get("message")), int(error.get("code", -32603)), error.get("data")
                )
            )
        else:
            future.set_result(message.get("result"))

    # -- crashes -------------------------------------------------------------------------

    async def _exited(self, process: TyProcess) -> None:
        code = await asyncio.shield(process.exited)
        if self._process is not process:
            return  # stopped or replaced on purpose
        self._ready.clear()
        self._process = None
        lived = time.monotonic() - process.started_at
        if lived >= STABLE_AFTER_SECONDS:
            self._failed_starts = 0
        reason = f"ty exited with code {code} after {lived:.1f} s"
        self.last_error = reason
        self._fail_pending(reason)
        if self.state != "running":
            return  # stopping, or a start in progress that will see its request fail
        logger.warning("%s; restarting", reason)
        self.state = "restarting"
        self._on_crash(reason)
        self._restart_task = asyncio.create_task(self._restart())

    def replace(self, reason: str, on_lost: Callable[[], None]) -> bool:
        """Restart a running ty on purpose (the editor changed ty's settings).

        The crash path, asked for: in one synchronous step ty stops taking messages
        (``ready`` clears, so nothing new reaches the old process) and ``on_lost`` runs
        (the router marks what ty owed for sending again); the old process is then
        terminated, its last words dropped, and a new one started at once (no backoff)
        with ``initialize_params`` as they are now; ``on_ready(True)`` replays state, as
        after a crash. punie's own requests to the old ty are sent again (``request``).
        False, doing nothing, unless ty is running (a restart under way or a start in
        progress reads the settings when it spawns).
        """
        process = self._process
        if process is None or self.state != "running":
            return False
        self._ready.clear()
        self._process = None
        self.last_error = reason
        self._fail_pending(reason, TyReplaced)
        self.state = "restarting"
        self._failed_starts = 0
        on_lost()
        self._restart_task = asyncio.create_task(self._restart(retiring=process))
        return True

    async def _restart(self, retiring: TyProcess | None = None) -> None:
        if retiring is not None:  # replaced on purpose: gone before its successor starts
            await asyncio.shield(self._kill(retiring))
        if self._before_restart is not None:
            await self._before_restart()  # e.g. the documents to replay are known
        while self.state == "restarting":
            delay = BACKOFF_SECONDS[min(self._failed_starts, len(BACKOFF_SECONDS) - 1)]
            self._failed_starts += 1
            if delay:
                self.next_attempt_at = time.monotonic() + delay
                await asyncio.sleep(delay)
                self.next_attempt_at = None
            if self.state != "restarting":
                return
            self.restarts += 1
            try:
                await self._spawn_and_initialize()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"restart failed: {exc or type(exc).__name__}"
                self.state = "restarting"
                message = self.describe()
                logger.warning("%s", message)
                if self._on_restart_failed is not None:
                    self._on_restart_failed(message)
