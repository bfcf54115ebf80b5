"""The settings, in one model: what an editor's ``punie`` section, the CLI's flags and the
agent itself are configured with.

``Settings`` is the user-facing shape (camelCase on the wire from Pydantic's alias
generator, snake_case in Python; every range and choice on the field itself).
``AgentConfig`` is the same settings plus the budgets no user sets (tests, benchmarks
and training set them). ``agent`` never imports ``punie_lsp``: the server resolves its
``punie`` section with ``resolve_settings`` and builds the ``AgentConfig`` from it; the
CLI validates its flags against the same fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple, get_args
from urllib.parse import urlsplit

import annotated_types
from pydantic import AfterValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from sandbox import SandboxLimits, WireModel

__all__ = [
    "DEFAULT_MODEL",
    "SETTING_NAMES",
    "AgentConfig",
    "Backend",
    "BadModel",
    "EditsMode",
    "ModelSpecError",
    "ResolvedSettings",
    "SandboxSettings",
    "Settings",
    "Surface",
    "bad_model",
    "bounds",
    "error_line",
    "parse_model",
    "resolve_settings",
    "setting_problems",
]

DEFAULT_MODEL = "mlx:mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"
"""The model used when none is configured (the README lists alternatives by memory)."""

Backend = Literal["mlx", "openai", "test"]
"""The part of a model string before the colon."""

_BACKENDS: dict[str, Backend] = {"mlx": "mlx", "openai": "openai", "test": "test"}


class ModelSpecError(ValueError):
    """The model setting cannot be used as written; the message says how to fix it."""


def error_line(exc: BaseException) -> str:
    """The error as one line: users get one line of error, never a dump."""
    return " ".join(str(exc).split())


def parse_model(model: str) -> tuple[Backend, str]:
    """Split ``backend:name``; a string without a known backend prefix is refused by name."""
    prefix, sep, name = model.partition(":")
    backend = _BACKENDS.get(prefix)
    if not sep or backend is None:
        raise ModelSpecError(
            f"unknown model {model!r}: write mlx:<hf-repo-or-path> (mlx-lm on this machine), "
            "openai:<name> with a base URL (an OpenAI-compatible server) or test:"
        )
    if backend != "test" and not name:
        raise ModelSpecError(f"model {model!r} names no model after '{backend}:'")
    return backend, name


Surface = Literal["editor", "cli"]
"""Where settings come from: editor settings (``punie.*``) or command-line flags."""

SETTING_NAMES: dict[Surface, dict[str, str]] = {
    "editor": {
        "model": "punie.model",
        "base_url": "punie.baseUrl",
        "adapter": "punie.adapter",
        "request_timeout_seconds": "punie.requestTimeoutSeconds",
        "max_tokens": "punie.maxTokens",
    },
    "cli": {
        "model": "--model",
        "base_url": "--base-url",
        "adapter": "--adapter",
        "request_timeout_seconds": "--request-timeout-seconds",
        "max_tokens": "--max-tokens",
    },
}
"""Each ``AgentConfig`` field a user sets, as each surface names it (for error messages)."""

EditsMode = Literal["ask", "auto", "never"]
"""What the server does with a run's proposed edits: ``ask`` the user first (the
editor's confirmation, else ``window/showMessageRequest``), apply them (``auto``), or
only return them (``never``). The agent itself never asks: ``write_file`` proposes."""


def _known_model(value: str) -> str:
    parse_model(value)  # a ModelSpecError is a ValueError: Pydantic reports its message
    return value


def _http_url(value: str | None) -> str | None:
    if value is None:
        return value
    url = urlsplit(value)
    if url.scheme in ("http", "https") and url.hostname:
        return value
    raise ValueError(
        f"must be an http:// or https:// URL, got {value!r}: write the server's address "
        "with its /v1 path, e.g. http://127.0.0.1:11434/v1 for Ollama"
    )


_SETTINGS_CONFIG = ConfigDict(strict=True, extra="forbid")
"""Settings come from JSON a user wrote: no coercion (``"false"`` is not ``False``, ``"3"``
is not ``3``), and an unknown key is a mistake to name, not to ignore."""


class SandboxSettings(WireModel):
    """Limits for model-written and user code run in the Monty sandbox (``punie.sandbox``)."""

    model_config = _SETTINGS_CONFIG

    timeout_seconds: float = Field(30.0, gt=0, le=3600)
    """Wall-clock limit of one run, in seconds: above 0, at most an hour."""
    memory_mb: int = Field(256, ge=16, le=65536)
    """Memory limit of one run, in MiB: 16 (what Monty needs to start) to 64 GiB."""
    max_tool_calls: int = Field(200, ge=1, le=100_000)
    """Most tool calls one run may make, 1 to 100000 (a loop over many files needs more)."""

    def limits(self) -> SandboxLimits:
        """These settings as the sandbox's limits (its other limits keep their defaults)."""
        return SandboxLimits(
            timeout_seconds=self.timeout_seconds,
            memory_mb=self.memory_mb,
            max_tool_calls=self.max_tool_calls,
        )


