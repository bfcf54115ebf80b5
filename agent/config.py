"""The settings, in one model: what an editor's ``punie`` section, the CLI's flags and the
agent itself are configured with.

``Settings`` is the user-facing shape (camelCase on the wire from Pydantic's alias
generator, snake_case in Python; every range and choice on the field itself).
``AgentConfig`` is the same settings plus the budgets no user sets (tests, benchmarks
and training set them). ``agent`` never imports ``punie_lsp``: the server resolves its
``punie`` section with ``agent.settings_resolution.resolve_settings`` and builds the
``AgentConfig`` from it; the CLI validates its flags against the same fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import annotated_types
from pydantic import AfterValidator, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from sandbox import SandboxLimits, WireModel

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_SETTINGS",
    "SETTING_NAMES",
    "AgentConfig",
    "Backend",
    "EditsMode",
    "ModelSpecError",
    "SandboxSettings",
    "Settings",
    "Surface",
    "bounds",
    "error_line",
    "parse_model",
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
        "draft_model": "punie.draftModel",
        "request_timeout_seconds": "punie.requestTimeoutSeconds",
        "max_tokens": "punie.maxTokens",
    },
    "cli": {
        "model": "--model",
        "base_url": "--base-url",
        "adapter": "--adapter",
        "draft_model": "--draft-model",
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
    """The OpenAI-compatible server for ``openai:`` models, e.g. ``http://127.0.0.1:8080/v1``.

    There is no default endpoint: an ``openai:`` model without one is refused (naming
    this setting), whatever ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` say, so a prompt
    and the user's code go only where the user wrote (``agent.backends``)."""
    draft_model: str | None = None
    """A smaller model for speculative decoding, ``mlx:`` models only. It only speeds
    answers up (the model's own tokens are kept), so a bad value is named and none used;
    one that cannot be loaded fails the run naming it."""
    adapter: str | None = None
    """A LoRA adapter directory (``punie-lsp train finetune`` writes one), ``mlx:`` models
    only. One that cannot be loaded fails the run naming it, never the base model
    answering without it (``agent._mlx_load``)."""
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

    @field_validator("base_url", "draft_model", "adapter", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # A settings UI writes "" when the user clears a text box (VS Code for a
        # string-or-null setting): unset, as null is, not a value to refuse.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sandbox", mode="before")
    @classmethod
    def _lua_empty_table(cls, value: Any) -> Any:
        # Lua (Neovim) cannot tell an empty object from an empty list and sends [].
        return {} if value == [] else value


MODEL_SETTINGS = ("model", "base_url", "adapter")
"""The settings that decide which model answers and where the user's prompts and code
go. A bad value of one of these is never replaced by its default
(``agent.settings_resolution``): the default ``model`` is a multi-GB download or
another model answering, no ``baseUrl`` would let the OpenAI client pick its own
endpoint, no ``adapter`` is the base model answering without the user's training. The
other settings only tune how the model and the tools run (sampling, limits, timeouts,
the edit policy, traces, trust), and their defaults are the cautious choice, so a bad
one is named and its default used."""


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
