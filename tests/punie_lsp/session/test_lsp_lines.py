"""LSP lines, property-tested: punie-lsp's copy of a document is the editor's, always.

Documents are drawn from every character Python treats as a line break (LSP breaks only
at \\n, \\r\\n and \\r), CRLF/LF/CR mixes, emoji (two UTF-16 units, four UTF-8 bytes)
and CJK; incremental changes are made at random cursor positions in each position
encoding. ``tests/lsp_client_model.py`` is the editor's side, written without
``typed_tools.lines``. Run with ``--hypothesis-show-statistics`` for the example counts;
``PUNIE_PROPERTY_EXAMPLES=20000`` runs the two main properties longer than CI does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import libcst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types

from punie_lsp.agent_run import edits
from punie_lsp.session.documents import LspWorkspace
from tests import lsp_client_model as editor
from typed_tools.lines import (
    apply_change,
    offset_at,
    position_at,
    read_exact,
    split_keepends,
    split_lines,
)

PIECES = [
    "a",
    "b",
    "x = 1",
    " ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\f",
    "\v",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
    "é",
    "中文",
    "😀",
]
"""Everything Python's ``splitlines`` breaks at, LSP's three breaks, and wide characters."""

EXAMPLES = int(os.environ.get("PUNIE_PROPERTY_EXAMPLES", "400"))
"""Examples per main property (the server's copy; an agent edit's result)."""

texts = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
encodings = st.sampled_from(editor.ENCODINGS)


@given(texts)
def test_lines_join_back_exactly_and_count_as_lsp_does(text: str) -> None:
    kept = split_keepends(text)
    assert "".join(kept) == text
    assert len(kept) == len(split_lines(text)) == len(editor.line_starts(text))
    assert all(editor.line_starts(line)[-1] in (len(line), 0) for line in kept)


@given(texts, encodings, st.data())
def test_positions_and_offsets_agree_with_the_editor(
    text: str, encoding: Any, data: st.DataObject
) -> None:
    offset = data.draw(st.sampled_from(editor.valid_offsets(text)))
    position = editor.position_of(text, offset, encoding)
    assert position_at(text, offset, encoding) == position
    assert offset_at(text, *position, encoding) == offset
    overshoot = data.draw(st.integers(0, 10**6))
    assert offset_at(text, position[0], overshoot, encoding) == editor.offset_of(
        text, position[0], overshoot, encoding
    )


def _change(edit: editor.Edit) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=edit.start[0], character=edit.start[1]),
            end=types.Position(line=edit.end[0], character=edit.end[1]),
        ),
        text=edit.text,
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(texts, encodings, st.lists(texts, max_size=8), st.data())
def test_the_server_copy_equals_the_editors_after_every_change(
    text: str, encoding: Any, changes: list[str], data: st.DataObject
) -> None:
    """pygls' own ``didOpen``/``didChange`` path, ``punie_lsp.session.documents`` plugged in."""
    workspace = LspWorkspace.replacing(LspWorkspace(None), encoding)
    uri = "file:///w/doc.py"
    workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="python", version=0, text=text)
    )
    client = text
    for version, insert in enumerate(changes, start=1):
        offsets = editor.valid_offsets(client)
        a = data.draw(st.sampled_from(offsets))
        b = data.draw(st.sampled_from(offsets))
        a, b = sorted((a, b))
        edit = editor.Edit(
            editor.position_of(client, a, encoding), editor.position_of(client, b, encoding), insert
        )
        if data.draw(st.booleans()) and a == b:  # past the end of the line: its end
            end_of_line = editor.offset_of(client, edit.start[0], 10**6, encoding)
            if end_of_line == a:
                edit = editor.Edit(
                    (edit.start[0], edit.start[1] + 3), (edit.end[0], edit.end[1] + 3), insert
                )
        before, client = client, editor.apply(client, edit, encoding)
        assert apply_change(before, edit.start, edit.end, insert, encoding) == client
        workspace.update_text_document(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version), _change(edit)
        )
        document = workspace.get_text_document(uri)
        assert document.source == client
        assert document.lines == split_keepends(client)


