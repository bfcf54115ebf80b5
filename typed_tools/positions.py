"""Positions and locations between a model's program and a language server.

The model rarely knows a column, so when ``line``/``column`` are missing a tool finds
``symbol`` in the file itself (as code, by Python's tokenizer). Positions are converted
between 1-based character columns and ty's ``positionEncoding`` against the very
text ty analyses (overlay, editor buffer or disk, in that order); locations the
server answers come back as ``Location``s, never naming a file results may not show.
Shared by ``navigation`` (definition, references, hover) and ``symbols``.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path
from typing import Any

from pygls.uris import to_fs_path

from typed_tools.base import (
    JSON,
    DocumentSyncConnection,
    ResultItem,
    ToolArgumentError,
    ToolContext,
    TyConnection,
)
from typed_tools.containment import off_loop
from typed_tools.lines import from_lsp_character, to_lsp_character
from typed_tools.ty_client import TyClient
from typed_tools.workspace import (
    ToolFailure,
    display_path,
    overlay_text,
    read_text,
    resolve,
    split_lines,
)

__all__ = [
    "Location",
    "analysed_text",
    "find_symbol",
    "identifier_positions",
    "name_at",
    "position_params",
    "to_location",
    "to_locations",
    "visible_uri",
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


async def analysed_text(ctx: ToolContext, ty: TyConnection, path: Path) -> str:
    """The text ty analyses for ``path``, showing it the overlay's version first."""
    uri = path.as_uri()
    proposed = overlay_text(ctx, path)
    if proposed is None:
        editor = ty.open_document_text(uri)
        if editor is not None:
            return editor
    text = proposed if proposed is not None else await off_loop(read_text, ctx, path)
    # Our own ty is shown every file we ask about, so its view matches the disk even after
    # a change; the editor's ty reads unopened files from disk itself.
    if isinstance(ty, DocumentSyncConnection) and (
        proposed is not None or isinstance(ty, TyClient)
    ):
        await ty.sync_documents({uri: text})
    return text


def identifier_positions(text: str, symbol: str) -> list[tuple[int, int]]:
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


def find_symbol(text: str, symbol: str, line: int | None) -> tuple[int, int]:
    """1-based (line, column) of the first code occurrence of ``symbol`` (on ``line``)."""
    for number, column in identifier_positions(text, symbol):
        if line is None or number == line:
            return number, column
    where = f"line {line}" if line is not None else "the file"
    raise ToolFailure(f"symbol {symbol!r} does not occur as a name in {where}")


def name_at(lines: list[str], line: int, column: int) -> str:
    """The identifier covering the 1-based position, or "" when there is none."""
    if not 1 <= line <= len(lines):
        return ""
    for match in re.finditer(r"\w+", lines[line - 1]):
        if match.start() < column <= match.end() + 1:
            return match.group()
    return ""


async def position_params(
    ctx: ToolContext,
    ty: TyConnection,
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
    text = await analysed_text(ctx, ty, path)
    lines = split_lines(text)
    if line is None or column is None:
        if not symbol:
            raise ToolArgumentError("give both line and column, or the symbol to look for")
        line, column = find_symbol(text, symbol, line)
    elif symbol and name_at(lines, line, column) != symbol.rsplit(".", 1)[-1]:
        wanted = line
        occurrences = identifier_positions(text, symbol)
        if occurrences:
            line, column = min(occurrences, key=lambda at: (abs(at[0] - wanted), at[1]))
    if not 1 <= line <= len(lines):
        raise ToolFailure(f"line {line} is outside {display_path(ctx, path)} (1-{len(lines)})")
    character = to_lsp_character(lines[line - 1], column, ty.position_encoding)
    params = {
        "textDocument": {"uri": path.as_uri()},
        "position": {"line": line - 1, "character": character},
    }
    return params, symbol or name_at(lines, line, column)


def visible_uri(ctx: ToolContext, uri: str) -> bool:
    """Whether a result may name ``uri``: a file the containment rule shows, or not a file."""
    fs_path = to_fs_path(uri) if uri.startswith("file:") else None
    return fs_path is None or ctx.visibility().visible(fs_path)


def to_location(ctx: ToolContext, ty: TyConnection, uri: str, lsp_range: JSON) -> Location | None:
    """The location as results show it; None for a file results may not name (see
    ``visibility.PathVisibility``: a workspace link to a file outside it)."""
    start, end = lsp_range["start"], lsp_range["end"]
    if not visible_uri(ctx, uri):
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
            lines[position["line"]], position["character"], ty.position_encoding
        )

    return Location(
        file=name,
        line=start["line"] + 1,
        column=column(start),
        end_line=end["line"] + 1,
        end_column=column(end),
        preview=lines[start["line"]] if lines and start["line"] < len(lines) else None,
    )


def to_locations(ctx: ToolContext, ty: TyConnection, answer: JSON) -> list[Location]:
    """A definition or references answer (Locations or LocationLinks) as ``Location``s,
    leaving out files results may not name."""
    if answer is None:
        return []
    items = answer if isinstance(answer, list) else [answer]
    found = []
    for item in items:
        if "targetUri" in item:  # a LocationLink
            place = to_location(ctx, ty, item["targetUri"], item["targetSelectionRange"])
        else:
            place = to_location(ctx, ty, item["uri"], item["range"])
        if place is not None:
            found.append(place)
    return found
