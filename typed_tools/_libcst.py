"""LibCST's side of ``typed_tools.cst``: parsing, matching, renaming, adding imports.

Kept apart so that importing the tools costs nothing: ``libcst.matchers`` alone takes
~0.9 s to import (measured with ``python -X importtime``), and the server imports every
tool's declaration on start-up. ``typed_tools.cst`` loads this module the first time a
LibCST tool runs, in the tool's worker thread, off the event loop.
"""

from __future__ import annotations

import libcst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from typed_tools.workspace import ToolFailure

__all__ = ["add_import", "find", "rename"]


def _module(text: str, file_path: str) -> libcst.Module:
    try:
        return libcst.parse_module(text)
    except libcst.ParserSyntaxError as exc:
        raise ToolFailure(
            f"{file_path} does not parse: {exc.message} (line {exc.raw_line})"
        ) from None


def _matcher(kind: str, name: str) -> m.BaseMatcherNode | m.OneOf[m.BaseMatcherNode]:
    """``kind`` is a node type (``FunctionDef`` …) with no name, or call/decorator/import."""
    if kind == "call":
        return m.Call(func=m.Name(name))
    if kind == "decorator":
        return m.Decorator(decorator=m.Name(name))
    if kind == "import":
        return m.ImportFrom(module=m.Name(name)) | m.ImportFrom(
            module=m.Attribute(attr=m.Name(name))
        )
    matcher: type[m.BaseMatcherNode] = getattr(m, kind)
    return matcher()


def find(text: str, file_path: str, kind: str, name: str) -> list[tuple[int, int, str, str]]:
    """``(line 1-based, column 0-based, node code, node type)`` of each match, in order."""
    wrapper = MetadataWrapper(_module(text, file_path))
    positions = wrapper.resolve(PositionProvider)
    found = []
    for node in m.findall(wrapper.module, _matcher(kind, name)):
        start = positions[node].start
        found.append(
            (start.line, start.column, wrapper.module.code_for_node(node), type(node).__name__)
        )
    return found


class _Rename(libcst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old, self.new, self.count = old, new, 0

    def leave_Name(self, original_node: libcst.Name, updated_node: libcst.Name) -> libcst.Name:
        if updated_node.value != self.old:
            return updated_node
        self.count += 1
        return updated_node.with_changes(value=self.new)


def rename(text: str, file_path: str, old_name: str, new_name: str) -> tuple[int, str]:
    """How many ``Name`` nodes were renamed, and the new source."""
    transformer = _Rename(old_name, new_name)
    renamed = _module(text, file_path).visit(transformer)
    return transformer.count, renamed.code


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


def add_import(text: str, file_path: str, import_stmt: str) -> tuple[bool, str]:
    """Whether the import was added (False: already there), and the new source."""
    imports = _imports(import_stmt)
    module = _module(text, file_path)
    context = CodemodContext()
    for module_name, name, alias in imports:
        AddImportsVisitor.add_needed_import(context, module_name, name, alias)
    updated = MetadataWrapper(module).visit(AddImportsVisitor(context))
    return updated.code != module.code, updated.code
