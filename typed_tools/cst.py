"""``cst_find_pattern``, ``cst_rename``, ``cst_add_import``: LibCST over the run's text.

Punie's code tools (``punie/cst/code_tools.py``), with Punie's results: a match is a
1-based line, a 0-based column (LibCST's ``PositionProvider``, as Punie reports it), the
first line of the node's code and LibCST's node class name. ``cst_rename`` and
``cst_add_import`` change nothing: they return ``modified_source``, the whole file as it
would be, for the program to pass to ``write_file`` (which proposes it into the run's
overlay), exactly as Punie's programs do. The file is read as ``read_file`` reads it
(the run's proposal, the editor's buffer, else the disk), so a program can chain them.

A file that does not parse, or an unknown pattern, is ``success=False`` with the
reason in ``parse_error`` (and ``error``).
"""

from __future__ import annotations

import libcst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider
from pydantic import Field

from typed_tools.base import ResultItem, ToolContext, ToolResult
from typed_tools.tool import tool
from typed_tools.workspace import ToolFailure, read_text, resolve

__all__ = [
    "PATTERNS",
    "CstAddImportResult",
    "CstFindResult",
    "CstMatch",
    "CstRenameResult",
    "cst_add_import",
    "cst_find_pattern",
    "cst_rename",
]

_NODE_TYPES: dict[str, m.BaseMatcherNode] = {
    "FunctionDef": m.FunctionDef(),
    "ClassDef": m.ClassDef(),
    "Call": m.Call(),
    "Decorator": m.Decorator(),
    "Import": m.Import(),
    "ImportFrom": m.ImportFrom(),
    "Name": m.Name(),
    "Attribute": m.Attribute(),
}
PATTERNS = (*_NODE_TYPES, "call:NAME", "decorator:NAME", "import:NAME")
"""What ``cst_find_pattern`` understands (Punie's set)."""
_SNIPPET_CHARS = 120


class CstMatch(ResultItem):
    """One node matching the pattern."""

    line: int
    """1-based line where the node starts."""
    column: int
    """0-based column where the node starts (LibCST's, as in Punie)."""
    code_snippet: str
    """The first non-blank line of the node's code, stripped (at most 120 characters)."""
    node_type: str
    """LibCST's class name of the node: ``FunctionDef``, ``Call`` …"""


class CstFindResult(ToolResult):
    """Nodes matching a pattern in one file. ``success``: the search ran (Punie's meaning)."""

    match_count: int = 0
    """Number of matches."""
    matches: list[CstMatch] = Field(default_factory=list)
    """The matches in source order."""


class CstRenameResult(ToolResult):
    """A file with every ``Name`` renamed. ``success``: the rename ran (Punie's meaning)."""

    rename_count: int = 0
    """How many ``Name`` nodes were renamed (definitions, uses and attribute names alike)."""
    modified_source: str = ""
    """The whole file after the rename; pass it to ``write_file`` to propose it ("" when it
    could not run: Punie's None, made a string so ``.splitlines()`` type-checks)."""


class CstAddImportResult(ToolResult):
    """A file with an import added. ``success``: it ran (Punie's meaning)."""

    import_added: bool = False
    """False when the file already had the import (the source is unchanged)."""
    modified_source: str = ""
    """The whole file with the import; pass it to ``write_file`` to propose it ("" when it
    could not run)."""


def _module(ctx: ToolContext, file_path: str) -> libcst.Module:
    text = read_text(ctx, resolve(ctx, file_path))
    try:
        return libcst.parse_module(text)
    except libcst.ParserSyntaxError as exc:
        raise ToolFailure(
            f"{file_path} does not parse: {exc.message} (line {exc.raw_line})"
        ) from None


def _matcher(pattern: str) -> m.BaseMatcherNode | m.OneOf[m.BaseMatcherNode]:
    kind, colon, name = pattern.partition(":")
    if not colon:
        if pattern in _NODE_TYPES:
            return _NODE_TYPES[pattern]
    elif kind == "call" and name:
        return m.Call(func=m.Name(name))
    elif kind == "decorator" and name:
        return m.Decorator(decorator=m.Name(name))
    elif kind == "import" and name:
        return m.ImportFrom(module=m.Name(name)) | m.ImportFrom(
            module=m.Attribute(attr=m.Name(name))
        )
    raise ToolFailure(f"unknown pattern {pattern!r}; use one of {', '.join(PATTERNS)}")


