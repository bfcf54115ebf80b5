"""After ``initialize``: report settings problems and pull configuration.

Settings come first from ``initializationOptions``; when the editor supports
``workspace/configuration`` the ``punie`` section is pulled after ``initialized`` and
again on every ``workspace/didChangeConfiguration`` (which ty receives as well).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from punie_lsp.server.language_server import PunieLanguageServer

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _supports_configuration(ls: PunieLanguageServer) -> bool:
    workspace = ls.client_capabilities.workspace
    return bool(workspace and workspace.configuration)


async def pull_configuration(ls: PunieLanguageServer) -> None:
    """Ask the editor for the ``punie`` section and apply it."""
    if not _supports_configuration(ls):
        return
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="punie")])
        )
    except Exception as exc:  # an editor that errors here still gets defaults
        logger.warning("workspace/configuration failed: %s", exc)
        return
    section: Any = result[0] if result else None
    if section is not None:
        ls.apply_settings(section, source="workspace/configuration 'punie'")


async def initialized(ls: PunieLanguageServer, params: types.InitializedParams) -> None:
    ls.show_problems(ls.settings_problems, "initializationOptions")
    await pull_configuration(ls)


async def did_change_configuration(
    ls: PunieLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if isinstance(settings, dict) and "punie" in settings:
        ls.apply_settings(settings["punie"], source="didChangeConfiguration 'punie'")
    else:
        await pull_configuration(ls)


def register(ls: PunieLanguageServer) -> None:
    """Handlers take the server as ``ls``; pygls passes it in."""
    ls.feature(types.INITIALIZED)(initialized)
    ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
