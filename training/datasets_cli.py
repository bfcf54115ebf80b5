"""``punie-lsp train data …``: build, import and inspect datasets.

A dataset is a directory with ``train.jsonl``, ``valid.jsonl`` and ``test.jsonl``, one
row per line (``{"messages", "tools", "category", "id"}``), ready for
``punie-lsp train finetune``. ``training.cli`` dispatches ``train data`` here.

Each subcommand imports what it needs when it runs: generating loads the agent, the
sandbox and the tools (seconds of imports), which ``stats`` and ``--help`` never pay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from training.flags import integer

if TYPE_CHECKING:
    from training.rows import Row

__all__ = ["main"]

_GENERATE_HELP = """\
Build Code Mode examples whose tool results are real. Each example's program runs in
the sandbox with the typed tools against a temporary copy of a workspace (a git
repository with a few planted type errors), and the tool message is exactly what the
agent would show the model. Categories: single_tool, multi_step, field_access,
check_and_fix, lsp_navigation, git, direct_answer. Rows are deduplicated and split
80/10/10 by --seed. Without --source or --package, the sample project installed with
punie-lsp (the one `train eval` evaluates on) is used."""

_TRACES_HELP = """\
Turn captured session traces (captureTraces; by default
~/.local/share/punie-lsp/traces.jsonl) into rows. Only runs that succeeded and did not
leave more type errors are kept; API keys, tokens, AWS keys, private keys and
password/token assignments are redacted."""

_PUNIE_HELP = """\
Convert Punie-format rows (tool calls and results as <tool_call>/<tool_response> XML in
message text; {"messages": [...]} or one ChatML {"text": ...} per line) into rows with
structured tool calls, using this agent's instructions as the system prompt
(--keep-system keeps Punie's). Rows in Punie's pre-Code Mode JSON-tool format are
skipped, each named with the reason. Every execute_code program is type-checked against
the tool stubs as the sandbox checks it (no tool runs); rows with a program that does
not check are refused and counted by reason (--no-check keeps them)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="punie-lsp train data",
        description="Build, import and inspect fine-tuning datasets (train/valid/test JSONL).",
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    gen = steps.add_parser(
        "generate", help="examples from real sandbox runs", description=_GENERATE_HELP
    )
    _out_flags(gen)
    gen.add_argument(
        "--per-category", type=integer(1, 100_000), default=20, help="rows per category"
    )
    gen.add_argument(
        "--seed", type=integer(0, 2**32 - 1), default=0, help="seed for templates and the split"
    )
    gen.add_argument(
        "--source", type=Path, action="append", default=[], help="a project directory (repeatable)"
    )
    gen.add_argument(
        "--package", action="append", default=[], help="an installed package's source (repeatable)"
    )

    traces = steps.add_parser(
        "import-traces", help="rows from session traces", description=_TRACES_HELP
    )
    traces.add_argument("file", type=Path, help="traces.jsonl")
    _out_flags(traces)
    traces.add_argument("--seed", type=integer(0, 2**32 - 1), default=0, help="seed for the split")

    punie = steps.add_parser(
        "import-punie", help="rows from Punie's format", description=_PUNIE_HELP
    )
    punie.add_argument("file", type=Path, help="a Punie JSONL file")
    _out_flags(punie)
    punie.add_argument("--seed", type=integer(0, 2**32 - 1), default=0, help="seed for the split")
    punie.add_argument("--keep-system", action="store_true", help="keep Punie's system prompt")
    punie.add_argument(
        "--no-check", action="store_true", help="keep rows whose programs fail the type check"
    )

    stats = steps.add_parser(
        "stats",
        help="rows per split and category",
        description="Count a dataset's rows per split and category, and its tool-call turns.",
    )
    stats.add_argument("dataset", type=Path, help="dataset directory")
    return parser


def _progress(total_hint: int) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar on stderr (tqdm when installed, else a counter line)."""
    try:
        from tqdm import tqdm
    except ImportError:

        def plain(done: int, total: int) -> None:
            print(f"\rgenerating {done}/{total}", end="", file=sys.stderr, flush=True)

        return plain, lambda: print(file=sys.stderr)
    bar = tqdm(total=total_hint, desc="generating", unit="row", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update, bar.close


def _out_flags(parser: argparse.ArgumentParser) -> None:
    """``--out`` and what to do with a dataset already there (the steps never overwrite
    one silently: the README's pipeline runs ``generate`` then ``import-traces`` into
    the same folder)."""
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to write")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--merge",
        action="store_true",
        help="add the rows to the dataset already in --out (deduplicated, split again)",
    )
    existing.add_argument(
        "--overwrite", action="store_true", help="replace the dataset already in --out"
    )


def _rows_in(out: Path) -> int:
    """Rows (non-blank lines) of the dataset in ``out``; 0 when there is none."""
    from training.rows import SPLITS

    total = 0
    for name in SPLITS:
        path = out / f"{name}.jsonl"
        if path.is_file():
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
    return total


def _refusal(args: argparse.Namespace) -> str | None:
    """Why ``--out`` cannot be written as asked, checked before any work is done."""
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; name a folder for the dataset"
    held = _rows_in(out) if out.is_dir() else 0
    if held and not (args.merge or args.overwrite):
        return (
            f"--out {out} already holds a dataset ({held} rows); nothing was done: add "
            "--merge to add these rows to it, or --overwrite to replace it"
        )
    return None


def _write(args: argparse.Namespace, rows: list[Row]) -> int:
    """Write ``rows`` to ``--out`` (merged with what is there under ``--merge``)."""
    from training.rows import read_dataset, write_dataset

    step = f"punie-lsp train data {args.step}"
    if not rows:
        print(f"{step}: no rows to write; --out {args.out} was left as it was", file=sys.stderr)
        return 1
    held = [row for split in read_dataset(args.out).values() for row in split] if args.merge else []
    counts = write_dataset([*held, *rows], args.out, seed=args.seed)
    parts = ", ".join(f"{name} {n}" for name, n in counts.items())
    added = f", {len(held)} of them already there" if args.merge else ""
    print(f"wrote {sum(counts.values())} rows to {args.out} ({parts}{added})")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from training.generate import CATEGORIES, generate_rows
    from training.projects import package_source
    from training.suites import SAMPLE_PROJECT

    default = [] if args.source or args.package else [SAMPLE_PROJECT]
    try:
        sources = [*args.source, *default, *(package_source(name) for name in args.package)]
    except ValueError as exc:
        print(f"punie-lsp train data generate: --package: {exc}", file=sys.stderr)
        return 2
    missing = [str(s) for s in sources if not s.is_dir()]
    if missing:
        print(
            f"punie-lsp train data generate: --source {', '.join(missing)}: no such folder",
            file=sys.stderr,
        )
        return 2
    update, close = _progress(args.per_category * len(CATEGORIES))
    try:
        rows = generate_rows(
            sources, per_category=args.per_category, seed=args.seed, progress=update
        )
    finally:
        close()
    return _write(args, rows)


def _import_traces(args: argparse.Namespace) -> int:
    from training.traces import import_traces

    rows, stats = import_traces(args.file)
    print(", ".join(f"{k} {v}" for k, v in stats.items()), file=sys.stderr)
    return _write(args, rows)


def _import_punie(args: argparse.Namespace) -> int:
    from training.punie_format import PunieFormatError, from_punie
    from training.rows import jsonl_lines

    rows = []
    for number, line in jsonl_lines(args.file):
        try:
            rows.append(from_punie(json.loads(line), keep_system=args.keep_system))
        except (json.JSONDecodeError, PunieFormatError) as exc:
            print(f"{args.file}:{number}: skipped ({exc})", file=sys.stderr)
    if not args.no_check:
        from training.program_check import check_rows

        checked, refused = asyncio.run(check_rows(rows))
        if refused:
            print(
                f"refused {sum(refused.values())} of {len(rows)} rows whose programs do not "
                "pass the type check:",
                file=sys.stderr,
            )
            for reason, count in refused.most_common():
                print(f"  {count:5}  {reason}", file=sys.stderr)
        rows = checked
    return _write(args, rows)


def _stats(args: argparse.Namespace) -> int:
    from training.rows import read_dataset

    if not args.dataset.is_dir():
        print(
            f"punie-lsp train data stats: {args.dataset}: no such dataset folder", file=sys.stderr
        )
        return 2
    splits = read_dataset(args.dataset)
    report: dict[str, object] = {}
    for name, rows in splits.items():
        report[name] = {
            "rows": len(rows),
            "categories": dict(sorted(Counter(r.category for r in rows).items())),
            "toolCalls": sum(len(m.get("tool_calls", [])) for r in rows for m in r.messages),
        }
    print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str]) -> int:
    """Run one ``data`` step; the exit status is 0 on success, 2 on bad input."""
    args = _parser().parse_args(argv)
    steps = {
        "generate": _generate,
        "import-traces": _import_traces,
        "import-punie": _import_punie,
        "stats": _stats,
    }
    if args.step.startswith("import-") and not args.file.is_file():
        said = "is a folder, not a file" if args.file.is_dir() else "no such file"
        print(f"punie-lsp train data {args.step}: {args.file}: {said}", file=sys.stderr)
        return 2
    refusal = _refusal(args) if args.step != "stats" else None
    if refusal is not None:
        print(f"punie-lsp train data {args.step}: {refusal}", file=sys.stderr)
        return 2
    try:
        return steps[args.step](args)
    except UnicodeDecodeError as error:  # the input file (a dataset's say which one)
        where = getattr(args, "file", None) or getattr(args, "dataset", "input")
        print(
            f"punie-lsp train data {args.step}: {where}: not UTF-8 text ({error.reason})",
            file=sys.stderr,
        )
        return 2
    except (OSError, ValueError) as error:  # unreadable, unwritable, not rows: one line
        print(f"punie-lsp train data {args.step}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
