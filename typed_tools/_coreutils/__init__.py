"""grep, find, ls, cat, head, tail and wc, emulated over ``View`` for ``run_command``.

Why emulated rather than executed: the programs must see the run's proposed files and
the editor's buffers (as ``read_file`` does), which a real ``grep`` cannot; every path
must stay inside the workspace, which is simplest to guarantee when no other program
opens files; and the output must not depend on which grep (GNU, BSD, busybox) a machine
has. Output follows GNU coreutils/grep/findutils as they print to a pipe (Punie's
terminal): ``file:line:text`` for ``grep -rn``, one name per line for ``ls``, GNU ``wc``
column widths, ``==> f <==`` headers for several files. Errors are printed as GNU
prints them (``grep: x: No such file or directory``), inside the output, as a terminal
shows them. Differences, deliberate: names are visited in sorted order (GNU uses the
folder's order), and ``.git``, ``.venv``, ``node_modules`` and ``__pycache__`` are not
walked into.

An option these programs do not emulate raises ``Unsupported``; nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Callable

from typed_tools._coreutils.files import cat, head, ls, tail, wc
from typed_tools._coreutils.find import find
from typed_tools._coreutils.grep import grep
from typed_tools._coreutils.options import Unsupported
from typed_tools._view import View

__all__ = ["PROGRAMS", "Unsupported"]

PROGRAMS: dict[str, Callable[[View, list[str]], str]] = {
    "grep": grep,
    "find": find,
    "ls": ls,
    "cat": cat,
    "head": head,
    "tail": tail,
    "wc": wc,
}
"""The emulated programs by name."""
