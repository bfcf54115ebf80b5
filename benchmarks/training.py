"""Training on this CPU: tokens/s and peak memory; eval scores before and after a fine-tune.

1. Throughput: LoRA (rank 8, both layers) and full fine-tuning of the tiny model's
   pre-trained base (``tests/agent/tiny_model.py``: 2-layer qwen2, hidden 64) on short
   templated rows, batch 4; tokens/s and peak memory as mlx-lm's trainer reports them.
2. Before/after: the same templates on 24 paths, each row carrying the agent's real
   system prompt and tool schema (``training.rows``), so the model is trained on what
   the live agent sends (~1,800 tokens a row; the tool message as the agent renders a
   run's output). Rows are split so the tool call is
   trained, not only the answer (prompt masking scores the last assistant turn). By
   default both layers are fine-tuned in full (``--method lora`` for LoRA). The
   held-out set is the templates on paths no training row uses; it runs through the
   real agent (sandbox, typed tools, ty) with the base model and then with the result.
   The base is the tiny model's pre-trained checkpoint, not the test model whose rules
   make it answer every prompt alike (a fine-tune would first have to unlearn them).

Every figure printed is measured in this run. Usage::

    uv run python benchmarks/training.py [--iterations 60] [--agent-iterations 800]
        [--method full|lora] [--learning-rate 3e-3] [--lr-schedule cosine|constant]
        [--warmup 40] [--report out.html]

The defaults take about 40 minutes on two cores (2.5 s a step on ~1,800-token rows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and its own name would
# shadow the ``training`` package: drop the folder before importing it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from pydantic_ai import models  # noqa: E402

from tests.agent.tiny_model import tiny_base_model_dir  # noqa: E402
from tests.training.tiny_data import (  # noqa: E402
    TEMPLATES,
    rows,
    template_tool,
    with_call_rows,
    write_dataset,
)
from training.adapters import FinetuneConfig  # noqa: E402
from training.evaluate import EvalRun, run_suite  # noqa: E402
from training.finetune import finetune, load_rows  # noqa: E402
from training.report import compare_runs, write_report  # noqa: E402
from training.suites import EvalCase  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "training" / "sample_project"
TRAIN_FILES = [
    f"{folder}/{name}.py"
    for folder in ("pkg", "src", "app", "lib")
    for name in ("app", "shapes", "models", "views", "utils", "core")
]
"""Many paths, so the request's verb, not its path, is what tells the templates apart."""
HELD_OUT = ["pkg/__init__.py", "pkg"]
"""Paths no training row uses (the fixture project's package and its ``__init__``)."""
KEYWORDS = ("error", "violation", "line", "symbols")
"""A word of each template's answer, by template index."""
_FIELDS = {
    "tool_discrimination": {"typecheck": ("error_count",), "ruff_check": ("violation_count",)},
    "field_access": {"typecheck": ("errors", "line", "message")},
}


SEEN = ["pkg/app.py", "src/models.py"]
"""Two training paths: the same suite on them tells memorising from generalising."""


def template_suite(paths: list[str] = HELD_OUT) -> list[EvalCase]:
    """The templates' prompts on ``paths``, expecting the templates' tools and fields."""
    cases = []
    for i, (category, prompt, code, _output, _answer) in enumerate(TEMPLATES):
        tool = template_tool(code)
        for path in paths:
            cases.append(
                EvalCase(
                    id=f"{category}-{i}-{path}",
                    category=category,  # ty: ignore[invalid-argument-type]  # template categories are suite categories
                    prompt=prompt.format(f=path),
                    expected_tools=(tool,),
                    expected_fields=_FIELDS.get(category, {}).get(tool, ()),
                    expected_keywords=(KEYWORDS[i],),
                )
            )
    return cases


def throughput(model: Path, work: Path, iterations: int) -> None:
    data = write_dataset(work / "short", copies=4)
    for method, layers in (("lora", 2), ("full", 2)):
        result = finetune(
            FinetuneConfig(
                model=str(model),
                data=data,
                output=work / f"throughput-{method}",
                fine_tune_type=method,
                num_layers=layers,
                learning_rate=1e-3,
                iters=iterations,
                batch_size=4,
                save_every=iterations,
                steps_per_eval=iterations,
                val_batches=1,
                # Score every token: mlx-lm's tokens/s counts scored tokens only.
                mask_prompt=False,
            )
        )
        # The first report includes mlx's kernel compilation: leave it out of the mean.
        steady = result.losses[1:] or result.losses
        tps = sum(p.tokens_per_second for p in steady) / len(steady)
        print(
            f"{method:>4} fine-tuning, {iterations} steps of batch 4: "
            f"{tps:,.0f} tokens/s (steady), peak memory {result.peak_memory_gb * 1000:.1f} MB, "
            f"loss {result.losses[0].loss:.2f} -> {result.losses[-1].loss:.2f}, "
            f"{result.seconds:.1f} s wall"
        )


