"""Model strings pick backends; ``import agent`` stays cheap; a model that cannot load is named."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.test import TestModel

from agent import AgentConfig, AgentDeps, ModelSpecError, PunieAgent, build_model, parse_model
from agent.code_mode import CodeModeTools
from tests.agent.conftest import Script

QWEN = "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"


@pytest.mark.parametrize(
    ("model", "parsed"),
    [
        (f"mlx:{QWEN}", ("mlx", QWEN)),
        ("mlx:/models/my-lora:fused", ("mlx", "/models/my-lora:fused")),
        ("openai:qwen2.5-coder:7b", ("openai", "qwen2.5-coder:7b")),
        ("test:", ("test", "")),
    ],
)
def test_model_strings(model: str, parsed: tuple[str, str]) -> None:
    assert parse_model(model) == parsed


@pytest.mark.parametrize("model", ["gpt-4", "anthropic:claude", "mlx:", "openai:", ""])
def test_bad_model_strings_say_what_to_write(model: str) -> None:
    with pytest.raises(ModelSpecError, match=r"mlx:|names no model"):
        parse_model(model)


def test_openai_and_test_backends() -> None:
    openai = build_model(AgentConfig(model="openai:qwen", base_url="http://127.0.0.1:8080/v1"))
    assert isinstance(openai, OpenAIChatModel)
    assert openai.model_name == "qwen"
    assert str(openai.client.base_url) == "http://127.0.0.1:8080/v1/"
    assert openai.client.max_retries == 0
    assert isinstance(build_model(AgentConfig(model="test:")), TestModel)


def test_an_adapter_on_a_server_model_is_refused_with_the_fix() -> None:
    config = AgentConfig(model="openai:qwen", base_url="http://127.0.0.1:8080/v1", adapter="ad")
    with pytest.raises(ModelSpecError, match=r"needs an mlx: model.*train fuse"):
        build_model(config)


def test_importing_agent_loads_neither_pydantic_ai_nor_mlx() -> None:
    code = (
        "import sys, agent\n"
        "heavy = [m for m in ('pydantic_ai', 'mlx', 'mlx_lm', 'openai') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class FailingMlx(FunctionModel):
    """Stands in for ``agent.mlx_model.MlxModel``: records its arguments, fails to load."""

    def __init__(
        self, path_or_repo: str, *, draft_model: str | None = None, adapter_path: str | None = None
    ) -> None:
        super().__init__(stream_function=Script(["unused"]).stream)
        self.path_or_repo, self.draft_model = path_or_repo, draft_model
        self.adapter_path = adapter_path
        self.loaded, self.loading, self.load_error = False, False, None

    async def ensure_loaded(self) -> None:
        self.load_error = f"no such repo: {self.path_or_repo}"
        raise FileNotFoundError(self.load_error)


async def test_mlx_models_are_built_lazily_and_load_failures_are_named(
    monkeypatch: pytest.MonkeyPatch, deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    fake = types.ModuleType("agent.mlx_model")
    monkeypatch.setattr(fake, "MlxModel", FailingMlx, raising=False)
    worker_exited = type("MlxWorkerExited", (RuntimeError,), {})  # as the real module has
    monkeypatch.setattr(fake, "MlxWorkerExited", worker_exited, raising=False)
    adapter_failed = type("MlxAdapterLoadError", (RuntimeError,), {})  # as the real module has
    monkeypatch.setattr(fake, "MlxAdapterLoadError", adapter_failed, raising=False)
    draft_failed = type("MlxDraftLoadError", (RuntimeError,), {})  # as the real module has
    monkeypatch.setattr(fake, "MlxDraftLoadError", draft_failed, raising=False)
    monkeypatch.setitem(sys.modules, "agent.mlx_model", fake)
    config = AgentConfig(
        model="mlx:org/missing", draft_model="mlx:org/tiny", adapter="/adapters/mine"
    )

    agent = PunieAgent(config, tools=code_tools)
    model = agent.model
    assert isinstance(model, FailingMlx)
    assert (model.path_or_repo, model.draft_model) == ("org/missing", "org/tiny")
    assert model.adapter_path == "/adapters/mine"
    assert agent.status().model_dump() == {
        "model": "mlx:org/missing",
        "backend": "mlx",
        "loaded": False,
        "loading": False,
        "error": None,
    }

    result = await agent.ask("hi", deps)

    assert result.outcome == "model_error"
    assert result.error is not None
    assert "mlx:org/missing" in result.error
    assert "no such repo: org/missing" in result.error
    assert agent.status().error == "no such repo: org/missing"


def test_an_mlx_worker_that_died_is_named_as_such_with_what_to_do() -> None:
    """Killed or out of memory mid-run: not a wrong path or repo; the next command starts
    a new worker (``MlxModel.ensure_loaded``), so the user is told to ask again."""
    from agent.backends import describe_model_error
    from agent.mlx_model import MlxWorkerExited

    config = AgentConfig(model="mlx:org/some-model")
    died = MlxWorkerExited("the mlx model's worker process exited with code -9")
    message = describe_model_error(config, died)
    assert message.startswith("model 'mlx:org/some-model' stopped: the mlx model's worker")
    assert "ask again" in message and "punie.model" in message
    assert "Hugging Face" not in message
