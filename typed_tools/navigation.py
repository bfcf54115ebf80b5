"""Definition, references, hover and symbols, answered by a language server.

The questions go through ``SemanticBackend``: the editor's ty child under the LSP
server (which knows the unsaved buffers), our own ``TyBackend`` otherwise. The model
rarely knows a column, so when ``line``/``column`` are missing the tool finds
``symbol`` in the file itself. Positions are converted between 1-based character
columns and the backend's ``positionEncoding`` against the very text the backend
analyses (overlay, editor buffer or disk, in that order).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lsprotocol import types
from pydantic import Field
from pygls.uris import to_fs_path

from typed_tools.base import (
    JSON,
    DocumentSyncBackend,
    ResultItem,
    SemanticBackend,
    ToolArgumentError,
    ToolContext,
    ToolResult,
)
from typed_tools.lines import from_lsp_character, to_lsp_character
from typed_tools.tool import tool
from typed_tools.ty_client import TyBackend, semantic_backend
from typed_tools.workspace import (
    ToolFailure,
    display_path,
    overlay_text,
    read_text,
    resolve,
    split_lines,
)

__all__ = [
    "DocumentSymbol",
    "DocumentSymbolsResult",
    "FindReferencesResult",
    "GotoDefinitionResult",
    "HoverResult",
    "Location",
    "WorkspaceSymbol",
    "WorkspaceSymbolsResult",
    "document_symbols",
    "find_references",
    "goto_definition",
    "hover",
    "workspace_symbols",
]


class Location(ResultItem):
    """A range in a file."""

    file: str
    """Workspace-relative path, or the absolute path/URI of a file outside the workspace."""
    line: int
    """1-based line where the range starts."""
    column: int
    """1-based character column where the range starts."""
    end_line: int
    """1-based line where the range ends."""
    end_column: int
    """1-based character column just past the range."""
    preview: str | None = None
    """The text of the start line (None outside the workspace, which tools do not read)."""


class GotoDefinitionResult(ToolResult):
    """Where a symbol is defined."""

    symbol: str | None = None
    """The symbol asked about, when given."""
    locations: list[Location] = Field(default_factory=list)
    """Definitions (several for overloads or conditional definitions; none if unknown)."""


class FindReferencesResult(ToolResult):
    """Every use of a symbol, its declaration included."""

    symbol: str | None = None
    """The symbol asked about, when given."""
    reference_count: int = 0
    """Number of references."""
    references: list[Location] = Field(default_factory=list)
    """The references in file and line order."""


class HoverResult(ToolResult):
    """What the editor shows when hovering: the inferred type and the docstring."""

    symbol: str | None = None
    """The symbol asked about, when given."""
    content: str = ""
    """The hover text (Markdown); empty when the server has nothing to say."""


class DocumentSymbol(ResultItem):
    """A class, function, variable … defined in a file, with what it contains."""

    name: str
    """The symbol's name."""
    kind: str
    """LSP's symbol kind in lower case: ``class``, ``function``, ``method``, ``variable``, …"""
    line: int
    """1-based line where its definition starts."""
    end_line: int
    """1-based line where its definition ends."""
    children: list[DocumentSymbol] = Field(default_factory=list)
    """Symbols nested inside (methods of a class, …)."""


class DocumentSymbolsResult(ToolResult):
    """The outline of one file."""

    file_path: str = ""
    """Workspace-relative path of the file."""
    symbol_count: int = 0
    """Number of top-level symbols."""
    symbols: list[DocumentSymbol] = Field(default_factory=list)
    """Top-level symbols with their children."""


class WorkspaceSymbol(ResultItem):
    """A symbol found by name anywhere in the workspace."""

    name: str
    """The symbol's name."""
    kind: str
    """LSP's symbol kind in lower case."""
    file: str
    """Workspace-relative path of the defining file."""
    line: int
    """1-based line of the definition."""
    column: int
    """1-based character column of the definition."""
    container_name: str | None = None
    """The enclosing class or module, when the server says."""


class WorkspaceSymbolsResult(ToolResult):
    """Symbols whose names match a query."""

    query: str = ""
    """The query as given."""
    symbol_count: int = 0
    """Number of symbols found."""
    symbols: list[WorkspaceSymbol] = Field(default_factory=list)
    """The symbols found."""


