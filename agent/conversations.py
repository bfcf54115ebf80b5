"""Conversations: message history per ``conversationId``, kept within a token budget.

A conversation is the Pydantic AI message list of its earlier prompts. Before each run
the oldest whole prompts (a user prompt and every request and response it caused) are
dropped until the rest fits ``history_tokens``; a prompt is never cut in half, because
a tool call without its return (or the reverse) is a malformed history for every
backend. The system instructions are not part of the stored history: the agent adds
them to every request, so dropping turns can never drop them.

``ConversationHistories`` is an owned object (one per server or CLI run), not a module
global. It is not Pydantic AI's ``ConversationStore`` (a persistent log that only
grows) nor its ``Conversation``: it keeps, in memory, the trimmed ``message_history``
the next run of a conversation is given.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolCallPart, UserPromptPart

from agent.instructions import estimate_tokens

__all__ = ["ConversationHistories", "ConversationHistory", "message_tokens", "trim_history"]


def _part_text(part: object) -> str:
    if isinstance(part, ToolCallPart):
        return part.tool_name + part.args_as_json_str()
    content = getattr(part, "content", "")
    return content if isinstance(content, str) else str(content)


def message_tokens(messages: Sequence[ModelMessage]) -> int:
    """Estimated tokens the parts of ``messages`` add to a prompt.

    Counts what each part says (prompts, answers, code, results), not the serialised
    message objects: each stored request also records the instructions it was sent
    with, which the model sees once per request, not once per stored message.
    """
    return sum(estimate_tokens(_part_text(p)) for m in messages for p in m.parts)


def _prompt_starts(messages: Sequence[ModelMessage]) -> list[int]:
    """Indices of the requests that open a prompt (they carry a user prompt)."""
    return [
        i
        for i, message in enumerate(messages)
        if isinstance(message, ModelRequest)
        and any(isinstance(part, UserPromptPart) for part in message.parts)
    ]


def trim_history(messages: Sequence[ModelMessage], budget_tokens: int) -> list[ModelMessage]:
    """The newest whole prompts of ``messages`` that fit ``budget_tokens`` (maybe none)."""
    kept = list(messages)
    starts = _prompt_starts(kept)
    while kept and message_tokens(kept) > budget_tokens:
        starts = _prompt_starts(kept)
        if len(starts) <= 1:
            return []  # a single prompt over the budget: start afresh rather than cut it
        kept = kept[starts[1] :]
    return kept


@dataclass
class ConversationHistory:
    """One conversation's message history and the lock that serialises its prompts."""

    id: str
    messages: list[ModelMessage] = field(default_factory=list)
    """History of earlier prompts (already within the budget)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Two prompts in one conversation run one after the other, each seeing the last."""


class ConversationHistories:
    """Conversations by id, each trimmed to ``history_tokens`` whenever it is updated."""

    def __init__(self, history_tokens: int) -> None:
        self.history_tokens = history_tokens
        self._conversations: dict[str, ConversationHistory] = {}

    def get(self, conversation_id: str | None) -> ConversationHistory:
        """The conversation with this id (created empty if new); None starts a new one."""
        key = conversation_id or uuid.uuid4().hex
        conversation = self._conversations.get(key)
        if conversation is None:
            conversation = self._conversations[key] = ConversationHistory(id=key)
        return conversation

    def busy(self, conversation_id: str | None) -> bool:
        """Whether a prompt of this conversation is running: the next one waits for it."""
        conversation = self._conversations.get(conversation_id or "")
        return conversation is not None and conversation.lock.locked()

    def history(self, conversation_id: str) -> list[ModelMessage]:
        """A copy of the stored history (empty for an unknown id)."""
        conversation = self._conversations.get(conversation_id)
        return list(conversation.messages) if conversation else []

    def update(self, conversation: ConversationHistory, messages: Sequence[ModelMessage]) -> None:
        """Store the whole history after a prompt, trimmed to the budget."""
        conversation.messages = trim_history(messages, self.history_tokens)

    def reset(self, conversation_id: str) -> bool:
        """Forget a conversation; True when it existed."""
        return self._conversations.pop(conversation_id, None) is not None

    def __contains__(self, conversation_id: object) -> bool:
        return conversation_id in self._conversations

    def __len__(self) -> int:
        return len(self._conversations)
