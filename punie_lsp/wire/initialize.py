"""``initialize`` on the wire: what punie advertises, and what ty is started with.

The editor's ``initialize`` is answered with ty's capabilities plus punie's own (its
commands, its code action kinds), as soon as ty has answered and before pygls has
loaded. ty is started with the editor's params, except: ``processId`` is ours (ty
watches its parent), and ``initializationOptions`` is the editor's ``ty`` section.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlparse

from punie_lsp.wire.forwarding import ty_section

__all__ = [
    "FALLBACK_CAPABILITIES",
    "PUNIE_COMMANDS",
    "editor_capabilities",
    "ty_cwd",
    "ty_initialize_params",
    "ty_settings",
]

PUNIE_COMMANDS: tuple[str, ...] = (
    "punie.ask",
    "punie.fix",
    "punie.explain",
    "punie.writeTests",
    "punie.resetConversation",
    "punie.status",
    "punie.tool",
    "punie.runCode",
)
"""``workspace/executeCommand`` commands punie serves itself (advertised with ty's)."""

FALLBACK_CAPABILITIES: dict[str, Any] = {
    "textDocumentSync": {"openClose": True, "change": 2, "save": {"includeText": False}},
}
"""What punie advertises when ty cannot start: it still tracks documents for the agent."""


def editor_capabilities(
    ty_capabilities: Mapping[str, Any],
    ty_commands: Iterable[str],
    code_action_kinds: Iterable[str],
) -> dict[str, Any]:
    """ty's ``ServerCapabilities`` with punie's code action kinds and commands added."""
    capabilities = dict(ty_capabilities)
    ty_actions = capabilities.get("codeActionProvider")
    kinds = ty_actions.get("codeActionKinds", []) if isinstance(ty_actions, dict) else []
    capabilities["codeActionProvider"] = {
        **(ty_actions if isinstance(ty_actions, dict) else {}),
        "codeActionKinds": [*kinds, *(k for k in code_action_kinds if k not in kinds)],
    }
    capabilities["executeCommandProvider"] = {
        "commands": [*ty_commands, *PUNIE_COMMANDS],
        "workDoneProgress": True,
    }
    return capabilities


def ty_settings(initialize_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The editor's ``ty`` section of ``initializationOptions`` (``{}`` when none)."""
    options = (initialize_params or {}).get("initializationOptions")
    section = ty_section(options.get("ty")) if isinstance(options, dict) else None
    return dict(section) if isinstance(section, dict) else {}


def ty_initialize_params(
    initialize_params: Mapping[str, Any] | None,
    workspace_folders: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """ty's ``InitializeParams``: the editor's, with our pid and its ``ty`` options.

    ``workspace_folders`` (a restart: folders may have changed since) replaces the
    editor's initial ones when given.
    """
    raw = dict(initialize_params or {})
    raw["processId"] = os.getpid()
    options = raw.get("initializationOptions")
    raw["initializationOptions"] = (
        ty_section(options.get("ty")) if isinstance(options, dict) else None
    )
    if workspace_folders is not None:
        raw["workspaceFolders"] = workspace_folders or None
    return raw


def ty_cwd(initialize_params: Mapping[str, Any] | None) -> str | None:
    """The folder ty runs in: the first workspace folder on disk, else ``rootPath``."""
    for folder in (initialize_params or {}).get("workspaceFolders") or []:
        uri = folder.get("uri", "") if isinstance(folder, dict) else ""
        parsed = urlparse(uri)
        if parsed.scheme == "file" and os.path.isdir(unquote(parsed.path)):
            return unquote(parsed.path)
    root = (initialize_params or {}).get("rootPath")
    return root if isinstance(root, str) and os.path.isdir(root) else None
