"""Type-check imported rows' programs against the tool stubs, without running a tool.

A row teaches the model to write its programs. A program that does not pass the
sandbox's type check (a field the tools do not have, a function that does not exist)
would fail every time the tuned model writes it, so ``import-punie`` keeps only rows
whose every ``execute_code`` program checks, and counts the others by reason.

The check is the sandbox's own (the same stubs, the same checker a live run uses): each
program is fed to the pool with stand-ins for the tools that refuse to run, so a
program that checks stops at its first tool call and nothing touches a workspace.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from agent.code_mode import CodeModeTools
from sandbox import RunError, SandboxLimits, SandboxPool
from training.rows import Row

__all__ = ["check_rows", "row_programs", "typing_reason"]

_LIMITS = SandboxLimits(timeout_seconds=2.0)
_ATTRIBUTE = re.compile(r"has no attribute `(?P<name>\w+)`")
_ON_TYPE = re.compile(r"on type `(?P<type>[^`]+)`|Object of type `(?P<object>[^`]+)`")
_NAME = re.compile(r"Name `(?P<name>\w+)` used when not defined")


class _NotRun(Exception):
    """Raised by the tool stand-ins: the check never runs a tool."""


def row_programs(row: Row) -> list[str]:
    """The ``execute_code`` programs of a row, in order."""
    programs = []
    for message in row.messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function", call)
            arguments: Any = function.get("arguments") or {}
            if function.get("name") == "execute_code" and isinstance(arguments, dict):
                programs.append(str(arguments.get("code", "")))
    return programs


def typing_reason(error: RunError) -> str:
    """A short, countable reason: ``unresolved-attribute `.lines` on str``, ``syntax`` …"""
    if error.kind == "syntax":
        return "syntax error"
    code = error.message.split(":", 1)[0]
    attribute = _ATTRIBUTE.search(error.message)
    if attribute:
        owner = _ON_TYPE.search(error.message)
        on = (owner["type"] or owner["object"]) if owner else "?"
        return f"{code} `.{attribute['name']}` on {on}"
    name = _NAME.search(error.message)
    if name:
        return f"{code} `{name['name']}`"
    return code


async def check_rows(
    rows: Iterable[Row], tools: CodeModeTools | None = None
) -> tuple[list[Row], Counter[str]]:
    """The rows whose every program passes the type check, and the others' reasons.

    A row is refused for its first program that fails; its reason is counted once.
    """
    bound = tools or CodeModeTools.load()

    def refuse(name: str) -> Any:
        async def stand_in(*args: Any, **kwargs: Any) -> Any:
            raise _NotRun(f"{name} is not run while checking")

        return stand_in

    externals = {name: refuse(name) for name in bound.tools}
    kept: list[Row] = []
    refused: Counter[str] = Counter()
    async with SandboxPool() as pool:
        for row in rows:
            for program in row_programs(row):
                result = await pool.run(
                    program, externals=externals, stubs=bound.stubs, limits=_LIMITS
                )
                if result.error is not None and result.error.kind in ("typing", "syntax"):
                    refused[typing_reason(result.error)] += 1
                    break
            else:
                kept.append(row)
    return kept, refused
