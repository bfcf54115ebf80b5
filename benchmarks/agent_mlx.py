"""The mlx backend's sections of ``agent_overhead``: prompt-cache reuse, in-process vs server.

``first-turn`` measures turn 1 of new conversations with punie-lsp's real instructions
and tool stubs: tokens prefilled and time to first token with the shared instructions
prefix and without it, the two models alternating conversation by conversation.

Both use the tiny trained model from ``tests/agent/tiny_model.py`` (2 layers, hidden 64):
on this Linux CPU mlx is far too slow for a real checkpoint, so the token counts are
the point here and wall times only compare the two paths around the same model.

A conversation is four turns; in each the model calls ``execute_code`` and then answers,
so a turn is two requests, each prompt growing by the previous reply and the tool result.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path

from pydantic_ai import Agent, Tool, models
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model

from agent import chat_tools
from agent.code_mode import CodeModeTools
from agent.instructions import render_instructions
from agent.mlx_model import MlxModel, MlxModelSettings, MlxRequestStats
from tests.agent.tiny_model import start_mlx_server, stop_mlx_server, tiny_model_dir

PROMPTS = ["why does my test fail?", "rename the variable", "add a docstring", "run the tests"]
NOTE = "tiny model (2 layers, hidden 64) on Linux CPU: mlx's CPU path, not a real checkpoint"


async def conversation(
    model: Model, *, conversation_id: str | None = None, turns: list[int] | None = None
) -> float:
    """Four turns through a Pydantic AI agent; returns the wall time.

    ``turns`` gets the number of requests each turn made (an MlxModel's ``requests``):
    the tiny model sometimes answers a later turn without calling the tool.
    """
    agent = Agent(model, instructions="You are Punie, a coding agent. Answer with code.")

    @agent.tool_plain
    def execute_code(code: str) -> str:
        """Run Python code in the sandbox; the typed tools are functions in it."""
        return "42"

    settings = MlxModelSettings(temperature=0.0)
    if conversation_id is not None:
        settings["mlx_conversation_id"] = conversation_id
    history: list[ModelMessage] = []
    started = time.perf_counter()
    for prompt in PROMPTS:
        before = len(model.requests) if isinstance(model, MlxModel) else 0
        result = await agent.run(prompt, message_history=history, model_settings=settings)
        history = result.all_messages()
        if turns is not None and isinstance(model, MlxModel):
            turns.append(len(model.requests) - before)
    return time.perf_counter() - started


async def prefill(runs: int) -> None:
    """Tokens prefilled on turns 2-4 with and without reusing the KV cache."""
    models.ALLOW_MODEL_REQUESTS = True
    directory = str(tiny_model_dir())
    print(f"prompt-cache reuse, 4-turn conversation ({NOTE})")
    figures: dict[str, list[int]] = {}
    for label, kept in (("with reuse", 4), ("without", 0)):
        model = MlxModel(directory, max_cached_conversations=kept, temperature=0.0)
        await model.ensure_loaded()
        counts: list[int] = []
        await conversation(model, conversation_id="bench", turns=counts)
        stats = list(model.requests)
        bounds = list(itertools.accumulate(counts, initial=0))
        turns = [stats[a:b] for a, b in itertools.pairwise(bounds)]
        per_turn = [sum(s.prefilled_tokens for s in turn) for turn in turns]
        figures[label] = per_turn
        prompts = [sum(s.prompt_tokens for s in turn) for turn in turns]
        print(f"  {label:11s} prefilled per turn {per_turn}  (prompt tokens {prompts})")
        model.close()
    reused, baseline = sum(figures["with reuse"][1:]), sum(figures["without"][1:])
    saved = 1 - reused / baseline
    print(f"  turns 2-4: {reused} vs {baseline} tokens prefilled: {saved:.1%} saved")
    print(f"  target >= 80% saved: {'met' if saved >= 0.8 else 'MISSED'}")


async def server(runs: int) -> None:
    """The same conversation in-process and through ``mlx_lm server``: wall-time ratio."""
    models.ALLOW_MODEL_REQUESTS = True
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    directory = tiny_model_dir()
    repeats = max(3, min(runs, 10))
    local = MlxModel(str(directory), temperature=0.0)
    await local.ensure_loaded()
    await conversation(local, conversation_id="warm-up")
    in_process = [await conversation(local, conversation_id=f"c{i}") for i in range(repeats)]
    local.close()
    with tempfile.TemporaryDirectory() as hub:
        process, base_url = start_mlx_server(directory, Path(hub))
        try:
            remote = OpenAIChatModel(
                str(directory), provider=OpenAIProvider(base_url=base_url, api_key="unused")
            )
            await conversation(remote)
            served = [await conversation(remote) for _ in range(repeats)]
        finally:
            stop_mlx_server(process)
    a, b = statistics.median(in_process), statistics.median(served)
    print(f"in-process vs mlx_lm server, same 4-turn conversation ({NOTE})")
    print(f"  in-process     median {a * 1000:7.1f} ms over {repeats} conversations")
    print(f"  mlx_lm server  median {b * 1000:7.1f} ms over {repeats} conversations")
    print(f"  server / in-process wall time: {b / a:.2f}x")


async def first_turn(runs: int) -> None:
    """Turn 1 of a new conversation: the instructions prefix shared, or prefilled again."""
    models.ALLOW_MODEL_REQUESTS = True
    directory = str(tiny_model_dir())
    instructions = render_instructions(CodeModeTools.load().stubs)
    repeats = max(5, min(runs, 40))
    print(f"turn 1 of a new conversation, punie-lsp's instructions ({NOTE})")
    shared = MlxModel(directory, temperature=0.0, max_tokens=48, share_instructions=True)
    alone = MlxModel(directory, temperature=0.0, max_tokens=48, share_instructions=False)
    for model in (shared, alone):
        await model.ensure_loaded()

    async def first_request(model: MlxModel, index: int) -> MlxRequestStats:
        agent = Agent(model, instructions=instructions)

        @agent.tool_plain
        def execute_code(code: str) -> str:
            """Run Python code in the sandbox; the typed tools are functions in it."""
            return "42"

        before = len(model.requests)
        settings = MlxModelSettings(mlx_conversation_id=f"new-{index}")
        await agent.run(f"why does test {index} fail?", model_settings=settings)
        return model.requests[before]

    await first_request(shared, -1)  # creates the shared prefix; also warms both up
    await first_request(alone, -1)
    figures: dict[str, list[MlxRequestStats]] = {"shared prefix": [], "without": []}
    for index in range(repeats):  # interleaved: noise from other work hits both alike
        figures["shared prefix"].append(await first_request(shared, index))
        figures["without"].append(await first_request(alone, index))
        shared.reset_conversation(f"new-{index}")
        alone.reset_conversation(f"new-{index}")
    instruction_tokens = instructions_length(shared, instructions)
    head = figures["without"][0]
    for label, stats in figures.items():
        prefilled = statistics.median(s.prefilled_tokens for s in stats)
        ttft = statistics.median(s.prefill_seconds for s in stats) * 1000
        print(
            f"  {label:13s} prompt {head.prompt_tokens} tokens, prefilled median {prefilled:6.0f},"
            f" time to first token median {ttft:7.1f} ms  ({repeats} conversations)"
        )
    a = statistics.median(s.prefill_seconds for s in figures["shared prefix"])
    b = statistics.median(s.prefill_seconds for s in figures["without"])
    skipped = min(s.shared_prefix_tokens for s in figures["shared prefix"])
    share = min(skipped, instruction_tokens) / instruction_tokens
    print(f"  instructions and tools: {instruction_tokens} tokens")
    print(f"  of them not prefilled again in a new conversation: {share:.1%}")
    print(f"  time to first token, shared / without: {a / b:.2f}x")
    verdict = "met" if share >= 0.9 else "MISSED"
    print(f"  target >= 90% of the instructions not prefilled again: {verdict}")
    shared.close()
    alone.close()


def instructions_length(model: MlxModel, instructions: str) -> int:
    """Tokens of the system message alone (instructions and tool schema), rendered apart."""

    def execute_code(code: str) -> str:
        """Run Python code in the sandbox; the typed tools are functions in it."""
        return code

    tools = chat_tools([Tool(execute_code).tool_def])
    system = [{"role": "system", "content": instructions}]
    return len(model.render_prompt(system, tools, add_generation_prompt=False))