def _snippet(code: str) -> str:
    first = next((line.strip() for line in code.split("\n") if line.strip()), "")
    if len(first) > _SNIPPET_CHARS:
        return first[: _SNIPPET_CHARS - 3] + "..."
    return first


@tool
def cst_find_pattern(ctx: ToolContext, file_path: str, pattern: str) -> CstFindResult:
    """Find the nodes of a Python file matching ``pattern``, with their positions.

    Patterns: ``FunctionDef``, ``ClassDef``, ``Call``, ``Decorator``, ``Import``,
    ``ImportFrom``, ``Name``, ``Attribute``; ``call:NAME`` (calls of a function),
    ``decorator:NAME`` (uses of a decorator), ``import:NAME`` (``from NAME import …``).
    """
    matcher = _matcher(pattern)
    wrapper = MetadataWrapper(_module(ctx, file_path))
    positions = wrapper.resolve(PositionProvider)
    matches = []
    for node in m.findall(wrapper.module, matcher):
        start = positions[node].start
        matches.append(
            CstMatch(
                line=start.line,
                column=start.column,
                code_snippet=_snippet(wrapper.module.code_for_node(node)),
                node_type=type(node).__name__,
            )
        )
    return CstFindResult(success=True, match_count=len(matches), matches=matches)


class _Rename(libcst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old, self.new, self.count = old, new, 0

    def leave_Name(self, original_node: libcst.Name, updated_node: libcst.Name) -> libcst.Name:
        if updated_node.value != self.old:
            return updated_node
        self.count += 1
        return updated_node.with_changes(value=self.new)


@tool
def cst_rename(ctx: ToolContext, file_path: str, old_name: str, new_name: str) -> CstRenameResult:
    """Rename every ``old_name`` name in a Python file (strings and comments untouched).

    Returns the new source for ``write_file``; nothing is written or proposed.
    """
    if not new_name.isidentifier():
        raise ToolFailure(f"{new_name!r} is not a Python identifier")
    module = _module(ctx, file_path)
    rename = _Rename(old_name, new_name)
    renamed = module.visit(rename)
    return CstRenameResult(success=True, rename_count=rename.count, modified_source=renamed.code)


def _imports(statement: str) -> list[tuple[str, str | None, str | None]]:
    """``(module, name, alias)`` triples of ``import a.b`` or ``from m import x, y as z``."""
    try:
        parsed = libcst.parse_statement(statement.strip() + "\n")
    except libcst.ParserSyntaxError:
        parsed = None
    body = parsed.body[0] if isinstance(parsed, libcst.SimpleStatementLine) else None
    if isinstance(body, libcst.Import):
        return [
            (_dotted(alias.name), None, _alias(alias)) for alias in body.names
        ]  # fmt: skip
    if (
        isinstance(body, libcst.ImportFrom)
        and body.module is not None
        and not body.relative
        and not isinstance(body.names, libcst.ImportStar)
    ):
        module = _dotted(body.module)
        return [(module, _dotted(alias.name), _alias(alias)) for alias in body.names]
    raise ToolFailure(
        f"not an import statement this tool adds: {statement!r} "
        "(use 'import a.b' or 'from a.b import c, d as e')"
    )


def _dotted(node: libcst.BaseExpression) -> str:
    if isinstance(node, libcst.Name):
        return node.value
    if isinstance(node, libcst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    raise ToolFailure("an import names modules with dotted names")


def _alias(alias: libcst.ImportAlias) -> str | None:
    if alias.asname is None or not isinstance(alias.asname.name, libcst.Name):
        return None
    return alias.asname.name.value


@tool
def cst_add_import(ctx: ToolContext, file_path: str, import_stmt: str) -> CstAddImportResult:
    """Add an import to a Python file unless it is already there (LibCST's AddImportsVisitor).

    ``import_stmt``: ``"import os"``, ``"from typing import Optional, List"``,
    ``"from a import b as c"``. Returns the new source for ``write_file``; nothing is
    written or proposed.
    """
    imports = _imports(import_stmt)
    module = _module(ctx, file_path)
    context = CodemodContext()
    for module_name, name, alias in imports:
        AddImportsVisitor.add_needed_import(context, module_name, name, alias)
    updated = MetadataWrapper(module).visit(AddImportsVisitor(context))
    return CstAddImportResult(
        success=True, import_added=updated.code != module.code, modified_source=updated.code
    )
