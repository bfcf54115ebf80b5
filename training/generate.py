"""Templated Code Mode examples whose tool results are real.

Each example is prompt → program → the sandbox's answer → a reply. The program is run
by ``agent.code_mode.run_code`` with the real typed tools against a real workspace (a
copy of a project, or an installed package's source, in a temporary directory with a
git repository), and the tool message holds ``agent.execute.render_result`` of that run:
byte for byte what the agent would have shown the model. The reply is written from the
result's value, so it states what the tools actually found. Programs that fail are
dropped, not papered over.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from training.rows import Row, code_mode_instructions, dedupe, row_from_messages
from training.templates import CATEGORIES, DIRECT_ANSWERS, Example, Target, templates_for
from typed_tools.lines import read_exact

__all__ = ["CATEGORIES", "Workspace", "generate_rows", "prepare_workspace", "workspaces"]

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Punie Trainer",
    "GIT_AUTHOR_EMAIL": "trainer@example.invalid",
    "GIT_COMMITTER_NAME": "Punie Trainer",
    "GIT_COMMITTER_EMAIL": "trainer@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T12:00:00+00:00",
}
"""Fixed identity and dates: ``git_log`` results (hashes included) are reproducible."""


@dataclass(frozen=True, kw_only=True)
class Workspace:
    """A prepared workspace and the facts templates draw on."""

    root: Path
    """The temporary copy the tools run against."""
    files: list[str]
    """Python files, relative, sorted."""
    functions: dict[str, list[str]]
    """Top-level function names per file."""
    classes: dict[str, list[str]]
    """Top-level class names per file."""
    buggy: list[tuple[str, str, str]]
    """Planted type errors: (file, wrong line, fixed line)."""

    def target(self, rng: random.Random) -> Target:
        """A random file with a random symbol defined in it."""
        candidates = [f for f in self.files if self.functions.get(f) or self.classes.get(f)]
        file = rng.choice(candidates or self.files)
        symbols = self.functions.get(file, []) + self.classes.get(file, [])
        return Target(file=file, symbol=rng.choice(symbols) if symbols else "")


_BUGS = [
    ("def {name}() -> int:\n    return {word!r}\n", "    return {word!r}", "    return {size}"),
    ("def {name}(n: int) -> str:\n    return n * 2\n", "    return n * 2", "    return str(n * 2)"),
    ("def {name}() -> list[int]:\n    return None\n", "    return None", "    return []"),
]
_NAMES = ["label", "count", "total", "width", "score", "limit", "offset", "title", "ratio"]


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, **_GIT_ENV}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def prepare_workspace(source: Path, into: Path, *, rng: random.Random, bugs: int = 3) -> Workspace:
    """Copy ``source`` to ``into``, plant ``bugs`` type errors, commit, leave one change.

    The planted errors are what check-and-fix examples repair; the uncommitted change
    gives ``git_status``/``git_diff`` something to report.
    """
    shutil.copytree(source, into, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git"))
    package = next((p for p in sorted(into.iterdir()) if (p / "__init__.py").exists()), into)
    buggy: list[tuple[str, str, str]] = []
    for index in range(bugs):
        template, wrong, right = _BUGS[index % len(_BUGS)]
        name, word = rng.choice(_NAMES) + f"_{index}", rng.choice(_NAMES)
        values = {"name": name, "word": word, "size": len(word)}
        path = package / f"planted_{index}.py"
        path.write_text(template.format(**values))
        relative = path.relative_to(into).as_posix()
        buggy.append((relative, wrong.format(**values), right.format(**values)))
    _git(into, "init", "-q", "-b", "main")
    _git(into, "add", ".")
    _git(into, "commit", "-q", "-m", "Initial import")
    notes = into / "NOTES.md"
    notes.write_text("# Notes\n\nWork in progress.\n")
    _git(into, "add", "NOTES.md")
    _git(into, "commit", "-q", "-m", "Add notes")
    notes.write_text("# Notes\n\nWork in progress: review the planted modules.\n")
    files = sorted(p.relative_to(into).as_posix() for p in into.rglob("*.py"))
    functions: dict[str, list[str]] = {}
    classes: dict[str, list[str]] = {}
    for file in files:
        try:
            tree = ast.parse((into / file).read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        functions[file] = [
            n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        classes[file] = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    return Workspace(root=into, files=files, functions=functions, classes=classes, buggy=buggy)


def package_source(name: str) -> Path:
    """The source directory of an installed package (e.g. ``iniconfig``)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{name!r} is not an installed package with a source directory")
    return Path(next(iter(spec.submodule_search_locations)))


