"""What one agent is configured with: the model and the budgets of each run.

``agent`` never imports ``punie_lsp``: the server maps its ``Settings`` onto this
dataclass in one place, and the CLI, tests and training build it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sandbox import SandboxLimits

__all__ = [
    "DEFAULT_MODEL",
    "SETTING_NAMES",
    "AgentConfig",
    "Backend",
    "EditsMode",
    "ModelSpecError",
    "Surface",
    "parse_model",
]

DEFAULT_MODEL = "mlx:mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"
"""Same default as the server's ``punie.model`` (the README lists alternatives by memory)."""

Backend = Literal["mlx", "openai", "test"]
"""The part of a model string before the colon."""

_BACKENDS: dict[str, Backend] = {"mlx": "mlx", "openai": "openai", "test": "test"}


class ModelSpecError(ValueError):
    """The model setting cannot be used as written; the message says how to fix it."""


def parse_model(model: str) -> tuple[Backend, str]:
    """Split ``backend:name``; a string without a known backend prefix is refused by name."""
    prefix, sep, name = model.partition(":")
    backend = _BACKENDS.get(prefix)
    if not sep or backend is None:
        raise ModelSpecError(
            f"unknown model {model!r}: write mlx:<hf-repo-or-path> (in-process), "
            "openai:<name> with a base URL (an OpenAI-compatible server) or test:"
        )
    if backend != "test" and not name:
        raise ModelSpecError(f"model {model!r} names no model after '{backend}:'")
    return backend, name


Surface = Literal["editor", "cli"]
"""Where settings come from: editor settings (``punie.*``) or command-line flags."""

SETTING_NAMES: dict[Surface, dict[str, str]] = {
    "editor": {"model": "punie.model", "base_url": "punie.baseUrl", "adapter": "punie.adapter"},
    "cli": {"model": "--model", "base_url": "--base-url", "adapter": "--adapter"},
}
"""Each ``AgentConfig`` field a user sets, as each surface names it (for error messages)."""

EditsMode = Literal["ask", "auto", "never"]
"""``ask``: each ``write_file`` asks the permission asker first; otherwise it only proposes."""


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """The model, its sampling settings and the limits that keep a run bounded."""

    model: str = DEFAULT_MODEL
    """``mlx:<hf-repo-or-path>``, ``openai:<name>`` (with ``base_url``) or ``test:``."""
    base_url: str | None = None
    """The OpenAI-compatible server for ``openai:`` models, e.g. ``http://127.0.0.1:8080/v1``."""
    api_key: str | None = None
    """Key for that server; None reads ``OPENAI_API_KEY`` (local servers ignore it)."""
    draft_model: str | None = None
    """A smaller model for speculative decoding, ``mlx:`` models only."""
    adapter: str | None = None
    """A LoRA adapter directory (``punie-lsp train finetune`` writes one), ``mlx:`` models only."""
    temperature: float = 0.2
    """Sampling temperature of every model turn."""
    max_tokens: int = 2048
    """Most tokens one model turn may generate."""
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    """Limits of each ``execute_code`` run."""
    type_check: bool = True
    """Type-check each program against the tool stubs before it runs.

    A misspelt field or wrong argument then fails before any tool runs, with a message
    the model can act on; it costs milliseconds per program (see the benchmarks).
    """
    warm_sandbox: bool = True
    """Keep a spare sandbox session warmed for each run's next program (``sandbox._session``).

    A checked program in a cold session first sets up Monty's type checker (4-9 ms
    measured); the spare is set up while the model writes. It holds one more pool
    worker while a run is in progress. Off: each program checks out a cold session.
    """
    edits: EditsMode = "ask"
    """Whether ``write_file`` asks the user before proposing (see ``AgentDeps.ask_permission``)."""
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
    request_timeout_seconds: float = 600.0
    """How long one model request to an OpenAI-compatible server may take (slow CPUs)."""
    connect_timeout_seconds: float = 5.0
    """How long to wait for that server to accept a connection before naming it unreachable."""
    surface: Surface = "editor"
    """Where the user configures this agent, so errors name what to change there:
    ``punie.baseUrl`` in an editor, ``--base-url`` on the command line."""
