"""Do Punie's own programs run here as Punie meant them?

Reads Punie's training data (JSONL files of pauleveritt/punie, e.g.
``data/phase33_merged/train.jsonl``; fetched, never copied into this repository),
extracts every ``execute_code`` program, and runs each through the sandbox with the
typed tools against a workspace (a checkout of Punie's own tree is the natural one).
Per file it prints:

- clean: programs that passed the type check against the stubs and ran to the end;
- type-check failures by cause (``unresolved-attribute `.x` on T`` …), with the ones
  that read a field Punie's own models never had counted apart (``--punie-src`` gives
  Punie's source, whose models are read with ``ast``, never imported);
- run-time failures by cause, split into API failures (a call or a field our contract
  gets wrong: ``TypeError``, ``AttributeError``, ``NameError`` …), refused commands,
  workspace mismatches (the program names a file this workspace lacks) and the
  program's own faults (``IndexError`` on an empty list …);
- for programs that read ``.success`` and whose recorded tool response shows Punie's
  verdict (``TypeCheckResult(success=True, …)``): how many of our verdicts agree,
  and of the rest how many come from a tool that could not run here (a missing file).

Targets (issue 13): at least 97% pass the type check (the never-had fields apart) and
0 run-time API failures.

    uv run python -m benchmarks.punie_compat --workspace /path/to/punie --trust \\
        --punie-src /path/to/punie /path/to/punie/data/phase33_merged/train.jsonl …

``--trust`` lets ``pytest_run`` run the workspace's tests (Punie's own tree here).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.code_mode import CodeModeTools, run_code
from sandbox import RunResult, SandboxLimits, SandboxPool
from training.punie_format import PunieFormatError, punie_messages
from typed_tools import ToolContext, ToolResult, default_pool
from typed_tools.registry import ToolSpec, load_tools

_CALL = re.compile(
    r"<tool_call>\s*<function=execute_code>\s*<parameter=code>\n?(?P<code>.*?)\n?</parameter>",
    re.DOTALL,
)
_RESPONSE = re.compile(r"<tool_response>\n?(?P<text>.*?)\n?</tool_response>", re.DOTALL)
_VERDICT = re.compile(r"\b(?P<model>\w+Result)\((?:success|valid)=(?P<verdict>True|False)")
_ATTRIBUTE = re.compile(r"has no attribute `(?P<name>\w+)`")
_ON_TYPE = re.compile(r"Object of type `(?P<type>[\w\[\], |]+)`")
_NAME = re.compile(r"Name `(?P<name>\w+)` used when not defined")
_API_ERRORS = ("TypeError", "AttributeError", "NameError", "ValidationError")


@dataclass
class Program:
    code: str
    response: str | None
    """The tool response Punie recorded after it, when there is one."""


@dataclass
class Tally:
    programs: int = 0
    clean: int = 0
    typing: Counter[str] = field(default_factory=Counter)
    never_had: Counter[str] = field(default_factory=Counter)
    runtime: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)
    reading_success: int = 0
    agree: int = 0
    disagree_not_run: int = 0
    disagree_ran: list[str] = field(default_factory=list)
    seconds: float = 0.0


def programs(path: Path) -> list[Program]:
    """Every execute_code program of a Punie JSONL file, with the response that followed."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            messages = punie_messages(json.loads(line))
        except (PunieFormatError, json.JSONDecodeError):
            continue
        for index, message in enumerate(messages):
            for call in _CALL.finditer(message.get("content") or ""):
                response = None
                if index + 1 < len(messages):
                    answer = _RESPONSE.search(messages[index + 1].get("content") or "")
                    response = answer["text"] if answer else None
                found.append(Program(call["code"], response))
    return found


def punie_fields(punie_src: Path | None) -> dict[str, set[str]]:
    """Field names of Punie's result models, by class name, read from its source."""
    if punie_src is None:
        return {}
    fields: dict[str, set[str]] = {}
    sources = [
        punie_src / "src/punie/agent/typed_tools.py",
        punie_src / "src/punie/cst/domain_models.py",
    ]
    for source in sources:
        if not source.is_file():
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                fields[node.name] = {
                    stmt.target.id
                    for stmt in node.body
                    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                }
    return fields