def _kind(value: int) -> str:
    try:
        return types.SymbolKind(value).name.lower()
    except ValueError:
        return "unknown"


async def _text(ctx: ToolContext, backend: SemanticBackend, path: Path) -> str:
    """The text the backend analyses for ``path``, showing it the overlay's version first."""
    uri = path.as_uri()
    proposed = overlay_text(ctx, path)
    if proposed is None:
        editor = backend.open_document_text(uri)
        if editor is not None:
            return editor
    text = proposed if proposed is not None else read_text(ctx, path)
    # Our own ty is shown every file we ask about, so its view matches the disk even after
    # a change; the editor's ty reads unopened files from disk itself.
    if isinstance(backend, DocumentSyncBackend) and (
        proposed is not None or isinstance(backend, TyBackend)
    ):
        await backend.sync_documents({uri: text})
    return text


def _find_symbol(lines: list[str], symbol: str, line: int | None) -> tuple[int, int]:
    """1-based (line, column) of the first whole-word ``symbol``.

    A dotted name (``obj.method``) lands on its last part, the name being asked about.
    """
    last = symbol.rsplit(".", 1)[-1]
    pattern = re.compile(r"(?<![\w.])" + re.escape(symbol) + r"(?!\w)")
    candidates = [line] if line is not None else range(1, len(lines) + 1)
    for number in candidates:
        if 1 <= number <= len(lines):
            found = pattern.search(lines[number - 1])
            if found is not None:
                return number, found.end() - len(last) + 1
    where = f"line {line}" if line is not None else "the file"
    raise ToolFailure(f"symbol {symbol!r} does not occur in {where}")


async def _position(
    ctx: ToolContext,
    backend: SemanticBackend,
    file_path: str,
    line: int | None,
    column: int | None,
    symbol: str | None,
) -> dict[str, Any]:
    """The LSP ``TextDocumentPositionParams`` for a 1-based position or a symbol's name."""
    path = resolve(ctx, file_path)
    text = await _text(ctx, backend, path)
    lines = split_lines(text)
    if line is None or column is None:
        if not symbol:
            raise ToolArgumentError("give both line and column, or the symbol to look for")
        line, column = _find_symbol(lines, symbol, line)
    if not 1 <= line <= len(lines):
        raise ToolFailure(f"line {line} is outside {display_path(ctx, path)} (1-{len(lines)})")
    character = to_lsp_character(lines[line - 1], column, backend.position_encoding)
    return {
        "textDocument": {"uri": path.as_uri()},
        "position": {"line": line - 1, "character": character},
    }


def _location(ctx: ToolContext, backend: SemanticBackend, uri: str, lsp_range: JSON) -> Location:
    start, end = lsp_range["start"], lsp_range["end"]
    fs_path = to_fs_path(uri) if uri.startswith("file:") else None
    lines: list[str] | None = None
    name = uri
    if fs_path is not None:
        path = Path(fs_path)
        try:
            inside = resolve(ctx, path)
            name = display_path(ctx, inside)
            lines = split_lines(read_text(ctx, inside))
        except ToolFailure:
            name = fs_path  # outside the workspace: named, never read

    def column(position: JSON) -> int:
        if lines is None or position["line"] >= len(lines):
            return position["character"] + 1  # exact for ASCII; we may not read the file
        return from_lsp_character(
            lines[position["line"]], position["character"], backend.position_encoding
        )

    return Location(
        file=name,
        line=start["line"] + 1,
        column=column(start),
        end_line=end["line"] + 1,
        end_column=column(end),
        preview=lines[start["line"]] if lines and start["line"] < len(lines) else None,
    )


def _locations(ctx: ToolContext, backend: SemanticBackend, answer: JSON) -> list[Location]:
    if answer is None:
        return []
    items = answer if isinstance(answer, list) else [answer]
    found = []
    for item in items:
        if "targetUri" in item:  # a LocationLink
            found.append(_location(ctx, backend, item["targetUri"], item["targetSelectionRange"]))
        else:
            found.append(_location(ctx, backend, item["uri"], item["range"]))
    return found


