"""The structured answer of one run: what the program printed, returned, called and broke.

This shape is a user-facing contract (``punie.runCode`` returns it, the agent hands it to
the model, training captures ``calls``), so field names are fixed. Python attributes are
snake_case; the wire form is camelCase (``durationMs``), and ``model_dump()`` /
``model_dump_json()`` produce the wire form by default so no caller can forget
``by_alias=True``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from sandbox._limits import LimitName
from sandbox._wire import WireModel

__all__ = ["ErrorKind", "RunError", "RunResult", "ToolCall"]

ErrorKind = Literal["syntax", "typing", "runtime", "timeout", "memory", "limit", "cancelled"]
"""Why a run did not complete; the model branches on it, so the set is closed."""


class ToolCall(WireModel):
    """One external (tool) call the program made, in call order."""

    tool: str
    """The external's name as the program called it."""
    args: dict[str, JsonValue]
    """Arguments by parameter name (positional ones mapped through the signature)."""
    duration_ms: float = Field(ge=0)
    """Host time spent in the call, in milliseconds (``durationMs`` on the wire)."""
    success: bool
    """False when the call raised, or returned a result whose ``success`` is False (the
    tool's verdict: for Punie's tools, also when it ran and said no, e.g. type errors)."""


class RunError(WireModel):
    """Why the run stopped; ``line``/``column`` are 1-based positions in the submitted code."""

    kind: ErrorKind
    """The class of failure: fix the code (syntax, typing, runtime) or a guard tripped."""
    message: str
    """A human- and model-readable explanation, naming the limit when one tripped."""
    line: int | None = None
    """Line of the failure in the submitted code, when Monty reported one."""
    column: int | None = None
    """Column of the failure (type errors and syntax errors carry one)."""
    traceback: str | None = None
    """The rendered traceback or type-check diagnostics, as Python would print them."""
    limit: LimitName | None = None
    """The ``SandboxLimits`` field that stopped the run, for ``timeout``/``memory``/``limit``."""


class RunResult(WireModel):
    """Everything one run produced, complete even when it failed or was cancelled."""

    stdout: str = ""
    """Captured ``print`` output (stderr is interleaved), at most ``max_output_bytes``."""
    value: JsonValue = None
    """The JSON form of the last expression's value; None on error or without one."""
    error: RunError | None = None
    """Set when the run did not complete."""
    calls: list[ToolCall] = Field(default_factory=list)
    """Per-run trace of external calls, including the one that was interrupted."""

    @property
    def ok(self) -> bool:
        """True when the program ran to completion."""
        return self.error is None

    @property
    def discard_proposals(self) -> bool:
        """True when anything the run proposed (edits, writes) must be dropped.

        A cancelled or stopped run may have been cut off between two writes that only
        make sense together; callers discard its proposals rather than apply half.
        """
        stopped = ("cancelled", "timeout", "memory", "limit")
        return self.error is not None and self.error.kind in stopped
