"""``ruff_check`` and ``ruff_fix``: ruff's JSON diagnostics and its fixes as proposals.

Ruff runs on what this run sees: files the overlay changed are linted from their
proposed text (through stdin, with ``--stdin-filename`` so the user's configuration
still applies), the rest from disk. ``ruff_fix`` never writes: it asks ruff for the
fixed text of each file on stdin and returns it with a diff, for the model to pass to
``write_file`` or the editor to apply.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from ruff.__main__ import find_ruff_bin

from typed_tools.base import ToolContext
from typed_tools.containment import real_path
from typed_tools.lines import split_keepends
from typed_tools.models import FileFix, RuffFixResult, RuffResult, RuffViolation
from typed_tools.process import run
from typed_tools.tool import tool
from typed_tools.workspace import ToolFailure, display_path, read_text, resolve

__all__ = ["parse_ruff_json", "ruff_check", "ruff_fix"]

_PYTHON_SUFFIXES = (".py", ".pyi")


def parse_ruff_json(ctx: ToolContext, output: str) -> list[RuffViolation]:
    """Violations from ``ruff check --output-format json`` (columns are characters already)."""
    try:
        items: list[dict[str, Any]] = json.loads(output or "[]")
    except json.JSONDecodeError as exc:
        raise ToolFailure(f"ruff printed something that is not JSON: {output[:200]!r}") from exc
    violations = []
    visibility = ctx.visibility()
    for item in items:
        shown = visibility.display(item["filename"])
        if shown is None:
            continue  # a workspace link to a file outside it: not ours to show
        fix = item.get("fix")
        location = item.get("location") or {"row": 1, "column": 1}
        violations.append(
            RuffViolation(
                file=shown,
                line=location["row"],
                column=location["column"],
                # Syntax errors have no rule code.
                code=item.get("code") or "syntax-error",
                message=item["message"],
                fixable=bool(fix) and fix.get("applicability") == "safe",
            )
        )
    return violations


async def _ruff(ctx: ToolContext, args: list[str], stdin: str | None = None) -> str:
    completed = await run(
        [find_ruff_bin(), "check", "--no-cache", "--exit-zero", *args],
        cwd=resolve(ctx, "."),
        stdin=stdin,
    )
    if completed.returncode != 0:
        raise ToolFailure(f"ruff failed: {completed.error_line('ruff')}")
    return completed.stdout


def _overlaid(ctx: ToolContext, target: Path) -> list[Path]:
    return sorted(
        real_path(p)
        for p in ctx.overlay
        if p.suffix in _PYTHON_SUFFIXES
        and (real_path(p) == target or real_path(p).is_relative_to(target))
    )


def _on_disk(target: Path) -> bool:
    """Whether ruff can be pointed at ``target`` (overlay-only files are linted via stdin)."""
    return target.exists()


async def _violations(ctx: ToolContext, target: Path) -> list[RuffViolation]:
    overlaid = _overlaid(ctx, target)
    violations: list[RuffViolation] = []
    if _on_disk(target):
        skip = {display_path(ctx, p) for p in overlaid}
        disk = parse_ruff_json(ctx, await _ruff(ctx, ["--output-format", "json", str(target)]))
        violations.extend(v for v in disk if v.file not in skip)
    elif not overlaid:
        raise ToolFailure(f"no such file or folder: {display_path(ctx, target)}")
    for path in overlaid:
        output = await _ruff(
            ctx,
            ["--output-format", "json", "--stdin-filename", str(path), "-"],
            stdin=read_text(ctx, path),
        )
        violations.extend(parse_ruff_json(ctx, output))
    violations.sort(key=lambda v: (v.file, v.line, v.column))
    return violations


@tool
async def ruff_check(ctx: ToolContext, path: str = ".") -> RuffResult:
    """Lint ``path`` with ruff and the project's configuration; fixable violations are marked."""
    violations = await _violations(ctx, resolve(ctx, path))
    return RuffResult(
        success=not violations,
        violation_count=len(violations),
        fixable_count=sum(v.fixable for v in violations),
        violations=violations,
    )


@tool
async def ruff_fix(ctx: ToolContext, path: str = ".") -> RuffFixResult:
    """Propose ruff's safe fixes for ``path`` as new file texts and diffs, writing nothing."""
    violations = await _violations(ctx, resolve(ctx, path))
    fixable: dict[str, int] = {}
    for violation in violations:
        if violation.fixable:
            fixable[violation.file] = fixable.get(violation.file, 0) + 1
    fixes = []
    for file, count in sorted(fixable.items()):
        absolute = resolve(ctx, file)
        before = read_text(ctx, absolute)
        after = await _ruff(
            ctx, ["--fix-only", "--stdin-filename", str(absolute), "-"], stdin=before
        )
        if after == before:
            continue
        diff = "".join(
            difflib.unified_diff(
                [line for line in split_keepends(before) if line],
                [line for line in split_keepends(after) if line],
                fromfile=f"a/{file}",
                tofile=f"b/{file}",
            )
        )
        fixes.append(FileFix(file=file, fixed_count=count, diff=diff, new_content=after))
    fixed = sum(f.fixed_count for f in fixes)
    return RuffFixResult(
        success=True, fixed_count=fixed, remaining_count=len(violations) - fixed, fixes=fixes
    )