def _mutated(draw: st.DrawFn) -> tuple[str, str]:
    """An old text and a new one made from it by line-level changes, or drawn afresh."""
    old = draw(texts)
    lines = split_keepends(old)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(lines)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "retype ending"]))
        if kind == "insert":
            lines.insert(at, draw(texts))
        elif lines and at < len(lines):
            if kind == "delete":
                del lines[at]
            elif kind == "replace":
                lines[at] = draw(texts)
            else:
                lines[at] = lines[at].rstrip("\r\n") + draw(st.sampled_from(["\n", "\r\n", "\r"]))
    new = "".join(lines) if draw(st.booleans()) else draw(texts)
    return old, new


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.composite(_mutated)(), encodings, st.booleans())
def test_an_agent_edit_gives_exactly_the_intended_text(
    texts_: tuple[str, str], encoding: Any, confirm: bool
) -> None:
    old, new = texts_
    planned = edits.PlannedEdit(
        path=Path("/w/doc.py"),
        uri="file:///w/doc.py",
        old_text=old,
        new_text=new,
        version=3,
    )
    workspace_edit = edits.workspace_edit([planned], encoding, confirm=confirm)
    assert workspace_edit.document_changes is not None
    (change,) = workspace_edit.document_changes
    assert isinstance(change, types.TextDocumentEdit)
    sent = []
    for e in change.edits:
        assert isinstance(e, types.TextEdit | types.AnnotatedTextEdit)
        assert isinstance(e, types.AnnotatedTextEdit) == confirm
        start, end = e.range.start, e.range.end
        sent.append(((start.line, start.character), (end.line, end.character), e.new_text))
    result = editor.apply_all(old, sent, encoding)
    assert result == new


# -- real files nobody here wrote: LibCST ships two test modules with CRLF endings --------

LIBCST = Path(libcst.__file__).parent
REAL_CRLF_FILES = [LIBCST / "_nodes/tests/test_type_alias.py", LIBCST / "tests/test_roundtrip.py"]


@pytest.mark.parametrize("path", REAL_CRLF_FILES, ids=lambda p: p.name)
@settings(max_examples=50, deadline=None)
@given(encoding=encodings, data=st.data())
def test_real_crlf_files_stay_crlf_through_edits(
    path: Path, encoding: Any, data: st.DataObject
) -> None:
    text = read_exact(path)
    assert text.count("\r\n") == text.count("\n") > 0  # what makes it a CRLF file
    workspace = LspWorkspace.replacing(LspWorkspace(None), encoding)
    uri = path.as_uri()
    workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="python", version=0, text=text)
    )
    client = text
    for version in range(1, 4):
        offsets = editor.valid_offsets(client)
        a, b = sorted(data.draw(st.lists(st.sampled_from(offsets), min_size=2, max_size=2)))
        insert = data.draw(texts)
        edit = editor.Edit(
            editor.position_of(client, a, encoding), editor.position_of(client, b, encoding), insert
        )
        client = editor.apply(client, edit, encoding)
        workspace.update_text_document(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version), _change(edit)
        )
        assert workspace.get_text_document(uri).source == client
    # An agent's whole-file proposal (one line changed, CRLF kept) lands exactly.
    lines = split_keepends(text)
    at = data.draw(st.integers(0, len(lines) - 2))
    proposed = "".join(lines[:at]) + "# changed by the agent\r\n" + "".join(lines[at + 1 :])
    planned = edits.PlannedEdit(Path(path), uri, text, proposed, 0)
    (change,) = edits.workspace_edit([planned], encoding, confirm=False).document_changes or []
    assert isinstance(change, types.TextDocumentEdit)
    sent = []
    for e in change.edits:
        assert isinstance(e, types.TextEdit)
        start, end = e.range.start, e.range.end
        sent.append(((start.line, start.character), (end.line, end.character), e.new_text))
    assert len(sent) == 1
    assert editor.apply_all(text, sent, encoding) == proposed