class Settings(WireModel):
    """Everything a user configures: the editor's ``punie`` section, the CLI's flags.

    The README's Configuration table lists these fields by their camelCase names.
    """

    model_config = _SETTINGS_CONFIG

    model: Annotated[str, AfterValidator(_known_model)] = DEFAULT_MODEL
    """``mlx:<hf-repo-or-path>`` runs in-process; ``openai:<name>`` uses ``base_url``;
    ``test:`` is Pydantic AI's test model."""
    base_url: Annotated[str | None, AfterValidator(_http_url)] = None
    """The OpenAI-compatible server for ``openai:`` models, e.g. ``http://127.0.0.1:8080/v1``."""
    draft_model: str | None = None
    """A smaller model for speculative decoding, ``mlx:`` models only."""
    adapter: str | None = None
    """A LoRA adapter directory (``punie-lsp train finetune`` writes one), ``mlx:`` models only."""
    temperature: float = Field(0.2, ge=0, le=2)
    """Sampling temperature of every model turn, 0 to 2 (what OpenAI-compatible servers accept)."""
    max_tokens: int = Field(2048, ge=1, le=131072)
    """Most tokens one model turn may generate: 1 to 131072. A reply that reaches it
    unfinished ends the run (outcome ``usage_limit``, ``agent.recognising_model.ReplyCut``)."""
    request_timeout_seconds: float = Field(120.0, gt=0, le=3600)
    """How long an OpenAI-compatible server may send nothing, in seconds: before its first
    byte (prefill included) and between streamed chunks. A server that accepts the
    connection and hangs fails after this, naming the setting; above 0, at most an hour."""
    sandbox: SandboxSettings = SandboxSettings()
    """Limits of each sandbox run (``execute_code``, ``punie.runCode``)."""
    edits: EditsMode = "ask"
    """What the server does with proposed edits (read by the server only)."""
    capture_traces: bool = False
    """Append each agent run in the editor to a JSONL trace file for training (the server)."""
    trust: bool = False
    """Whether the workspace may run its own code (``pytest_run``, its interpreter).

    Off by default, as VS Code opens a folder in restricted mode until the user trusts
    it: opening a repository must not run it. The VS Code extension sets it from VS
    Code's workspace trust; ``punie-lsp --trust`` trusts every workspace it opens.
    """

    @field_validator("sandbox", mode="before")
    @classmethod
    def _lua_empty_table(cls, value: Any) -> Any:
        # Lua (Neovim) cannot tell an empty object from an empty list and sends [].
        return {} if value == [] else value


