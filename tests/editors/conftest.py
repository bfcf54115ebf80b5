"""Shared by the editor tests: where the editor set-ups live, what the server serves."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agent.config import Settings, bounds

EDITORS = Path(__file__).resolve().parents[2] / "editors"

AGENT_COMMANDS = (
    "punie.ask",
    "punie.fix",
    "punie.explain",
    "punie.writeTests",
    "punie.resetConversation",
)
"""The agent commands DESIGN.md's LSP contract names."""


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


def _nested(field: FieldInfo) -> type[BaseModel] | None:
    kind = field.annotation
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def server_settings(model: type[BaseModel] = Settings, prefix: str = "punie.") -> dict[str, tuple]:
    """``punie.*`` keys (camelCase, nested objects dotted) → (type, enum, default)."""
    out: dict[str, tuple] = {}
    for field in model.model_fields.values():
        key = prefix + str(field.alias)
        nested = _nested(field)
        if nested is not None:
            out.update(server_settings(nested, key + "."))
            continue
        kind, enum = _json_type(field.annotation)
        out[key] = (kind, enum, field.default)
    return out


def server_bounds(model: type[BaseModel] = Settings, prefix: str = "punie.") -> dict[str, dict]:
    """``punie.*`` keys -> their JSON-schema bounds, from the settings fields' ranges."""
    out: dict[str, dict] = {}
    for field in model.model_fields.values():
        key = prefix + str(field.alias)
        nested = _nested(field)
        if nested is not None:
            out.update(server_bounds(nested, key + "."))
            continue
        low, high, low_open = bounds(field)
        found: dict = {}
        if low is not None:
            found["exclusiveMinimum" if low_open else "minimum"] = low
        if high is not None:
            found["maximum"] = high
        out[key] = found
    return out
