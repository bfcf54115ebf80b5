"""What one run of the agent is given by its caller: the workspace, the pool, the hooks.

The agent itself is long-lived (model loaded once, tools and stubs generated once);
everything that belongs to one prompt travels in ``AgentDeps``, which Pydantic AI
hands to the ``execute_code`` tool as ``ctx.deps``. The server builds it from the
editor's state (buffers through its ``TyConnection``, the selection) and LSP hooks
(``$/progress``); the CLI from a folder and the terminal. A run never asks the user
anything: ``write_file`` only proposes, and the caller decides what to do with the
result's edits (the server asks per its ``edits`` setting, ``punie_lsp.agent_run.agent_host``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sandbox import SandboxLimits, SandboxPool
from typed_tools.base import ToolContext

__all__ = ["AgentDeps", "ProgressEvent", "ProgressKind", "ProgressReporter"]

ProgressKind = Literal["text", "code", "toolCall", "toolResult", "answer"]
"""``text``: a delta of the model's words; ``code``: a program it submitted;
``toolCall``: a typed tool the program is calling; ``toolResult``: what the program
returned to the model; ``answer``: the final answer, once."""


class ProgressEvent(BaseModel):
    """One thing that happened during a run, as ``punie/message`` carries it."""

    model_config = ConfigDict(frozen=True)

    kind: ProgressKind
    """What happened (the set extends DESIGN.md's ``text|code|toolResult|answer``)."""
    text: str
    """The delta, the code, a one-line rendering of the tool call, or the result text."""


ProgressReporter = Callable[[ProgressEvent], None]
"""Called on the event loop as things happen; must not block (send a notification, print)."""


def _ignore(event: ProgressEvent) -> None:
    """The default reporter: a caller that does not stream still gets the result."""


@dataclass(kw_only=True)
class AgentDeps:
    """Everything one prompt's run needs from its caller."""

    tools: ToolContext
    """The workspace view: root, overlay of proposed edits, semantic backend (editor buffers).

    Its overlay collects every ``write_file`` of the run; the result's ``edits`` are read
    from it. Pass a fresh overlay per prompt unless earlier proposals should stay visible.
    """
    pool: SandboxPool
    """The owner's warm sandbox pool; the run never starts or stops it."""
    limits: SandboxLimits | None = None
    """Limits of each ``execute_code`` run; None uses the agent's configured ones."""
    progress: ProgressReporter = _ignore
    """Streams text deltas, submitted code, tool calls and results as they happen."""
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    """Set it to stop the run: model generation and any sandbox run end within a second."""
