"""Columns between people (1-based characters) and LSP (0-based code units).

Tool results and arguments count columns the way an editor's status bar does: the
n-th character of the line, from 1. LSP counts ``character`` in the code units of the
negotiated ``positionEncoding``: UTF-16 by default (one unit for ``é``, two for
``😀``), UTF-8 bytes or UTF-32 code points when negotiated. Getting this wrong moves
every position after a non-ASCII character, so the conversion lives in one place.
"""

from __future__ import annotations

from typed_tools.base import PositionEncoding

__all__ = ["from_lsp_character", "to_lsp_character", "units"]


def units(text: str, encoding: PositionEncoding) -> int:
    """Length of ``text`` in ``encoding``'s code units."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", errors="surrogatepass"))
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def to_lsp_character(line_text: str, column: int, encoding: PositionEncoding) -> int:
    """The LSP ``character`` of 1-based character ``column`` on ``line_text``.

    A column past the end clamps to the end of the line, as LSP itself specifies.
    """
    return units(line_text[: max(column - 1, 0)], encoding)


def from_lsp_character(line_text: str, character: int, encoding: PositionEncoding) -> int:
    """The 1-based character column of LSP ``character`` on ``line_text``.

    An offset inside a multi-unit character (which a well-behaved server never sends)
    maps to that character; past the end maps to one past the last character.
    """
    if encoding == "utf-32":
        return min(character, len(line_text)) + 1
    consumed = 0
    for index, char in enumerate(line_text):
        if consumed >= character:
            return index + 1
        consumed += units(char, encoding)
    return len(line_text) + 1
