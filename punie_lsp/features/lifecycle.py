"""After ``initialize``: report settings problems and pull configuration.

Settings come first from ``initializationOptions``; when the editor supports
``workspace/configuration`` the ``punie`` section is pulled after ``initialized``. A
``workspace/didChangeConfiguration`` (which ty receives as well, and ignores) carries
the ``punie`` and ``ty`` sections, or none: then both are pulled. A changed ``ty``
section restarts ty with it (``Router.change_ty_settings``); the same one restarts
nothing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from punie_lsp.session.documents import current_workspace
from punie_lsp.session.session import Session

__all__ = ["HANDLERS"]

logger = logging.getLogger(__name__)


async def pull_configuration(session: Session, *, ty: bool = False) -> None:
    """Ask the editor for the ``punie`` section (and ``ty``'s, scoped to the first
    folder as ty asks for it) and apply them."""
    if not session.client.configuration:
        return
    items = [types.ConfigurationItem(section="punie")]
    if ty:
        workspace = current_workspace(session.lsp.protocol)
        folders = [f.uri for f in workspace.folders.values()] if workspace else []
        scope = folders[0] if folders else (workspace.root_uri if workspace else None)
        items.append(types.ConfigurationItem(section="ty", scope_uri=scope))
    result = await _configuration(session, items, "")
    if result is None:  # an editor that errors here still gets defaults
        return
    found: list[Any] = list(result)
    problems = session.apply_ty_settings(found[1]) if ty and len(found) > 1 else []
    section: Any = found[0] if found else None
    source = "workspace/configuration"
    if section is not None:
        session.apply_settings(section, source=source, problems=problems)
    else:
        session.show_problems(problems, source)


async def _configuration(
    session: Session, items: list[types.ConfigurationItem], purpose: str
) -> list[Any] | None:
    """The editor's answer to ``workspace/configuration`` for ``items`` ([] for none), or
    None when it errs (logged once, naming ``purpose``)."""
    try:
        result = await session.lsp.workspace_configuration_async(
            types.ConfigurationParams(items=items)
        )
    except Exception as exc:  # whatever the editor errs with, the caller's defaults hold
        logger.warning("workspace/configuration%s failed: %s", purpose, exc)
        return None
    return list(result or [])


async def pull_folder_trust(session: Session, folders: list[Path]) -> None:
    """Ask the editor for the ``punie`` section of each folder (``scopeUri``): its
    ``trust`` is that folder's (``punie_lsp.session.trust``). Commands wait for the
    answer (``Session.folder_trust_settled``)."""
    if not session.client.configuration or not folders:
        return
    pull = asyncio.ensure_future(_ask_folder_trust(session, folders))
    session.trust_pulls.add(pull)
    pull.add_done_callback(session.trust_pulls.discard)
    await pull


async def _ask_folder_trust(session: Session, folders: list[Path]) -> None:
    items = [types.ConfigurationItem(scope_uri=f.as_uri(), section="punie") for f in folders]
    result = await _configuration(session, items, " for the folders' trust")
    if result is None:  # folders without an answer keep their default trust
        return
    for folder, section in zip(folders, result, strict=False):
        session.folder_trust.answered(folder, section)


async def initialized(session: Session, params: types.InitializedParams) -> None:
    if session.router.ty_start_error:  # its own message: not a setting that was ignored
        session.lsp.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Error, message=f"punie-lsp: {session.router.ty_start_error}"
            )
        )
    session.show_problems(session.settings_problems, "initializationOptions")
    await pull_configuration(session)
    await pull_folder_trust(session, session.folder_paths())


async def did_change_configuration(
    session: Session, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if not isinstance(settings, dict) or ("punie" not in settings and "ty" not in settings):
        await pull_configuration(session, ty=True)
    else:
        problems = session.apply_ty_settings(settings["ty"]) if "ty" in settings else []
        if "punie" in settings:
            session.apply_settings(
                settings["punie"], source="didChangeConfiguration", problems=problems
            )
        else:
            session.show_problems(problems, "didChangeConfiguration")
    await pull_folder_trust(session, session.folder_paths())


async def did_change_workspace_folders(
    session: Session, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    """A folder the editor removed stops its private ty (pygls has already dropped it
    from the workspace; ty itself got the notification too). An added folder is asked
    for its trust; its private ty starts with the first tool run in it."""
    await session.folders_removed([folder.uri for folder in params.event.removed or []])
    added = [Path(path) for f in params.event.added or [] if (path := to_fs_path(f.uri))]
    await pull_folder_trust(session, added)


HANDLERS = {
    types.INITIALIZED: initialized,
    types.WORKSPACE_DID_CHANGE_CONFIGURATION: did_change_configuration,
    types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS: did_change_workspace_folders,
}
"""LSP method -> handler; each takes the ``Session`` first."""
