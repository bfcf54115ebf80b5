"""``punie-lsp tool NAME --arg value …``: any typed tool from the terminal, as JSON.

The same registry, validation and result models as the sandbox and ``punie.tool`` use,
so what a user runs here is exactly what the model would get. Options are generated
from each tool's parameters; the result JSON goes to stdout, usage errors to stderr.
Exit status: 0 when the tool ran, 1 when it could not (``error`` set, or a text tool
such as ``read_file`` raised; its message goes to stderr), 2 on misuse.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic

from typed_tools.base import ToolArgumentError, ToolContext, ToolResult
from typed_tools.registry import ToolSpec, call_tool, json_schema, load_tools, stubs
from typed_tools.tool import describe_type
from typed_tools.ty_pool import default_pool

__all__ = ["main", "number_in"]


def number_in(
    convert: type[int] | type[float], low: float, high: float, *, above_low: bool = False
) -> typing.Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[low, high]`` (``(low, high]`` with
    ``above_low``), so a bad ``--timeout 0`` or ``--memory-mb -1`` is a usage error
    naming the range, not a traceback or a misleading "did not finish within 0 s"."""
    shown = f"above {low:g}" if above_low else f"from {low:g}"

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            what = "a whole number" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value or not (low < value if above_low else low <= value) or value > high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: {shown} to {high:g}")
        return value

    parse.__name__ = convert.__name__
    return parse


def _is_bool(annotation: Any) -> bool:
    return annotation is bool or set(typing.get_args(annotation)) == {bool, type(None)}


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    args = set(typing.get_args(annotation))
    return origin in (typing.Union, types.UnionType) and args == {str, type(None)}


def _converter(name: str, annotation: Any) -> Any:
    """Parse an option's text by the parameter's type (JSON for lists and numbers)."""
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(annotation)

    def convert(text: str) -> Any:
        try:
            return adapter.validate_json(text)
        except pydantic.ValidationError:
            try:
                return adapter.validate_strings(text)
            except pydantic.ValidationError as exc:
                # argparse names the option already ("argument --args: …").
                said = exc.errors()[0]["msg"]
                if typing.get_origin(annotation) is list or list in map(
                    typing.get_origin, typing.get_args(annotation)
                ):
                    said += ', written as JSON, e.g. \'["-rn", "TODO"]\''
                raise argparse.ArgumentTypeError(f"{said}, got {text!r}") from None

    convert.__name__ = getattr(annotation, "__name__", str(annotation))
    return convert


def _tool_parser(spec: ToolSpec) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"punie-lsp tool {spec.name}",
        description=spec.docstring,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace root")
    parser.add_argument(
        "--timeout",
        type=number_in(float, 0, 3600, above_low=True),
        default=60.0,
        help="time limit in seconds (above 0, at most 3600; default 60)",
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="let the tool run the workspace's own code (pytest_run); off by default",
    )
    for p in spec.parameters:
        required = p.default is inspect.Parameter.empty
        option = "--" + p.name.replace("_", "-")
        help_text = describe_type(p.annotation)
        if "list" in help_text:
            help_text += ', as JSON: \'["-rn", "TODO"]\''

        if not required:
            help_text += f" (default: {p.default!r})"
        if _is_bool(p.annotation):
            parser.add_argument(
                option, dest=p.name, action=argparse.BooleanOptionalAction,
                default=None if required else p.default, required=required, help=help_text,
            )  # fmt: skip
        else:
            parser.add_argument(
                option, dest=p.name, required=required, help=help_text,
                type=str if _is_text(p.annotation) else _converter(p.name, p.annotation),
                default=argparse.SUPPRESS,
            )  # fmt: skip
    return parser


async def _run(spec: ToolSpec, ctx: ToolContext, args: dict[str, Any]) -> ToolResult | str:
    try:
        return await call_tool(spec.name, ctx, args, tools={spec.name: spec})
    finally:
        await default_pool().stop_all()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``punie-lsp tool``; ``argv`` excludes the program and ``tool`` words."""
    argv = list(sys.argv[1:] if argv is None else argv)
    tools = load_tools()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: punie-lsp tool NAME [--ARG VALUE ...] [--workspace DIR]")
        print("       punie-lsp tool --list | --stubs | --schema")
        print("       punie-lsp tool NAME --help")
        return 0
    if argv[0] == "--list":
        for name, spec in tools.items():
            print(f"{name:20} {(spec.docstring.splitlines() or [''])[0]}")
        return 0
    if argv[0] == "--stubs":
        print(stubs(tools), end="")
        return 0
    if argv[0] == "--schema":
        print(json.dumps(json_schema(tools), indent=2))
        return 0
    spec = tools.get(argv[0])
    if spec is None:
        print(f"unknown tool {argv[0]!r}; try: punie-lsp tool --list", file=sys.stderr)
        return 2
    try:
        options = vars(_tool_parser(spec).parse_args(argv[1:]))
    except SystemExit as exit_:  # --help, or an argparse usage error already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    workspace: Path = options.pop("workspace").resolve()
    if not workspace.is_dir():
        print(f"error: --workspace {workspace} is not a folder", file=sys.stderr)
        return 2
    ctx = ToolContext(
        root=workspace, timeout_seconds=options.pop("timeout"), trusted=options.pop("trust")
    )
    try:
        result = asyncio.run(_run(spec, ctx, options))
    except ToolArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a text tool's failure (read_file of a missing file …)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if isinstance(result, str):
        print(result, end="" if result.endswith("\n") else "\n")
        return 0
    print(result.model_dump_json(indent=2))
    return 0 if result.error is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
