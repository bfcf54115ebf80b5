"""The edit policy: ``edits`` (ask|auto|never) and what the editor can do decide the route.

Client capabilities are the ones pytest-lsp captured from real editors.
"""

from __future__ import annotations

import pytest
from pytest_lsp import client_capabilities

from agent.config import EditsMode
from punie_lsp.agent_run.policy import EditRoute, edit_route
from punie_lsp.session.session import ClientSupport


@pytest.mark.parametrize(
    ("mode", "editor", "route"),
    [
        ("never", "visual-studio-code", "keep"),
        ("never", "neovim", "keep"),
        ("auto", "visual-studio-code", "apply"),
        ("auto", "neovim", "apply"),
        # VS Code confirms annotated edits in its refactor preview; Neovim has no such UI
        ("ask", "visual-studio-code", "confirm_in_place"),
        ("ask", "neovim", "ask_first"),
        ("ask", "emacs", "ask_first"),
    ],
)
def test_route_per_setting_and_editor(mode: EditsMode, editor: str, route: EditRoute) -> None:
    assert edit_route(mode, ClientSupport.of(client_capabilities(editor))) == route