def typing_cause(result: RunResult, fields: dict[str, set[str]]) -> tuple[str, bool]:
    """A short cause for a type-check failure, and whether Punie's models lack the field."""
    error = result.error
    assert error is not None
    message = error.message
    code = message.split(":", 1)[0]
    attribute = _ATTRIBUTE.search(message)
    if attribute:
        on = _ON_TYPE.search(message)
        owner = on["type"] if on else "?"
        never = bool(fields) and owner in fields and attribute["name"] not in fields[owner]
        return f"{code} `.{attribute['name']}` on {owner}", never
    name = _NAME.search(message)
    if name:
        return f"{code} `{name['name']}`", False
    return message[:90], False


def runtime_cause(result: RunResult) -> tuple[str, str]:
    """(kind, cause): kind is api, refused, workspace or program."""
    error = result.error
    assert error is not None
    message = error.message
    exc_type = message.split(":", 1)[0]
    if "run_command runs only" in message:
        program = re.search(r"'([^']+)' is not supported|uses the shell operator '(.)'", message)
        what = next((g for g in program.groups() if g), "?") if program else "?"
        return "refused", f"run_command refused: {what}"
    if exc_type in ("FileNotFoundError", "IsADirectoryError", "NotADirectoryError"):
        missing = re.search(r"no such file: (\S+)|(\S+) is a folder", message)
        path = next((g for g in missing.groups() if g), "?") if missing else "?"
        where = path.split("/", 1)[0] + "/…" if "/" in path else path
        return "workspace", f"{exc_type}: {where} (a path this workspace lacks)"
    if exc_type == "PermissionError" and "outside the workspace" in message:
        return "workspace", "PermissionError: a path outside the workspace"
    if exc_type in _API_ERRORS:
        return "api", message[:120]
    if error.kind != "runtime":
        return "program", f"{error.kind}: {message[:80]}"
    return "program", f"{exc_type}: {message.split(':', 1)[-1].strip()[:70]}"


class Recorder:
    """Wraps every tool to keep its results, so verdicts can be compared per call."""

    def __init__(self, tools: dict[str, ToolSpec]) -> None:
        self.results: list[tuple[str, Any]] = []
        wrapped = {}
        for name, spec in tools.items():
            wrapped[name] = _recording(spec, self.results)
        self.tools = CodeModeTools.load(wrapped)


def _recording(spec: ToolSpec, sink: list[tuple[str, Any]]) -> ToolSpec:
    import dataclasses

    original = spec.function

    async def function(ctx: ToolContext, /, *args: Any, **kwargs: Any) -> Any:
        result = await original(ctx, *args, **kwargs)
        sink.append((spec.name, result))
        return result

    return dataclasses.replace(spec, function=function)


def verdicts(results: list[tuple[str, Any]]) -> list[tuple[str, bool, bool]]:
    """(result model name, verdict, could not run) of each call that returned a model."""
    out = []
    for _, result in results:
        if isinstance(result, ToolResult):
            verdict = getattr(result, "valid", result.success)
            out.append((type(result).__name__, bool(verdict), result.error is not None))
    return out


async def measure(
    path: Path,
    root: Path,
    limit: int | None,
    fields: dict[str, set[str]],
    timeout: float,
    trusted: bool,
) -> Tally:
    tally = Tally()
    found = programs(path)
    if limit is not None and len(found) > limit:
        step = len(found) / limit
        found = [found[int(i * step)] for i in range(limit)]
    recorder = Recorder(load_tools())
    pool = SandboxPool()
    ty = await default_pool().get(root)
    limits = SandboxLimits(timeout_seconds=timeout * 3)
    started = time.perf_counter()
    try:
        for program in found:
            tally.programs += 1
            recorder.results.clear()
            ctx = ToolContext(root=root, ty=ty, timeout_seconds=timeout, trusted=trusted)
            result = await run_code(
                program.code, ctx, pool=pool, limits=limits, tools=recorder.tools
            )
            if result.error is None:
                tally.clean += 1
            elif result.error.kind == "typing":
                cause, never = typing_cause(result, fields)
                (tally.never_had if never else tally.typing)[cause] += 1
            else:
                kind, cause = runtime_cause(result)
                tally.runtime[f"{kind}: {cause}"] += 1
            _compare(program, recorder.results, tally)
    finally:
        await pool.stop()
    tally.seconds = time.perf_counter() - started
    return tally


