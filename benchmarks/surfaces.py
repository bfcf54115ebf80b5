"""Do agent runs slow the editor down? Hover latency while a model generates, vs idle.

Measured in ONE punie-lsp session on one generated workspace:

* hover p50/p95 with no agent run (baseline) and while agent runs generate back to
  back (``punie.ask`` in a loop), in alternating blocks of ``--block`` hovers so the
  machine's noise hits both alike: the target is busy p95 <= 1.5x idle p95;
* code-action listing p50 through punie (ty's quick fixes plus punie's own actions) and
  ``ty server`` alone on the same request, for scale: listing never runs the model,
  target < 5 ms.

The model is real by default: the tiny mlx-lm model the tests build (2 layers; mlx on
this CPU is slow, so runs are short but the generation is real), as ``mlx:`` runs it:
in the model's worker process (``agent._mlx_worker``). ``--model mlx-thread`` runs the
same engine on a thread of punie's own process instead (``MlxModel(process=False)``,
through the test-only model factory hook): mlx-lm's Python generation loop then
competes with the event loop for the GIL, the choice the worker process was measured
against. ``--model server`` runs the same tiny model in ``mlx_lm server`` (the
``openai:`` backend), with ``--server-nice 10`` at the worker's lower priority.
``--model scripted`` uses the test-only scripted model instead (a
``FunctionModel`` streaming words), which isolates the agent's own overhead from mlx's;
``--model tools`` a scripted model whose runs call typed tools (ruff, ty's check, the
editor's ty for a large file's symbols, git, a file read) before answering: hover while
the agent works rather than while it writes.

The machine is shared and p95 is noisy: the load average is printed at the start and
the end, and ``--rounds`` repeats the idle/busy alternation so each round's ratio shows
how much of the pooled ratio is noise. Usage::

    uv run python -m benchmarks.surfaces [--iterations 200] [--rounds 1]
        [--model mlx|mlx-thread|server|scripted|tools] [--server-nice 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.proxy_overhead import TY, Server, make_workspace, ms, pct

PUNIE = [sys.executable, "-m", "punie_lsp", "--stdio"]


def model_settings(kind: str, base_url: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """The ``punie`` settings and server environment for the chosen model."""
    if kind == "server":
        from tests.agent.tiny_model import tiny_model_dir

        return {"model": f"openai:{tiny_model_dir()}", "baseUrl": base_url, "maxTokens": 64}, {}
    if kind == "tools":
        return {}, {
            "PUNIE_LSP_MODEL_FACTORY": "tests.scripted_models:tool_user",
            "PUNIE_TEST_CHUNK_DELAY": "0.02",
        }
    if kind == "scripted":
        env = {
            "PUNIE_LSP_MODEL_FACTORY": "tests.scripted_models:chatterbox",
            "PUNIE_TEST_CHUNK_DELAY": "0.002",
        }
        return {}, env
    from tests.agent.tiny_model import tiny_model_dir

    if kind == "mlx-thread":
        factory = {
            "PUNIE_LSP_MODEL_FACTORY": "benchmarks.surfaces:mlx_on_a_thread",
            TINY_MODEL_ENV: str(tiny_model_dir()),
        }
        return {"maxTokens": 64}, factory
    return {"model": f"mlx:{tiny_model_dir()}", "maxTokens": 64}, {}


TINY_MODEL_ENV = "PUNIE_BENCH_TINY_MODEL"
"""Where ``mlx_on_a_thread`` finds the model (set by this benchmark for the server)."""


def mlx_on_a_thread() -> Any:
    """The ``mlx:`` model with its engine on a thread of the server's process."""
    from agent.mlx_model import MlxModel

    return MlxModel(os.environ[TINY_MODEL_ENV], max_tokens=64, process=False)


async def hover_latencies(server: Server, uri: str, count: int) -> list[float]:
    params = {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 7}}
    latencies = []
    for _ in range(count):
        seconds, body = await server.timed("textDocument/hover", params)
        if b'"result"' not in body:
            raise RuntimeError(f"hover failed: {body[:200]!r}")
        latencies.append(seconds)
    return latencies


async def code_action_latencies(server: Server, uri: str, count: int) -> tuple[list[float], int]:
    params = {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 3, "character": 0}, "end": {"line": 6, "character": 0}},
        "context": {
            "diagnostics": [
                {
                    "range": {
                        "start": {"line": 3, "character": 0},
                        "end": {"line": 3, "character": 5},
                    },
                    "message": "example",
                    "code": "unresolved-reference",
                    "source": "ty",
                }
            ]
        },
    }
    latencies, actions = [], 0
    for _ in range(count):
        seconds, body = await server.timed("textDocument/codeAction", params)
        actions = len(json.loads(body)["result"] or [])
        latencies.append(seconds)
    return latencies, actions


async def main_async(args: argparse.Namespace) -> None:
    if args.model != "server":
        await measure(args, "")
        return
    from tests.agent.tiny_model import start_mlx_server, stop_mlx_server, tiny_model_dir

    with tempfile.TemporaryDirectory(prefix="punie-hub-") as hub:
        process, base_url = start_mlx_server(tiny_model_dir(), Path(hub))
        if args.server_nice:
            lower_priority(process.pid, args.server_nice)
        try:
            await measure(args, base_url)
        finally:
            stop_mlx_server(process)


