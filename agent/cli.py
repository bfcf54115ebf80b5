"""``punie-lsp ask "…"``: the agent from a terminal, without an editor.

The answer streams to stdout as the model writes it; the code the model runs, each tool
call and each result go to stderr (dimmed on a terminal), with a spinner while the
model thinks, so ``punie-lsp ask … > answer.txt`` captures only the answer. Proposed
edits are printed as unified diffs and never applied: the CLI has no editor to review
them in. Exit status: 0 answered, 1 the run failed (the reason is on stderr), 2 misuse,
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from agent.config import DEFAULT_MODEL, AgentConfig, Settings
from agent.deps import AgentDeps, ProgressEvent
from agent.settings_resolution import setting_problems
from agent.stop_signals import cancelled_by_stop_signals
from typed_tools.lines import read_exact, split_keepends

__all__ = ["main"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="punie-lsp ask", description="Ask the Code Mode agent about a workspace."
    )
    parser.add_argument("prompt", help="the question or task, in quotes")
    parser.add_argument(
        "--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: .)"
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"default: {DEFAULT_MODEL}")
    parser.add_argument("--base-url", help="OpenAI-compatible server, for openai:<name> models")
    parser.add_argument("--draft-model", help="draft model for speculative decoding (mlx:)")
    parser.add_argument("--adapter", help="LoRA adapter directory from `train finetune` (mlx:)")
    # Ranges and defaults are the settings' own (agent.config.Settings).
    parser.add_argument("--temperature", type=float, default=Settings().temperature)
    parser.add_argument("--max-tokens", type=int, default=Settings().max_tokens)
    parser.add_argument(
        "--request-timeout-seconds",
        type=float,
        default=Settings().request_timeout_seconds,
        help="how long an openai: server may send nothing (default: %(default)g)",
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="let the agent's tools run the workspace's own code (pytest_run); off by default",
    )
    return parser


class _Terminal:
    """Prints progress: answer text to stdout, everything else to stderr, and a spinner."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.tty = err.isatty()
        self._spinning = False
        self.at_line_start = True

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.tty else text

    def clear_spinner(self) -> None:
        if self._spinning:
            self.err.write("\r\x1b[K")
            self._spinning = False

    async def spin(self) -> None:
        """Show that the model is working while nothing else is printed (terminals only)."""
        if not self.tty:
            return
        frame = 0
        while True:
            if self.at_line_start:
                self.err.write(f"\r{_SPINNER[frame % len(_SPINNER)]} working…")
                self.err.flush()
                self._spinning = True
            frame += 1
            await asyncio.sleep(0.1)

    def __call__(self, event: ProgressEvent) -> None:
        self.clear_spinner()
        if event.kind == "text":
            self.out.write(event.text)
            self.out.flush()
            self.at_line_start = event.text.endswith("\n")
            return
        if event.kind == "answer":
            return  # already streamed as text
        if not self.at_line_start:
            self.out.write("\n")
            self.out.flush()
            self.at_line_start = True
        if event.kind == "code":
            body = "\n".join(f"  │ {line}" for line in event.text.splitlines())
            self.err.write(self.dim(f"▶ running code:\n{body}") + "\n")
        elif event.kind == "toolCall":
            self.err.write(self.dim(f"  ↳ {event.text}") + "\n")
        else:
            first, _, rest = event.text.partition("\n")
            more = f" (+{rest.count(chr(10)) + 1} lines)" if rest else ""
            self.err.write(self.dim(f"◀ {first[:200]}{more}") + "\n")
        self.err.flush()


def _diff(path: Path, root: Path, new: str) -> str:
    old = read_exact(path) if path.is_file() else ""
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    lines = difflib.unified_diff(
        [line for line in split_keepends(old) if line],
        [line for line in split_keepends(new) if line],
        f"a/{name}",
        f"b/{name}",
    )
    return "".join(lines)


def _config(args: argparse.Namespace) -> AgentConfig:
    """The flags as the one settings model; a bad value raises ``ValidationError``."""
    return AgentConfig(
        model=args.model,
        base_url=args.base_url,
        draft_model=args.draft_model,
        adapter=args.adapter,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        request_timeout_seconds=args.request_timeout_seconds,
        surface="cli",
    )


def _flag(loc: tuple[int | str, ...]) -> str:
    return "--" + str(loc[0]).replace("_", "-")


async def _ask(args: argparse.Namespace, config: AgentConfig, out: TextIO, err: TextIO) -> int:
    from agent.core import PunieAgent  # Pydantic AI is slow to import; not for --help
    from sandbox import SandboxPool
    from typed_tools import ToolContext, TyClient

    root = args.workspace.resolve()
    agent = PunieAgent(config)
    terminal = _Terminal(out, err)
    cancel = asyncio.Event()
    stop_signals = contextlib.ExitStack()
    stop_signals.enter_context(cancelled_by_stop_signals(cancel))
    # Our own ty for the workspace, so typecheck and navigation see proposed edits.
    # Per-file diagnostics: ty's workspace mode did not answer after an overlay edit.
    ty = TyClient(root, workspace_diagnostics=False)
    spinner = asyncio.create_task(terminal.spin())
    try:
        if agent.status().loaded is False:
            err.write(f"loading {config.model} …\n")
        await ty.start()
        async with SandboxPool() as pool:
            deps = AgentDeps(
                tools=ToolContext(root=root, ty=ty, trusted=args.trust),
                pool=pool,
                progress=terminal,
                cancel=cancel,
            )
            result = await agent.ask(args.prompt, deps)
    finally:
        spinner.cancel()
        terminal.clear_spinner()
        await ty.stop()
        stop_signals.close()
    if not terminal.at_line_start:
        out.write("\n")
    for edit in result.edits:
        err.write(f"proposed edit (not applied): {edit.path}\n")
        out.write(_diff(Path(edit.path), root, edit.text))
    usage = result.usage
    tokens = (
        "tokens not reported by the server"
        if usage.unmeasured_requests
        else f"{usage.input_tokens} tokens in, {usage.output_tokens} out"
    )
    err.write(
        terminal.dim(f"[{result.turns} model turns, {tokens}, {len(result.calls)} tool calls]")
        + "\n"
    )
    if result.outcome == "cancelled":
        err.write("interrupted\n")
        return 130
    if result.outcome != "ok":
        err.write(f"error: {result.error}\n")
        return 1
    return 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run ``ask PROMPT [options]`` (the leading ``ask`` is optional); return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["ask"]:
        arguments = arguments[1:]
    args = _parser().parse_args(arguments)
    if not args.workspace.is_dir():
        print(f"punie-lsp ask: no such folder: {args.workspace}", file=sys.stderr)
        return 2
    if not args.prompt.strip():  # not worth loading a model for
        print("punie-lsp ask: the prompt is empty; ask something, in quotes", file=sys.stderr)
        return 2
    from agent.backends import ModelSpecError  # Pydantic AI: not for --help or usage errors

    try:
        config = _config(args)
    except ValidationError as exc:
        for _, problem in setting_problems(exc, AgentConfig, _flag):
            print(f"punie-lsp ask: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_ask(args, config, out or sys.stdout, sys.stderr))
    except ModelSpecError as exc:
        print(f"punie-lsp ask: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
