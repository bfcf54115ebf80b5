"""Containment: the rules every tool keeps so no tool blocks the server or leaks the host.

The helpers here are shared by every tool (built-in or plug-in) that touches the disk:

- **Deadlines off the loop.** The tool decorator gives each call a ``Deadline`` (the
  tool's time limit, which the sandbox's own limit cuts short by cancelling the call).
  Blocking work runs in a thread through ``off_loop``, which carries the deadline into
  the thread; loops there call ``deadline.check()``, so a walk or a search stops at
  the limit even though a thread cannot be killed, and stops as soon as the call is
  cancelled.
- **Safe walks.** ``walk_files`` never follows a symlinked folder, survives symlink
  loops, skips FIFOs, sockets and devices (opening a FIFO blocks forever), and stops
  at ``MAX_WALK_ENTRIES`` or the deadline, saying so in ``Walk.truncated``.
- **Bounded reads.** ``read_regular_file`` opens without blocking, refuses anything
  that is not a regular file and anything over the size limit, naming the limit.
- **What results may show.** ``typed_tools.visibility.PathVisibility`` decides whether
  a path reported by ty, ruff or pytest may appear in a result (the exact rule is there).
- **Trust.** ``typed_tools.workspace.require_trust`` refuses tools that run the
  project's own code in a workspace the user has not trusted.

It imports nothing else of ``typed_tools``: ``base`` and ``workspace`` build on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import functools
import os
import stat
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

import regex

__all__ = [
    "LINE_SECONDS",
    "MAX_WALK_ENTRIES",
    "Deadline",
    "DeadlineExceeded",
    "PatternTooSlow",
    "Walk",
    "current_deadline",
    "describe_size",
    "inside",
    "off_loop",
    "oversized_argument",
    "read_regular_file",
    "real_path",
    "result_items",
    "search_line",
    "using_deadline",
    "walk_files",
]

P = ParamSpec("P")
T = TypeVar("T")

MAX_WALK_ENTRIES = 100_000
"""Directory entries one walk may visit before it stops and reports ``truncated``.

A 100,000-entry walk takes about a second here; a 200,000-file tree used to block the
server for 11 s. Stopping at a count keeps memory and time bounded even on a machine
fast enough to beat the deadline.
"""

_DEADLINE_CHECK_EVERY = 64
"""Entries or lines between two deadline checks in a tight loop (a check is ~50 ns)."""


class DeadlineExceeded(Exception):
    """A blocking helper passed its call's deadline or the call was cancelled."""