def before_after(
    model: Path, work: Path, args: argparse.Namespace
) -> dict[str, tuple[EvalRun, EvalRun]]:
    from training.rows import code_mode_instructions, execute_code_tools

    chat = {"system": code_mode_instructions(), "tools": execute_code_tools()}
    data = work / "agent-format"
    data.mkdir()
    train = with_call_rows(rows(TRAIN_FILES, copies=1, live=True, **chat))
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    adapter = work / "adapter"
    tic = time.perf_counter()
    result = finetune(
        FinetuneConfig(
            model=str(model),
            data=data,
            output=adapter,
            fine_tune_type=args.method,
            num_layers=2,
            rank=args.rank,
            scale=args.scale,
            learning_rate=args.learning_rate,
            lr_schedule=args.lr_schedule,
            warmup=args.warmup,
            iters=args.agent_iterations,
            batch_size=1,
            max_seq_length=8192,
            save_every=args.agent_iterations,
        )
    )
    seconds = time.perf_counter() - tic
    tokens = _row_tokens(model, load_rows(data / "train.jsonl")[1])
    print(
        f"agent-format {args.method}: {len(train)} rows of ~{tokens} tokens, "
        f"{args.agent_iterations} steps of batch 1 in {seconds:.0f} s "
        f"({seconds / args.agent_iterations:.1f} s/step), lr {args.learning_rate:g} "
        f"{args.lr_schedule} warm-up {args.warmup}, "
        f"loss {result.losses[0].loss:.2f} -> {result.losses[-1].loss:.2f}"
    )
    models.ALLOW_MODEL_REQUESTS = True
    out = {}
    for suite, paths in (("held-out paths", HELD_OUT), ("training paths", SEEN)):
        runs = [
            asyncio.run(
                run_suite(
                    template_suite(paths),
                    model=f"mlx:{model}",
                    workspace=FIXTURE,
                    adapter=str(adapter_dir) if adapter_dir else None,
                    suite_name=f"templates on {suite}",
                    max_tokens=96,
                )
            )
            for adapter_dir in (None, adapter)
        ]
        out[suite] = (runs[0], runs[1])
    return out


def _row_tokens(model: Path, row: dict[str, Any]) -> int:
    from transformers import AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model)  # transformers' stubs allow None
    ids = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], return_dict=False)
    return len(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=60, help="throughput steps")
    parser.add_argument(
        "--agent-iterations", type=int, default=800, help="before/after steps (~2.5 s each)"
    )
    parser.add_argument("--method", choices=("lora", "full"), default="full")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--lr-schedule", choices=("constant", "cosine"), default="cosine")
    parser.add_argument("--warmup", type=int, default=40, help="warm-up steps")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank")
    parser.add_argument("--scale", type=float, default=20.0, help="LoRA scale")
    parser.add_argument("--report", type=Path, help="also write the comparison as HTML")
    args = parser.parse_args()
    model = tiny_base_model_dir()
    print(f"model: {model} (pre-trained 2-layer qwen2, hidden 64), mlx on CPU", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="punie-train-bench-") as tmp:
        work = Path(tmp)
        throughput(model, work, args.iterations)
        results = before_after(model, work, args)
        for suite, (before, after) in results.items():
            print(f"templated set on {suite}, {len(before.cases)} prompts through the real agent:")
            deltas = compare_runs(before, after)
            for name, cat in after.categories.items():
                base = before.categories[name]
                print(
                    f"  {name:<20} before {base.score:.2f} (pass {base.pass_rate:.0%}, "
                    f"{base.mean_turns:.1f} turns, {base.mean_latency_seconds:.1f} s)  "
                    f"after {cat.score:.2f} (pass {cat.pass_rate:.0%}, "
                    f"{cat.mean_turns:.1f} turns, {cat.mean_latency_seconds:.1f} s)  "
                    f"delta {deltas[name]:+.2f}"
                )
            print(f"  {'overall':<20} before {before.overall:.2f}  after {after.overall:.2f}")
            for case in after.cases:
                print(f"    after {case.id}: tools {case.tools_called} answer {case.answer[:60]!r}")
        if args.report:
            before, after = results["held-out paths"]
            write_report(after, args.report, baseline=before, training_log=work / "adapter")
            print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
