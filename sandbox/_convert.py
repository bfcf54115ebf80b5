"""Values crossing the sandbox boundary, in both directions.

Into the sandbox: Monty accepts JSON-like values, tuples, sets, bytes, dates and
``Decimal``, but refuses arbitrary host objects unless wrapped in ``ClassInstance``
(DESIGN.md, known traps). Tool results are Pydantic models, so ``to_monty`` wraps each
model (recursively) in a ``ClassInstance`` exposing exactly its fields: the program gets
attribute access and list indexing (``r.errors[0].line``), no methods, no dunders, and
when it returns the object the host receives the original model back.

Out of the sandbox: the returned value and the arguments of tool calls become JSON
(``to_json``) so ``RunResult`` can cross LSP and land in training traces unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, JsonValue
from pydantic_monty import ClassInstance, MontyClassProxy, MontyClassTypeProxy, MontyStdTypeProxy

__all__ = ["TRACE_TEXT_LIMIT", "ModelInstance", "to_json", "to_monty", "trace_value"]

TRACE_TEXT_LIMIT = 2000
"""Longest text or bytes a call's trace shows; longer ones are shown by size only.

The trace travels back to the model, the editor and training files: a 200 MB
``write_file`` argument must not be echoed into a 200 MB answer."""

_MAX_JSON_DEPTH = 64
"""Nesting beyond this is rendered with ``repr``: a cyclic or absurdly deep value must
not turn into a host ``RecursionError`` while we report on it."""


class ModelInstance(ClassInstance):
    """A Pydantic model (or dataclass) as the sandbox sees it: its fields, read-only-ish.

    Fields cross eagerly (one round trip per result, not per attribute), nested models
    are wrapped the same way through ``convert_value``, and no methods are exposed, so
    ``model_dump``, ``__class__`` tricks or validators never run host code on demand.
    """

    def convert_value(self, /, name: str, value: Any) -> Any:
        """Wrap nested models and normalise leaves Monty cannot take (enums, UUIDs)."""
        return to_monty(value)


def _field_names(value: BaseModel) -> tuple[str, ...]:
    """Declared and computed fields: what the generated stubs promise the program."""
    model = type(value)
    return (*model.model_fields, *model.model_computed_fields)


def to_monty(value: Any) -> Any:
    """Convert a host value (a tool result) into something Monty accepts, recursively."""
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    if isinstance(value, BaseModel):
        return ModelInstance(value, eager_attrs=_field_names(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ModelInstance(value, eager_attrs="all")
    if isinstance(value, Mapping):
        return {to_monty(key): to_monty(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [to_monty(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, set | frozenset):
        return {to_monty(item) for item in value}
    if isinstance(value, enum.Enum):
        return to_monty(value.value)
    if isinstance(value, PurePath | uuid.UUID):
        # Monty would render a PurePath as a *sandbox* path object; the program wants the
        # string the tool reported, as the stubs declare it.
        return str(value)
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta | decimal.Decimal):
        return value
    raise TypeError(
        f"cannot pass a {type(value).__qualname__} into the sandbox; "
        "return a Pydantic model or JSON-like values from externals"
    )


def trace_value(value: Any) -> JsonValue:
    """``to_json(value)`` with every text or bytes over ``TRACE_TEXT_LIMIT`` replaced by
    ``"<N characters>"`` (``"<N bytes>"``), so a call log shows sizes, not contents."""
    if isinstance(value, str):
        return value if len(value) <= TRACE_TEXT_LIMIT else f"<{len(value):,} characters>"
    if isinstance(value, bytes | bytearray):
        return to_json(value) if len(value) <= TRACE_TEXT_LIMIT else f"<{len(value):,} bytes>"
    if isinstance(value, Mapping):
        return {_json_key(key): trace_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [trace_value(item) for item in value]
    return to_json(value)


def to_json(value: Any, *, _depth: int = 0) -> JsonValue:
    """Render a value that came out of the sandbox (or went into a tool) as JSON.

    Lossy by design for what JSON lacks: tuples and sets become lists, bytes are decoded
    as UTF-8 with replacement, non-finite floats become strings, dataclass instances
    made in the sandbox become their attribute dicts, anything unknown its ``repr``.
    """
    if _depth > _MAX_JSON_DEPTH:
        return repr(value)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, ClassInstance):
        return to_json(value.value, _depth=_depth + 1)
    if isinstance(value, Mapping):
        return {_json_key(key): to_json(item, _depth=_depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item, _depth=_depth + 1) for item in value]
    if isinstance(value, MontyClassProxy):
        return to_json(value.attributes, _depth=_depth + 1)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, _depth=_depth + 1
        )
    if isinstance(value, enum.Enum):
        return to_json(value.value, _depth=_depth + 1)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, MontyStdTypeProxy | MontyClassTypeProxy):
        return f"<{getattr(value, 'kind', 'class')} {value.name}>"
    if isinstance(value, type):
        return f"<class {value.__name__}>"
    if isinstance(value, PurePath | uuid.UUID | decimal.Decimal | datetime.timedelta):
        return str(value)
    return repr(value)


def _json_key(key: Any) -> str:
    """JSON object keys are strings; other keys keep their readable form."""
    return key if isinstance(key, str) else str(to_json(key))
