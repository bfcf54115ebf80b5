"""A file's outline and the workspace's symbols by name, answered by a language server.

``document_symbols`` keeps LSP's nesting (a class with its methods) and its ``SymbolKind``
numbers beside their names; ``workspace_symbols`` orders matches as a person searching
expects. Files outside the workspace are left out (``typed_tools.positions``).
"""

from __future__ import annotations

from lsprotocol import types
from pydantic import Field

from typed_tools.base import JSON, ResultItem, ToolContext, ToolResult
from typed_tools.positions import analysed_text, to_location
from typed_tools.tool import tool
from typed_tools.ty_pool import ty_connection
from typed_tools.workspace import display_path, resolve

__all__ = [
    "DocumentSymbolsResult",
    "SymbolInfo",
    "WorkspaceSymbol",
    "WorkspaceSymbolsResult",
    "document_symbols",
    "workspace_symbols",
]


class SymbolInfo(ResultItem):
    """A class, function, variable … defined in a file, with what it contains."""

    name: str
    """The symbol's name."""
    kind: int
    """LSP's ``SymbolKind`` number: 5 class, 6 method, 12 function, 13 variable, 14 constant …"""
    kind_name: str = ""
    """The same kind in words, lower case: ``class``, ``method``, ``function`` …"""
    line: int
    """1-based line where its definition starts."""
    end_line: int
    """1-based line where its definition ends."""
    children: list[SymbolInfo] = Field(default_factory=list)
    """Symbols nested inside (methods of a class, …)."""


class DocumentSymbolsResult(ToolResult):
    """The outline of one file. ``success``: the file has at least one symbol."""

    file_path: str = ""
    """Workspace-relative path of the file."""
    symbol_count: int = 0
    """Number of symbols, nested ones included (a class and its three methods: 4)."""
    symbols: list[SymbolInfo] = Field(default_factory=list)
    """Top-level symbols with their children."""


class WorkspaceSymbol(ResultItem):
    """A symbol found by name anywhere in the workspace."""

    name: str
    """The symbol's name."""
    kind: int
    """LSP's ``SymbolKind`` number: 5 class, 6 method, 12 function, 13 variable …"""
    kind_name: str = ""
    """The same kind in words, lower case."""
    file: str
    """Workspace-relative path of the defining file."""
    line: int
    """1-based line of the definition."""
    column: int
    """1-based character column of the definition."""
    container_name: str | None = None
    """The enclosing class or module, when the server says."""


class WorkspaceSymbolsResult(ToolResult):
    """Symbols whose names match a query. ``success``: at least one was found."""

    query: str = ""
    """The query as given."""
    symbol_count: int = 0
    """Number of symbols found."""
    symbols: list[WorkspaceSymbol] = Field(default_factory=list)
    """The symbols found."""


def _kind_name(value: int) -> str:
    try:
        return types.SymbolKind(value).name.lower()
    except ValueError:
        return "unknown"


def _document_symbol(item: JSON) -> SymbolInfo:
    lsp_range = item.get("range") or item["location"]["range"]
    return SymbolInfo(
        name=item["name"],
        kind=item["kind"],
        kind_name=_kind_name(item["kind"]),
        line=lsp_range["start"]["line"] + 1,
        end_line=lsp_range["end"]["line"] + 1,
        children=[_document_symbol(child) for child in item.get("children") or []],
    )


def _count(symbols: list[SymbolInfo]) -> int:
    return sum(1 + _count(symbol.children) for symbol in symbols)


@tool
async def document_symbols(ctx: ToolContext, file_path: str) -> DocumentSymbolsResult:
    """The outline of a file: its classes, functions and variables, nested."""
    ty = await ty_connection(ctx)
    path = resolve(ctx, file_path)
    await analysed_text(ctx, ty, path)
    answer = await ty.request(
        "textDocument/documentSymbol", {"textDocument": {"uri": path.as_uri()}}
    )
    symbols = [_document_symbol(item) for item in answer or []]
    return DocumentSymbolsResult(
        success=bool(symbols),
        file_path=display_path(ctx, path),
        symbol_count=_count(symbols),
        symbols=symbols,
    )


def _rank(query: str, name: str) -> int:
    """Exact name first, then a case-insensitive exact, a prefix, then ty's fuzzy rest."""
    folded, wanted = name.casefold(), query.casefold()
    if name == query:
        return 0
    if folded == wanted:
        return 1
    if name.startswith(query):
        return 2
    if folded.startswith(wanted):
        return 3
    return 4


@tool
async def workspace_symbols(ctx: ToolContext, query: str) -> WorkspaceSymbolsResult:
    """Symbols anywhere in the workspace whose names match ``query``.

    Ordered as a person searching expects: the exact name first, then names starting
    with the query, then the server's fuzzy matches (in the server's order).
    """
    ty = await ty_connection(ctx)
    answer = await ty.request("workspace/symbol", {"query": query})
    symbols = []
    for item in answer or []:
        location = item["location"]
        if "range" not in location:
            continue  # a WorkspaceSymbol without a range would need resolving first
        place = to_location(ctx, ty, location["uri"], location["range"])
        if place is None or place.file.startswith("/") or "://" in place.file:
            continue  # outside the workspace
        symbols.append(
            WorkspaceSymbol(
                name=item["name"],
                kind=item["kind"],
                kind_name=_kind_name(item["kind"]),
                file=place.file,
                line=place.line,
                column=place.column,
                container_name=item.get("containerName"),
            )
        )
    symbols.sort(key=lambda s: _rank(query, s.name))
    return WorkspaceSymbolsResult(
        success=bool(symbols), query=query, symbol_count=len(symbols), symbols=symbols
    )
