"""Monty's exceptions turned into ``RunError``: the kind, the limit, the line.

Monty reports a tripped guard as an ordinary exception inside the sandbox
(``MemoryError: memory limit exceeded …``); the model should instead learn *which*
limit stopped it and that rewriting, not retrying, is the fix. The mapping lives here
so the runner never inspects exception text itself.
"""

from __future__ import annotations

import re

from pydantic_monty import (
    MontyCrashedError,
    MontyError,
    MontyRuntimeError,
    MontySyntaxError,
    MontyTypingError,
)

from sandbox._limits import SETTINGS, LimitName, SandboxLimits
from sandbox._result import ErrorKind, RunError

__all__ = [
    "CANCELLED",
    "SessionLost",
    "from_monty_error",
    "limit_error",
    "sandbox_lost",
    "timeout_error",
]

_SCRIPT_FILENAMES = re.compile(r"<python-input-\d+>|main\.py")
"""How Monty names submitted code: ``<python-input-N>`` in frames (the session's Nth
feed, from 0: the program follows the runner's prelude, and a spare's warm-up),
``main.py`` in diagnostics (lines count from the fed snippet's start)."""

_CONCISE_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>\w+)\[(?P<code>[\w-]+)\] "
)
"""One line of ty's ``concise`` output: ``main.py:2:5: error[code] message``."""

_GUARDS: tuple[tuple[str, str, ErrorKind, LimitName], ...] = (
    ("TimeoutError", "time limit exceeded", "timeout", "timeout_seconds"),
    ("TimeoutError", "sleep limit exceeded", "timeout", "timeout_seconds"),
    ("MemoryError", "memory limit exceeded", "memory", "memory_mb"),
    # The worker process outgrew the limit and was terminated (exit 65): same limit.
    ("MemoryError", "exceeded its memory limit", "memory", "memory_mb"),
    ("RecursionError", "maximum recursion depth exceeded", "limit", "max_recursion_depth"),
    ("RuntimeError", "suspension", "limit", "max_tool_calls"),
)
"""(exception type, message fragment) Monty uses for each guard it enforces itself."""


def limit_error(
    limit: LimitName, limits: SandboxLimits, detail: str, *, kind: ErrorKind = "limit"
) -> RunError:
    """An error naming the limit, its value and what to do about it."""
    value = getattr(limits, limit)
    setting = f", setting {SETTINGS[limit]}" if limit in SETTINGS else ""
    return RunError(
        kind=kind,
        limit=limit,
        message=f"{detail} ({limit}={value}{setting}); make the program do less, "
        "do not retry as is",
    )


def from_monty_error(error: MontyError, limits: SandboxLimits) -> RunError:
    """Classify a Monty exception raised by a feed (never called for host-side aborts)."""
    if isinstance(error, MontyTypingError):
        return _from_diagnostics(error.display())
    if isinstance(error, MontySyntaxError):
        line, column = _position(error)
        return RunError(
            kind="syntax",
            message=error.display("type-msg"),
            line=line,
            column=column,
            traceback=error.display("traceback"),
        )
    if isinstance(error, MontyRuntimeError):
        line, column = _position(error)
        inner = error.exception()
        type_name = type(inner).__name__
        message = error.display("type-msg")
        for guard_type, fragment, kind, limit in _GUARDS:
            if type_name == guard_type and fragment in str(inner):
                value = getattr(limits, limit)
                message = f"{message} ({limit}={value})"
                return RunError(
                    kind=kind,
                    limit=limit,
                    message=message,
                    line=line,
                    column=column,
                    traceback=error.display("traceback"),
                )
        return RunError(
            kind="runtime",
            message=message,
            line=line,
            column=column,
            traceback=error.display("traceback"),
        )
    if isinstance(error, MontyCrashedError):
        return RunError(
            kind="runtime",
            message=f"the sandbox worker died ({error}); it has been replaced, the run was lost",
        )
    return RunError(kind="runtime", message=f"{type(error).__name__}: {error}")


def _position(error: MontyRuntimeError | MontySyntaxError) -> tuple[int | None, int | None]:
    """Line and column of the innermost frame in the submitted code, if any.

    The outermost frame is the fed snippet's own; in a session that ran earlier
    programs, frames of functions they defined carry their names and lines, not ours.
    """
    frames = error.traceback()
    current = frames[0].filename if frames else ""
    if not _SCRIPT_FILENAMES.fullmatch(current):
        return None, None
    for frame in reversed(frames):
        if frame.filename == current:
            return frame.line, frame.column
    return None, None


def _from_diagnostics(text: str) -> RunError:
    """A type-check rejection: position of the first diagnostic in the submitted code.

    With type checking on, a parse error also arrives as a diagnostic
    (``invalid-syntax``); it is reported as kind ``syntax`` so the two paths agree.
    """
    first: re.Match[str] | None = None
    for row in text.splitlines():
        match = _CONCISE_DIAGNOSTIC.match(row)
        if match and _SCRIPT_FILENAMES.fullmatch(match["file"]) and match["severity"] == "error":
            first = match
            break
    if first is None:
        return RunError(kind="typing", message=text.strip() or "type check failed", traceback=text)
    kind: ErrorKind = "syntax" if first["code"] == "invalid-syntax" else "typing"
    errors = [row for row in text.splitlines() if _CONCISE_DIAGNOSTIC.match(row)]
    summary = errors[0].split("] ", 1)[-1]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return RunError(
        kind=kind,
        message=f"{first['code']}: {summary}{more}",
        line=int(first["line"]),
        column=int(first["column"]),
        traceback=text,
    )


class SessionLost(Exception):
    """A session was gone before it answered: its worker discarded or dead, the checkout
    finished (Monty then raises a plain ``RuntimeError``). Raised by a program's first
    feed and by a type check; the sandbox's fault, never reported as the program's."""


def sandbox_lost(error: BaseException, *, started: bool) -> RunError:
    """The run's error when its session was lost: the sandbox's fault, named as such."""
    when = "midway; what it did is void" if started else "before it started"
    return RunError(
        kind="runtime",
        message=f"the sandbox lost the program's session {when} ({error}); "
        "this is not the program's fault: submit it again",
    )


def timeout_error(limits: SandboxLimits) -> RunError:
    """The host-side deadline passed (Monty's own clock reports its own error)."""
    return limit_error(
        "timeout_seconds",
        limits,
        "the run took longer than timeout_seconds (wall clock, tool calls included)",
        kind="timeout",
    )


CANCELLED = RunError(kind="cancelled", message="the run was cancelled; its effects are void")
