"""The agent's proposed files as a ``WorkspaceEdit`` the editor applies (and can undo).

A run reads documents at some version; its edits are line diffs against exactly the
text it read, sent as ``TextDocumentEdit``s carrying that version, so an editor refuses
them if the user typed meanwhile. Before sending, ``stale`` checks the same thing on our
side (open documents by version, others by their text on disk) so the user is told
why nothing was applied. New files are ``CreateFile`` + an insert. Nothing here writes
to disk: the editor applies the edit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

from typed_tools import PositionEncoding
from typed_tools.positions import units

__all__ = ["PlannedEdit", "Snapshot", "plan", "stale", "text_edits", "workspace_edit"]

ANNOTATION = "punie"


@dataclass(frozen=True)
class Snapshot:
    """The editor's open documents when a run started: uri -> (version, text)."""

    documents: dict[str, tuple[int, str]]


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


def plan(edits: dict[Path, str], snapshot: Snapshot) -> list[PlannedEdit]:
    planned = []
    for path, new_text in sorted(edits.items()):
        uri = path.as_uri()
        if uri in snapshot.documents:
            version, old_text = snapshot.documents[uri]
            planned.append(PlannedEdit(path, uri, old_text, new_text, version))
        else:
            old = path.read_text(encoding="utf-8") if path.is_file() else None
            planned.append(PlannedEdit(path, uri, old, new_text, None))
    return [p for p in planned if p.old_text != p.new_text]


def stale(planned: list[PlannedEdit], now: Snapshot) -> list[str]:
    """URIs whose document changed since the run read it (their edit must not apply)."""
    changed = []
    for edit in planned:
        current = now.documents.get(edit.uri)
        if edit.version is not None:
            if current is None or current[0] != edit.version:
                changed.append(edit.uri)
        elif current is not None:
            if current[1] != (edit.old_text or ""):
                changed.append(edit.uri)
        else:
            on_disk = edit.path.read_text(encoding="utf-8") if edit.path.is_file() else None
            if on_disk != edit.old_text:
                changed.append(edit.uri)
    return changed


def _end_of(lines: list[str], encoding: PositionEncoding) -> types.Position:
    if not lines:
        return types.Position(line=0, character=0)
    if lines[-1].endswith(("\n", "\r")):
        return types.Position(line=len(lines), character=0)
    return types.Position(line=len(lines) - 1, character=units(lines[-1], encoding))


def text_edits(old: str, new: str, encoding: PositionEncoding) -> list[types.TextEdit]:
    """Line-level edits turning ``old`` into ``new`` (positions in ``encoding``)."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)

    def at(index: int) -> types.Position:
        return types.Position(line=index, character=0) if index < len(a) else _end_of(a, encoding)

    edits = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            edits.append(
                types.TextEdit(
                    range=types.Range(start=at(i1), end=at(i2)), new_text="".join(b[j1:j2])
                )
            )
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
