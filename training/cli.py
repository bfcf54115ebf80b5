"""``punie-lsp train``: datasets, fine-tuning, fusing, quantizing, evaluation and reports.

The steps, in the order a user runs them::

    punie-lsp train data …                      # build a dataset directory (train/valid/test.jsonl)
    punie-lsp train finetune --model M --data D --output adapters/
    punie-lsp train eval --model mlx:M --adapter adapters/ --output after.json
    punie-lsp train fuse --model M --adapter adapters/ --output fused/
    punie-lsp train quantize --model fused/ --bits 4 --output fused-4bit/
    punie-lsp train report after.json --baseline before.json --training-log adapters/

Each subcommand imports its module (and mlx) only when run. Results go to files;
progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from training.flags import integer, number
from training.paths import path_problems

__all__ = ["main"]

_SAMPLE_PROJECT = Path(__file__).resolve().parent / "sample_project"
"""``training.suites.SAMPLE_PROJECT``, named here without importing the suites for --help."""


def _data(argv: list[str]) -> int:
    try:
        module = importlib.import_module("training.datasets_cli")
    except ModuleNotFoundError as error:
        if error.name != "training.datasets_cli":
            raise
        print(
            "punie-lsp train data: dataset building is not available in this version "
            "(training.datasets_cli is missing); write train.jsonl/valid.jsonl by hand "
            "in the chat 'messages' format meanwhile",
            file=sys.stderr,
        )
        return 2
    return int(module.main(argv))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="punie-lsp train",
        description=(
            "Make a local model better at Code Mode on your code: build a dataset, "
            "fine-tune with mlx-lm, fuse or quantize the result, evaluate it through "
            "the real agent, and write an HTML report."
        ),
    )
    sub = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    sub.add_parser(
        "data",
        help="build a dataset directory from real tool runs, traces or Punie rows",
        add_help=False,
    )

    ft = sub.add_parser(
        "finetune",
        help="LoRA or full fine-tuning of an mlx model on a dataset directory",
        description=(
            "Train with mlx-lm on DATA/train.jsonl (validation on DATA/valid.jsonl when it "
            "has at least a batch of rows). Writes an adapter directory that "
            "'--model mlx:M' with '--adapter' (or 'train fuse') uses; every --save-every "
            "steps the weights and the step are saved, and --resume continues from them."
        ),
    )
    ft.add_argument("--model", required=True, help="base model directory or HF repo (mlx: ok)")
    ft.add_argument("--data", required=True, type=Path, help="dataset directory")
    ft.add_argument("--output", required=True, type=Path, help="adapter directory to write")
    ft.add_argument(
        "--fine-tune-type",
        "--method",
        dest="fine_tune_type",
        choices=["lora", "full"],
        default="lora",
        help="mlx-lm's name; --method is the earlier spelling",
    )
    ft.add_argument("--rank", type=integer(1, 4096), default=8, help="LoRA rank (default 8)")
    ft.add_argument(
        "--scale",
        type=number(0, 10_000, low_open=True),
        default=20.0,
        help="LoRA scale (default 20)",
    )
    ft.add_argument("--dropout", type=number(0, 0.99), default=0.0, help="LoRA dropout")
    ft.add_argument(
        "--num-layers",
        type=integer(1, 10_000, also=-1),
        default=16,
        help="last N blocks to train; -1 all",
    )
    ft.add_argument(
        "--learning-rate", type=number(0, 1, low_open=True), default=1e-5, help="peak learning rate"
    )
    ft.add_argument(
        "--lr-schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="cosine: decay to zero at --iters",
    )
    ft.add_argument(
        "--warmup", type=integer(0, 10_000_000), default=0, help="steps of linear warm-up from zero"
    )
    ft.add_argument(
        "--iters",
        "--iterations",
        dest="iters",
        type=integer(1, 10_000_000),
        default=100,
        help="total steps",
    )
    ft.add_argument("--batch-size", type=integer(1, 65_536), default=4)
    ft.add_argument(
        "--grad-accumulation-steps",
        "--grad-accumulation",
        dest="grad_accumulation_steps",
        type=integer(1, 65_536),
        default=1,
        help="steps per update",
    )
    ft.add_argument(
        "--no-mask-prompt",
        dest="mask_prompt",
        action="store_false",
        help="also train on the prompt, not only the last assistant turn",
    )
    ft.add_argument(
        "--max-seq-length",
        type=integer(16, 1_048_576),
        default=4096,
        help="tokens a row may have; a longer row stops the run before training (default 4096)",
    )
    ft.add_argument("--seed", type=integer(0, 2**32 - 1), default=0)
    ft.add_argument("--save-every", type=integer(1, 10_000_000), default=100)
    ft.add_argument(
        "--steps-per-eval",
        "--eval-every",
        dest="steps_per_eval",
        type=integer(1, 10_000_000),
        default=200,
        help="validation loss every N steps",
    )
    ft.add_argument("--resume", action="store_true", help="continue from --output's last save")

    fu = sub.add_parser(
        "fuse",
        help="merge an adapter into its base model: a plain model directory",
        description="Merge the LoRA (or full) adapter into the base weights; 'mlx:OUTPUT' "
        "then loads without --adapter.",
    )
    fu.add_argument("--model", required=True, help="the base model the adapter was trained on")
    fu.add_argument("--adapter", required=True, type=Path)
    fu.add_argument("--output", required=True, type=Path)
    fu.add_argument("--dequantize", action="store_true", help="write full-precision weights")

    qu = sub.add_parser(
        "quantize",
        help="quantize a model directory to 4/5/6/8 bits",
        description="A smaller, faster copy of a model (mlx-lm's convert); OUTPUT must not exist.",
    )
    qu.add_argument("--model", required=True)
    qu.add_argument("--output", required=True, type=Path)
    qu.add_argument("--bits", type=int, choices=[4, 5, 6, 8], default=4)
    qu.add_argument("--group-size", type=int, choices=[32, 64, 128], default=64)

    ev = sub.add_parser(
        "eval",
        help="run an evaluation suite through the real agent and write JSON",
        description=(
            "Each prompt of the suite runs through the agent the editor uses (sandbox, "
            "typed tools, ty) on a copy of WORKSPACE, and is scored on the tools called, "
            "the fields read and the answer's keywords. Per-category scores, turns and "
            "latency go to OUTPUT as JSON."
        ),
    )
    ev.add_argument("--model", required=True, help="mlx:<dir-or-repo> or openai:<name>")
    ev.add_argument("--adapter", help="an adapter directory for an mlx: model")
    ev.add_argument("--base-url", help="the server of an openai: model")
    ev.add_argument("--suite", default="default", help="default, or one category")
    ev.add_argument(
        "--workspace",
        type=Path,
        default=_SAMPLE_PROJECT,
        help="project to evaluate on (default: the sample project the suites are written for)",
    )
    ev.add_argument("--max-tokens", type=int, default=512, help="per model turn")
    ev.add_argument(
        "--request-timeout-seconds",
        type=float,
        default=120.0,
        help="how long an openai: server may send nothing (default: %(default)g)",
    )
    ev.add_argument("--output", required=True, type=Path)

    rp = sub.add_parser(
        "report",
        help="an HTML report of an eval run, optionally compared with a baseline",
        description="A self-contained HTML file: per-category bars, the loss curve of "
        "--training-log (an adapter directory) and, with --baseline, per-category deltas.",
    )
    rp.add_argument("run", type=Path, help="the eval JSON to report on")
    rp.add_argument("--baseline", type=Path, help="an earlier eval JSON to compare with")
    rp.add_argument("--training-log", type=Path, help="adapter directory with training_log.json")
    rp.add_argument("--output", type=Path, help="HTML path (default: RUN with .html)")
    return parser


def _finetune(args: argparse.Namespace) -> int:
    from training.adapters import FinetuneConfig
    from training.finetune import finetune

    result = finetune(
        FinetuneConfig(
            model=args.model,
            data=args.data,
            output=args.output,
            fine_tune_type=args.fine_tune_type,
            rank=args.rank,
            scale=args.scale,
            dropout=args.dropout,
            num_layers=args.num_layers,
            learning_rate=args.learning_rate,
            lr_schedule=args.lr_schedule,
            warmup=args.warmup,
            iters=args.iters,
            batch_size=args.batch_size,
            grad_accumulation_steps=args.grad_accumulation_steps,
            mask_prompt=args.mask_prompt,
            max_seq_length=args.max_seq_length,
            seed=args.seed,
            save_every=args.save_every,
            steps_per_eval=args.steps_per_eval,
            resume=args.resume,
        )
    )
    last = result.losses[-1].loss if result.losses else float("nan")
    print(
        f"adapter {result.adapter_dir}: step {result.step}, loss {last:.3f}, "
        f"{result.tokens_per_second:.0f} tokens/s, peak {result.peak_memory_gb:.2f} GB",
        file=sys.stderr,
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from pydantic_ai import models

    from training.evaluate import CaseResult, run_suite
    from training.suites import suite

    # This command exists to send prompts to the model (tests turn requests off globally).
    models.ALLOW_MODEL_REQUESTS = True

    def show(case: CaseResult) -> None:
        print(f"  {case.id} ({case.category}): {case.score:.2f}", file=sys.stderr)

    if not args.workspace.is_dir():
        return _fail("eval", f"--workspace {args.workspace}: no such folder")
    problems = _agent_flag_problems(args)
    if problems:
        return _fail("eval", "; ".join(problems))
    run = asyncio.run(
        run_suite(
            suite(args.suite),
            model=args.model,
            workspace=args.workspace,
            adapter=args.adapter,
            base_url=args.base_url,
            suite_name=args.suite,
            max_tokens=args.max_tokens,
            request_timeout_seconds=args.request_timeout_seconds,
            on_case=show,
        )
    )
    if run.cases and all(case.outcome == "model_error" for case in run.cases):
        return _fail(
            "eval",
            f"no case reached the model, nothing was scored ({run.cases[0].error}); "
            f"{args.output} not written",
            status=1,
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(run.model_dump_json(indent=1), encoding="utf-8")
    scores = ", ".join(f"{name} {cat.score:.2f}" for name, cat in run.categories.items())
    print(f"overall {run.overall:.2f} ({scores}) -> {args.output}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    from training.evaluate import load_run
    from training.report import write_report

    for flag, path in (("RUN", args.run), ("--baseline", args.baseline)):
        if path is not None and not path.is_file():
            return _fail("report", f"{flag} {path}: no such file (write one with `train eval`)")
    if args.training_log is not None and not args.training_log.is_dir():
        return _fail("report", f"--training-log {args.training_log}: no such adapter folder")
    if args.training_log is not None:
        from training.adapters import read_log

        if read_log(args.training_log) is None:  # the report would leave its plot out silently
            return _fail(
                "report",
                f"--training-log {args.training_log}: no saved training log there (name the "
                "adapter folder `train finetune --output` wrote)",
            )

    output = args.output or args.run.with_suffix(".html")
    write_report(
        load_run(args.run),
        output,
        baseline=load_run(args.baseline) if args.baseline else None,
        training_log=args.training_log,
    )
    print(output)
    return 0


def _agent_flag_problems(args: argparse.Namespace) -> list[str]:
    """The agent's flags checked against the settings' own ranges, named as flags."""
    from pydantic import ValidationError

    from agent.config import AgentConfig
    from agent.settings_resolution import setting_problems

    try:
        AgentConfig(
            model=args.model,
            base_url=args.base_url,
            adapter=args.adapter,
            max_tokens=args.max_tokens,
            request_timeout_seconds=args.request_timeout_seconds,
        )
    except ValidationError as exc:
        return [problem for _, problem in setting_problems(exc, AgentConfig, _flag)]
    return []


def _flag(loc: tuple[int | str, ...]) -> str:
    return "--" + str(loc[0]).replace("_", "-")


def _fail(step: str, message: str, *, status: int = 2) -> int:
    """One line on stderr naming the step; the status to exit with."""
    print(f"punie-lsp train {step}: {' '.join(message.split())}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; 0 done, 1 it ran and failed, 2 bad input (one line on stderr)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] == "data":
        return _data(arguments[1:])
    args = _parser().parse_args(arguments)
    from agent.config import ModelSpecError

    try:
        return _step(args)
    except (ValueError, ModelSpecError, OSError) as error:
        # Our own refusals (ValueError, naming the flag), a model that cannot load, a
        # file that cannot be read: said in one line, never a traceback.
        return _fail(
            args.step,
            f"{type(error).__name__}: {error}" if isinstance(error, OSError) else str(error),
        )


def _step(args: argparse.Namespace) -> int:
    problem = path_problems(args)
    if problem is not None:
        return _fail(args.step, problem)
    if args.step == "finetune":
        return _finetune(args)
    if args.step == "fuse":
        from training.convert import fuse

        print(fuse(args.model, args.adapter, args.output, dequantize=args.dequantize))
        return 0
    if args.step == "quantize":
        from training.convert import quantize

        print(quantize(args.model, args.output, bits=args.bits, group_size=args.group_size))
        return 0
    if args.step == "eval":
        return _eval(args)
    return _report(args)
