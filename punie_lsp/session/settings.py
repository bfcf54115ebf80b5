"""Settings: the ``punie`` section of ``initializationOptions`` and ``workspace/configuration``.

The model is ``agent.config.Settings`` (one Pydantic model for the editor, the CLI and
the agent: camelCase from Pydantic's alias generator, ranges and choices on its fields).
This module adds what only an editor needs: resolving a section field by field (every
bad value named, the rest kept, a bad ``model`` never replaced by the default;
``agent.settings_resolution.resolve_settings``) and splitting
``initializationOptions`` into punie's and ty's sections.

Lua (Neovim) cannot tell an empty object from an empty list and sends ``[]``: where
punie's settings expect an object, ``[]`` reads as ``{}`` (for ty's settings,
``punie_lsp.wire.forwarding.ty_section`` does the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.config import SandboxSettings, Settings
from agent.settings_resolution import ResolvedSettings, resolve_settings

__all__ = [
    "ResolvedSettings",
    "SandboxSettings",
    "Settings",
    "resolve",
    "split_initialization_options",
    "ty_settings",
]

TY_NOT_AN_OBJECT = "the 'ty' settings must be an object (ty's own); ty uses its defaults"


def resolve(raw: Any, problems: list[str] | None = None) -> ResolvedSettings:
    """Resolve a raw ``punie`` section; ``problems`` (found before, e.g. in the shape of
    ``initializationOptions``) come first, then one line per dropped value (an unknown
    key, a wrong type, a value outside its range or choices). A model setting that cannot
    be used (``model``, ``baseUrl``, ``adapter``) is ``bad_model``, not a dropped value
    (``agent.settings_resolution.resolve_settings``)."""
    resolved = resolve_settings(raw, "punie")
    return resolved._replace(problems=[*(problems or []), *resolved.problems])


def ty_settings(raw: Any) -> tuple[Mapping[str, Any] | None, list[str]]:
    """The ``ty`` section as an object (None: not given) and its problem, if any.

    Lua's ``[]`` is ``{}``; any other value that is not an object is named in one
    problem and ty uses its defaults (``{}``), as at ``initialize``.
    """
    if raw is None:
        return None, []
    if raw == []:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [TY_NOT_AN_OBJECT]
    return raw, []


def split_initialization_options(options: Any) -> tuple[Any, Any, list[str]]:
    """Split ``initializationOptions`` into the ``punie`` and ``ty`` sections.

    The documented form is ``{"punie": {...}, "ty": {...}}``. Punie's keys at the top
    level are accepted too (some editors make nesting awkward); other keys are named.
    """
    if options is None:
        return None, None, []
    if not isinstance(options, Mapping):
        return None, None, ["initializationOptions must be an object"]
    punie = options.get("punie")
    ty = options.get("ty")
    flat = {k: v for k, v in options.items() if k not in ("punie", "ty")}
    if flat:
        if punie is None:
            punie = flat
        elif isinstance(punie, Mapping):
            punie = {**flat, **punie}
    if ty is not None and ty != [] and not isinstance(ty, Mapping):  # [] is Lua's {}
        return punie, None, [TY_NOT_AN_OBJECT]
    return punie, ty, []
