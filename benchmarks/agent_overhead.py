"""What the agent adds to each model turn, outside the model (target: p50 <= 8 ms, checked).

A scripted model (Pydantic AI ``FunctionModel``) answers instantly, so a run's wall time
is the agent's own work: building each request (instructions, history, tool schema),
parsing the streamed response, dispatching ``execute_code`` into the warm sandbox (type
check against the real tool stubs included) and rendering the result back. The time the
model function itself runs is measured and subtracted. One run is four turns (three
programs, then the answer); "sandbox" is the share spent between submitting a program
and its result, "agent" the rest. The floor is Pydantic AI alone: the same model,
instructions and streaming, with an ``execute_code`` that returns at once. On the
loaded 2-core machine its p50 came out above the agent's own (its process has nothing
to do while the model writes; read its min as the library's uncontended cost), and the
run after it measured 2-3 ms slower whatever its cell, so that run is not kept.

Sections are independent functions in ``SECTIONS``; the mlx backend's figures (prefill
saved by prompt-cache reuse, in-process vs ``mlx_lm server``) belong in sections of
their own, added to that table.

    uv run python -m benchmarks.agent_overhead [--runs 50] [--section overhead]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import AgentStreamEvent, ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from agent import AgentConfig, AgentDeps, ProgressEvent, PunieAgent
from agent.code_mode import CodeModeTools
from agent.instructions import render_instructions
from benchmarks import agent_mlx
from sandbox import SandboxLimits, SandboxPool
from typed_tools import ToolContext

PROGRAMS = [
    "x = 6 * 7\nx",
    'r = read_file("a.py")\nlen(r.splitlines())',
    "total = sum(i * i for i in range(100))\nprint(total)\ntotal",
]
"""Three small programs: pure computation, one cheap typed tool, printed output."""


class InstantModel:
    """Plays the programs then an answer; records the time spent inside it.

    ``writes_seconds`` is how long each reply takes to "write": 0 answers instantly,
    more waits that long on the event loop first, the way a model generating on the
    mlx worker thread or in a server leaves the loop free meanwhile. Either way the
    time inside the model is subtracted from the figures.
    """

    def __init__(self, writes_seconds: float = 0.0) -> None:
        self.seconds = 0.0
        self.turn = 0
        self.writes_seconds = writes_seconds

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        started = time.perf_counter()
        if self.writes_seconds:
            await asyncio.sleep(self.writes_seconds)
        step = self.turn % (len(PROGRAMS) + 1)
        self.turn += 1
        if step < len(PROGRAMS):
            args = json.dumps({"code": PROGRAMS[step]})
            chunk: str | dict[int, DeltaToolCall] = {
                0: DeltaToolCall(name="execute_code", json_args=args, tool_call_id=f"c{self.turn}")
            }
        else:
            chunk = "Done: 42."
        self.seconds += time.perf_counter() - started
        yield chunk


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


FLOOR = "Pydantic AI alone (floor)"

CELLS: dict[str, AgentConfig | None] = {
    "checked, warm sandbox": AgentConfig(model="test:", edits="auto"),
    "checked, cold sessions": AgentConfig(model="test:", edits="auto", warm_sandbox=False),
    "type check off": AgentConfig(model="test:", edits="auto", type_check=False),
    FLOOR: None,
}
"""The configurations measured, run by run in turn so machine noise hits all alike."""


@dataclass
class Cell:
    """One configuration's agent (a bare Pydantic AI one for the floor), model and figures."""

    agent: PunieAgent | Agent[None, str]
    script: InstantModel
    per_turn: list[float] = field(default_factory=list)
    sandbox_per_turn: list[float] = field(default_factory=list)


MODEL_WRITES_SECONDS = 0.06
"""How long the scripted model takes per reply: what the tiny test model (2 layers,
hidden 64) takes for a whole ``execute_code`` reply on this CPU (27-99 ms, median ~60,
11 tokens), far below any real model's."""


async def overhead(runs: int) -> None:
    """Per model turn: agent and sandbox time outside the model, cells interleaved.

    The pool is the server's (``SandboxPool()``, two workers): a warm sandbox keeps a
    spare session on the second worker, set up while the model writes
    (``MODEL_WRITES_SECONDS``); ``overhead-instant`` measures a model that writes in no
    time, where the spare cannot be ready.
    """
    await _overhead(runs, MODEL_WRITES_SECONDS)


async def overhead_instant(runs: int) -> None:
    """``overhead`` with a model that answers instantly."""
    await _overhead(runs, 0.0)


