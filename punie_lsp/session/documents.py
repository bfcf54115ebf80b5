"""The editor's open documents, kept exactly as the editor has them.

Upstream workaround (pygls 2.1): ``pygls.workspace.TextDocument`` splits with
``str.splitlines``, which also breaks at form feeds, ``\\v``, ``\\x1c``-``\\x1e``,
``\\x85``, ``\\u2028`` and ``\\u2029``. After one incremental ``didChange`` in a file
holding such a character, its copy differs from the editor's (the change lands on the
wrong line), and that wrong text is what the agent's tools read and what a restarted
ty is given. Its position codec also clamps a character past the end of the last line
one code point short (and writes the clamped value back into the editor's params), a
document it makes for an unopened file reads it with universal newlines (CRLF lost),
and every keystroke re-splits and rewrites the whole document, so its cost grows with
the file. ``tests/punie_lsp/server/test_upstream_pygls.py`` shows the breakage.

``LspTextDocument`` replaces the line model with ``typed_tools.lines`` (LSP's line
breaks only, endings kept) and applies an incremental change by re-splitting only the
lines it touches, so a keystroke costs the same in a large file as in a small one.
``LspWorkspace`` makes pygls create these documents and numbers every ``didOpen``, so
an edit can tell a document that was closed and reopened from the one it read.

pygls keeps its workspace in a private attribute: its public ``workspace`` raises
before ``initialize``, and ``lsp_initialize`` builds a plain ``Workspace`` with no hook
to build ours. ``current_workspace`` and ``install_workspace`` are the only places that
touch it (``tests/punie_lsp/session/test_documents.py`` holds pygls to both behaviours).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import ServerTextPosition

from typed_tools import PositionEncoding
from typed_tools.lines import clamp, read_exact, split_keepends

__all__ = [
    "LspTextDocument",
    "LspWorkspace",
    "current_workspace",
    "document_key",
    "install_workspace",
    "open_document",
]

_OPENED = itertools.count(1)
"""Serial numbers of ``didOpen``s, process-wide: a reopened document gets a new one."""


def document_key(uri: str) -> str:
    """The key pygls files a document under: its URI percent-decoded.

    Editors and ``Path.as_uri`` encode differently (``%20``, ``%C3%A9``, ``%23``), so
    every lookup of an open document by URI goes through this, never ``uri in ...``.
    """
    return unquote(uri)


def open_document(workspace: Workspace | None, uri: str) -> TextDocument | None:
    """The editor's open document at ``uri``, however the URI is encoded, or None."""
    if workspace is None:
        return None
    return workspace.text_documents.get(document_key(uri))


def current_workspace(protocol: LanguageServerProtocol) -> Workspace | None:
    """pygls's workspace of ``protocol``, or None before ``initialize``.

    pygls's public ``workspace`` raises RuntimeError until ``initialize`` has made one.
    """
    try:
        return protocol.workspace
    except RuntimeError:
        return None


def install_workspace(protocol: LanguageServerProtocol, encoding: str | None) -> None:
    """Replace the ``Workspace`` pygls just made at ``initialize`` by an ``LspWorkspace``.

    Its documents are tracked in ``encoding`` (the one ty negotiated: punie's edits must
    line up with ty's). Upstream gap (pygls 2.1): ``lsp_initialize`` assigns its own
    ``Workspace`` to the private ``_workspace`` and offers no factory; this is the one
    write to it. Nothing happens before ``initialize``.
    """
    old = current_workspace(protocol)
    if old is not None:
        protocol._workspace = LspWorkspace.replacing(old, encoding)


def _encoding(value: Any) -> PositionEncoding:
    return value if value in ("utf-8", "utf-32") else "utf-16"


class LspTextDocument(TextDocument):
    """pygls' ``TextDocument`` with LSP lines (see the module docstring)."""

    def __init__(self, uri: str, source: str | None = None, **kwargs: Any) -> None:
        super().__init__(uri, source, **kwargs)
        self.opened = next(_OPENED)
        """Which ``didOpen`` created this copy: changes when the editor reopens the file."""
        if source is None:  # pygls asked for a document the editor has not opened: the disk's
            try:
                source = read_exact(Path(self.path))
            except (OSError, UnicodeDecodeError):
                source = ""
        self._lines = split_keepends(source)
        self._text: str | None = source

    @property
    def encoding(self) -> PositionEncoding:
        return _encoding(self.position_codec.encoding)

    @property
    def source(self) -> str:
        if self._text is None:
            self._text = "".join(self._lines)
        return self._text

    @property
    def lines(self) -> list[str]:
        """LSP lines with their endings (the last one has none), as a copy."""
        return list(self._lines)

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        self._lines = split_keepends(change.text)
        self._text = change.text

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        lines = self._lines
        encoding = self.encoding
        start = clamp(lines, change.range.start.line, change.range.start.character, encoding)
        end = clamp(lines, change.range.end.line, change.range.end.character, encoding)
        (sl, sc), (el, ec) = sorted((start, end))
        # One untouched line either side: an edit may join a \r before it with a \n
        # after it (or split such a pair), and only re-splitting the neighbours sees it.
        lo = max(sl - 1, 0)
        hi = min(el + 2, len(lines))
        segment = (
            "".join(lines[lo:sl])
            + lines[sl][:sc]
            + change.text
            + lines[el][ec:]
            + "".join(lines[el + 1 : hi])
        )
        replacement = split_keepends(segment)
        if hi < len(lines):
            replacement.pop()  # the segment ended with a line ending: its "" last line
        lines[lo:hi] = replacement
        self._text = None

    def position_from_client_units(self, position: types.Position) -> ServerTextPosition:
        line, character = clamp(self._lines, position.line, position.character, self.encoding)
        return ServerTextPosition(line=line, character=character)

    def offset_at_position(self, client_position: types.Position) -> int:
        position = self.position_from_client_units(client_position)
        return sum(map(len, self._lines[: position.line])) + position.character


class LspWorkspace(Workspace):
    """pygls' ``Workspace``, holding ``LspTextDocument``s."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> LspTextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self.position_codec,
        )

    @classmethod
    def replacing(cls, old: Workspace, encoding: str | None) -> LspWorkspace:
        """A workspace like ``old`` (pygls' own, just made at initialize) in ``encoding``."""
        return cls(
            old.root_uri,
            old._sync_kind,
            list(old.folders.values()),
            types.PositionEncodingKind(encoding) if encoding else old.position_encoding,
        )
