"""The Code Mode agent: a Pydantic AI agent whose one tool runs Python in the sandbox.

Importing the package loads no model and imports no mlx: backends are built when a
``PunieAgent`` is created, and the in-process mlx backend is imported only for an
``mlx:`` model. Typical use (the server and the CLI do this)::

    agent = PunieAgent(AgentConfig(model="openai:qwen", base_url="http://127.0.0.1:8080/v1"))
    async with SandboxPool() as pool:
        deps = AgentDeps(tools=ToolContext(root=Path(".")), pool=pool, progress=print)
        result = await agent.ask("Why does app.py fail to type-check?", deps)
        result.answer, result.edits, result.calls

Importing Pydantic AI takes seconds on a slow machine, so ``import agent`` itself is
lazy: names load on first access (PEP 562), and a server can import the package at
start-up and pay only when the first prompt arrives.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent._mlx_chat import ChatMessage, chat_messages, chat_tools
    from agent.backends import ModelSpecError, build_model, parse_model
    from agent.config import DEFAULT_MODEL, AgentConfig, EditsMode
    from agent.conversations import ConversationHistories
    from agent.core import PunieAgent
    from agent.deps import AgentDeps, ProgressEvent, ProgressKind, ProgressReporter
    from agent.instructions import INSTRUCTIONS_CHAR_BUDGET, render_instructions
    from agent.result import AgentResult, Edit, ModelStatus, Outcome, Usage

_EXPORTS: dict[str, str] = {
    # The chat-template seam the training data shares with the in-process backend.
    "ChatMessage": "agent._mlx_chat",
    "chat_messages": "agent._mlx_chat",
    "chat_tools": "agent._mlx_chat",
    "ModelSpecError": "agent.backends",
    "build_model": "agent.backends",
    "parse_model": "agent.backends",
    "DEFAULT_MODEL": "agent.config",
    "AgentConfig": "agent.config",
    "EditsMode": "agent.config",
    "ConversationHistories": "agent.conversations",
    "ModelStatus": "agent.result",
    "PunieAgent": "agent.core",
    "AgentDeps": "agent.deps",
    "ProgressEvent": "agent.deps",
    "ProgressKind": "agent.deps",
    "ProgressReporter": "agent.deps",
    "INSTRUCTIONS_CHAR_BUDGET": "agent.instructions",
    "render_instructions": "agent.instructions",
    "AgentResult": "agent.result",
    "Edit": "agent.result",
    "Outcome": "agent.result",
    "Usage": "agent.result",
}
"""Public name -> the module defining it."""

__all__ = [
    "DEFAULT_MODEL",
    "INSTRUCTIONS_CHAR_BUDGET",
    "AgentConfig",
    "AgentDeps",
    "AgentResult",
    "ChatMessage",
    "ConversationHistories",
    "Edit",
    "EditsMode",
    "ModelSpecError",
    "ModelStatus",
    "Outcome",
    "ProgressEvent",
    "ProgressKind",
    "ProgressReporter",
    "PunieAgent",
    "Usage",
    "build_model",
    "chat_messages",
    "chat_tools",
    "parse_model",
    "render_instructions",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
