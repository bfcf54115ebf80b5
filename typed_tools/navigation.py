"""Definition, references and hover, answered by a language server.

The questions go through ``TyConnection``: the editor's ty child under the LSP
server (which knows the unsaved buffers), our own ``TyClient`` otherwise. Positions
(a symbol's name when the model gives no column) are found by ``typed_tools.positions``;
outlines and symbol search are in ``typed_tools.symbols``.
"""

from __future__ import annotations

from pydantic import Field

from typed_tools.base import JSON, Column, ToolContext, ToolResult, TyConnection
from typed_tools.containment import off_loop
from typed_tools.positions import Location, position_params, to_locations, visible_uri
from typed_tools.tool import tool
from typed_tools.ty_pool import ty_connection

__all__ = [
    "FindReferencesResult",
    "GotoDefinitionResult",
    "HoverResult",
    "Location",
    "find_references",
    "goto_definition",
    "hover",
]


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
    """The hover text, ty's plain text as Punie's tool had it: the signature or type, then
    a line of dashes and the docstring as written; empty when the server has nothing to say."""
    language: str | None = None
    """The content's format as the server labels it: ``plaintext`` from ty (``markdown``
    or a MarkedString's language from other servers); None when there is no content."""


@tool
async def goto_definition(
    ctx: ToolContext,
    file_path: str,
    line: int | None = None,
    column: Column | None = None,
    symbol: str | None = None,
) -> GotoDefinitionResult:
    """Where the name at ``line``/``column`` (or the first ``symbol`` in the file) is defined."""
    ty = await ty_connection(ctx)
    params, name = await position_params(ctx, ty, file_path, line, column, symbol)
    answer = await ty.request("textDocument/definition", params)
    locations = await off_loop(to_locations, ctx, ty, answer)
    # ty found it, but only in files outside the workspace (a path dependency, a link
    # out): said, as hover says it, so "hidden" is not read as "not defined anywhere".
    hidden = not locations and bool(answer)
    return GotoDefinitionResult(
        success=bool(locations),
        error="the definition is in a file outside the workspace; not shown" if hidden else None,
        symbol=name,
        locations=locations,
    )


@tool
async def find_references(
    ctx: ToolContext,
    file_path: str,
    line: int | None = None,
    column: Column | None = None,
    symbol: str | None = None,
) -> FindReferencesResult:
    """Every reference to the name at ``line``/``column`` (or ``symbol``), declaration included."""
    ty = await ty_connection(ctx)
    params, name = await position_params(ctx, ty, file_path, line, column, symbol)
    params["context"] = {"includeDeclaration": True}
    answer = await ty.request("textDocument/references", params)
    found = await off_loop(to_locations, ctx, ty, answer)
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
    column: Column | None = None,
    symbol: str | None = None,
) -> HoverResult:
    """The type and documentation of the name at ``line``/``column`` (or ``symbol``)."""
    ty = await ty_connection(ctx)
    params, name = await position_params(ctx, ty, file_path, line, column, symbol)
    answer = await ty.request("textDocument/hover", params)
    text, language = _hover_text((answer or {}).get("contents", ""))
    if text and not await _definitions_visible(ctx, ty, params):
        return HoverResult(
            success=False,
            symbol=name,
            error="the hover text comes from a file outside the workspace; not shown",
        )
    return HoverResult(
        success=bool(text), symbol=name, content=text, language=language if text else None
    )


async def _definitions_visible(ctx: ToolContext, ty: TyConnection, params: JSON) -> bool:
    """Whether every definition of the name at ``params`` is in a file results may quote.

    A hover shows the definition's docstring and signature: for a module symlinked to a
    file outside the workspace, that is the outside file's text.
    """
    answer = await ty.request("textDocument/definition", params)
    items = answer if isinstance(answer, list) else [answer] if answer else []
    return all(visible_uri(ctx, item.get("targetUri") or item.get("uri", "")) for item in items)
