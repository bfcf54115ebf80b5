"""Settings as a user wrote them, resolved into ``agent.config.Settings`` with one line
per problem, in the words of the surface they came from.

``setting_problems`` turns Pydantic's validation errors into one line each, naming the
setting as its surface spells it (``'punie.sandbox.memoryMb'``, ``--memory-mb``): the
CLI refuses its flags with them. ``resolve_settings`` resolves an editor's ``punie``
section field by field: a bad value is named and its default used, except the model
settings (``agent.config.MODEL_SETTINGS``), which are never replaced by a default but
reported in ``ResolvedSettings.bad_model`` until the user fixes them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any, NamedTuple, get_args

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from agent.config import (
    DEFAULT_MODEL,
    MODEL_SETTINGS,
    ModelSpecError,
    Settings,
    bounds,
    parse_model,
)
from sandbox import WireModel

__all__ = [
    "BadModel",
    "ResolvedSettings",
    "bad_model",
    "resolve_settings",
    "setting_problems",
]


_EXPECTED = {
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "string_type": "expected a string",
}


def _field(top: type[WireModel], loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The field a validation error's location names (by alias or by name)."""
    field = None
    model: type[WireModel] | None = top
    for key in loc:
        if model is None:
            return None
        fields = {**model.model_fields, **{f.alias: f for f in model.model_fields.values()}}
        field = fields.get(str(key))
        if field is None:
            return None
        annotation = field.annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, WireModel)
            else None
        )
    return field


def _problem(error: ErrorDetails, field: FieldInfo | None) -> str:
    kind, value = error["type"], error.get("input")
    if kind in ("greater_than", "greater_than_equal", "less_than_equal") and field is not None:
        low, high, low_open = bounds(field)
        relation = "above" if low_open else "at least"
        range_ = f"{relation} {low:g}" if low is not None else ""
        if high is not None:
            range_ = f"{range_} and at most {high:g}" if range_ else f"at most {high:g}"
        return f"must be {range_}, got {value!r}"
    if kind == "literal_error" and field is not None:
        names = ", ".join(repr(a) for a in get_args(field.annotation))
        return f"expected one of {names}, got {value!r}"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {type(value).__name__}"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return error["msg"]


def setting_problems(
    exc: ValidationError, model: type[WireModel], name: Any
) -> list[tuple[tuple[int | str, ...], str]]:
    """Each error as ``(location, one line)``; ``name(location)`` spells the setting as
    its surface does (``'punie.sandbox.memoryMb'``, ``--memory-mb``)."""
    out = []
    for error in exc.errors():
        loc = error["loc"]
        if error["type"] == "extra_forbidden":
            out.append((loc, f"unknown setting {name(loc)}"))
        elif error["type"] in ("model_type", "dict_type"):
            out.append((loc, f"{name(loc)} must be an object"))
        else:
            out.append((loc, f"invalid {name(loc)}: {_problem(error, _field(model, loc))}"))
    return out


class BadModel(NamedTuple):
    """The model settings (``MODEL_SETTINGS``) cannot be used as written."""

    written: str
    """The ``model`` as the user wrote it (JSON text when it is not a string; the default
    model's name when the fault is in another model setting and ``model`` was unset)."""
    error: str
    """One line naming each setting at fault and its value, and what to write instead."""


class ResolvedSettings(NamedTuple):
    """A ``punie`` section resolved: the settings, what was dropped, and the model's fault."""

    settings: Settings
    problems: list[str]
    """One line per dropped value (an unknown key, a wrong type, a value outside its
    range or choices), in the order the user wrote them: its default is used."""
    bad_model: BadModel | None = None
    """The model settings when one of them (``MODEL_SETTINGS``: ``model``, ``baseUrl``,
    ``adapter``) cannot be used, else None. Their defaults are never used instead: a typo
    must not turn into a multi-GB download of the default model, another model answering,
    or the user's code sent to another server. ``settings`` then hold the defaults of the
    settings at fault, which nothing runs."""


def _json_text(value: Any) -> str:
    """A setting's value as the user wrote it, for one line of error (80 characters at most)."""
    written = json.dumps(value, ensure_ascii=False, default=repr)
    return written if len(written) <= 80 else written[:79] + "…"


def bad_model(value: Any, setting: str) -> BadModel | None:
    """``value`` as a ``BadModel`` when it cannot be the model setting (of the wrong type,
    empty, with an unknown prefix, naming no model), else None; ``setting`` is how the
    error names it (``'punie.model'``)."""
    if isinstance(value, str):
        try:
            parse_model(value)
        except ModelSpecError as exc:
            return BadModel(value, f"invalid {setting}: {exc}")
        return None
    written = _json_text(value)
    return BadModel(
        written,
        f"invalid {setting}: expected a string (mlx:<hf-repo-or-path>, openai:<name> or "
        f"test:), got {written}",
    )


