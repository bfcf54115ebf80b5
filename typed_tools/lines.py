"""LSP lines: the one definition of lines, line endings and positions in punie-lsp.

The LSP specification ("Text Documents") ends a line only at ``\\n``, ``\\r\\n`` or
``\\r``. Python's ``str.splitlines`` also breaks at ``\\f``, ``\\v``, ``\\x1c``-``\\x1e``,
``\\x85``, ``\\u2028`` and ``\\u2029``, so a document holding a form feed has more
``splitlines`` lines than the editor has: every position after it lands on the wrong
text. Nothing in punie-lsp splits document text any other way than here: the server's
document model (``punie_lsp.session.documents``), the agent's edits
(``punie_lsp.agent_run.edits``), the tools' line numbers and columns, and the text
replayed into ty after a restart.

Line endings are data. Texts are read with ``read_exact`` (no universal-newline
translation), split with their endings kept (``split_keepends``), and edited by
replacing code points, so CRLF, LF, CR and mixed files keep every ending they had.

Columns come in two kinds. Tool results and arguments count 1-based characters (the
n-th character of the line, as an editor's status bar does). LSP counts ``character``
in code units of the negotiated ``positionEncoding``: UTF-16 by default (one unit for
``é``, two for ``😀``), UTF-8 bytes or UTF-32 code points when negotiated. Offsets into
Python strings are code points. The conversions between the three live here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from typed_tools.base import PositionEncoding

__all__ = [
    "LINE_BREAK",
    "apply_change",
    "clamp",
    "content_hash",
    "from_lsp_character",
    "line_content",
    "line_ending",
    "offset_at",
    "position_at",
    "read_exact",
    "split_keepends",
    "split_lines",
    "to_lsp_character",
    "units",
]

LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What ends a line, per the LSP specification: ``\\r\\n`` before ``\\r`` (one break)."""

_LINE_WITH_ENDING = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def split_lines(text: str) -> list[str]:
    """Lines without their endings; ``n`` line breaks give ``n + 1`` lines.

    ``"a\\r\\nb\\n"`` is ``["a", "b", ""]``: the empty last line is where LSP puts a
    position after the final newline.
    """
    if "\r" not in text:  # the usual case, and str.split is ~20x faster than the regex
        return text.split("\n")
    return LINE_BREAK.split(text)


def split_keepends(text: str) -> list[str]:
    """Lines with their endings; ``n`` line breaks give ``n + 1`` lines, joined back exactly.

    Every line but the last ends with its own ``\\n``, ``\\r\\n`` or ``\\r``; the last has
    no ending and may be empty. ``"".join(split_keepends(t)) == t`` for every ``t``.
    """
    lines = _LINE_WITH_ENDING.findall(text)
    consumed = sum(map(len, lines))
    lines.append(text[consumed:])
    return lines


def line_ending(line: str) -> str:
    """The ending of one ``split_keepends`` line: ``"\\r\\n"``, ``"\\n"``, ``"\\r"`` or ``""``."""
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""


def line_content(line: str) -> str:
    """One ``split_keepends`` line without its ending."""
    return line[: len(line) - len(line_ending(line))]


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
    """The 1-based character column of LSP ``character`` on ``line_text`` (no ending).

    An offset inside a multi-unit character (which a well-behaved client never sends)
    maps to that character; past the end maps to one past the last character, as LSP
    specifies ("defaults back to the line length").
    """
    if encoding == "utf-32" or line_text.isascii():
        return min(character, len(line_text)) + 1
    consumed = 0
    for index, char in enumerate(line_text):
        consumed += units(char, encoding)
        if consumed > character:
            return index + 1
    return len(line_text) + 1


def _code_point(lines: list[str], line: int, character: int, encoding: PositionEncoding) -> int:
    """Offset (code points) of an LSP position within ``lines[line]``, clamped to its content."""
    content = line_content(lines[line])
    return from_lsp_character(content, character, encoding) - 1


def clamp(
    lines: list[str], line: int, character: int, encoding: PositionEncoding
) -> tuple[int, int]:
    """``(line, code point)`` of an LSP position in ``split_keepends`` lines.

    A line past the last is the end of the document (pygls does the same); a character
    past the end of its line is the end of the line's content, never inside its ending.
    """
    if line >= len(lines):
        last = len(lines) - 1
        return last, len(lines[last])
    return line, _code_point(lines, line, character, encoding)


def offset_at(text: str, line: int, character: int, encoding: PositionEncoding) -> int:
    """Code point offset in ``text`` of the LSP position ``(line, character)``."""
    lines = split_keepends(text)
    row, column = clamp(lines, line, character, encoding)
    return sum(map(len, lines[:row])) + column


def position_at(text: str, offset: int, encoding: PositionEncoding) -> tuple[int, int]:
    """LSP ``(line, character)`` of code point ``offset`` in ``text`` (clamped to the text).

    An offset inside a ``\\r\\n`` pair, or in any line ending, is the end of that line.
    """
    offset = max(0, min(offset, len(text)))
    before = text[:offset]
    row = len(LINE_BREAK.findall(before))
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    if before.endswith("\r") and text[offset : offset + 1] == "\n":
        # Between \r and \n: still on the line that \r\n ends.
        row -= 1
        start = max(before.rfind("\n", 0, offset - 1), before.rfind("\r", 0, offset - 1)) + 1
        return row, units(text[start : offset - 1], encoding)
    return row, units(text[start:offset], encoding)


def apply_change(
    text: str,
    start: tuple[int, int],
    end: tuple[int, int],
    new_text: str,
    encoding: PositionEncoding,
) -> str:
    """``text`` with the LSP range ``start``-``end`` (``(line, character)``) replaced."""
    lines = split_keepends(text)
    (sl, sc), (el, ec) = sorted((clamp(lines, *start, encoding), clamp(lines, *end, encoding)))
    begin = sum(map(len, lines[:sl])) + sc
    finish = sum(map(len, lines[:el])) + ec
    return text[:begin] + new_text + text[finish:]


def content_hash(text: str) -> str:
    """SHA-256 (hex) of ``text``'s UTF-8 bytes: what an edit was computed from."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def read_exact(path: Path) -> str:
    """A UTF-8 file's text with every line ending as it is on disk.

    ``Path.read_text`` translates ``\\r\\n`` and ``\\r`` to ``\\n`` (universal newlines),
    which would turn a CRLF file's edit into a mixed one. Raises ``OSError`` and
    ``UnicodeDecodeError`` as reading does.
    """
    return path.read_bytes().decode("utf-8")
