"""``punie-lsp run-code FILE|-``: run a Python snippet in the sandbox with the typed tools.

The same thing as the editor's ``punie.runCode``, without an editor: the result JSON
(``{stdout, value, error?, calls}``) goes to stdout, each tool call to stderr as it
happens. Ctrl-C, SIGTERM (``kill``, ``timeout``) and SIGHUP cancel the run: it stops
within a second, its worker processes with it. Exit codes: 0 when the code ran without
error, 1 when it failed (the result says why), 2 on misuse.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from agent.config import SandboxSettings, bounds
from agent.stop_signals import cancelled_by_stop_signals
from typed_tools.cli import number_in

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="punie-lsp run-code",
        description="Run Python in the Monty sandbox; the typed tools are its only way out.",
    )
    parser.add_argument("file", help="a .py file, or - to read the code from stdin")
    parser.add_argument("--workspace", default=".", help="the folder the tools see (default: .)")
    # The ranges and defaults of the editor's punie.sandbox.* settings (one model).
    for flag, name, what in (
        ("--timeout", "timeout_seconds", "seconds"),
        ("--memory-mb", "memory_mb", "memory limit in MiB"),
        ("--max-tool-calls", "max_tool_calls", "tool calls per run"),
    ):
        field = SandboxSettings.model_fields[name]
        low, high, above = bounds(field)
        assert low is not None and high is not None, name
        convert = int if field.annotation is int else float
        shown = f"above {low:g} and at most" if above else f"{low:g} to"
        parser.add_argument(
            flag,
            type=number_in(convert, low, high, above_low=above),
            default=field.default,
            dest=name,
            metavar=flag.removeprefix("--").upper().replace("-", "_"),
            help=f"{what}, {shown} {high:g} (default {field.default:g})",
        )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="let tools run the workspace's own code (pytest_run); off by default",
    )
    parser.add_argument(
        "--no-type-check", action="store_true", help="skip the type check against the tool stubs"
    )
    return parser


async def _run(code: str, root: Path, args: argparse.Namespace, err: TextIO) -> Any:
    from agent.code_mode import run_code  # Pydantic AI, Monty, the tools: not for --help
    from sandbox import SandboxLimits, SandboxPool, trace_value
    from typed_tools import ToolContext, default_pool

    started = time.monotonic()
    cancel = asyncio.Event()

    async def on_call(name: str, call_args: dict[str, Any]) -> None:
        shown = ", ".join(f"{k}={trace_value(v)!r}" for k, v in call_args.items())
        err.write(f"[{time.monotonic() - started:6.2f}s] {name}({shown})\n")
        err.flush()

    ctx = ToolContext(root=root, on_call=on_call, trusted=args.trust)
    limits = SandboxLimits(
        timeout_seconds=args.timeout_seconds,
        memory_mb=args.memory_mb,
        max_tool_calls=args.max_tool_calls,
    )
    pool = SandboxPool()
    with cancelled_by_stop_signals(cancel):
        try:
            return await run_code(
                code,
                ctx,
                pool=pool,
                limits=limits,
                cancel=cancel,
                type_check=not args.no_type_check,
            )
        finally:
            await pool.stop()
            await default_pool().stop_all()


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if not Path(args.workspace).is_dir():
        parser.error(f"--workspace {args.workspace} is not a folder")
    try:
        # Decoded as Python decodes a source file: UTF-8, a leading byte-order mark
        # dropped (Monty, given the mark as text, reports "unexpected token").
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        code = raw.decode("utf-8-sig")
    except OSError as exc:
        parser.error(f"cannot read {args.file}: {exc.strerror}")
    except UnicodeDecodeError as exc:
        parser.error(f"cannot read {args.file}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    result = asyncio.run(_run(code, Path(args.workspace).resolve(), args, sys.stderr))
    out.write(result.model_dump_json(exclude_none=True, indent=2) + "\n")
    return 0 if result.error is None else 1