def resolve_settings(raw: Any, section: str = "punie") -> ResolvedSettings:
    """A raw settings section resolved into ``Settings`` and the problems found in it.

    Field by field: an unknown key, a value of the wrong JSON type, or one outside its
    field's range or choices is dropped and named (in the order the user wrote them),
    and its default used, so one typo never costs the user the rest of their settings,
    and no command fails because of such a setting. ``None`` and ``[]`` (an empty Lua
    table) are an empty section.

    The exception is the model settings (``MODEL_SETTINGS``): a ``model`` that cannot be
    used (of the wrong type, empty, with an unknown prefix, naming no model), a
    ``baseUrl`` or an ``adapter`` of the wrong type or form, or a section that is not an
    object (its model settings cannot be read) is not replaced by the defaults but
    returned in ``bad_model``, which agent commands report (outcome ``model_error``)
    until the user fixes it.
    """
    if raw is None or raw == []:
        return ResolvedSettings(Settings(), [])
    if not isinstance(raw, Mapping):
        # Nothing in it can be read, the model settings included: never the defaults'
        # model (``"punie": "openai:coder"`` downloaded and ran the default 7B model).
        written = _json_text(raw)
        return ResolvedSettings(
            Settings(),
            [],
            BadModel(
                written,
                f"the '{section}' settings must be an object, got {written}: its model "
                f'settings cannot be read (write {{"model": …}})',
            ),
        )
    data: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    order = {key: n for n, key in enumerate(data)}
    problems: list[tuple[int, str]] = []
    model = bad_model(data["model"], f"'{section}.model'") if "model" in data else None
    if model is not None:
        del data["model"]
    written = data.get("model", DEFAULT_MODEL) if model is None else model.written
    refused: list[str] = [] if model is None else [model.error]
    # Both spellings: WireModel accepts ``base_url`` as well as ``baseUrl``.
    guarded = {*MODEL_SETTINGS, *(Settings.model_fields[f].alias for f in MODEL_SETTINGS)}

    def name(loc: tuple[int | str, ...]) -> str:
        return "'" + ".".join([section, *map(str, loc)]) + "'"

    for key, meant in _misspelt_model_settings(data):
        # ``"modle": "openai:coder"`` or ``"adaptor": …`` left the real one unset: the
        # default model, or the base model without its adapter, answered.
        refused.append(f"unknown setting {name((key,))}: did you mean {name((meant,))}?")
        if meant == "model" and "model" not in data and model is None:
            value = data[key]
            written = value if isinstance(value, str) else _json_text(value)
        del data[key]

    def resolved(settings: Settings) -> ResolvedSettings:
        bad = BadModel(str(written), "; ".join(refused)) if refused else None
        return ResolvedSettings(settings, [p for _, p in sorted(problems, key=_first)], bad)

    for _ in range(3):  # each round drops every field named; the next checks what is left
        try:
            return resolved(Settings.model_validate(data))
        except ValidationError as exc:
            for loc, problem in setting_problems(exc, Settings, name):
                if len(loc) == 1 and loc[0] in guarded:
                    refused.append(_refusal(problem, name(loc), data.get(str(loc[0]))))
                else:
                    problems.append((order.get(str(loc[0]), len(order)), problem))
                _drop(data, loc)
    return resolved(Settings())


def _misspelt_model_settings(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, meant)`` for each unknown key that is a near miss of a model setting the
    section leaves unset (``modle``, ``baseURL``, ``adaptor``, ``adapterPath``), by
    difflib's ratio on lower case (0.75: one transposition or swapped letter in a short
    name, or a word added to it)."""
    fields = Settings.model_fields
    known = {*fields, *(f.alias for f in fields.values())}
    meant_by = {
        spelling.lower(): fields[f].alias or f
        for f in MODEL_SETTINGS
        for spelling in (f, fields[f].alias or f)
    }
    out = []
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(key.lower(), list(meant_by), n=1, cutoff=0.75)
        if not close:
            continue
        meant = meant_by[close[0]]
        field = next(f for f in MODEL_SETTINGS if (fields[f].alias or f) == meant)
        if meant not in data and field not in data:
            out.append((key, meant))
    return out


def _refusal(problem: str, setting: str, value: Any) -> str:
    """A model setting's problem naming the value as written (a wrong type's line names
    only the type: ``expected a string, got int``)."""
    if isinstance(value, str):
        return problem
    return f"invalid {setting}: expected a string or null, got {_json_text(value)}"


def _first(item: tuple[int, str]) -> int:
    return item[0]


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    parent: Any = data
    for key in loc[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        parent.pop(str(loc[-1]), None)
