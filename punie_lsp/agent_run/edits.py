"""The agent's proposed files as a ``WorkspaceEdit`` the editor applies (and can undo).

A run reads documents as they are at some moment; its edits are line diffs against
exactly the text it read, sent as ``TextDocumentEdit``s carrying that version, so an
editor refuses them if the user typed meanwhile. The version alone is not enough: an
editor that closes and reopens a file (Neovim does when it changed on disk) starts again
at version 0, and an editor that takes only a ``changes`` map checks nothing. So every
``PlannedEdit`` carries the hash of the text it was computed from and which ``didOpen``
that text belonged to, and ``stale`` refuses an edit whose document is closed, reopened
or changed in any way since (open documents by their buffer, others by the disk).

Lines and positions are ``typed_tools.lines``': LSP's three line breaks, endings kept,
so a CRLF, CR or mixed file gets exactly the text the agent proposed. New files are
``CreateFile`` + an insert. Nothing here writes to disk: the editor applies the edit.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from lsprotocol import types
from pygls.uris import to_fs_path

from punie_lsp.session.documents import document_key
from typed_tools import PositionEncoding
from typed_tools.lines import (
    content_hash,
    line_content,
    line_ending,
    read_exact,
    split_keepends,
    units,
)

__all__ = [
    "OpenDocument",
    "PlannedEdit",
    "Snapshot",
    "plan",
    "stale",
    "text_edits",
    "workspace_edit",
]

ANNOTATION = "punie"


class OpenDocument(NamedTuple):
    """One document the editor has open, as the server's copy had it."""

    version: int
    text: str
    opened: int = 0
    """Which ``didOpen`` it came from (``LspTextDocument.opened``): a reopen changes it."""
    uri: str = ""
    """The URI as the editor wrote it (edits for an open document are sent with it)."""


@dataclass(frozen=True)
class Snapshot:
    """The editor's open documents at one moment: ``document_key(uri)`` -> ``OpenDocument``."""

    documents: dict[str, OpenDocument]

    def find(self, path: Path, uri: str) -> OpenDocument | None:
        """The open document of ``uri``, else the one whose real path is ``path``'s.

        The tools name files by real path (``typed_tools.workspace.resolve``); the editor
        by its own, possibly through a symbolic link (``linked.py -> pkg/app.py``). A run
        reads that buffer, so its edit must be planned against it and its version: an
        editor that keeps one buffer per file (Neovim) applies an edit for the real path
        to it. The last document of a real path wins, as in the tools' lookup
        (``punie_lsp.session.semantic``).
        """
        document = self.documents.get(document_key(uri))
        if document is not None:
            return document
        real = os.path.realpath(path)
        found = None
        for key, candidate in self.documents.items():
            name = to_fs_path(candidate.uri or key)
            if name is not None and os.path.realpath(name) == real:
                found = candidate
        return found


@dataclass(frozen=True)
class PlannedEdit:
    """One file the run changes, with the text and version it was computed against."""

    path: Path
    uri: str
    old_text: str | None
    """What the run read: the editor's buffer, the file on disk, or None for a new file."""
    new_text: str
    version: int | None
    """The editor's version of the document, or None when it was not open."""
    opened: int | None = None
    """Which ``didOpen`` the buffer came from, or None when it was not open."""
    old_hash: str | None = field(default=None)
    """``content_hash(old_text)`` (None for a new file): the text the edit applies to."""

    def __post_init__(self) -> None:
        if self.old_hash is None and self.old_text is not None:
            object.__setattr__(self, "old_hash", content_hash(self.old_text))


def _disk_text(path: Path) -> str | None:
    try:
        return read_exact(path) if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def plan(edits: dict[Path, str], snapshot: Snapshot) -> list[PlannedEdit]:
    """What changes, per file, against the snapshot's buffers or else the disk."""
    planned = []
    for path, new_text in sorted(edits.items()):
        uri = path.as_uri()
        document = snapshot.find(path, uri)
        if document is not None:
            uri = document.uri or uri
            planned.append(
                PlannedEdit(path, uri, document.text, new_text, document.version, document.opened)
            )
        else:
            planned.append(PlannedEdit(path, uri, _disk_text(path), new_text, None))
    return [p for p in planned if p.old_text != p.new_text]