def lower_priority(pid: int, niceness: int) -> None:
    """``nice`` every thread of ``pid``: Linux priorities are per thread (new ones inherit)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), niceness)


async def measure(args: argparse.Namespace, base_url: str) -> None:
    loads = os.getloadavg()
    settings, env = model_settings(args.model, base_url)
    with tempfile.TemporaryDirectory(prefix="punie-surfaces-") as tmp:
        root = Path(tmp)
        make_workspace(root, 20)
        target = root / "pkg" / "m5.py"
        uri = target.as_uri()
        os.environ.update(env)
        punie = Server("punie-lsp", PUNIE, root)
        ty = Server("ty", TY, root)
        for server in (punie, ty):
            await server.start()
            await server.initialize()
            server.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": uri,
                        "languageId": "python",
                        "version": 1,
                        "text": target.read_text(),
                    }
                },
            )
        punie.notify("workspace/didChangeConfiguration", {"settings": {"punie": settings}})
        await hover_latencies(punie, uri, 50)  # warm-up

        # Warm the model once (loading is not what this measures).
        started = time.perf_counter()
        warm = json.loads(await punie.request("workspace/executeCommand", _ask(), timeout=600))
        if "error" in warm:
            raise RuntimeError(f"punie.ask failed: {warm['error']}")
        load_seconds = time.perf_counter() - started
        first = warm.get("result") or {}
        calls = ", ".join(
            f"{call['tool']} {call['durationMs']:.0f} ms" for call in first.get("calls", [])
        )
        print(
            f"first run: outcome {first.get('outcome')}, {first.get('turns')} model turn(s)"
            + (f"; tool calls: {calls}" if calls else "")
        )

        idle: list[float] = []
        busy: list[float] = []
        rounds: list[float] = []
        runs = 0

        async def keep_generating(stop: asyncio.Event) -> None:
            nonlocal runs
            while not stop.is_set():
                answer = json.loads(
                    await punie.request("workspace/executeCommand", _ask(), timeout=600)
                )
                if "error" in answer:
                    raise RuntimeError(f"punie.ask failed: {answer['error']}")
                runs += 1

        for _ in range(args.rounds):
            round_idle: list[float] = []
            round_busy: list[float] = []
            while len(round_busy) < args.iterations:  # alternating blocks: idle, then busy
                round_idle += await hover_latencies(punie, uri, args.block)
                stop = asyncio.Event()
                generating = asyncio.create_task(keep_generating(stop))
                await asyncio.sleep(0.2)  # let the first run reach the model
                round_busy += await hover_latencies(punie, uri, args.block)
                stop.set()
                await generating  # the run in flight ends before the next idle block
            rounds.append(pct(round_busy, 0.95) / pct(round_idle, 0.95))
            idle += round_idle
            busy += round_busy

        through_punie, actions = await code_action_latencies(punie, uri, args.iterations)
        ty_alone, ty_actions = await code_action_latencies(ty, uri, args.iterations)
        for server in (punie, ty):
            await server.stop()

    ratio = pct(busy, 0.95) / pct(idle, 0.95)
    described = {
        "mlx": "tiny mlx-lm model, in its worker process",
        "mlx-thread": "tiny mlx-lm model, on a thread of punie's process",
        "server": "the same model in mlx_lm server, another process",
        "scripted": "scripted model",
        "tools": "scripted model calling typed tools",
    }[args.model]
    print(f"command: {shlex.join(sys.argv)}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(f"load average (1 min): {loads[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print(f"model: {args.model} ({described}); first run incl. load {load_seconds:.2f} s")
    print()
    print(f"{'hover':<34}{'p50 ms':>10}{'p95 ms':>10}{'n':>9}")
    print(row("idle", idle, len(idle)))
    print(row("while agent runs generate", busy, len(busy)))
    print(f"ratio busy/idle p95: {ratio:.2f} (target <= 1.5; {runs} agent runs meanwhile;")
    print(f"  p50 ratio {pct(busy, 0.5) / pct(idle, 0.5):.2f}; blocks of {args.block} alternated)")
    if len(rounds) > 1:
        each = ", ".join(f"{r:.2f}" for r in rounds)
        print(f"  p95 ratio per round of {args.iterations}: {each}; median {median(rounds):.2f}")
    print()
    print(f"{'code actions':<34}{'p50 ms':>10}{'p95 ms':>10}{'actions':>9}")
    print(row("through punie (ty + punie)", through_punie, actions))
    print(row("ty alone", ty_alone, ty_actions))
    verdict = "met" if pct(through_punie, 0.5) < 0.005 else "MISSED"
    print(f"code-action listing p50 target < 5 ms: {verdict}")


def row(label: str, values: list[float], count: int) -> str:
    return f"{label:<34}{ms(pct(values, 0.5)):>10}{ms(pct(values, 0.95)):>10}{count:>9}"


def _ask() -> dict[str, Any]:
    return {"command": "punie.ask", "arguments": [{"prompt": "What does m5 do?"}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument(
        "--model", choices=["mlx", "mlx-thread", "server", "scripted", "tools"], default="mlx"
    )
    parser.add_argument(
        "--server-nice",
        type=int,
        default=0,
        help="--model server: lower mlx_lm server's CPU priority by this (as the worker's)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="idle/busy measurements to pool")
    parser.add_argument("--block", type=int, default=25, help="hovers per idle/busy block")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
