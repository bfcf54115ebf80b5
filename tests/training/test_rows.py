"""A dataset row renders to exactly the tokens the live agent was prompted with.

One agent turn on the ``mlx:`` backend with the tiny model (tool call, real sandbox
result, answer): the real request path renders every prompt with the tokenizer's chat
template and parses the reply with its tool parser (the engine on a thread here, so
the test can script it). Only sampling is scripted, because
the tiny model does not follow the agent's full instructions reliably. The row built
from that run's messages, rendered by the same tokenizer, must give the same tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import models

from agent import AgentConfig, AgentDeps, PunieAgent
from agent._mlx_engine import MlxEngine, MlxJob
from agent._mlx_hosts import Host, ThreadHost
from agent.mlx_model import MlxModel
from sandbox import SandboxLimits, SandboxPool
from tests.agent.tiny_model import TOOL_CODE, tiny_model_dir
from training.rows import Row, read_dataset, row_from_messages, split_rows, write_dataset
from typed_tools import ToolContext

pytestmark = pytest.mark.timeout(600)

REPLIES = [
    f"<tool_call>\n<function=execute_code>\n<parameter=code>\n{TOOL_CODE}\n</parameter>\n"
    "</function>\n</tool_call>",
    "The answer is 42.",
]


class ScriptedEngine(MlxEngine):
    """The real engine (chat template, caches, reply splitting, tool parser), with the
    reply text scripted instead of sampled."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.prompts: list[list[int]] = []

    def _generate(
        self, job: MlxJob, tokens: list[int], cache: list[Any]
    ) -> Iterator[tuple[int, str, str | None]]:
        self.prompts.append(self.render_prompt(job.chat, job.tools))
        yield 0, REPLIES[len(self.prompts) - 1], "stop"


class ScriptedMlx(MlxModel):
    """The real ``mlx:`` request path around ``ScriptedEngine``, on a thread of this process."""

    def __init__(self, path: str) -> None:
        super().__init__(path, process=False)
        self.engine = ScriptedEngine(path)
        self.prompts = self.engine.prompts

    def _make_host(self) -> Host:
        return ThreadHost(self.engine)


async def test_row_renders_like_the_live_run(tmp_path: Path) -> None:
    model = ScriptedMlx(str(tiny_model_dir()))
    agent = PunieAgent(AgentConfig(model="test:"), model=model)
    prompts = model.prompts
    render = model.render_prompt
    try:
        with models.override_allow_model_requests(True):
            async with SandboxPool(max_workers=1) as pool:
                deps = AgentDeps(
                    tools=ToolContext(root=tmp_path),
                    pool=pool,
                    limits=SandboxLimits(timeout_seconds=20),
                )
                result = await agent.ask("compute six times seven", deps)
        assert result.outcome == "ok", result.error
        assert result.code == [TOOL_CODE]
        row = row_from_messages(agent.conversations.history(result.conversation_id))
        assert [m["role"] for m in row.messages] == [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
        ]
        assert row.messages[3]["content"] == "42"  # the printed output, as in Punie's rows
        # Each live request's prompt = the row up to that point plus the generation prompt.
        assert len(prompts) == 2
        assert render(row.messages[:2], row.tools) == prompts[0]
        assert render(row.messages[:4], row.tools) == prompts[1]
    finally:
        agent.close()


def test_rows_split_and_round_trip(tmp_path: Path) -> None:
    rows = [
        Row(messages=[{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}])
        for i in range(20)
    ]
    counts = write_dataset([*rows, rows[0]], tmp_path, seed=3)
    assert counts == {"train": 16, "valid": 2, "test": 2}
    back = read_dataset(tmp_path)
    assert sorted(r.id for part in back.values() for r in part) == sorted(r.id for r in rows)
    assert split_rows(rows, seed=3) == split_rows(list(reversed(rows)), seed=3)
    line = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert set(line) == {"messages", "tools", "category", "id"}
