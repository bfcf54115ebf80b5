"""Where an ``MlxEngine`` runs for ``MlxModel``: its own process (the default) or a thread.

Both hosts have the same shape: each operation returns a ``concurrent.futures.Future``
resolved from another thread, so ``MlxModel`` awaits them from any event loop, and a
run's outputs arrive through a callback on that thread. Operations run one at a time,
in the order they were asked for.

- ``ProcessHost`` runs the engine in ``python -m agent._mlx_worker`` (see there for why
  and for the pipe protocol). A reader thread here waits on the pipe (the GIL is free
  while it waits) and resolves the futures. If the worker dies, every pending and later
  operation fails with ``MlxWorkerExited``: make a new model to start again.
- ``ThreadHost`` runs it on one worker thread of this process: for callers with no
  event loop to keep responsive (training, tests that script the engine).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from agent._mlx_engine import MlxEngine, MlxJob, MlxRequestStats, Output
from agent._mlx_worker import read_frame, write_frame

logger = logging.getLogger(__name__)

__all__ = ["Host", "MlxWorkerExited", "ProcessHost", "ThreadHost"]

OnOutput = Callable[[list[Output]], None]


class MlxWorkerExited(RuntimeError):
    """The model's worker process ended: the message gives its exit code."""


class Host(Protocol):
    def load(self) -> Future[None]: ...

    def render(
        self, chat: list[dict[str, Any]], tools: list[dict[str, Any]] | None, generation: bool
    ) -> Future[list[int]]: ...

    def run(
        self, job: MlxJob, on_output: OnOutput
    ) -> tuple[Callable[[], None], Future[MlxRequestStats]]:
        """Start ``job``; returns a function that stops it, and its stats to come."""
        ...

    def reset(self, conversation_id: str | None) -> None: ...

    def close(self) -> None: ...

    @property
    def exited(self) -> bool:
        """Whether it can run nothing more: closed, or its worker process ended."""
        ...


class ThreadHost:
    """The engine on one worker thread of this process."""

    def __init__(self, engine: MlxEngine) -> None:
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlx")
        self._closed = False

    @property
    def exited(self) -> bool:
        return self._closed

    def load(self) -> Future[None]:
        return self._executor.submit(self.engine.load)

    def render(
        self, chat: list[dict[str, Any]], tools: list[dict[str, Any]] | None, generation: bool
    ) -> Future[list[int]]:
        return self._executor.submit(self.engine.render_prompt, chat, tools, generation)

    def run(
        self, job: MlxJob, on_output: OnOutput
    ) -> tuple[Callable[[], None], Future[MlxRequestStats]]:
        stop = threading.Event()
        return stop.set, self._executor.submit(self.engine.run, job, on_output, stop)

    def reset(self, conversation_id: str | None) -> None:
        self._executor.submit(self.engine.reset, conversation_id)

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)


class ProcessHost:
    """The engine in a worker process, started on the first operation."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, tuple[Future[Any], OnOutput | None]] = {}
        self._ids = itertools.count(1)
        self._exited: MlxWorkerExited | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)

    @property
    def pid(self) -> int | None:
        """The worker's process id once started."""
        return self._process.pid if self._process is not None else None

    @property
    def exited(self) -> bool:
        return self._exited is not None

    def load(self) -> Future[None]:
        return self._ask("load")

    def render(
        self, chat: list[dict[str, Any]], tools: list[dict[str, Any]] | None, generation: bool
    ) -> Future[list[int]]:
        return self._ask("render", chat, tools, generation)

    def run(
        self, job: MlxJob, on_output: OnOutput
    ) -> tuple[Callable[[], None], Future[MlxRequestStats]]:
        ident = next(self._ids)
        future = self._ask("run", job, ident=ident, on_output=on_output)
        return lambda: self._send(("stop", ident)), future

    def reset(self, conversation_id: str | None) -> None:
        if self._process is not None:
            self._ask("reset", conversation_id)

    def close(self) -> None:
        """Close the worker's input: it stops its run and exits; reaped in the background."""
        with self._lock:
            process, self._process = self._process, None
            self._exited = self._exited or MlxWorkerExited("the mlx model was closed")
        if process is None:
            return
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        threading.Thread(target=_reap, args=(process,), name="mlx-reap", daemon=True).start()

    def _ask(
        self, op: str, *args: Any, ident: int | None = None, on_output: OnOutput | None = None
    ) -> Future[Any]:
        future: Future[Any] = Future()
        ident = next(self._ids) if ident is None else ident
        with self._lock:
            if self._exited is not None:
                future.set_exception(self._exited)
                return future
            self._pending[ident] = (future, on_output)
        self._send((op, ident, *args))
        return future

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            if self._exited is not None:
                return
            process = self._process or self._start()
            assert process.stdin is not None
            # A dead worker: the reader sees the end of its output and fails what is pending.
            with contextlib.suppress(OSError):
                write_frame(process.stdin, message)

    def _start(self) -> subprocess.Popen[bytes]:
        """Spawn the worker (with ``_lock`` held) and its reader thread."""
        # -P: the working directory (editors start punie-lsp in the workspace folder) is
        # not put first on sys.path, so a project's own `types.py` or `agent/` cannot
        # shadow the standard library's or ours (the worker exited with code 1 in them).
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "agent._mlx_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # an editor's Ctrl-C is not the model's
        )
        assert process.stdin is not None
        write_frame(process.stdin, ("config", self._config))
        self._process = process
        stderr = threading.Thread(
            target=self._read_stderr, args=(process,), name="mlx-stderr", daemon=True
        )
        stderr.start()
        threading.Thread(
            target=self._read, args=(process, stderr), name="mlx-reader", daemon=True
        ).start()
        return process

    def _read_stderr(self, process: subprocess.Popen[bytes]) -> None:
        """The worker's stderr into punie-lsp's log (``--log-file`` included, where an
        inherited stderr would not go), its last lines kept for the exit message."""
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self._stderr.append(line)
                logger.info("mlx worker: %s", line)

    def _read(self, process: subprocess.Popen[bytes], stderr: threading.Thread) -> None:
        assert process.stdout is not None
        try:
            while True:
                kind, ident, value = read_frame(process.stdout)
                if kind == "out":
                    on_output = self._pending[ident][1]
                    if on_output is not None:
                        on_output(value)
                    continue
                with self._lock:
                    future, _ = self._pending.pop(ident)
                if kind == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (EOFError, OSError):
            pass
        code = process.wait()
        stderr.join(timeout=5)
        last = self._stderr[-1] if self._stderr else None
        if code != 0 and self._stderr:
            logger.warning("mlx worker exited with code %s:\n%s", code, "\n".join(self._stderr))
        with self._lock:
            self._exited = self._exited or MlxWorkerExited(
                f"the mlx model's worker process exited with code {code}"
                + (f": {last}" if last else "")
                + " (its output is in punie-lsp's log)"
            )
            pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(self._exited)


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
