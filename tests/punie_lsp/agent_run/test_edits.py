"""``punie_lsp.agent_run.edits``: an edit lands only on the exact text it was computed from."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punie_lsp.agent_run.edits import OpenDocument, Snapshot, plan, stale, text_edits
from punie_lsp.session.documents import document_key
from tests.punie_lsp.session.test_lsp_lines import PIECES
from typed_tools.lines import offset_at, split_keepends

OLD = "x = 1\r\n"
NEW = "x = 2\r\n"


def _snapshot(path: Path, *docs: OpenDocument) -> Snapshot:
    return Snapshot({document_key(path.as_uri()): doc for doc in docs})


@pytest.mark.parametrize(
    ("now", "disk", "why"),
    [
        (OpenDocument(3, OLD, opened=7), OLD, None),
        (OpenDocument(4, OLD, opened=7), OLD, "edited"),  # a version bump is a change
        (OpenDocument(3, "x = 9\r\n", opened=7), OLD, "edited"),  # same version, other text
        (OpenDocument(3, OLD, opened=8), OLD, "closed and reopened"),  # Neovim's reload
        (OpenDocument(0, OLD, opened=8), OLD, "closed and reopened"),
        (None, OLD, "closed"),
    ],
)
def test_an_open_document(
    tmp_path: Path, now: OpenDocument | None, disk: str, why: str | None
) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(disk.encode())
    [edit] = plan({path: NEW}, _snapshot(path, OpenDocument(3, OLD, opened=7)))
    current = _snapshot(path, now) if now is not None else Snapshot({})
    assert stale([edit], current) == ({edit.uri: why} if why else {})


@pytest.mark.parametrize(
    ("disk_then", "disk_now", "open_now", "why"),
    [
        (OLD, OLD, None, None),
        (OLD, OLD.replace("\r\n", "\n"), None, "changed on disk"),  # endings are content
        (OLD, None, None, "deleted"),
        (None, OLD, None, "created meanwhile"),
        (None, None, None, None),
        (OLD, OLD, OpenDocument(1, OLD, opened=9), None),  # opened since, same text
        (OLD, OLD, OpenDocument(1, "typed\r\n", opened=9), "edited"),
        # A new file: the editor opened an empty buffer for it (Neovim loads every file of
        # an edit to ask): still not created; typed into, it was.
        (None, None, OpenDocument(1, "", opened=9), None),
        (None, None, OpenDocument(1, "\n", opened=9), None),  # Neovim's empty buffer
        (None, None, OpenDocument(2, "typed\n", opened=9), "created meanwhile"),
    ],
)
def test_a_file_that_was_not_open(
    tmp_path: Path,
    disk_then: str | None,
    disk_now: str | None,
    open_now: OpenDocument | None,
    why: str | None,
) -> None:
    path = tmp_path / "a.py"
    if disk_then is not None:
        path.write_bytes(disk_then.encode())
    [edit] = plan({path: NEW}, Snapshot({}))
    assert edit.old_text == disk_then  # read exactly: CRLF kept
    path.unlink(missing_ok=True)
    if disk_now is not None:
        path.write_bytes(disk_now.encode())
    current = _snapshot(path, open_now) if open_now is not None else Snapshot({})
    assert stale([edit], current) == ({edit.uri: why} if why else {})


def test_a_differently_encoded_uri_finds_its_document(tmp_path: Path) -> None:
    """An editor may encode a URI otherwise than ``Path.as_uri`` (here: lower-case hex)."""
    path = tmp_path / "café #1.py"
    editors_uri = path.as_uri().replace("%C3%A9", "%c3%a9")
    assert editors_uri != path.as_uri()
    snapshot = Snapshot({document_key(editors_uri): OpenDocument(5, OLD, 1, editors_uri)})
    [edit] = plan({path: NEW}, snapshot)
    assert (edit.version, edit.uri, edit.old_text) == (5, editors_uri, OLD)
    assert stale([edit], snapshot) == {}


def test_a_document_open_through_a_symbolic_link_is_the_files(tmp_path: Path) -> None:
    """The tools name ``real.py``; the editor has it open as ``linked.py`` (a link to it):
    the edit is planned against that buffer, and typing there makes it stale, whether the
    buffer was open when the run read it or opened since."""
    real = tmp_path / "real.py"
    real.write_bytes(OLD.encode())
    linked = tmp_path / "linked.py"
    linked.symlink_to(real)
    uri = linked.as_uri()
    buffer = "x = 1  # unsaved\r\n"
    open_then = Snapshot({document_key(uri): OpenDocument(5, buffer, 1, uri)})
    [edit] = plan({real: NEW}, open_then)
    assert (edit.uri, edit.version, edit.old_text) == (uri, 5, buffer)
    typed = Snapshot({document_key(uri): OpenDocument(6, buffer + "y\r\n", 1, uri)})
    assert stale([edit], typed) == {uri: "edited"}

    [from_disk] = plan({real: NEW}, Snapshot({}))
    assert from_disk.version is None
    opened_since = Snapshot({document_key(uri): OpenDocument(0, "typed\r\n", 2, uri)})
    assert stale([from_disk], opened_since) == {real.as_uri(): "edited"}
    assert stale([from_disk], Snapshot({document_key(uri): OpenDocument(0, OLD, 2, uri)})) == {}


texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts, texts, st.sampled_from(["any", "append", "prepend"]))
def test_edits_turn_the_text_read_into_the_text_proposed_never_from_after_the_end(
    old: str, new: str, how: str
) -> None:
    """Applied as LSP says, the edits give exactly the proposed text; and none starts on
    the empty "line" after a final line break, which Neovim's buffer does not have (an
    edit starting there left a blank line more: ``test_neovim.py``, end of a file)."""
    new = {"any": new, "append": old + new, "prepend": new + old}[how]
    edits = text_edits(old, new, "utf-16")
    text = old
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character))[::-1]:
        start = offset_at(text, edit.range.start.line, edit.range.start.character, "utf-16")
        end = offset_at(text, edit.range.end.line, edit.range.end.character, "utf-16")
        text = text[:start] + edit.new_text + text[end:]
    assert text == new
    lines = split_keepends(old)
    if len(lines) > 1 and lines[-1] == "":
        assert all(e.range.start.line < len(lines) - 1 for e in edits)
