"""Settings: the ``punie`` section of ``initializationOptions`` and ``workspace/configuration``.

Editors send camelCase JSON. It is resolved once into frozen dataclasses by a strict
cattrs converter, field by field: an unknown key, a value of the wrong type, or one
outside its field's range or choices (``Check`` in the field's metadata) is dropped and
named (the caller shows all of them in one ``window/showMessage``) and the default is
used, so one typo never costs the user the rest of their settings, and no command ever
fails because of a setting (a negative sandbox timeout once made every ``punie.runCode``
an internal error).

Lua (Neovim) cannot tell an empty object from an empty list and sends ``[]``: where
punie's settings expect an object, ``[]`` reads as ``{}`` (for ty's
settings, ``punie_lsp.wire.forwarding.ty_section`` does the same), ``[]`` reads as ``{}``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin, get_type_hints

import cattrs

__all__ = [
    "DEFAULT_MODEL",
    "Check",
    "SandboxSettings",
    "Settings",
    "resolve",
    "split_initialization_options",
]

DEFAULT_MODEL = "mlx:mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"
"""The model used when none is configured (README lists alternatives by memory)."""


@dataclass(frozen=True)
class Check:
    """A setting's allowed values: a range (``low``/``high``) or a rule returning a problem."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """``low`` itself is not allowed (a timeout must be above 0, not 0)."""
    rule: Callable[[Any], str | None] | None = None
    """The problem with a value (a sentence), or None when it is allowed."""

    def problem(self, value: Any) -> str | None:
        if self.rule is not None:
            return self.rule(value)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            relation = "above" if self.low_open else "at least"
            return f"must be {relation} {self.low:g}{self._upper()}, got {value!r}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high:g}, got {value!r}"
        return None

    def _upper(self) -> str:
        return f" and at most {self.high:g}" if self.high is not None else ""


def _checked(default: Any, check: Check) -> Any:
    return field(default=default, metadata={"check": check})


def _model_problem(value: str) -> str | None:
    # Imported here: ``agent.config`` loads the sandbox (~0.3 s), which the server has
    # loaded anyway by the time settings arrive; importing this module stays cheap.
    from agent.config import ModelSpecError, parse_model

    try:
        parse_model(value)
    except ModelSpecError as exc:
        return str(exc)
    return None


def _url_problem(value: str | None) -> str | None:
    if value is None or value.startswith(("http://", "https://")):
        return None
    return f"must be an http:// or https:// URL, got {value!r}"


@dataclass(frozen=True, kw_only=True)
class SandboxSettings:
    """Limits for model-written and user code run in the Monty sandbox."""

    timeout_seconds: float = _checked(30.0, Check(low=0, low_open=True, high=3600))
    """Wall-clock limit of one run, in seconds: above 0, at most an hour."""
    memory_mb: int = _checked(256, Check(low=16, high=65536))
    """Memory limit of one run, in MiB: 16 (what Monty needs to start) to 64 GiB."""
    max_tool_calls: int = _checked(200, Check(low=1, high=100_000))
    """Most tool calls one run may make, 1 to 100000 (a loop over many files needs more)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the ``punie`` section configures."""

    model: str = _checked(DEFAULT_MODEL, Check(rule=_model_problem))
    """``mlx:<hf-repo-or-path>`` runs in-process; ``openai:<name>`` uses ``base_url``."""
    base_url: str | None = _checked(None, Check(rule=_url_problem))
    """Base URL of an OpenAI-compatible server, for ``openai:`` models."""
    draft_model: str | None = None
    """Optional smaller model for speculative decoding with ``mlx:`` models."""
    adapter: str | None = None
    """A LoRA adapter directory for ``mlx:`` models (``punie-lsp train finetune``'s output)."""
    temperature: float = _checked(0.2, Check(low=0, high=2))
    """Sampling temperature, 0 to 2 (the range OpenAI-compatible servers accept)."""
    max_tokens: int = _checked(2048, Check(low=1, high=131072))
    """Most tokens one model turn may generate: 1 to 131072."""
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    """Sandbox limits."""
    edits: Literal["ask", "auto", "never"] = "ask"
    """Apply proposed edits automatically, after confirmation, or never (only return them)."""
    capture_traces: bool = False
    """Append each agent run to a JSONL trace file for training."""
    trust: bool = False
    """Whether the workspace may run its own code (``pytest_run``, its interpreter).

    Off by default, as VS Code opens a folder in restricted mode until the user trusts
    it: opening a repository must not run it. The VS Code extension sets it from VS
    Code's workspace trust; ``punie-lsp --trust`` trusts every workspace it opens.
    """


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _strict(expected: type, describe: str) -> Any:
    # cattrs would coerce ("false" -> True, "3" -> 3); a setting of the wrong JSON type
    # is a user mistake we name instead of guessing.
    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and expected is not bool:
            raise TypeError(f"expected {describe}, got a boolean")
        if not isinstance(value, expected):
            raise TypeError(f"expected {describe}, got {type(value).__name__}")
        return value

    return hook


def _converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(bool, _strict(bool, "true or false"))
    conv.register_structure_hook(str, _strict(str, "a string"))
    conv.register_structure_hook(int, _strict(int, "an integer"))

    def number(value: Any, _: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        return float(value)

    conv.register_structure_hook(float, number)

    def choice(value: Any, kind: Any) -> Any:
        allowed = get_args(kind)
        if value not in allowed or isinstance(value, bool):
            names = ", ".join(repr(a) for a in allowed)
            raise ValueError(f"expected one of {names}, got {value!r}")
        return value

    conv.register_structure_hook_func(lambda t: get_origin(t) is Literal, choice)
    return conv


_CONVERTER = _converter()


def _describe(exc: Exception) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc, path=""))
    return str(exc)


def _resolve_into(cls: Any, raw: Mapping[str, Any], path: str, problems: list[str]) -> Any:
    hints = get_type_hints(cls)
    by_camel = {_camel(f.name): f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = by_camel.get(key) or by_camel.get(_camel(_snake(key)))
        where = f"{path}{key}"
        if spec is None:
            problems.append(f"unknown setting '{where}'")
            continue
        kind = hints[spec.name]
        if dataclasses.is_dataclass(kind):
            if value == []:  # an empty Lua table
                value = {}
            if isinstance(value, Mapping):
                values[spec.name] = _resolve_into(kind, value, f"{where}.", problems)
            else:
                problems.append(f"'{where}' must be an object")
            continue
        try:
            structured = _CONVERTER.structure(value, kind)
        except Exception as exc:  # any structuring failure is reported the same way
            problems.append(f"invalid '{where}': {_describe(exc)}")
            continue
        check = spec.metadata.get("check")
        problem = check.problem(structured) if check is not None else None
        if problem is not None:
            problems.append(f"invalid '{where}': {problem}")
            continue
        values[spec.name] = structured
    return cls(**values)


def resolve(raw: Any, problems: list[str] | None = None) -> tuple[Settings, list[str]]:
    """Resolve a raw ``punie`` section into ``Settings`` and the problems found in it."""
    problems = [] if problems is None else problems
    if raw is None or raw == []:  # Lua (Neovim) encodes an empty table as []
        return Settings(), problems
    if not isinstance(raw, Mapping):
        problems.append("the 'punie' settings must be an object")
        return Settings(), problems
    return _resolve_into(Settings, raw, "punie.", problems), problems


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
    return punie, ty, []
