"""``run_command``: Punie's read-only commands, confined to the workspace, never a shell.

Punie's programs call ``run_command("grep -rn 'def main' --include='*.py' src/")`` (a
whole command line) or ``run_command("find", args=[".", "-name", "*.py"])`` and read
the output as text. The line is split with ``shlex`` (as Punie's ``run_command`` does)
and never given to a shell: pipes, redirects, ``&&``, ``;`` and other programs are
refused with a message naming what is supported.

``grep``, ``find``, ``ls``, ``cat``, ``head``, ``tail`` and ``wc`` are emulated
(``typed_tools._coreutils`` says why: they must see the run's proposed files, the
output must not depend on the machine's grep, and no other program opens files).
``git`` runs for real, only for read-only subcommands and only when the workspace is
the repository's top level (otherwise ``git log -p`` or ``git show HEAD:../x`` would
print files outside the workspace), with the same hardening as the git tools: no
pager, no external diff or textconv programs, no fsmonitor, no repository-configured
command. git answers about the repository, so it does not see proposed files: the
proposals are not in git until the user applies them.
"""

from __future__ import annotations

import shlex

from typed_tools._coreutils import PROGRAMS, Unsupported
from typed_tools._view import View
from typed_tools.base import ToolContext
from typed_tools.containment import PatternTooSlow, off_loop, real_path
from typed_tools.safe_git import run_git
from typed_tools.tool import tool
from typed_tools.workspace import ToolFailure, resolve

__all__ = ["GIT_SUBCOMMANDS", "SUPPORTED", "run_command"]

GIT_SUBCOMMANDS = ("status", "diff", "log", "show", "blame", "ls-files")
"""git's read-only subcommands ``run_command`` runs."""

SUPPORTED = (
    "run_command runs only grep, find, ls, cat, head, tail, wc and git "
    + "|".join(GIT_SUBCOMMANDS)
    + ", one program per call, without pipes, redirects, ';' or '&&'. "
    "For the rest use the typed tools: pytest_run(path) for tests, ruff_check(path) for "
    "lint, typecheck(path) for types, read_file(path) for a file's text"
)
"""The refusal's explanation: what is supported and what to use instead."""

_OPERATOR_CHARS = frozenset("|&;<>()")
_GIT_REFUSED = (
    "--output",
    "--ext-diff",
    "--textconv",
    "-O",
    "--exec",
    "--upload-pack",
    "--contents",
    "--ignore-revs-file",
    "--exclude-from",
    "--exclude-per-directory",
    "--open-files-in-pager",
    "--no-index",
)
"""git options that write, run a program or read a file named by the caller."""


def _operator(command: str) -> str | None:
    """The first shell operator outside quotes and escapes (``|``, ``&&``, ``>`` …), if any.

    ``shlex.split`` would turn ``a | b`` into the words ``a``, ``|``, ``b`` and ``'a|b'``
    into ``a|b``: only the quoting tells a pipe from a pattern, so it is read here.
    """
    quote = ""
    escaped = False
    for char in command:
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in _OPERATOR_CHARS or char == "`":
            return char
    return None


def _words(command: str, args: list[str] | None) -> list[str]:
    """Punie's splitting: a whole line is split with shlex; ``args`` are appended as given."""
    try:
        operator = _operator(command)
        if operator is not None:
            raise Unsupported(f"{command!r} uses the shell operator {operator!r}")
        words = shlex.split(command)
    except ValueError as exc:
        raise Unsupported(f"cannot split {command!r}: {exc}") from None
    return words + list(args or [])


async def _git(view: View, ctx: ToolContext, args: list[str]) -> str:
    if not args or args[0] not in GIT_SUBCOMMANDS:
        raise Unsupported(f"git {args[0] if args else ''} is not a read-only subcommand")
    for arg in args[1:]:
        if arg == "--":
            break
        if arg.startswith(_GIT_REFUSED):
            raise Unsupported(f"git option {arg} writes, runs or reads something else")
    toplevel = await run_git(["rev-parse", "--show-toplevel"], cwd=view.cwd)
    if toplevel.stdout.strip() != str(real_path(ctx.root)):
        raise Unsupported(
            "git through run_command needs the workspace to be the repository's top level; "
            "git_status(path), git_diff(path) and git_log(path) work in any workspace"
        )
    # run_git switches off every program the repository's configuration names (see
    # safe_git), and adds --no-ext-diff/--no-textconv where the subcommand takes them.
    completed = await run_git(args, cwd=view.cwd)
    return completed.stdout + completed.stderr


@tool
async def run_command(
    ctx: ToolContext, command: str, args: list[str] | None = None, cwd: str | None = None
) -> str:
    """Run a read-only command and return what it prints (stdout, then stderr), as text.

    ``command`` is a whole command line (``"grep -rn 'def main' --include='*.py' src/"``)
    or a program whose arguments are ``args`` (``"find", [".", "-name", "*.py"]``);
    ``cwd`` is a workspace folder to run in. Supported: grep, find, ls, cat, head, tail,
    wc and git status|diff|log|show|blame|ls-files, printing as GNU's tools print to a
    pipe; they see files proposed earlier in this run (git does not). Raises
    ``PermissionError`` for anything else (another program, a pipe or redirect, an
    option that writes or executes), with what is supported; a path outside the
    workspace raises ``PermissionError`` too.
    """
    try:
        words = _words(command, args)
        if not words:
            raise Unsupported("the command is empty")
        folder = resolve(ctx, cwd or ".")
        view = View(ctx, folder)
        if not view.is_dir(folder):
            raise ToolFailure(f"cwd {cwd!r} is not a folder", exception=NotADirectoryError)
        program, *rest = words
        if program == "git":
            return await _git(view, ctx, rest)
        emulated = PROGRAMS.get(program)
        if emulated is None:
            raise Unsupported(f"{program!r} is not supported")
        # A walk of a large tree takes a while: off the event loop, under the deadline.
        return await off_loop(emulated, view, rest)
    except PatternTooSlow:
        raise ToolFailure(
            f"{words[0]}: the pattern took too long on one line (it backtracks "
            "catastrophically; simplify it)",
            exception=TimeoutError,
        ) from None
    except Unsupported as refused:
        raise ToolFailure(f"{refused}; {SUPPORTED}", exception=PermissionError) from None
