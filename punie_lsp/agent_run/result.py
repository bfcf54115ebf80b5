"""``CommandResult``: what the editor receives from ``punie.ask``, ``.fix``, ``.explain``
and ``.writeTests``, and what a trace records of a run.

One Pydantic model for the handlers (they return it), for ``traces.append_trace`` (it
reads the fields, not dict keys) and for the docs (the README's "Command results"
table lists these fields; a test checks the two agree, and that the VS Code and
Neovim plug-ins read only keys it has). On the wire it is camelCase (``WireModel``)
and fields that are None are left out (``punie_lsp.features.arguments.converter``).
"""

from __future__ import annotations

from pydantic import Field

from agent.deps import ProgressKind
from agent.result import AgentResult, Outcome, Usage
from sandbox import ToolCall, WireModel

__all__ = ["CommandResult", "DiagnosticsDelta", "ProposedEdit", "PunieMessage"]


class ProposedEdit(WireModel):
    """One file the model proposed: the whole new text, as the editor may apply it."""

    uri: str
    """The document's URI."""
    path: str
    """Its absolute path."""
    text: str
    """The complete proposed content (line endings as the file has them)."""


class DiagnosticsDelta(WireModel):
    """ty's verdict on one proposed Python file: errors before and after the edit."""

    file: str
    """Workspace-relative path."""
    before: int
    """ty's error count on the text the editor has (0 for a new file)."""
    after: int
    """ty's error count on the proposed text."""
    errors: list[str] = Field(default_factory=list)
    """The first five errors after the edit, ``line:column code: message``."""


class CommandResult(WireModel):
    """Everything an agent command produced, and what became of its edits."""

    conversation_id: str
    """Pass it back as ``conversationId`` to continue this conversation."""
    answer: str
    """The model's final answer (or the text streamed before the run stopped)."""
    outcome: Outcome = "ok"
    """``ok``, or why the run stopped (``cancelled``, ``usage_limit``, ``model_error``,
    ``code_failed``, ``error``)."""
    error: str | None = None
    """For any other outcome: what failed and what to do, for the user."""
    edits: list[ProposedEdit] = Field(default_factory=list)
    """The files the model proposed (only when the outcome is ``ok``; none for explain)."""
    applied: bool = False
    """Whether the editor applied ``edits`` (``workspace/applyEdit`` answered applied)."""
    reason: str | None = None
    """Why the edits were not applied: ``edits: never``, declined, a document changed
    meanwhile, an editor that cannot ask, or the editor's own failure reason."""
    diagnostics_delta: list[DiagnosticsDelta] = Field(default_factory=list)
    """ty's error counts per proposed Python file, before and after."""
    code: list[str] = Field(default_factory=list)
    """Each program the model submitted to ``execute_code``, in order."""
    calls: list[ToolCall] = Field(default_factory=list)
    """Every typed-tool call those programs made, in order."""
    usage: Usage = Field(default_factory=Usage)
    """Model requests and tokens."""
    turns: int = 0
    """Model turns in this run: one per model response (``agent.result.AgentResult.turns``)."""
    seconds: float = 0.0
    """How long the run took, model and checks included, in seconds."""

    @classmethod
    def of(cls, result: AgentResult, **delivery: object) -> CommandResult:
        """The agent's result plus what the server did with it (``edits``, ``applied``…)."""
        fields = {
            name: getattr(result, name)
            for name in AgentResult.model_fields
            if name in cls.model_fields and name != "edits"
        }
        return cls.model_validate({**fields, **delivery})


class PunieMessage(WireModel):
    """The ``punie/message`` notification's params: what a run streams as it happens."""

    conversation_id: str
    """The run's conversation (as in its ``CommandResult``)."""
    kind: ProgressKind
    """``text`` (the model's words, coalesced), ``code``, ``toolCall``, ``toolResult``,
    ``answer``."""
    text: str
    """The words, the program, the call, the result or the answer."""
    token: str | int | None = None
    """The work-done token of the command whose run sent it (the editor's, or the one the
    server created; None when there is no progress): tells apart two runs at once, even
    two in one conversation (the second starts while the first delivers its edits)."""
