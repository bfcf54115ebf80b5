"""Run a command so that nothing it starts outlives it: ``python _reaper.py [limits] -- argv``.

Started by ``process.run(..., contain=...)`` in a session of its own, with punie-lsp's
interpreter and the standard library only (it is run as a file, not imported). It makes
itself a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): a grandchild that
detaches (double fork, ``setsid``) is re-parented to it instead of to init, so when the
command ends, or the reaper gets ``SIGTERM`` at the caller's deadline, every process
left below it is found and killed. A killed process group would miss exactly those
children that left the group. Resource limits (address space, CPU seconds, file size,
no core files) are set here and inherited by everything below.

Exit status: the command's (``128 + signal`` when it was killed by one).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36
"""From ``<linux/prctl.h>``."""

_MIB = 1024 * 1024


def _children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (read from ``/proc``, Linux)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(name))
    return found


def _reap() -> None:
    """Collect every exited child without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants() -> None:
    """Kill every process below this one, including re-parented orphans, and reap them."""
    me = os.getpid()
    for _ in range(10_000):  # each round kills one generation; a fork bomb is finite here
        children = _children(me)
        if not children:
            return
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        _reap()


def _limit(which: int, value: int) -> None:
    with contextlib.suppress(ValueError, OSError):  # a hard limit already lower: kept
        resource.setrlimit(which, (value, value))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="_reaper")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--cpu-seconds", type=int, default=0)
    parser.add_argument("--file-mb", type=int, default=0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("_reaper: cannot become a child subreaper", file=sys.stderr)
    _limit(resource.RLIMIT_CORE, 0)
    if args.memory_mb:
        _limit(resource.RLIMIT_AS, args.memory_mb * _MIB)
    if args.cpu_seconds:
        _limit(resource.RLIMIT_CPU, args.cpu_seconds)
    if args.file_mb:
        _limit(resource.RLIMIT_FSIZE, args.file_mb * _MIB)

    def stop(signum: int, frame: object) -> None:
        kill_descendants()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"cannot run {command[0]}: {exc}", file=sys.stderr)
        return 127
    code = child.wait()
    kill_descendants()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
