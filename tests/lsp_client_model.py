"""An editor's side of text synchronisation, written independently of ``typed_tools.lines``.

The property tests compare punie-lsp's copy of a document with this one. It scans the
text character by character (no regular expression, no ``splitlines``) and counts
columns by encoding each line prefix, so a mistake shared with the code under test is
unlikely: it is the oracle, the way an editor keeps its buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

ENCODINGS = ("utf-16", "utf-8", "utf-32")

UNIT_BYTES = {"utf-8": 1, "utf-16": 2, "utf-32": 4}
CODEC = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}


def line_starts(text: str) -> list[int]:
    """Code point offsets where lines start; only \\n, \\r\\n and \\r end a line."""
    starts = [0]
    i = 0
    while i < len(text):
        if text[i] == "\r" and i + 1 < len(text) and text[i + 1] == "\n":
            i += 2
            starts.append(i)
        elif text[i] in "\r\n":
            i += 1
            starts.append(i)
        else:
            i += 1
    return starts


def content_end(text: str, starts: list[int], line: int) -> int:
    """Offset where ``line``'s content ends (before its line ending)."""
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    while end > starts[line] and text[end - 1] in "\r\n":
        end -= 1
    return end


def units_of(text: str, encoding: str) -> int:
    return len(text.encode(CODEC[encoding], errors="surrogatepass")) // UNIT_BYTES[encoding]


def position_of(text: str, offset: int, encoding: str) -> tuple[int, int]:
    """The LSP position an editor sends for code point ``offset``."""
    starts = line_starts(text)
    line = max(i for i, start in enumerate(starts) if start <= offset)
    return line, units_of(text[starts[line] : offset], encoding)


def offset_of(text: str, line: int, character: int, encoding: str) -> int:
    """Where an editor puts an LSP position: past the end of a line is its end."""
    starts = line_starts(text)
    if line >= len(starts):
        return len(text)
    end = content_end(text, starts, line)
    offset = starts[line]
    used = 0
    while offset < end:
        width = units_of(text[offset], encoding)
        if used + width > character:
            break
        used += width
        offset += 1
    return offset


def valid_offsets(text: str) -> list[int]:
    """Offsets an editor's cursor can take: never between \\r and \\n."""
    return [
        i for i in range(len(text) + 1) if not (0 < i < len(text) and text[i - 1 : i + 1] == "\r\n")
    ]


@dataclass
class Edit:
    """One incremental change as an editor sends it."""

    start: tuple[int, int]
    end: tuple[int, int]
    text: str


def apply(text: str, edit: Edit, encoding: str) -> str:
    begin = offset_of(text, *edit.start, encoding)
    finish = offset_of(text, *edit.end, encoding)
    begin, finish = sorted((begin, finish))
    return text[:begin] + edit.text + text[finish:]


def apply_all(
    text: str, edits: list[tuple[tuple[int, int], tuple[int, int], str]], encoding: str
) -> str:
    """Apply a ``TextEdit`` list (all ranges relative to ``text``), as ``applyEdit`` does."""
    located = []
    for start, end, new in edits:
        located.append((offset_of(text, *start, encoding), offset_of(text, *end, encoding), new))
    located.sort(key=lambda item: (item[0], item[1]))
    out, at = [], 0
    for begin, finish, new in located:
        assert begin >= at, "overlapping edits"
        out.append(text[at:begin])
        out.append(new)
        at = finish
    out.append(text[at:])
    return "".join(out)