class AgentConfig(Settings):
    """The settings plus the budgets that keep a run bounded, which no user sets.

    The server builds one from its resolved ``Settings``; the CLI from its flags; tests,
    benchmarks and training directly. A value outside a setting's range raises
    ``pydantic.ValidationError`` here, naming the field.
    """

    api_key: str | None = None
    """Key for the ``openai:`` server; None reads ``OPENAI_API_KEY`` (local servers ignore it)."""
    type_check: bool = True
    """Type-check each program against the tool stubs before it runs.

    A misspelt field or wrong argument then fails before any tool runs, with a message
    the model can act on; it costs milliseconds per program (see the benchmarks).
    """
    warm_sandbox: bool = True
    """Keep a spare sandbox session open for each run's next program (``sandbox._session``).

    Opened while the model writes, it saves a program the checkout (about a
    millisecond), and it sets up the pool's type checker at the run's start if it was
    not set up yet. It holds one more pool worker while a run is in progress. Off:
    each program checks out a session when it is submitted.
    """
    code_retries: int = 3
    """How many failed ``execute_code`` runs in a row the model may fix before the run fails."""
    request_limit: int = 12
    """Model requests per prompt: a model looping on tool calls stops here."""
    total_tokens_limit: int | None = 200_000
    """Input plus output tokens per prompt, summed over its model requests."""
    history_tokens: int = 6_000
    """Estimated tokens of earlier turns kept in a conversation; older turns are dropped.

    Small local models lose track of their tools in long prompts (Punie saw tool calling
    break near 20K characters of prompt), so the budget is deliberately modest.
    """
    connect_timeout_seconds: float = 5.0
    """How long to wait for that server to accept a connection before naming it unreachable."""
    surface: Surface = "editor"
    """Where the user configures this agent, so errors name what to change there:
    ``punie.baseUrl`` in an editor, ``--base-url`` on the command line."""


def bounds(field: FieldInfo) -> tuple[float | None, float | None, bool]:
    """A numeric field's ``(low, high, low_open)`` from its ``Field(gt/ge/le)``; for
    messages, CLI help and the editors' JSON schemas (the range lives on the field)."""
    low: float | None = None
    high: float | None = None
    low_open = False
    for item in field.metadata:
        if isinstance(item, annotated_types.Gt):
            low, low_open = float(item.gt), True
        elif isinstance(item, annotated_types.Ge):
            low = float(item.ge)
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)
    return low, high, low_open


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
    """A ``model`` setting that cannot be used as written."""

    written: str
    """The value as the user wrote it (JSON text when it is not a string)."""
    error: str
    """One line naming the setting and the value, and what to write instead."""


class ResolvedSettings(NamedTuple):
    """A ``punie`` section resolved: the settings, what was dropped, and the model's fault."""

    settings: Settings
    problems: list[str]
    """One line per dropped value (an unknown key, a wrong type, a value outside its
    range or choices), in the order the user wrote them: its default is used."""
    bad_model: BadModel | None = None
    """The ``model`` setting when it cannot be used, else None (valid or unset). The one
    setting whose default is never used instead: a typo must not turn into a multi-GB
    download of the default model, or another model answering. ``settings.model`` then
    holds the default, which nothing runs."""


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
    written = json.dumps(value, ensure_ascii=False, default=repr)
    if len(written) > 80:
        written = written[:79] + "…"
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

    The exception is ``model``: a value that cannot be used (of the wrong type, empty,
    with an unknown prefix, naming no model) is not replaced by the default but returned
    as ``bad_model``, which agent commands report (outcome ``model_error``) until the
    user fixes it.
    """
    if raw is None or raw == []:
        return ResolvedSettings(Settings(), [])
    if not isinstance(raw, Mapping):
        return ResolvedSettings(Settings(), [f"the '{section}' settings must be an object"])
    data: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    order = {key: n for n, key in enumerate(data)}
    problems: list[tuple[int, str]] = []
    model = bad_model(data["model"], f"'{section}.model'") if "model" in data else None
    if model is not None:
        del data["model"]

    def name(loc: tuple[int | str, ...]) -> str:
        return "'" + ".".join([section, *map(str, loc)]) + "'"

    def resolved(settings: Settings) -> ResolvedSettings:
        return ResolvedSettings(settings, [p for _, p in sorted(problems, key=_first)], model)

    for _ in range(3):  # each round drops every field named; the next checks what is left
        try:
            return resolved(Settings.model_validate(data))
        except ValidationError as exc:
            for loc, problem in setting_problems(exc, Settings, name):
                problems.append((order.get(str(loc[0]), len(order)), problem))
                _drop(data, loc)
    return resolved(Settings())


def _first(item: tuple[int, str]) -> int:
    return item[0]


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    parent: Any = data
    for key in loc[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        parent.pop(str(loc[-1]), None)