@contextmanager
def workspaces(sources: Sequence[Path], *, seed: int = 0) -> Generator[list[Workspace]]:
    """Prepared copies of ``sources`` in a temporary directory, removed afterwards.

    A package directory (one with ``__init__.py``) is copied under a folder of its own,
    so it stays importable as a package inside the workspace.
    """
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="punie-data-") as tmp:
        prepared = []
        for index, source in enumerate(sources):
            staging = Path(tmp) / f"src-{index}"
            if (source / "__init__.py").exists():
                staging.mkdir()
                shutil.copytree(source, staging / source.name)
            else:
                staging = source
            prepared.append(prepare_workspace(staging, Path(tmp) / f"ws-{index}", rng=rng))
        yield prepared


def example_messages(
    prompt: str, code: str | None, result: str | None, answer: str
) -> list[ModelMessage]:
    """The Pydantic AI messages of one turn, as the agent's history would hold them."""
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(prompt)])]
    if code is not None and result is not None:
        messages += [
            ModelResponse(
                parts=[ToolCallPart("execute_code", {"code": code}, tool_call_id="call_1")]
            ),
            ModelRequest(parts=[ToolReturnPart("execute_code", result, tool_call_id="call_1")]),
        ]
    messages.append(ModelResponse(parts=[TextPart(answer)]))
    return messages


async def _run(code: str, ws: Workspace, pool: Any, tools: Any) -> Any:
    from agent.code_mode import run_code
    from sandbox import SandboxLimits
    from typed_tools import ToolContext
    from typed_tools.ty_client import default_pool

    # A live ty backend, as in the editor: ``typecheck`` then sees ``write_file``'s
    # proposals (the ty CLI would read the unchanged files on disk).
    backend = await default_pool().get(ws.root)
    # Trusted: the generator wrote this workspace itself (its tests run in pytest_run).
    ctx = ToolContext(root=ws.root, backend=backend, timeout_seconds=60, trusted=True)
    limits = SandboxLimits(timeout_seconds=30, memory_mb=128, max_tool_calls=50)
    try:
        return await run_code(code, ctx, pool=pool, tools=tools, limits=limits)
    finally:
        if ctx.overlay:
            # ty now holds the proposed text as an open document: put the disk's back,
            # so the next example starts from the workspace as it is.
            await backend.sync_documents({path.as_uri(): read_exact(path) for path in ctx.overlay})


async def generate_rows_async(
    sources: Sequence[Path],
    *,
    per_category: int = 10,
    seed: int = 0,
    categories: Sequence[str] = CATEGORIES,
    progress: Callable[[int, int], None] | None = None,
) -> list[Row]:
    """``per_category`` deduplicated rows per category, each from a real sandbox run.

    Fewer come back for a category whose templates cannot produce that many distinct
    conversations on these workspaces. ``progress(done, total)`` is called per example.
    """
    from agent.code_mode import CodeModeTools
    from agent.execute import render_result
    from sandbox import SandboxPool
    from typed_tools.ty_client import default_pool

    rng = random.Random(seed)
    tools = CodeModeTools.load()
    instructions = code_mode_instructions()
    total = per_category * len(categories)
    rows: list[Row] = []
    cache: dict[tuple[Path, str], Any] = {}
    with workspaces(sources, seed=seed) as prepared:
        try:
            async with SandboxPool(max_workers=1) as pool:
                for category in categories:
                    made: list[Row] = []
                    attempts = 0
                    while len(made) < per_category and attempts < per_category * 6:
                        attempts += 1
                        if category == "direct_answer":
                            prompt, answer = rng.choice(DIRECT_ANSWERS)
                            messages = example_messages(_vary(prompt, rng), None, None, answer)
                        else:
                            ws = rng.choice(prepared)
                            example = rng.choice(templates_for(category))(ws, rng)
                            if example is None:
                                continue
                            key = (ws.root, example.code)
                            if key not in cache:
                                cache[key] = await _run(example.code, ws, pool, tools)
                            result = cache[key]
                            if not result.ok:
                                continue
                            answer = example.answer(result.value, result.stdout)
                            if answer is None:
                                continue
                            text = render_result(result)
                            messages = example_messages(example.prompt, example.code, text, answer)
                        row = row_from_messages(
                            messages, instructions=instructions, category=category
                        )
                        if row.id not in {r.id for r in made}:
                            made.append(row)
                            if progress is not None:
                                progress(len(rows) + len(made), total)
                    rows += made
        finally:
            await default_pool().stop_all()
    return dedupe(rows)


def generate_rows(sources: Sequence[Path], **options: Any) -> list[Row]:
    """``generate_rows_async`` for synchronous callers (the CLI)."""
    return asyncio.run(generate_rows_async(sources, **options))


def _vary(prompt: str, rng: random.Random) -> str:
    """Small surface variation: politeness and punctuation, meaning unchanged."""
    prefix = rng.choice(["", "", "Quick question: ", "Hey, "])
    return prefix + (prompt[0].lower() + prompt[1:] if prefix else prompt)


__all__ += ["Example", "example_messages", "generate_rows_async", "package_source"]
