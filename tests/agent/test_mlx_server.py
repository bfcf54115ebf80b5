"""The ``openai:`` path against ``mlx_lm server`` serving the same tiny model on 127.0.0.1.

The server parses tool calls with the same mlx-lm parser the in-process backend uses, so
the agent sees the same ``execute_code`` call and the same answer either way. The model
goes through ``ToolCallRecognition`` as the agent's does: the real server's stream (the
whole call in one chunk, ``finish_reason: "tool_calls"``, a UUID id) is one of the
shapes the recogniser is held to (the others:
``tests/punie_lsp/agent_run/test_server_conformance.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import Agent, models
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from agent import AgentConfig, AgentDeps, PunieAgent
from agent.recognising_model import ToolCallRecognition
from sandbox import SandboxPool
from tests.agent.tiny_model import (
    ANSWER,
    TOOL_CODE,
    start_mlx_server,
    stop_mlx_server,
    tiny_model_dir,
)
from typed_tools import ToolContext

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def allow_requests() -> Iterator[None]:
    with models.override_allow_model_requests(True):
        yield


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    model_dir = tiny_model_dir()
    process, base_url = start_mlx_server(model_dir, tmp_path_factory.mktemp("hf-hub"))
    yield model_dir, base_url
    stop_mlx_server(process)


async def test_the_openai_backend_runs_code_through_mlx_lm_server(
    server: tuple[Path, str],
) -> None:
    model_dir, base_url = server
    model = ToolCallRecognition(
        OpenAIChatModel(str(model_dir), provider=OpenAIProvider(base_url=base_url, api_key="-")),
        code_functions=["typecheck"],
    )
    agent = Agent(model, instructions="You are Punie.", model_settings={"temperature": 0.0})
    ran: list[str] = []

    @agent.tool_plain
    def execute_code(code: str) -> str:
        """Run Python code in the sandbox; the typed tools are functions in it."""
        ran.append(code)
        return "42"

    result = await agent.run("what is six times seven?")

    assert ran == [TOOL_CODE]
    assert result.output == ANSWER


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["mlx", "openai"])
async def test_a_reply_cut_at_max_tokens_is_one_model_turn_on_either_backend(
    backend: str, server: tuple[Path, str], workspace: Path, pool: SandboxPool
) -> None:
    """The same tiny model, cut at 8 tokens mid tool call: ``openai:`` (``mlx_lm server``,
    which holds back a call's markup until it is whole, so nothing was streamed) reported
    0 model turns where ``mlx:`` (which streamed the markup as text) reported 1. A turn is
    Pydantic AI's ``requests``, one model response; a reply stopped at ``maxTokens`` is a
    response the run stopped on at a limit, and counts as one whatever was streamed."""
    model_dir, base_url = server
    config = AgentConfig(
        model=f"{backend}:{model_dir}",
        base_url=base_url if backend == "openai" else None,
        temperature=0.0,
        max_tokens=8,
    )
    agent = PunieAgent(config)
    try:
        result = await agent.ask(
            "Count to one hundred, in words.",
            AgentDeps(tools=ToolContext(root=workspace), pool=pool),
        )
    finally:
        agent.close()

    assert result.outcome == "usage_limit", result
    assert result.usage.output_tokens == 8
    assert (result.turns, result.usage.requests) == (1, 1)
    # The same answer on both: mlx: kept the cut call's markup ("<tool_call>\n<function=
    # execute_code>\n)print(") as the answer where openai: gave "": markup held back as a
    # possible call is never the answer of a cut reply (the outcome names maxTokens).
    assert result.answer == ""
    assert result.error is not None and "an unfinished tool call is not" in result.error
