"""Definition, references, hover and symbols, answered by a language server.

The questions go through ``SemanticBackend``: the editor's ty child under the LSP
server (which knows the unsaved buffers), our own ``TyBackend`` otherwise. The model
rarely knows a column, so when ``line``/``column`` are missing the tool finds
``symbol`` in the file itself. Positions are converted between 1-based character
columns and the backend's ``positionEncoding`` against the very text the backend
analyses (overlay, editor buffer or disk, in that order).
"""

from __future__ import annotations

import io
import re
import tokenize
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
from typed_tools.containment import off_loop
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
    "DocumentSymbolsResult",
    "FindReferencesResult",
    "GotoDefinitionResult",
    "HoverResult",
    "Location",
    "SymbolInfo",
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
    """Where a symbol is defined. ``success``: at least one definition was found."""

    symbol: str = ""
    """The symbol asked about (the name at the position when no symbol was given)."""
    locations: list[Location] = Field(default_factory=list)
    """Definitions (several for overloads or conditional definitions; none if unknown)."""


class FindReferencesResult(ToolResult):
    """Every use of a symbol, its declaration included. ``success``: at least one was found."""

    symbol: str = ""
    """The symbol asked about (the name at the position when no symbol was given)."""
    reference_count: int = 0
    """Number of references."""
    references: list[Location] = Field(default_factory=list)
    """The references in file and line order."""


class HoverResult(ToolResult):
    """What the editor shows when hovering: the inferred type and the docstring.

    ``success``: the server had something to say (``content`` is not empty).
    """

    symbol: str = ""
    """The symbol asked about (the name at the position when no symbol was given)."""
    content: str = ""
    """The hover text; empty when the server has nothing to say."""
    language: str | None = None
    """The content's format as the server labels it: ``markdown``, ``plaintext`` or a
    MarkedString's language (``python``); None when there is no content."""


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


async def _text(ctx: ToolContext, backend: SemanticBackend, path: Path) -> str:
    """The text the backend analyses for ``path``, showing it the overlay's version first."""
    uri = path.as_uri()
    proposed = overlay_text(ctx, path)
    if proposed is None:
        editor = backend.open_document_text(uri)
        if editor is not None:
            return editor
    text = proposed if proposed is not None else await off_loop(read_text, ctx, path)
    # Our own ty is shown every file we ask about, so its view matches the disk even after
    # a change; the editor's ty reads unopened files from disk itself.
    if isinstance(backend, DocumentSyncBackend) and (
        proposed is not None or isinstance(backend, TyBackend)
    ):
        await backend.sync_documents({uri: text})
    return text


def _identifier_positions(text: str, symbol: str) -> list[tuple[int, int]]:
    """1-based (line, column) of every occurrence of ``symbol`` as code, in file order.

    Python's tokenizer tells names from the same letters in strings and comments
    (``"Agent"`` in ``__all__`` is not the class). A dotted name (``obj.method``) must
    appear as those names joined by dots and lands on its last part, the name asked
    about. A file the tokenizer cannot read (a syntax error mid-edit) falls back to
    whole-word text matching.
    """
    parts = symbol.split(".")
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type in (tokenize.NAME, tokenize.OP)
        ]
    except (tokenize.TokenError, SyntaxError):
        pattern = re.compile(r"(?<![\w.])" + re.escape(symbol) + r"(?!\w)")
        found = []
        for number, content in enumerate(split_lines(text), start=1):
            found += [(number, m.end() - len(parts[-1]) + 1) for m in pattern.finditer(content)]
        return found
    wanted = [p for part in parts for p in (part, ".")][:-1]
    positions = []
    for index in range(len(wanted) - 1, len(tokens)):
        window = tokens[index - len(wanted) + 1 : index + 1]
        if [t.string for t in window] == wanted and window[0].type == tokenize.NAME:
            before = tokens[index - len(wanted)] if index >= len(wanted) else None
            if before is not None and before.string == "." and before.end == window[0].start:
                continue  # ``a.obj.method`` is not ``obj.method``
            row, col = tokens[index].start
            positions.append((row, col + 1))
    return positions


def _find_symbol(text: str, symbol: str, line: int | None) -> tuple[int, int]:
    """1-based (line, column) of the first code occurrence of ``symbol`` (on ``line``)."""
    for number, column in _identifier_positions(text, symbol):
        if line is None or number == line:
            return number, column
    where = f"line {line}" if line is not None else "the file"
    raise ToolFailure(f"symbol {symbol!r} does not occur as a name in {where}")


def _name_at(lines: list[str], line: int, column: int) -> str:
    """The identifier covering the 1-based position, or "" when there is none."""
    if not 1 <= line <= len(lines):
        return ""
    for match in re.finditer(r"\w+", lines[line - 1]):
        if match.start() < column <= match.end() + 1:
            return match.group()
    return ""


