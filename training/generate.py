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

import asyncio
import random
from collections.abc import Callable, Sequence
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

from agent.code_mode import CodeModeTools, run_code
from agent.execute import render_result
from sandbox import RunResult, SandboxLimits, SandboxPool
from training.projects import PreparedProject, prepared_projects
from training.rows import Row, code_mode_instructions, dedupe, row_from_messages
from training.templates import CATEGORIES, DIRECT_ANSWERS, templates_for
from typed_tools import ToolContext
from typed_tools.lines import read_exact
from typed_tools.ty_pool import default_pool

__all__ = ["CATEGORIES", "example_messages", "generate_rows", "generate_rows_async"]


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


async def _run(
    code: str, project: PreparedProject, pool: SandboxPool, tools: CodeModeTools
) -> RunResult:
    # A live ty, as in the editor: ``typecheck`` then sees ``write_file``'s
    # proposals (the ty CLI would read the unchanged files on disk).
    ty = await default_pool().get(project.root)
    # Trusted: the generator wrote this workspace itself (its tests run in pytest_run).
    ctx = ToolContext(root=project.root, ty=ty, timeout_seconds=60, trusted=True)
    limits = SandboxLimits(timeout_seconds=30, memory_mb=128, max_tool_calls=50)
    try:
        return await run_code(code, ctx, pool=pool, tools=tools, limits=limits)
    finally:
        if ctx.overlay:
            # ty now holds the proposed text as an open document: put the disk's back,
            # so the next example starts from the workspace as it is.
            await ty.sync_documents({path.as_uri(): read_exact(path) for path in ctx.overlay})


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
    conversations on these projects. ``progress(done, total)`` is called per example.
    """
    rng = random.Random(seed)
    tools = CodeModeTools.load()
    instructions = code_mode_instructions()
    total = per_category * len(categories)
    rows: list[Row] = []
    cache: dict[tuple[Path, str], RunResult] = {}
    with prepared_projects(sources, seed=seed) as prepared:
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
                            project = rng.choice(prepared)
                            example = rng.choice(templates_for(category))(project, rng)
                            if example is None:
                                continue
                            key = (project.root, example.code)
                            if key not in cache:
                                cache[key] = await _run(example.code, project, pool, tools)
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
