"""The agent on the in-process mlx backend: each conversation keeps its own KV cache.

Real mlx-lm on the tiny locally-built model: the agent passes its conversation id to
the model, so a conversation's next prompt prefills only what it adds, even when other
conversations ran in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from agent import AgentConfig, AgentDeps, AgentResult, PunieAgent
from agent.mlx_model import MlxModel
from sandbox import SandboxPool
from tests.agent.tiny_model import tiny_model_dir
from typed_tools import ToolContext

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(autouse=True)
def allow_requests() -> Iterator[None]:
    with models.override_allow_model_requests(True):
        yield


@pytest.fixture
async def mlx_agent(workspace: Path) -> AsyncIterator[PunieAgent]:
    agent = PunieAgent(AgentConfig(model=f"mlx:{tiny_model_dir()}", temperature=0.0, max_tokens=48))
    yield agent
    agent.close()


async def test_conversations_keep_their_own_cache(
    mlx_agent: PunieAgent, workspace: Path, pool: SandboxPool
) -> None:
    model = mlx_agent.model
    assert isinstance(model, MlxModel)

    def deps() -> AgentDeps:
        return AgentDeps(tools=ToolContext(root=workspace), pool=pool)

    first = await mlx_agent.ask("What is six times seven?", deps(), conversation_id="a")
    assert first.outcome in ("ok", "code_failed")
    await mlx_agent.ask("Say hello.", deps(), conversation_id="b")
    before = len(model.requests)
    await mlx_agent.ask("And eight times nine?", deps(), conversation_id="a")
    a_again = model.requests[before]
    assert a_again.reused_tokens > 0  # a's history, not b's, is still cached
    assert a_again.prefilled_tokens < a_again.prompt_tokens / 2

    mlx_agent.reset("a")
    before = len(model.requests)
    await mlx_agent.ask("What is six times seven?", deps(), conversation_id="a")
    assert model.requests[before].reused_tokens < a_again.reused_tokens


async def ask_once(config: AgentConfig, workspace: Path, pool: SandboxPool) -> AgentResult:
    """One question to a new agent for ``config``, closed after (its mlx worker too)."""
    agent = PunieAgent(config)
    try:
        return await agent.ask(
            "What is six times seven?", AgentDeps(tools=ToolContext(root=workspace), pool=pool)
        )
    finally:
        agent.close()


async def test_a_reply_cut_at_max_tokens_is_named_and_its_call_markup_dropped(
    workspace: Path, pool: SandboxPool
) -> None:
    """The model reaching ``maxTokens`` mid-reply ends the run at that limit, naming the
    setting (it was outcome ``ok``, a cut tool call's markup printed as if the model had
    answered). The tiny model's three tokens are the start of a call (``<tool_call>``):
    held back as a possible call, they are not the answer either (``openai:`` through
    ``mlx_lm server`` gives ``""`` for the same reply: ``test_mlx_server.py``)."""
    config = AgentConfig(model=f"mlx:{tiny_model_dir()}", temperature=0.0, max_tokens=3)
    result = await ask_once(config, workspace, pool)

    assert result.outcome == "usage_limit", result
    assert result.error is not None
    assert "reached punie.maxTokens (3 tokens)" in result.error
    assert result.answer == ""  # no prose before the call it began
    assert result.code == []
    assert result.usage.output_tokens == 3


async def test_a_draft_model_that_cannot_be_loaded_is_named_as_the_draft_model(
    workspace: Path, pool: SandboxPool, tmp_path: Path
) -> None:
    """A draft model folder that does not exist failed as "could not load mlx draft model"
    with "check the path in punie.model": the user fixed the wrong setting. It names
    ``punie.draftModel`` and its value, and the model is not at fault."""
    missing = tmp_path / "no-draft-here"
    config = AgentConfig(model=f"mlx:{tiny_model_dir()}", draft_model=str(missing), max_tokens=3)
    result = await ask_once(config, workspace, pool)

    assert result.outcome == "model_error", result
    assert result.error is not None and "\n" not in result.error
    assert f"with punie.draftModel {str(missing)!r}: mlx draft model" in result.error
    assert "fix punie.draftModel" in result.error and "punie.model" not in result.error