@tool
async def goto_definition(
    ctx: ToolContext,
    file_path: str,
    line: int | None = None,
    column: int | None = None,
    symbol: str | None = None,
) -> GotoDefinitionResult:
    """Where the name at ``line``/``column`` (or the first ``symbol`` in the file) is defined."""
    backend = await semantic_backend(ctx)
    params = await _position(ctx, backend, file_path, line, column, symbol)
    answer = await backend.request("textDocument/definition", params)
    return GotoDefinitionResult(
        success=True, symbol=symbol, locations=_locations(ctx, backend, answer)
    )


@tool
async def find_references(
    ctx: ToolContext,
    file_path: str,
    line: int | None = None,
    column: int | None = None,
    symbol: str | None = None,
) -> FindReferencesResult:
    """Every reference to the name at ``line``/``column`` (or ``symbol``), declaration included."""
    backend = await semantic_backend(ctx)
    params = await _position(ctx, backend, file_path, line, column, symbol)
    params["context"] = {"includeDeclaration": True}
    answer = await backend.request("textDocument/references", params)
    references = sorted(_locations(ctx, backend, answer), key=lambda r: (r.file, r.line, r.column))
    return FindReferencesResult(
        success=True, symbol=symbol, reference_count=len(references), references=references
    )


@tool
async def hover(
    ctx: ToolContext,
    file_path: str,
    line: int | None = None,
    column: int | None = None,
    symbol: str | None = None,
) -> HoverResult:
    """The type and documentation of the name at ``line``/``column`` (or ``symbol``)."""
    backend = await semantic_backend(ctx)
    params = await _position(ctx, backend, file_path, line, column, symbol)
    answer = await backend.request("textDocument/hover", params)
    contents = (answer or {}).get("contents", "")
    if isinstance(contents, dict):
        text = contents.get("value", "")
    elif isinstance(contents, list):
        text = "\n\n".join(c if isinstance(c, str) else c.get("value", "") for c in contents)
    else:
        text = str(contents)
    return HoverResult(success=True, symbol=symbol, content=text)


def _document_symbol(item: JSON) -> DocumentSymbol:
    lsp_range = item.get("range") or item["location"]["range"]
    return DocumentSymbol(
        name=item["name"],
        kind=_kind(item["kind"]),
        line=lsp_range["start"]["line"] + 1,
        end_line=lsp_range["end"]["line"] + 1,
        children=[_document_symbol(child) for child in item.get("children") or []],
    )


@tool
async def document_symbols(ctx: ToolContext, file_path: str) -> DocumentSymbolsResult:
    """The outline of a file: its classes, functions and variables, nested."""
    backend = await semantic_backend(ctx)
    path = resolve(ctx, file_path)
    await _text(ctx, backend, path)
    answer = await backend.request(
        "textDocument/documentSymbol", {"textDocument": {"uri": path.as_uri()}}
    )
    symbols = [_document_symbol(item) for item in answer or []]
    return DocumentSymbolsResult(
        success=True,
        file_path=display_path(ctx, path),
        symbol_count=len(symbols),
        symbols=symbols,
    )


@tool
async def workspace_symbols(ctx: ToolContext, query: str) -> WorkspaceSymbolsResult:
    """Symbols anywhere in the workspace whose names match ``query`` (fuzzy, as in editors)."""
    backend = await semantic_backend(ctx)
    answer = await backend.request("workspace/symbol", {"query": query})
    symbols = []
    for item in answer or []:
        location = item["location"]
        if "range" not in location:
            continue  # a WorkspaceSymbol without a range would need resolving first
        place = _location(ctx, backend, location["uri"], location["range"])
        if place.file.startswith("/") or "://" in place.file:
            continue  # outside the workspace
        symbols.append(
            WorkspaceSymbol(
                name=item["name"],
                kind=_kind(item["kind"]),
                file=place.file,
                line=place.line,
                column=place.column,
                container_name=item.get("containerName"),
            )
        )
    return WorkspaceSymbolsResult(
        success=True, query=query, symbol_count=len(symbols), symbols=symbols
    )
