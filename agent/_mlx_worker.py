"""The ``mlx:`` model's worker process: an ``MlxEngine`` behind a pipe.

Why a process: mlx-lm's generation loop is Python (building each token's graph holds
the GIL between mlx's native calls), and in the language server's process every
syscall of the event loop that relays hovers (read, write, epoll) gives the GIL up and
then waits for that loop to hand it back: hover p95 rose 2-10x while a model
generated. In its own process the model shares only the CPU, and at a lower priority
(``NICENESS``). ``benchmarks/surfaces.py`` measures both hosts.

Started as ``python -m agent._mlx_worker`` by ``_mlx_hosts.ProcessHost``. The protocol
is frames of a 4-byte big-endian length and a pickle (both ends are this package, one
user, one machine) on the worker's stdin and on a duplicate of its original stdout;
fd 1 itself is pointed at stderr, so a library that prints cannot corrupt a frame.

Parent to worker: ``("config", engine keyword arguments)`` first, then ``(op, id,
*args)`` with op ``load``, ``render``, ``run``, ``reset``, run one at a time in order on
the engine's thread, and ``("stop", id)``, acted on at once (the run ends at its next
token). Worker to parent: ``("out", id, outputs)`` while a run generates, then
``("ok", id, value)`` or ``("error", id, exception)``. End of input (the parent closed
the pipe or died) ends the worker.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import IO, Any

__all__ = ["NICENESS", "leave_a_core", "read_frame", "write_frame"]

NICENESS = 10
"""How much lower the worker's CPU priority is than the server's (``os.nice``).

On a busy machine the editor's requests win the CPU over generation; on an idle one
(cores to spare) generation runs as fast as before. On 2 shared cores with the tiny
model, hover p50 while generating went from 1.7x idle to 1.1x (``benchmarks/surfaces.py``).
"""


def leave_a_core() -> frozenset[int] | None:
    """Keep this process (and the threads it starts later) off one core; the cores it keeps.

    A hover's round trip wakes four threads (punie's two readers, ty's reader and
    worker); with generation on every core, each wake-up can wait behind it, niceness or
    not. On 2 shared cores with the tiny model, hover p95 while generating went from
    3.1-4.6x idle to 1.5-2.0x, and generation got no slower
    (``benchmarks/surfaces.py --model mlx --rounds 10``). Linux only (macOS has no
    affinity; mlx runs on the GPU there); nothing is done with a single core. Returns
    None when nothing was changed.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    cores = os.sched_getaffinity(0)
    if len(cores) < 2:
        return None
    kept = frozenset(cores - {min(cores)})
    os.sched_setaffinity(0, kept)
    return kept


_LENGTH = struct.Struct(">I")


def write_frame(stream: IO[bytes], message: object) -> None:
    """Write one frame and flush; the caller serialises writers."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's message; ``EOFError`` at the end of the stream."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise EOFError
    (length,) = _LENGTH.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        raise EOFError
    return pickle.loads(body)  # our own parent, see the module docstring


def picklable(error: BaseException) -> BaseException:
    """``error`` itself if it survives a pickle round trip, else a ``RuntimeError`` saying it."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def main() -> None:
    # Here: the parent imports this module for its framing only, and never the engine.
    from agent._mlx_engine import MlxEngine

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    source = sys.stdin.buffer
    write_lock = threading.Lock()

    def send(message: object) -> None:
        with write_lock:
            write_frame(out, message)

    op, config = read_frame(source)
    assert op == "config", op
    os.nice(NICENESS)
    leave_a_core()  # before mlx starts its threads: they inherit it
    engine = MlxEngine(**config)
    work: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
    stops: dict[int, threading.Event] = {}

    def serve() -> None:
        while (item := work.get()) is not None:
            op, ident, *args = item
            try:
                if op == "run":
                    value: Any = engine.run(args[0], partial(_out, send, ident), stops[ident])
                else:
                    value = getattr(engine, _OPS[op])(*args)
            except BaseException as error:
                send(("error", ident, picklable(error)))
            else:
                send(("ok", ident, value))
            finally:
                stops.pop(ident, None)

    threading.Thread(target=serve, name="mlx-engine", daemon=True).start()
    try:
        while True:
            item = read_frame(source)
            if item[0] == "stop":
                if (event := stops.get(item[1])) is not None:
                    event.set()
                continue
            if item[0] == "run":
                stops[item[1]] = threading.Event()
            work.put(item)
    except EOFError:
        pass
    # The parent is gone or closed us: stop the run in flight and leave without the
    # interpreter's teardown (mlx can abort in native code there, see ARCHITECTURE.md).
    for event in list(stops.values()):
        event.set()
    os._exit(0)


def _out(send: Callable[[object], None], ident: int, outputs: list[Any]) -> None:
    send(("out", ident, outputs))


_OPS = {"load": "load", "render": "render_prompt", "reset": "reset"}


if __name__ == "__main__":
    main()
