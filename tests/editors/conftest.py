"""Shared by the editor tests: where the editor set-ups live, what the server serves."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from punie_lsp.settings import Settings

EDITORS = Path(__file__).resolve().parents[2] / "editors"

AGENT_COMMANDS = (
    "punie.ask",
    "punie.fix",
    "punie.explain",
    "punie.writeTests",
    "punie.resetConversation",
)
"""The agent commands DESIGN.md's LSP contract names."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json_type(hint: Any) -> tuple[Any, list[Any] | None]:
    """The JSON schema ``type`` (and ``enum``) a settings field's annotation means."""
    if get_origin(hint) is Literal:
        return "string", list(get_args(hint))
    if get_origin(hint) in (types.UnionType, typing.Union):
        members = [a for a in get_args(hint) if a is not type(None)]
        assert len(members) == 1, hint
        inner, enum = _json_type(members[0])
        return [inner, "null"], enum
    names = {str: "string", bool: "boolean", int: "integer", float: "number"}
    return names[hint], None


def server_settings(defaults: object = Settings(), prefix: str = "punie.") -> dict[str, tuple]:
    """``punie.*`` keys (camelCase, nested objects dotted) → (type, enum, default)."""
    assert dataclasses.is_dataclass(defaults)
    out: dict[str, tuple] = {}
    hints = get_type_hints(type(defaults))
    for f in dataclasses.fields(defaults):
        key = prefix + _camel(f.name)
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            out.update(server_settings(value, key + "."))
            continue
        kind, enum = _json_type(hints[f.name])
        out[key] = (kind, enum, value)
    return out


def server_bounds(defaults: object = Settings(), prefix: str = "punie.") -> dict[str, dict]:
    """``punie.*`` keys -> their JSON-schema bounds, from the settings' ``Check`` ranges."""
    assert dataclasses.is_dataclass(defaults)
    out: dict[str, dict] = {}
    for f in dataclasses.fields(defaults):
        key = prefix + _camel(f.name)
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            out.update(server_bounds(value, key + "."))
            continue
        check = f.metadata.get("check")
        bounds: dict = {}
        if check is not None and check.low is not None:
            bounds["exclusiveMinimum" if check.low_open else "minimum"] = check.low
        if check is not None and check.high is not None:
            bounds["maximum"] = check.high
        out[key] = bounds
    return out
