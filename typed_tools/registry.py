"""The tool registry: built-ins plus plug-ins, and what is generated from them.

A tool's signature, result model and docstring are the single source for everything
that describes it: the Python stubs the model's prompt and the sandbox's type checker
see, the JSON schema, the CLI's options and argument validation. Plug-ins (Punie's
domain validators were such tools) register through the entry-point group
``punie.tools``; an entry point names a tool function (``async def name(ctx, ...) ->
Model``) or a ``ToolSpec``. A broken plug-in is logged and skipped, never fatal.
"""

from __future__ import annotations

import inspect
import logging
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal

import pydantic
from pydantic import BaseModel

from typed_tools import (
    commands,
    cst,
    files,
    git,
    lint,
    navigation,
    symbols,
    testing,
    typecheck,
)
from typed_tools.base import ResultItem, ToolArgumentError, ToolContext, ToolResult
from typed_tools.tool import ToolFunction, result_model, tool, tool_parameters

__all__ = [
    "ENTRY_POINT_GROUP",
    "ToolSpec",
    "builtin_tools",
    "call_tool",
    "json_schema",
    "load_tools",
    "stubs",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "punie.tools"
"""Where plug-in tools register (``[project.entry-points."punie.tools"]``)."""

_BUILTINS: tuple[ToolFunction, ...] = (
    typecheck.typecheck,
    lint.ruff_check,
    lint.ruff_fix,
    testing.pytest_run,
    navigation.goto_definition,
    navigation.find_references,
    navigation.hover,
    symbols.document_symbols,
    symbols.workspace_symbols,
    git.git_status,
    git.git_diff,
    git.git_log,
    cst.cst_find_pattern,
    cst.cst_rename,
    cst.cst_add_import,
    files.read_file,
    files.write_file,
    commands.run_command,
    files.list_files,
    files.search,
)


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """Everything known about one tool, read from its function."""

    name: str
    """The name the model and the CLI call it by."""
    function: ToolFunction
    """``async (ctx, **args) -> result_model``, validating its arguments."""
    result_model: type[ToolResult] | type[str]
    """The Pydantic model it returns, or ``str`` for Punie's text tools (``read_file`` …)."""
    docstring: str
    """Its documentation, shown in stubs, schemas and ``--help``."""
    parameters: tuple[inspect.Parameter, ...]
    """Its parameters after ``ctx``, with resolved annotations and defaults."""

    @classmethod
    def from_function(cls, function: ToolFunction, name: str | None = None) -> ToolSpec:
        """Describe ``function``, wrapping it with ``@tool`` when it is not wrapped yet."""
        wrapped = function if hasattr(function, "__wrapped__") else tool(function)
        original = inspect.unwrap(wrapped)
        return cls(
            name=name or getattr(original, "__name__", "tool"),
            function=wrapped,
            result_model=result_model(original),
            docstring=inspect.cleandoc(original.__doc__ or ""),
            parameters=tuple(tool_parameters(original).values()),
        )


def builtin_tools() -> dict[str, ToolSpec]:
    """The tools this package ships."""
    specs = (ToolSpec.from_function(function) for function in _BUILTINS)
    return {spec.name: spec for spec in specs}


def load_tools() -> dict[str, ToolSpec]:
    """Built-ins plus every plug-in of the ``punie.tools`` entry-point group.

    A plug-in cannot replace a built-in (the model's training data relies on them).
    """
    tools = builtin_tools()
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            spec = loaded if isinstance(loaded, ToolSpec) else ToolSpec.from_function(loaded)
        except Exception:
            logger.exception("skipping tool plug-in %s = %s", entry.name, entry.value)
            continue
        if spec.name in tools:
            logger.warning("tool plug-in %s would replace the tool %s; skipped", entry, spec.name)
            continue
        tools[spec.name] = spec
    return tools


async def call_tool(
    name: str,
    ctx: ToolContext,
    args: Mapping[str, Any],
    tools: Mapping[str, ToolSpec] | None = None,
) -> ToolResult | str:
    """Run tool ``name`` with keyword ``args``; misuse raises ``ToolArgumentError``.

    A text tool's failure raises the ``OSError`` the program would see (see ``typed_tools.tool``).
    """
    available = tools if tools is not None else load_tools()
    spec = available.get(name)
    if spec is None:
        raise ToolArgumentError(f"unknown tool {name!r}; known tools: {', '.join(available)}")
    if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
        raise ToolArgumentError(f"{name}: arguments must be an object of named values")
    return await spec.function(ctx, **args)


def _render(annotation: Any) -> str:
    """A type annotation as source text, naming models by their class name."""
    if annotation is type(None) or annotation is None:
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_render(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_render(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _nested_models(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _nested_models(arg)


def _models_in_order(tools: Iterable[ToolSpec]) -> list[type[BaseModel]]:
    """Every model the results use, each after the models its fields mention."""
    ordered: list[type[BaseModel]] = [ToolResult]
    visiting: set[type[BaseModel]] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in ordered or model in visiting:
            return
        visiting.add(model)
        for field in model.model_fields.values():
            for nested in _nested_models(field.annotation):
                visit(nested)
        ordered.append(model)

    for spec in tools:
        if issubclass(spec.result_model, BaseModel):
            visit(spec.result_model)
    return ordered


def _docstring(text: str, indent: str) -> list[str]:
    body = text.strip().replace("\\", "\\\\").replace('"""', r"\"\"\"")
    lines = body.splitlines() or [""]
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    rest = (f"{indent}{line}" if line else "" for line in lines[1:])
    return [f'{indent}"""{lines[0]}', *rest, f'{indent}"""']


def _class_stub(model: type[BaseModel]) -> list[str]:
    bases = [b.__name__ for b in model.__bases__ if b not in (BaseModel, ResultItem)]
    header = f"class {model.__name__}({', '.join(bases)}):" if bases else f"class {model.__name__}:"
    lines = [header, *_docstring(model.__doc__ or model.__name__, "    ")]
    own = model.model_fields if not bases else {
        k: v for k, v in model.model_fields.items() if k not in ToolResult.model_fields
    }  # fmt: skip
    for field_name, field in own.items():
        lines.append(f"    {field_name}: {_render(field.annotation)}")
        if field.description:
            lines.extend(_docstring(field.description, "    "))
    return lines


def _function_stub(spec: ToolSpec) -> list[str]:
    params = []
    for p in spec.parameters:
        text = f"{p.name}: {_render(p.annotation)}"
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}"
        params.append(text)
    return [
        f"def {spec.name}({', '.join(params)}) -> {spec.result_model.__name__}:",
        *_docstring(spec.docstring or spec.name, "    "),
        "    ...",
    ]


def stubs(tools: Mapping[str, ToolSpec]) -> str:
    """Stub (``.pyi``) source of the result models and the tools as the sandbox sees them.

    Tools appear without ``ctx`` (the sandbox binds it) and as plain functions: the
    model writes ``typecheck("src").errors``, not ``await``.
    """
    chunks = [
        '"""Typed tools available to this code. Lines and columns count from 1."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Literal",
    ]
    for model in _models_in_order(tools.values()):
        chunks += ["", "", *_class_stub(model)]
    for spec in tools.values():
        chunks += ["", "", *_function_stub(spec)]
    return "\n".join(chunks) + "\n"


def parameters_model(spec: ToolSpec) -> type[BaseModel]:
    """A Pydantic model of the tool's arguments (for schemas and the CLI)."""
    fields: dict[str, Any] = {
        p.name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
        for p in spec.parameters
    }
    return pydantic.create_model(f"{spec.name}_arguments", **fields)


def json_schema(tools: Mapping[str, ToolSpec]) -> dict[str, Any]:
    """JSON schemas of every tool's arguments and result, keyed by tool name."""
    return {
        name: {
            "name": name,
            "description": spec.docstring,
            "parameters": parameters_model(spec).model_json_schema(),
            "result": spec.result_model.model_json_schema()
            if issubclass(spec.result_model, BaseModel)
            else {"type": "string"},
        }
        for name, spec in tools.items()
    }
