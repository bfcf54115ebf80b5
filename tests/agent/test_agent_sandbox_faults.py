"""A fault of the sandbox is named as the sandbox's, never as the model's.

The case from a loaded full-suite run: the pool's checker kept a session Monty had
finished, and the next program's check raised ``RuntimeError('this checkout has
already been finished')``, which the agent reported as ``model 'mlx:…' could not be
used`` although a scripted model was in use (``tests/sandbox/test_lost_sessions.py``
has the sandbox's side).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_monty import AsyncMontySession, MontyConversionError

from agent import AgentConfig, AgentDeps, PunieAgent
from agent.code_mode import CodeModeTools
from sandbox import SandboxSession
from sandbox._checker import Opened
from tests.agent.conftest import Code, Script

DEFAULT_MLX = "mlx:mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"
"""The model the server's settings name while ``PUNIE_LSP_MODEL_FACTORY`` replaces it."""


def _agent(script: Script, code_tools: CodeModeTools) -> PunieAgent:
    """The scripted model in place of the mlx model the settings name, as the server's
    ``PUNIE_LSP_MODEL_FACTORY`` puts it."""
    return PunieAgent(AgentConfig(model=DEFAULT_MLX), model=script.model(), tools=code_tools)


async def test_a_checker_session_monty_lost_does_not_end_the_run(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    checker = deps.pool.checker(code_tools.stubs)
    await checker.check('list_files("pkg/*.py").files')
    # The checker holds a session Monty finished, as after its worker was terminated.
    stack = AsyncExitStack()
    lost = await stack.enter_async_context(
        (await deps.pool._checker_started()).checkout(script_name="main.py")
    )
    with pytest.raises(MontyConversionError):
        await lost.feed_run("x", external_lookup={"x": object()}, skip_type_check=True)
    checker.release()
    checker._opening = asyncio.ensure_future(_opened(stack, lost))

    script = Script([Code('list_files("pkg/*.py").files'), "Three modules."])
    result = await _agent(script, code_tools).ask("What?", deps)

    # was: model_error, "model 'mlx:…' could not be used: this checkout has already …"
    assert (result.outcome, result.error) == ("ok", None)
    assert result.answer.strip() == "Three modules."
    assert checker.sessions == 2  # the lost one was replaced


async def _opened(stack: AsyncExitStack, session: AsyncMontySession) -> Opened:
    return stack, session


async def test_an_exception_out_of_the_sandbox_names_the_sandbox(
    deps: AgentDeps, code_tools: CodeModeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real sandbox no longer raises for a lost session; a stand-in ``run`` raises
    what it used to, so that the agent's side of the fault stays tested."""

    async def raising(self: SandboxSession, *args: object, **kwargs: object) -> None:
        raise RuntimeError("this checkout has already been finished")

    monkeypatch.setattr(SandboxSession, "run", raising)
    script = Script([Code("1 + 1"), "Two."])
    result = await _agent(script, code_tools).ask("Sum?", deps)

    assert result.outcome == "error"
    assert result.error is not None
    assert result.error.startswith("the sandbox failed while running the model's program")
    assert "this checkout has already been finished" in result.error
    assert "mlx" not in result.error and "model is not at fault" in result.error


async def test_an_injected_models_failure_names_that_model(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    async def broken(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        raise ValueError("no answer today")
        yield ""  # an async generator, as Pydantic AI asks of a stream function

    agent = PunieAgent(
        AgentConfig(model=DEFAULT_MLX),
        model=FunctionModel(stream_function=broken, model_name="factory-made"),
        tools=code_tools,
    )
    result = await agent.ask("Anything?", deps)

    assert result.outcome == "model_error"
    assert result.error == "model 'factory-made' failed: ValueError: no answer today"
