"""``FolderTrust``: each workspace folder's trust from the editor's scoped answers."""

from __future__ import annotations

from pathlib import Path

from punie_lsp.session.trust import FolderTrust

FIRST, ADDED = Path("/w/first"), Path("/w/added")


def test_an_added_folder_is_untrusted_until_the_editor_says_otherwise() -> None:
    trust = FolderTrust()
    trust.started_with([FIRST])
    assert trust.trusted(FIRST, setting=True, scoped=True)
    assert not trust.trusted(ADDED, setting=True, scoped=True)  # not answered yet
    trust.answered(ADDED, {"trust": True})
    assert trust.trusted(ADDED, setting=False, scoped=True)  # the folder's own answer
    trust.answered(FIRST, {"trust": False})
    assert not trust.trusted(FIRST, setting=True, scoped=True)
    trust.removed(ADDED)
    assert not trust.trusted(ADDED, setting=True, scoped=True)


def test_an_answer_without_trust_and_an_editor_that_cannot_answer_mean_the_setting() -> None:
    trust = FolderTrust()
    trust.started_with([FIRST])
    for section in ({}, None, {"trust": "yes"}):
        trust.answered(ADDED, section)
        assert trust.trusted(ADDED, setting=True, scoped=True)
        assert not trust.trusted(ADDED, setting=False, scoped=True)
    assert trust.trusted(Path("/elsewhere"), setting=True, scoped=False)
