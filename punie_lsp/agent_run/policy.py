"""The edit policy: what happens to a run's checked edits, as a pure function.

The ``edits`` setting says ``ask``, ``auto`` or ``never``; what ``ask`` can mean depends
on the editor (DESIGN.md, "edits through the editor"): an editor that confirms edits in
place (change annotations on versioned edits, LSP 3.16) gets them marked for
confirmation; any other is asked with ``window/showMessageRequest`` first (one that
cannot answer keeps the edits in the result, unapplied).
"""

from __future__ import annotations

from typing import Literal

from agent.config import EditsMode
from punie_lsp.session.session import ClientSupport

__all__ = ["EditRoute", "edit_route"]

EditRoute = Literal["keep", "apply", "confirm_in_place", "ask_first"]
"""``keep``: in the result only; ``apply``: ``workspace/applyEdit`` as is;
``confirm_in_place``: applied with change annotations the user confirms in the editor;
``ask_first``: applied once the user says so in ``window/showMessageRequest``."""


def edit_route(mode: EditsMode, client: ClientSupport) -> EditRoute:
    """The route of a run's edits for the ``edits`` setting ``mode`` in this editor."""
    if mode == "never":
        return "keep"
    if mode == "auto":
        return "apply"
    return "confirm_in_place" if client.change_annotations else "ask_first"
