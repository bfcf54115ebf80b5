"""Conversations: later prompts see earlier ones, within a budget, until reset."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from agent import AgentDeps, ConversationHistories
from agent.code_mode import CodeModeTools
from agent.conversations import message_tokens, trim_history
from tests.agent.conftest import Code, Script, make_agent


def user_prompts(script: Script, request: int) -> list[str]:
    return [
        str(part.content)
        for message in script.requests[request - 1]
        for part in message.parts
        if isinstance(part, UserPromptPart)
    ]


async def test_history_is_kept_per_conversation_and_reset(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script(["first answer"])
    agent = make_agent(script, code_tools)

    first = await agent.ask("one", deps)
    second = await agent.ask("two", deps, conversation_id=first.conversation_id)
    other = await agent.ask("elsewhere", deps)

    assert second.conversation_id == first.conversation_id
    assert other.conversation_id != first.conversation_id
    assert user_prompts(script, 2) == ["one", "two"]
    assert "first answer " in script.sent(2)
    assert user_prompts(script, 3) == ["elsewhere"]

    assert agent.reset(first.conversation_id)
    await agent.ask("three", deps, conversation_id=first.conversation_id)
    assert user_prompts(script, 4) == ["three"]
    assert not agent.reset("never-seen")


async def test_tool_calls_stay_in_the_history(deps: AgentDeps, code_tools: CodeModeTools) -> None:
    script = Script([Code("6 * 7"), "42", "still 42"])
    agent = make_agent(script, code_tools)

    first = await agent.ask("compute", deps)
    await agent.ask("again?", deps, conversation_id=first.conversation_id)

    assert "value: 42" in script.sent(3)


async def test_a_failed_run_leaves_the_history_as_it_was(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script(["ok", Code("1 + 1")])
    agent = make_agent(script, code_tools, request_limit=2)
    first = await agent.ask("one", deps)

    failed = await agent.ask("loop", deps, conversation_id=first.conversation_id)

    assert failed.outcome == "usage_limit"
    history = agent.conversations.history(first.conversation_id)
    assert [p.content for m in history for p in m.parts if isinstance(p, UserPromptPart)] == ["one"]


def turn(prompt: str, answer: str) -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest(parts=[UserPromptPart(content=prompt)]),
        ModelResponse(parts=[TextPart(content=answer)]),
    ]


def test_the_oldest_whole_prompts_are_dropped_to_fit_the_budget() -> None:
    messages = [*turn("a" * 400, "b" * 400), *turn("c" * 40, "d" * 40), *turn("e", "f")]
    assert message_tokens(messages) > 200

    kept = trim_history(messages, budget_tokens=200)

    assert kept == messages[2:]
    assert trim_history(messages, budget_tokens=10) == messages[4:]
    assert trim_history(messages, budget_tokens=1_000) == messages
    # A single prompt larger than the budget is dropped whole, never cut in half.
    assert trim_history(turn("x" * 4_000, "y"), budget_tokens=100) == []


def test_the_store_trims_on_update() -> None:
    store = ConversationHistories(history_tokens=50)
    conversation = store.get(None)
    last = turn("c", "d")
    store.update(conversation, [*turn("a" * 400, "b"), *last])

    assert store.history(conversation.id) == last
    assert conversation.id in store
