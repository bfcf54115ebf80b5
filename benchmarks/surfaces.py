"""Do agent runs slow the editor down? Hover latency while a model generates, vs idle.

Measured in ONE punie-lsp session on one generated workspace:

* hover p50/p95 with no agent run (baseline), then while agent runs generate back to
  back (``punie.ask`` in a loop), interleaved with the hovers: the ratio's target is
  <= 1.5;
* code-action listing p50 through punie (ty's quick fixes plus punie's own actions) and
  ``ty server`` alone on the same request, for scale: listing never runs the model,
  target < 5 ms.

The model is real by default: the tiny mlx-lm model the tests build (2 layers; mlx on
this CPU is slow, so runs are short but the generation is real and in-process, in
punie's own process, competing for the GIL). ``--model scripted`` uses the test-only
scripted model instead (a ``FunctionModel`` streaming words), which isolates the
agent's own overhead from mlx's. Usage::

    uv run python -m benchmarks.surfaces [--iterations 200] [--model mlx|scripted]
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
from typing import Any

from benchmarks.proxy_overhead import TY, Server, make_workspace, ms, pct

PUNIE = [sys.executable, "-m", "punie_lsp", "--stdio"]


def model_settings(kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``punie`` settings and server environment for the chosen model."""
    if kind == "scripted":
        env = {
            "PUNIE_LSP_MODEL_FACTORY": "tests.scripted_models:chatterbox",
            "PUNIE_TEST_CHUNK_DELAY": "0.002",
        }
        return {}, env
    from tests.agent.tiny_model import tiny_model_dir

    return {"model": f"mlx:{tiny_model_dir()}", "maxTokens": 64}, {}


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
    settings, env = model_settings(args.model)
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

        idle = await hover_latencies(punie, uri, args.iterations)

        runs = 0
        stop = asyncio.Event()

        async def keep_generating() -> None:
            nonlocal runs
            while not stop.is_set():
                answer = json.loads(
                    await punie.request("workspace/executeCommand", _ask(), timeout=600)
                )
                if "error" in answer:
                    raise RuntimeError(f"punie.ask failed: {answer['error']}")
                runs += 1

        generating = asyncio.create_task(keep_generating())
        await asyncio.sleep(0.2)  # let the first run reach the model
        busy = await hover_latencies(punie, uri, args.iterations)
        stop.set()
        await generating

        through_punie, actions = await code_action_latencies(punie, uri, args.iterations)
        ty_alone, ty_actions = await code_action_latencies(ty, uri, args.iterations)
        for server in (punie, ty):
            await server.stop()

    ratio = pct(busy, 0.5) / pct(idle, 0.5)
    described = "tiny mlx-lm model, in-process" if args.model == "mlx" else "scripted model"
    print(f"command: {shlex.join(sys.argv)}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(f"model: {args.model} ({described}); first run incl. load {load_seconds:.2f} s")
    print()
    print(f"{'hover':<34}{'p50 ms':>10}{'p95 ms':>10}{'n':>9}")
    print(row("idle", idle, len(idle)))
    print(row("while agent runs generate", busy, len(busy)))
    print(f"ratio busy/idle p50: {ratio:.2f} (target <= 1.5; {runs} agent runs meanwhile)")
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
    parser.add_argument("--model", choices=["mlx", "scripted"], default="mlx")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
