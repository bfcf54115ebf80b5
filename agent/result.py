"""The answer to one prompt, as ``punie.ask`` returns it and the CLI prints it.

A run that failed still produces a result: the outcome says why (cancelled, a usage
limit, a model that cannot be reached, code the model could not fix), ``error`` says
it in words for the user, and whatever was streamed so far is in ``answer``. The
server turns this into its LSP result in one place; field names on the wire are
camelCase like the rest of the contract.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sandbox import ToolCall, WireModel

__all__ = ["AgentResult", "Edit", "ModelStatus", "Outcome", "Usage"]

Outcome = Literal["ok", "cancelled", "usage_limit", "model_error", "code_failed", "error"]
"""How the run ended; only ``ok`` carries edits (half a change is worse than none)."""


class Edit(WireModel):
    """One proposed file: the whole new text, for the editor to diff and apply."""

    path: str
    """Absolute path of the file (the server turns it into a URI)."""
    text: str
    """The complete proposed content."""


class Usage(WireModel):
    """What the run cost the model (as the backend reports it; estimates for some)."""

    requests: int = 0
    """Model responses in the run, one per model turn (Pydantic AI's ``requests``; a reply
    cut at ``max_tokens`` counts, whether or not any of it was streamed)."""
    input_tokens: int = 0
    """Prompt tokens over all requests."""
    output_tokens: int = 0
    """Generated tokens over all requests."""
    unmeasured_requests: int = Field(0, exclude_if=lambda value: value == 0)
    """Requests whose reply carried no token counts (Pydantic AI's name): a server that
    does not report usage in its stream. The token counts are then lower bounds. Left
    out of the JSON when 0, as Pydantic AI does."""


class AgentResult(WireModel):
    """Everything one prompt produced."""

    conversation_id: str
    """Pass it back with the next prompt to continue this conversation."""
    answer: str
    """The model's final answer (or the text streamed before the run stopped)."""
    outcome: Outcome = "ok"
    """``ok`` or why the run stopped."""
    error: str | None = None
    """For any other outcome: what failed and what to do, for the user."""
    edits: list[Edit] = Field(default_factory=list)
    """Files the model proposed through ``write_file`` (only when the outcome is ``ok``)."""
    code: list[str] = Field(default_factory=list)
    """Each program the model submitted to ``execute_code``, in order."""
    calls: list[ToolCall] = Field(default_factory=list)
    """Every typed-tool call those programs made, in order (the sandbox trace)."""
    usage: Usage = Field(default_factory=Usage)
    """Model requests and tokens."""
    turns: int = 0
    """Model turns in this run: ``usage.requests``, one per model response (retries after
    failed code and a reply cut at ``max_tokens`` included), the same on every backend."""


class ModelStatus(WireModel):
    """The model as ``punie.status`` reports it (camelCase on the wire)."""

    model: str
    """The configured model string."""
    backend: Literal["mlx", "openai", "test", "injected"] | None
    """Which backend runs it; None (absent on the wire) when the ``model`` setting cannot
    be used as written (``error`` says why)."""
    loaded: bool
    """Ready to answer without loading (always true for servers and test models)."""
    loading: bool
    """Weights are being loaded right now (``mlx:`` only)."""
    error: str | None = None
    """Why the model could not load, or why its last request failed."""
