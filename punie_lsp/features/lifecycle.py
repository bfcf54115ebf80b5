"""After ``initialize``: report settings problems and pull configuration.

Settings come first from ``initializationOptions``; when the editor supports
``workspace/configuration`` the ``punie`` section is pulled after ``initialized`` and
again on every ``workspace/didChangeConfiguration`` (which ty receives as well).
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from punie_lsp.session.session import Session

__all__ = ["HANDLERS"]

logger = logging.getLogger(__name__)


async def pull_configuration(session: Session) -> None:
    """Ask the editor for the ``punie`` section and apply it."""
    if not session.client.configuration:
        return
    try:
        result = await session.lsp.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="punie")])
        )
    except Exception as exc:  # an editor that errors here still gets defaults
        logger.warning("workspace/configuration failed: %s", exc)
        return
    section: Any = result[0] if result else None
    if section is not None:
        session.apply_settings(section, source="workspace/configuration 'punie'")


async def initialized(session: Session, params: types.InitializedParams) -> None:
    if session.router.ty_start_error:  # its own message: not a setting that was ignored
        session.lsp.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Error, message=f"punie-lsp: {session.router.ty_start_error}"
            )
        )
    session.show_problems(session.settings_problems, "initializationOptions")
    await pull_configuration(session)


async def did_change_configuration(
    session: Session, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if isinstance(settings, dict) and "punie" in settings:
        session.apply_settings(settings["punie"], source="didChangeConfiguration 'punie'")
    else:
        await pull_configuration(session)


async def did_change_workspace_folders(
    session: Session, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    """A folder the editor removed stops its private ty (pygls has already dropped it
    from the workspace; ty itself got the notification too). A private ty starts with the
    first tool run in a folder, so an added folder needs nothing here."""
    await session.folders_removed([folder.uri for folder in params.event.removed or []])


HANDLERS = {
    types.INITIALIZED: initialized,
    types.WORKSPACE_DID_CHANGE_CONFIGURATION: did_change_configuration,
    types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS: did_change_workspace_folders,
}
"""LSP method -> handler; each takes the ``Session`` first."""
