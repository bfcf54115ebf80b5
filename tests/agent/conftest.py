"""Scripted models, a real sandbox pool and a copy of the fixture project.

``Script`` plays a model turn by turn through Pydantic AI's ``FunctionModel``: each
step is either code to submit through ``execute_code`` or a final answer, streamed in
chunks like a real backend. It records what the model was sent on every request, so
tests can assert what the agent fed back (tool results, retry prompts, history).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic_ai import models
from pydantic_ai.messages import ModelMessage, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from agent import AgentConfig, AgentDeps, ProgressEvent, PunieAgent
from agent.code_mode import CodeModeTools
from sandbox import SandboxLimits, SandboxPool
from typed_tools import ToolContext

FIXTURE_PROJECT = Path(__file__).parents[2] / "training" / "sample_project"
LIMITS = SandboxLimits(timeout_seconds=20, memory_mb=64, max_tool_calls=50)

models.ALLOW_MODEL_REQUESTS = False


@dataclass(frozen=True)
class Code:
    """A model turn that calls ``execute_code`` with this program."""

    code: str


@dataclass
class Script:
    """A model that plays ``steps`` in order, one per request."""

    steps: Sequence[Code | str]
    chunk_delay: float = 0.0
    """Seconds between streamed chunks: a slow model, for cancellation tests."""
    requests: list[list[ModelMessage]] = field(default_factory=list)
    infos: list[AgentInfo] = field(default_factory=list)

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        self.requests.append(list(messages))
        self.infos.append(info)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Code):
            args = json.dumps({"code": step.code})
            yield {0: DeltaToolCall(name="execute_code", tool_call_id=f"call-{len(self.requests)}")}
            for start in range(0, len(args), 16):
                await asyncio.sleep(self.chunk_delay)
                yield {0: DeltaToolCall(json_args=args[start : start + 16])}
            return
        for word in step.split(" "):
            await asyncio.sleep(self.chunk_delay)
            yield word + " "

    def model(self) -> FunctionModel:
        return FunctionModel(stream_function=self.stream, model_name="script")

    def tool_returns(self, request: int) -> list[str]:
        """The tool results the model was sent on request ``request`` (1-based), in order."""
        return [
            str(part.content)
            for message in self.requests[request - 1]
            for part in message.parts
            if isinstance(part, ToolReturnPart)
        ]

    def sent(self, request: int) -> str:
        """Everything the model was sent on request ``request`` (1-based), as text."""
        parts = [part for message in self.requests[request - 1] for part in message.parts]
        return "\n".join(
            part.args_as_json_str() if isinstance(part, ToolCallPart) else str(part.content)
            for part in parts
            if isinstance(part, ToolCallPart) or hasattr(part, "content")
        )


@pytest.fixture
def allow_requests() -> Iterator[None]:
    """Model requests allowed for this test only: they go to a server on 127.0.0.1."""
    previous = models.ALLOW_MODEL_REQUESTS
    models.ALLOW_MODEL_REQUESTS = True
    yield
    models.ALLOW_MODEL_REQUESTS = previous


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def code_tools() -> CodeModeTools:
    return CodeModeTools.load()


@pytest.fixture
async def pool() -> AsyncIterator[SandboxPool]:
    async with SandboxPool(max_workers=1) as pool:
        yield pool


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE_PROJECT, tmp_path / "project"))


@pytest.fixture
def events() -> list[ProgressEvent]:
    return []


@pytest.fixture
def deps(workspace: Path, pool: SandboxPool, events: list[ProgressEvent]) -> AgentDeps:
    return AgentDeps(
        tools=ToolContext(root=workspace, timeout_seconds=30),
        pool=pool,
        limits=LIMITS,
        progress=events.append,
    )


def make_agent(script: Script, code_tools: CodeModeTools, **config: object) -> PunieAgent:
    """An agent on the scripted model; ``config`` overrides ``AgentConfig`` fields."""
    return PunieAgent(
        AgentConfig(model="test:", **config),  # ty: ignore[invalid-argument-type]
        model=script.model(),
        tools=code_tools,
    )