@dataclass
class Deadline:
    """When one tool call must have finished, readable from any thread.

    ``at`` is a ``time.monotonic()`` value; ``stop()`` (called when the call ends or is
    cancelled) makes every later ``check()`` raise at once.
    """

    at: float = float("inf")
    """``time.monotonic()`` value after which work must stop."""
    _stopped: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(at=time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (0 when passed or stopped)."""
        if self._stopped.is_set():
            return 0.0
        return max(0.0, self.at - time.monotonic())

    def stop(self) -> None:
        """End the call's work: later ``check()`` calls raise."""
        self._stopped.set()

    @property
    def expired(self) -> bool:
        """True once the time is up or the call was stopped."""
        return self._stopped.is_set() or time.monotonic() >= self.at

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` when the work should stop."""
        if self.expired:
            raise DeadlineExceeded


_NO_DEADLINE = Deadline()
_current: contextvars.ContextVar[Deadline] = contextvars.ContextVar(
    "typed_tools_deadline", default=_NO_DEADLINE
)


def current_deadline() -> Deadline:
    """The running tool call's deadline (none outside a tool call)."""
    return _current.get()


@contextlib.contextmanager
def using_deadline(deadline: Deadline) -> Generator[Deadline]:
    """Make ``deadline`` the current one inside the block, and stop it on leaving."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        deadline.stop()
        _current.reset(token)


async def off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking ``function`` in a worker thread with the current deadline in scope.

    If the awaiting call is cancelled (the sandbox's limit, the editor's cancel), the
    deadline is stopped, so the thread ends at its next ``check()`` instead of running on.
    """
    deadline = current_deadline()
    context = contextvars.copy_context()
    call = functools.partial(context.run, function, *args, **kwargs)
    try:
        return await asyncio.get_running_loop().run_in_executor(None, call)
    except asyncio.CancelledError:
        deadline.stop()
        raise


LINE_SECONDS = 0.25
"""Most time a pattern may take on one line (a 1 MB minified line takes ~10 ms)."""


class PatternTooSlow(Exception):
    """A regular expression took longer than ``LINE_SECONDS`` on one line."""


def search_line(pattern: regex.Pattern[str], line: str) -> regex.Match[str] | None:
    """``pattern.search(line)`` that cannot run past the deadline or block the loop.

    The ``regex`` package (chosen over ``re``, which holds the GIL and has no timeout,
    and over google-re2, which holds the GIL on long input and refuses lookaround and
    backreferences; README, "Containment") checks the time itself and releases the GIL
    while matching, so the server's loop keeps answering while a search runs in its
    thread. Its clock is checked coarsely (a busy machine overshoots a timeout up to
    2x), so one line gets at most half of the time left and never over ``LINE_SECONDS``.
    Raises ``DeadlineExceeded`` when no time is left, ``PatternTooSlow`` on a timeout.
    """
    remaining = current_deadline().remaining()
    if remaining <= 0:
        raise DeadlineExceeded
    try:
        return pattern.search(line, timeout=min(remaining / 2, LINE_SECONDS), concurrent=True)
    except TimeoutError:
        raise PatternTooSlow from None


@dataclass
class Walk:
    """The files a walk found, and why it stopped early when it did.

    Names are kept as root-relative strings: building 100,000 ``Path`` objects cost
    more than the walk itself.
    """

    root: Path
    """The (real) root the names are relative to."""
    names: list[str] = field(default_factory=list)
    """Root-relative POSIX names of regular files (or symlinks to regular files inside
    the root), in walk order."""
    truncated: str | None = None
    """Why the walk stopped before the end (entry budget, time limit), else None."""

    @property
    def files(self) -> list[Path]:
        """The files as absolute paths."""
        return [self.root / name for name in self.names]


def real_path(path: str | os.PathLike[str]) -> Path:
    """The path with every symlink resolved, never raising on a symlink loop.

    ``Path.resolve`` raises ``RuntimeError`` on a loop in Python 3.11; a looping path
    is returned as far as it resolves, and opening it fails with ``ELOOP`` later.
    """
    return Path(os.path.realpath(path))


def inside(path: str, root: str) -> bool:
    """Whether real path ``path`` is ``root`` or below it (a prefix is not a parent)."""
    return _inside(path, root)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk_files(
    root: Path,
    under: Path,
    *,
    skip_dir: Callable[[str], bool] = lambda relative: False,
    skip_file: Callable[[str], bool] = lambda relative: False,
    on_dir: Callable[[Path, str], None] | None = None,
    max_entries: int | None = None,
) -> Walk:
    """Regular files under ``under`` (inside ``root``), depth first, sorted per folder.

    ``skip_dir``/``skip_file`` get root-relative POSIX paths (folders end in ``/``);
    ``on_dir(folder, relative)`` is called on entering a folder, before its entries are
    filtered (how ``.gitignore`` files are picked up). Symlinked folders are never
    entered; a symlinked file is kept only when its real path is a regular file inside
    ``root``. FIFOs, sockets and devices are skipped. The walk stops at ``max_entries``
    entries (default ``MAX_WALK_ENTRIES``) or at the current deadline and says so in
    ``truncated``.
    """
    deadline = current_deadline()
    max_entries = MAX_WALK_ENTRIES if max_entries is None else max_entries
    real_root = os.path.realpath(root)
    walk = Walk(root=Path(real_root))
    seen_dirs: set[tuple[int, int]] = set()
    stack = [os.fspath(under)]
    entries = 0
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder, follow_symlinks=False)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen_dirs:
            continue  # a bind mount or hard-linked folder looping back
        seen_dirs.add((info.st_dev, info.st_ino))
        relative = os.path.relpath(folder, real_root).replace(os.sep, "/")
        relative = "" if relative == "." else relative + "/"
        if on_dir is not None:
            on_dir(Path(folder), relative)
        try:
            with os.scandir(folder) as scan:
                listed = sorted(scan, key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in listed:
            entries += 1
            if entries > max_entries:
                walk.truncated = f"stopped after {max_entries} entries (the walk's budget)"
                return walk
            if entries % _DEADLINE_CHECK_EVERY == 0 and deadline.expired:
                walk.truncated = "stopped at the tool's time limit"
                return walk
            name = relative + entry.name
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _inside(target, real_root):
                        continue
                    if not stat.S_ISREG(os.stat(target).st_mode) or skip_file(name):
                        continue
                    walk.names.append(name)
                elif entry.is_dir(follow_symlinks=False):
                    if not skip_dir(name + "/"):
                        subfolders.append(entry.path)
                elif entry.is_file(follow_symlinks=False) and not skip_file(name):
                    walk.names.append(name)
                # else: FIFO, socket, device: never opened
            except OSError:
                continue  # vanished, a symlink loop (ELOOP), unreadable: skip it
        stack.extend(reversed(subfolders))
    return walk


def text_size(text: str) -> int:
    """UTF-8 size of ``text`` in bytes, without encoding a text already over any limit.

    A character is at least one byte, so ``len`` decides cheaply for huge texts.
    """
    if len(text) > 16_000_000:
        return len(text) * 1  # lower bound; only compared against smaller limits
    return len(text.encode("utf-8", "surrogatepass"))


def oversized_argument(arguments: dict[str, object], limit: int) -> str | None:
    """Why a call's text argument is too large (naming it and ``max_argument_bytes``), or None."""
    for name, value in arguments.items():
        if isinstance(value, str) and len(value) > limit // 4 and text_size(value) > limit:
            return (
                f"argument {name!r} is {describe_size(text_size(value))}, over the "
                f"{describe_size(limit)} limit on tool arguments (max_argument_bytes)"
            )
    return None


def result_items(result: object) -> int:
    """Items in a result's list fields, nested lists included (cheap: no serialising).

    What converting a result into the sandbox costs grows with this count (about 0.25
    ms per item here), so the tool decorator bounds it (``max_result_items``).
    """
    if isinstance(result, str):
        return 0
    count = 0
    fields = getattr(type(result), "model_fields", None)
    if fields is None:
        return 0
    for name in fields:
        value = getattr(result, name, None)
        if isinstance(value, list):
            count += len(value)
            if value and hasattr(type(value[0]), "model_fields"):
                count += sum(result_items(item) for item in value)
    return count


def describe_size(size: int) -> str:
    """``12.3 MB`` style (decimal units, as editors and ``ls -h --si`` show)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def read_regular_file(path: Path, max_bytes: int, shown: str) -> bytes:
    """The bytes of regular file ``path``; ``OSError`` naming ``shown`` when it cannot be.

    Opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so a
    FIFO (or a file swapped for one after a check) is refused instead of blocking, and
    a file over ``max_bytes`` is refused naming the limit (``max_read_bytes``).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, f"{shown} is a symlink loop") from None
        raise
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"{shown} is not a regular file")
        if info.st_size > max_bytes:
            raise OSError(
                errno.EFBIG,
                f"{shown} is {describe_size(info.st_size)}, over the "
                f"{describe_size(max_bytes)} limit on reads (max_read_bytes)",
            )
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew since fstat
        raise OSError(errno.EFBIG, f"{shown} is over the {describe_size(max_bytes)} limit on reads")
    return data