async def _position(
    ctx: ToolContext,
    backend: SemanticBackend,
    file_path: str,
    line: int | None,
    column: int | None,
    symbol: str | None,
) -> tuple[dict[str, Any], str]:
    """The LSP ``TextDocumentPositionParams`` for a 1-based position or a symbol's name,
    and the symbol's name (the given one, else the identifier at the position).

    Punie's programs give both a position and the symbol; models get columns (and lines)
    slightly wrong. When the name at the position is not ``symbol``, the symbol's
    occurrence nearest to ``line`` is asked about instead (the position as given when
    the symbol does not occur as a name).
    """
    path = resolve(ctx, file_path)
    text = await _text(ctx, backend, path)
    lines = split_lines(text)
    if line is None or column is None:
        if not symbol:
            raise ToolArgumentError("give both line and column, or the symbol to look for")
        line, column = _find_symbol(text, symbol, line)
    elif symbol and _name_at(lines, line, column) != symbol.rsplit(".", 1)[-1]:
        wanted = line
        occurrences = _identifier_positions(text, symbol)
        if occurrences:
            line, column = min(occurrences, key=lambda at: (abs(at[0] - wanted), at[1]))
    if not 1 <= line <= len(lines):
        raise ToolFailure(f"line {line} is outside {display_path(ctx, path)} (1-{len(lines)})")
    character = to_lsp_character(lines[line - 1], column, backend.position_encoding)
    params = {
        "textDocument": {"uri": path.as_uri()},
        "position": {"line": line - 1, "character": character},
    }
    return params, symbol or _name_at(lines, line, column)


def _visible_uri(ctx: ToolContext, uri: str) -> bool:
    """Whether a result may name ``uri``: a file the containment rule shows, or not a file."""
    fs_path = to_fs_path(uri) if uri.startswith("file:") else None
    return fs_path is None or ctx.visibility().visible(fs_path)


def _location(
    ctx: ToolContext, backend: SemanticBackend, uri: str, lsp_range: JSON
) -> Location | None:
    """The location as results show it; None for a file results may not name (see
    ``visibility.PathVisibility``: a workspace link to a file outside it)."""
    start, end = lsp_range["start"], lsp_range["end"]
    if not _visible_uri(ctx, uri):
        return None
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
            place = _location(ctx, backend, item["targetUri"], item["targetSelectionRange"])
        else:
            place = _location(ctx, backend, item["uri"], item["range"])
        if place is not None:
            found.append(place)
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
    params, name = await _position(ctx, backend, file_path, line, column, symbol)
    answer = await backend.request("textDocument/definition", params)
    locations = await off_loop(_locations, ctx, backend, answer)
    return GotoDefinitionResult(success=bool(locations), symbol=name, locations=locations)


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
    params, name = await _position(ctx, backend, file_path, line, column, symbol)
    params["context"] = {"includeDeclaration": True}
    answer = await backend.request("textDocument/references", params)
    found = await off_loop(_locations, ctx, backend, answer)
    references = sorted(found, key=lambda r: (r.file, r.line, r.column))
    return FindReferencesResult(
        success=bool(references),
        symbol=name,
        reference_count=len(references),
        references=references,
    )


def _hover_text(contents: JSON) -> tuple[str, str | None]:
    """The text and format of LSP hover ``contents`` (MarkupContent, MarkedString(s))."""
    if isinstance(contents, dict):
        language = contents.get("kind") or contents.get("language")
        return contents.get("value", ""), language
    if isinstance(contents, list):
        parts = [c if isinstance(c, str) else c.get("value", "") for c in contents]
        return "\n\n".join(parts), "plaintext"
    text = str(contents or "")
    return text, "plaintext" if text else None


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
    params, name = await _position(ctx, backend, file_path, line, column, symbol)
    answer = await backend.request("textDocument/hover", params)
    text, language = _hover_text((answer or {}).get("contents", ""))
    if text and not await _definitions_visible(ctx, backend, params):
        return HoverResult(
            success=False,
            symbol=name,
            error="the hover text comes from a file outside the workspace; not shown",
        )
    return HoverResult(
        success=bool(text), symbol=name, content=text, language=language if text else None
    )


async def _definitions_visible(ctx: ToolContext, backend: SemanticBackend, params: JSON) -> bool:
    """Whether every definition of the name at ``params`` is in a file results may quote.

    A hover shows the definition's docstring and signature: for a module symlinked to a
    file outside the workspace, that is the outside file's text.
    """
    answer = await backend.request("textDocument/definition", params)
    items = answer if isinstance(answer, list) else [answer] if answer else []
    return all(_visible_uri(ctx, item.get("targetUri") or item.get("uri", "")) for item in items)


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
    backend = await semantic_backend(ctx)
    path = resolve(ctx, file_path)
    await _text(ctx, backend, path)
    answer = await backend.request(
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
    backend = await semantic_backend(ctx)
    answer = await backend.request("workspace/symbol", {"query": query})
    symbols = []
    for item in answer or []:
        location = item["location"]
        if "range" not in location:
            continue  # a WorkspaceSymbol without a range would need resolving first
        place = _location(ctx, backend, location["uri"], location["range"])
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
