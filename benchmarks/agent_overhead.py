"""What the agent adds to each model turn, outside the model (issue 5's target: p50 <= 10 ms).

A scripted model (Pydantic AI ``FunctionModel``) answers instantly, so a run's wall time
is the agent's own work: building each request (instructions, history, tool schema),
parsing the streamed response, dispatching ``execute_code`` into the warm sandbox (type
check against the real tool stubs included) and rendering the result back. The time the
model function itself runs is measured and subtracted. One run is four turns (three
programs, then the answer); "sandbox" is the share spent between submitting a program
and its result, "agent" the rest.

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
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from agent import AgentConfig, AgentDeps, ProgressEvent, PunieAgent
from agent.code_mode import CodeModeTools
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
    """Plays the programs then an answer, instantly; records the time spent inside it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.turn = 0

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        started = time.perf_counter()
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


async def overhead(runs: int) -> None:
    """Per model turn: agent and sandbox time outside an instant model."""
    for type_check in (True, False):
        await _overhead(runs, type_check=type_check)


async def _overhead(runs: int, *, type_check: bool) -> None:
    tools = CodeModeTools.load()
    script = InstantModel()
    model = FunctionModel(stream_function=script.stream)
    config = AgentConfig(model="test:", edits="auto", type_check=type_check)
    agent = PunieAgent(config, model=model, tools=tools)
    per_turn: list[float] = []
    sandbox_per_turn: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "a.py").write_text("x = 1\ny = 2\n")
        async with SandboxPool(max_workers=1) as pool:
            for index in range(runs + 3):  # three warm-up runs are discarded
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
                if index >= 3:
                    turns = result.turns
                    per_turn.append((wall - script.seconds) / turns)
                    sandbox_per_turn.append(sandbox / turns)
    agent_only = [t - s for t, s in zip(per_turn, sandbox_per_turn, strict=True)]
    checked = "programs type-checked" if type_check else "type check off"
    print(f"agent overhead per model turn ({runs} runs x 4 turns, instant model, {checked})")
    for name, values in (("total", per_turn), ("agent", agent_only), ("sandbox", sandbox_per_turn)):
        ms = [v * 1000 for v in values]
        print(
            f"  {name:8s} p50 {statistics.median(ms):6.2f} ms   p90 {percentile(ms, 0.9):6.2f} ms"
            f"   min {min(ms):6.2f} ms"
        )
    p50 = statistics.median(per_turn) * 1000
    print(f"  target p50 <= 10 ms: {'met' if p50 <= 10 else 'MISSED'} ({p50:.2f} ms)")
    print(f"  instructions: {len(agent.instructions)} characters")


SECTIONS: dict[str, Callable[[int], Coroutine[None, None, None]]] = {
    "overhead": overhead,
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