def _compare(program: Program, results: list[tuple[str, Any]], tally: Tally) -> None:
    if program.response is None or not re.search(r"\.(success|valid)\b", program.code):
        return
    recorded = [(m["model"], m["verdict"] == "True") for m in _VERDICT.finditer(program.response)]
    if not recorded:
        return
    tally.reading_success += 1
    ours = verdicts(results)
    model, verdict = recorded[0]
    mine = next(((v, failed) for name, v, failed in ours if name == model), None)
    if mine is not None and mine[0] == verdict:
        tally.agree += 1
    elif mine is not None and mine[1]:
        tally.disagree_not_run += 1
    elif mine is None:
        tally.disagree_not_run += 1  # the program stopped before the call (see failures)
    else:
        tally.disagree_ran.append(f"{model}: Punie {verdict}, here {mine[0]}")


def report(path: Path, tally: Tally) -> None:
    n = tally.programs or 1
    typed = sum(tally.typing.values())
    never = sum(tally.never_had.values())
    checked = n - never
    passed = n - typed - never
    print(f"\n== {path} ({tally.programs} programs, {tally.seconds:.0f} s)")
    print(f"clean (checked and ran to the end): {tally.clean} ({tally.clean / n:.1%})")
    print(
        f"pass the type check: {passed}/{checked} = {passed / max(checked, 1):.1%} "
        f"(not counting {never} that read fields Punie's models never had)"
    )
    for cause, count in tally.typing.most_common(12):
        print(f"  type check {count:4}  {cause}")
    for cause, count in tally.never_had.most_common(6):
        print(f"  never had  {count:4}  {cause}")
    by_kind = Counter()
    for cause, count in tally.runtime.items():
        by_kind[cause.split(":", 1)[0]] += count
    print(
        "run-time failures: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(by_kind.items()))
        if by_kind
        else "run-time failures: none"
    )
    for cause, count in tally.runtime.most_common(14):
        print(f"  run time   {count:4}  {cause}")
    if tally.reading_success:
        print(
            f"reading .success with Punie's verdict recorded: {tally.reading_success}; "
            f"agree {tally.agree} ({tally.agree / tally.reading_success:.1%}), "
            f"differ because the call could not run or was not reached here "
            f"{tally.disagree_not_run}, differ although it ran {len(tally.disagree_ran)}"
        )
        ran = tally.agree + len(tally.disagree_ran)
        if ran:
            print(
                f"  of the calls that ran here, agree {tally.agree}/{ran} = {tally.agree / ran:.0%}"
            )
        for line, count in Counter(tally.disagree_ran).most_common(6):
            print(f"  differs    {count:4}  {line}")


async def main_async(args: argparse.Namespace) -> None:
    fields = punie_fields(args.punie_src)
    try:
        for path in args.files:
            tally = await measure(
                path, args.workspace, args.limit, fields, args.timeout, args.trust
            )
            report(path, tally)
    finally:
        await default_pool().stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="Punie JSONL files")
    parser.add_argument("--workspace", type=Path, required=True, help="the tools' workspace")
    parser.add_argument(
        "--punie-src", type=Path, help="Punie's checkout, to tell fields its models never had"
    )
    parser.add_argument("--limit", type=int, help="at most this many programs per file, spread")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per tool call")
    parser.add_argument(
        "--trust", action="store_true", help="trust the workspace: pytest_run may run its tests"
    )
    args = parser.parse_args()
    args.workspace = args.workspace.resolve()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
