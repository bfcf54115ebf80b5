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

import functools
import importlib
import types

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

_NODE_TYPES = (
    "FunctionDef", "ClassDef", "Call", "Decorator", "Import", "ImportFrom", "Name", "Attribute",
)  # fmt: skip
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


@functools.cache
def _libcst() -> types.ModuleType:
    """``typed_tools._libcst``, imported on first use (LibCST takes ~1 s to import)."""
    return importlib.import_module("typed_tools._libcst")


def _text(ctx: ToolContext, file_path: str) -> str:
    return read_text(ctx, resolve(ctx, file_path))


def _pattern(pattern: str) -> tuple[str, str]:
    """``(kind, name)`` of a pattern Punie's ``cst_find_pattern`` understands."""
    kind, colon, name = pattern.partition(":")
    if (not colon and pattern in _NODE_TYPES) or (kind in ("call", "decorator", "import") and name):
        return kind, name
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
    kind, name = _pattern(pattern)
    found = _libcst().find(_text(ctx, file_path), file_path, kind, name)
    matches = [
        CstMatch(line=line, column=column, code_snippet=_snippet(code), node_type=node_type)
        for line, column, code, node_type in found
    ]
    return CstFindResult(success=True, match_count=len(matches), matches=matches)


@tool
def cst_rename(ctx: ToolContext, file_path: str, old_name: str, new_name: str) -> CstRenameResult:
    """Rename every ``old_name`` name in a Python file (strings and comments untouched).

    Returns the new source for ``write_file``; nothing is written or proposed.
    """
    if not new_name.isidentifier():
        raise ToolFailure(f"{new_name!r} is not a Python identifier")
    count, source = _libcst().rename(_text(ctx, file_path), file_path, old_name, new_name)
    return CstRenameResult(success=True, rename_count=count, modified_source=source)


@tool
def cst_add_import(ctx: ToolContext, file_path: str, import_stmt: str) -> CstAddImportResult:
    """Add an import to a Python file unless it is already there (LibCST's AddImportsVisitor).

    ``import_stmt``: ``"import os"``, ``"from typing import Optional, List"``,
    ``"from a import b as c"``. Returns the new source for ``write_file``; nothing is
    written or proposed.
    """
    added, source = _libcst().add_import(_text(ctx, file_path), file_path, import_stmt)
    return CstAddImportResult(success=True, import_added=added, modified_source=source)