_EMPTY_BUFFERS = ("", "\n", "\r\n")
"""An editor's empty buffer: Neovim sends one line ending for it (``'eol'``)."""


def stale(planned: list[PlannedEdit], now: Snapshot) -> dict[str, str]:
    """uri -> why, for each edit whose document is not the text it was computed from."""
    changed: dict[str, str] = {}
    for edit in planned:
        current = now.find(edit.path, edit.uri)
        if edit.version is not None:
            if current is None:
                changed[edit.uri] = "closed"
            elif current.opened != edit.opened:
                changed[edit.uri] = "closed and reopened"
            elif current.version != edit.version or content_hash(current.text) != edit.old_hash:
                changed[edit.uri] = "edited"
            continue
        text = current.text if current is not None else _disk_text(edit.path)
        if edit.old_text is None and text in _EMPTY_BUFFERS and _disk_text(edit.path) is None:
            text = None  # the empty buffer an editor opens for a new file is no file yet
        if text is None:
            if edit.old_text is not None:
                changed[edit.uri] = "deleted"
        elif edit.old_hash is None:
            changed[edit.uri] = "created meanwhile"
        elif content_hash(text) != edit.old_hash:
            changed[edit.uri] = "edited" if current is not None else "changed on disk"
    return changed


def _end_of(lines: list[str], encoding: PositionEncoding) -> types.Position:
    """The end of a document split by ``split_keepends`` (its last line has no ending)."""
    return types.Position(line=len(lines) - 1, character=units(lines[-1], encoding))


def text_edits(old: str, new: str, encoding: PositionEncoding) -> list[types.TextEdit]:
    """Line-level edits turning ``old`` into ``new`` exactly (positions in ``encoding``).

    Lines keep their endings, so a line whose ending changed is a changed line and the
    ending the agent wrote is the one the editor gets.
    """
    a = split_keepends(old)
    b = split_keepends(new)

    def at(index: int) -> types.Position:
        return types.Position(line=index, character=0) if index < len(a) else _end_of(a, encoding)

    edits = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, new_text = at(i1), "".join(b[j1:j2])
        last = len(a) - 1
        if i1 == last and last > 0 and a[last] == "":
            # Starting on the empty "line" after the document's final line break (an
            # append at the end): Neovim has no buffer line there and appended the text's
            # lines plus an empty one, a blank line more on :write. Start instead before
            # that final line break and write it first: the same text in every editor.
            ending = line_ending(a[last - 1])
            start = types.Position(
                line=last - 1, character=units(line_content(a[last - 1]), encoding)
            )
            new_text = ending + new_text
        edits.append(types.TextEdit(range=types.Range(start=start, end=at(i2)), new_text=new_text))
    return edits


def workspace_edit(
    planned: list[PlannedEdit],
    encoding: PositionEncoding,
    *,
    confirm: bool,
    document_changes: bool = True,
) -> types.WorkspaceEdit:
    """The edit for ``workspace/applyEdit``; ``confirm`` marks it as needing the user's OK.

    Without ``document_changes`` (an editor that takes only a ``changes`` map) there are
    no versions in the edit: the caller's ``stale`` check is then the only guard.
    """
    if not document_changes:
        return types.WorkspaceEdit(
            changes={e.uri: text_edits(e.old_text or "", e.new_text, encoding) for e in planned}
        )
    annotation = ANNOTATION if confirm else None
    changes: list[types.TextDocumentEdit | types.CreateFile] = []
    for edit in planned:
        if edit.old_text is None:
            changes.append(
                types.CreateFile(
                    uri=edit.uri,
                    options=types.CreateFileOptions(ignore_if_exists=True),
                    annotation_id=annotation,
                )
            )
        body = text_edits(edit.old_text or "", edit.new_text, encoding)
        if annotation is not None:
            body = [
                types.AnnotatedTextEdit(
                    range=e.range, new_text=e.new_text, annotation_id=annotation
                )
                for e in body
            ]
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=edit.uri, version=edit.version
                ),
                edits=list(body),
            )
        )
    annotations = None
    if confirm:
        files = ", ".join(e.path.name for e in planned)
        annotations = {
            ANNOTATION: types.ChangeAnnotation(
                label="Punie's proposed edits", needs_confirmation=True, description=files
            )
        }
    return types.WorkspaceEdit(document_changes=changes, change_annotations=annotations)
