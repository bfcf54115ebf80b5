"""The agent's one tool, ``execute_code``: run the model's program, report back compactly.

What the model reads back is a short text, not the full ``RunResult`` JSON. A program
that prints is answered with exactly what it printed: Punie's rows show the printed
output as the tool response, so a Punie-tuned model sees what it was trained on. Only a
program that printed nothing is answered with the value of its last expression and one
line per typed-tool call. Both are truncated, because a program that returns a whole
file or prints a log would otherwise fill a small model's context in one step. Code
that fails in a way the model can fix (syntax, typing, runtime, a limit it ran into)
raises ``ModelRetry`` with the line and the message, so the library sends it back and
counts the retry; a cancelled run stops the agent instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import ModelRetry, RunContext

from agent.code_mode import CodeModeTools, run_code
from agent.deps import AgentDeps, ProgressEvent
from sandbox import RunResult, SandboxLimits, SandboxSession, ToolCall
from typed_tools.base import ToolContext

__all__ = ["RunState", "SandboxFailure", "execute_code", "render_result"]

MAX_VALUE_CHARS = 4_000
"""Longest JSON form of the returned value shown to the model."""
MAX_STDOUT_CHARS = 4_000
"""Longest printed output shown to the model (its head and tail are kept)."""
MAX_TRACEBACK_CHARS = 1_500
"""Longest traceback or type-check report sent back with a failure."""


class SandboxFailure(Exception):
    """The sandbox raised while it ran the model's program: its fault, not the model's.

    The sandbox reports everything a program does in its ``RunResult``, so an exception
    out of it is a fault of the sandbox (or of Code Mode's binding of the tools); the
    agent names it as such (``PunieAgent.ask``), never as the model failing.
    """


@dataclass(kw_only=True)
class RunState:
    """One prompt's run as the tool sees it (Pydantic AI's ``ctx.deps``)."""

    deps: AgentDeps
    """The caller's deps for this prompt."""
    tools: CodeModeTools
    """The typed tools for this run."""
    limits: SandboxLimits
    """Limits of each program."""
    type_check: bool = True
    """Whether programs are type-checked against the stubs before they run."""
    context: ToolContext
    """``deps.tools`` with an ``on_call`` hook that reports each tool call."""
    sandbox: SandboxSession | None = None
    """The run's sandbox sessions, each opened before its program (``sandbox._session``)."""
    code: list[str] = field(default_factory=list)
    """Programs submitted so far."""
    calls: list[ToolCall] = field(default_factory=list)
    """Typed-tool calls made by those programs, in order."""
    text: list[str] = field(default_factory=list)
    """Text streamed by the model so far (what the user saw)."""
    rejected: list[str] = field(default_factory=list)
    """Why each final answer the model gave was sent back to it, in order (``core``)."""

    def report(self, kind: Any, text: str) -> None:
        """Send one progress event to the caller's reporter."""
        self.deps.progress(ProgressEvent(kind=kind, text=text))


def _format_call(tool: str, args: dict[str, Any]) -> str:
    rendered = ", ".join(f"{k}={_short(json.dumps(v, default=str), 60)}" for k, v in args.items())
    return f"{tool}({rendered})"


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} …[{len(text) - limit} characters cut]… {text[-half:]}"


def render_result(result: RunResult) -> str:
    """What the model reads after a successful program (see the module docstring)."""
    if result.stdout:
        return _short(result.stdout.rstrip("\n"), MAX_STDOUT_CHARS)
    lines: list[str] = []
    if result.value is not None:
        value = json.dumps(result.value, ensure_ascii=False)
        lines.append("value: " + _short(value, MAX_VALUE_CHARS))
    if result.calls:
        calls = [
            f"{_format_call(c.tool, dict(c.args))} -> {'ok' if c.success else 'failed'}"
            for c in result.calls
        ]
        lines.append("tool calls: " + "; ".join(calls))
    if not lines:
        lines.append("(no value and no output: end the program with an expression to see it)")
    return "\n".join(lines)


def _retry_message(result: RunResult) -> str:
    error = result.error
    assert error is not None  # only called for failed runs
    where = f" at line {error.line}" if error.line is not None else ""
    parts = [f"Your code failed with a {error.kind} error{where}: {error.message}"]
    if error.traceback:
        parts.append(_short(error.traceback.strip(), MAX_TRACEBACK_CHARS))
    if result.stdout:
        parts.append("stdout before the failure:\n" + _short(result.stdout, MAX_STDOUT_CHARS // 4))
    parts.append("Fix the code and call execute_code again.")
    return "\n".join(parts)


async def execute_code(ctx: RunContext[RunState], code: str) -> str:
    """Run a Python program in the sandbox; the typed tools are predefined functions.

    Returns the value of the last expression, printed output and the tool calls made.
    """
    run = ctx.deps
    run.code.append(code)
    run.report("code", code)
    try:
        result = await run_code(
            code,
            run.context,
            pool=run.deps.pool,
            limits=run.limits,
            cancel=run.deps.cancel,
            tools=run.tools,
            type_check=run.type_check,
            session=run.sandbox,
        )
    except Exception as failed:  # the sandbox reports in results: a raise is its own fault
        raise SandboxFailure(f"{type(failed).__name__}: {failed}") from failed
    run.calls.extend(result.calls)
    if result.error is None:
        text = render_result(result)
        run.report("toolResult", text)
        return text
    if result.error.kind == "cancelled":
        # Either the caller cancelled, or the pool is stopping (server shutdown): both
        # end the whole run, which the agent does when this event is set.
        run.deps.cancel.set()
        return "cancelled"
    message = _retry_message(result)
    run.report("toolResult", message)
    raise ModelRetry(message)