async def _overhead(runs: int, writes_seconds: float) -> None:
    tools = CodeModeTools.load()
    cells: dict[str, Cell] = {}
    for name, config in CELLS.items():
        script = InstantModel(writes_seconds)
        model = FunctionModel(stream_function=script.stream)
        if config is None:
            cells[name] = Cell(_floor_agent(model, tools), script)
        else:
            cells[name] = Cell(PunieAgent(config, model=model, tools=tools), script)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "a.py").write_text("x = 1\ny = 2\n")
        async with SandboxPool() as pool:
            first = next(iter(cells.values()))
            for index in range(runs + 3):  # three warm-up rounds are discarded
                for cell in cells.values():
                    await _one_run(cell, pool, root, keep=index >= 3)
                # The floor (last) leaves the pool idle for a whole run, and the run after
                # it measured 2-3 ms slower whatever its cell: that run is not kept.
                await _one_run(first, pool, root, keep=False)
    baseline = statistics.median(cells["checked, cold sessions"].per_turn)
    model = f"model writes {writes_seconds * 1000:.0f} ms per reply (subtracted)"
    print(f"agent overhead per model turn ({runs} runs x 4 turns each, {model}, interleaved)")
    for name, cell in cells.items():
        agent_only = [t - s for t, s in zip(cell.per_turn, cell.sandbox_per_turn, strict=True)]
        print(f"  {name}")
        for label, values in (
            ("total", cell.per_turn),
            ("agent", agent_only),
            ("sandbox", cell.sandbox_per_turn),
        ):
            ms = [v * 1000 for v in values]
            print(
                f"    {label:8s} p50 {statistics.median(ms):6.2f} ms"
                f"   p90 {percentile(ms, 0.9):6.2f} ms   min {min(ms):6.2f} ms"
            )
        ratio = statistics.median(cell.per_turn) / baseline
        floor = statistics.median(cell.per_turn) / statistics.median(cells[FLOOR].per_turn)
        print(f"    total p50 / cold sessions p50: {ratio:.2f}x   / floor p50: {floor:.2f}x")
    p50 = statistics.median(cells["checked, warm sandbox"].per_turn) * 1000
    unchecked = statistics.median(cells["type check off"].per_turn) * 1000
    print(f"  the check's cost: checked p50 - unchecked p50 = {p50 - unchecked:.2f} ms per turn")
    print(f"  target p50 <= 8 ms, type check on: {'met' if p50 <= 8 else 'MISSED'} ({p50:.2f} ms)")
    print(f"  instructions: {len(render_instructions(tools.stubs))} characters")


def _floor_agent(model: FunctionModel, tools: CodeModeTools) -> Agent[None, str]:
    """Pydantic AI with the agent's instructions and a tool that does nothing."""
    floor = Agent(model, output_type=str, instructions=render_instructions(tools.stubs))

    @floor.tool_plain
    async def execute_code(code: str) -> str:
        """Run a program (here: do nothing)."""
        return "ok"

    return floor


async def _drain(ctx: RunContext[None], events: AsyncIterable[AgentStreamEvent]) -> None:
    async for _ in events:
        pass


async def _one_run(cell: Cell, pool: SandboxPool, root: Path, *, keep: bool) -> None:
    """One run of four turns; its per-turn figures join the cell's when ``keep``."""
    agent, script = cell.agent, cell.script
    await pool.settled()  # the previous cell's sessions are back: its clean-up is its own
    if isinstance(agent, Agent):
        script.seconds = 0.0
        started = time.perf_counter()
        floor = await agent.run("Compute things.", event_stream_handler=_drain)
        if keep:
            cell.per_turn.append((time.perf_counter() - started - script.seconds) / 4)
            cell.sandbox_per_turn.append(0.0)
        assert floor.usage.requests == 4
        return
    marks: list[tuple[str, float]] = []

    def progress(event: ProgressEvent, marks: list[tuple[str, float]] = marks) -> None:
        marks.append((event.kind, time.perf_counter()))

    deps = AgentDeps(
        tools=ToolContext(root=root),
        pool=pool,
        progress=progress,
        limits=SandboxLimits(timeout_seconds=10, memory_mb=64),
    )
    script.seconds = 0.0
    started = time.perf_counter()
    result = await agent.ask("Compute things.", deps)
    wall = time.perf_counter() - started
    assert result.outcome == "ok", result.error
    sandbox = sum(
        t2 - t1
        for (k1, t1), (k2, t2) in itertools.pairwise(marks)
        if k1 == "code" or (k1 == "toolCall" and k2 != "code")
    )
    if keep:
        turns = result.turns
        cell.per_turn.append((wall - script.seconds) / turns)
        cell.sandbox_per_turn.append(sandbox / turns)


SECTIONS: dict[str, Callable[[int], Coroutine[None, None, None]]] = {
    "overhead": overhead,
    "overhead-instant": overhead_instant,
    "prefill": agent_mlx.prefill,
    "first-turn": agent_mlx.first_turn,
    "server": agent_mlx.server,
}
"""Benchmark sections by name; each takes the number of runs."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--section", choices=sorted(SECTIONS), action="append")
    args = parser.parse_args(argv)
    for name in args.section or list(SECTIONS):
        asyncio.run(SECTIONS[name](args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
