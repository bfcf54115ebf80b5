"""Evaluation suites: prompts about the sample project with what a good run looks like.

A case says which typed tools the model's code should call (``"a|b"``: either will
do), which fields of their results it should read, and which words the answer should
contain. Direct-answer cases expect no code at all: a model that runs a tool to
explain a list comprehension is wasting the user's time. The expectations are about
``SAMPLE_PROJECT`` (``pkg/app.py``'s ``broken`` returns a str on line 14), which
ships inside the package so ``train eval`` works from any install.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["CATEGORIES", "DEFAULT_SUITE", "SAMPLE_PROJECT", "Category", "EvalCase", "suite"]

SAMPLE_PROJECT = Path(__file__).parent / "sample_project"
"""A small typed project with one deliberate type error, installed with punie-lsp: the
default workspace of ``train eval`` and the default source of ``train data generate``.
The tests use it as their fixture project too."""

Category = Literal[
    "tool_discrimination", "multi_step", "field_access", "direct_answers", "lsp_navigation", "git"
]
CATEGORIES: tuple[Category, ...] = (
    "tool_discrimination",
    "multi_step",
    "field_access",
    "direct_answers",
    "lsp_navigation",
    "git",
)


@dataclass(frozen=True, kw_only=True)
class EvalCase:
    """One prompt and what its run should show."""

    id: str
    """Stable name, for comparing runs case by case."""
    category: Category
    prompt: str
    expected_tools: tuple[str, ...] = ()
    """Typed tools the code should call; ``"a|b"`` is satisfied by either."""
    expected_fields: tuple[str, ...] = ()
    """Result fields the code should read (``.name`` or ``["name"]`` in the code)."""
    expected_keywords: tuple[str, ...] = ()
    """Words the answer should contain (case-insensitive)."""
    expect_code: bool = True
    """False for direct answers: any ``execute_code`` call counts against the run."""


DEFAULT_SUITE: tuple[EvalCase, ...] = (
    EvalCase(
        id="types-app",
        category="tool_discrimination",
        prompt="Are there type errors in pkg/app.py?",
        expected_tools=("typecheck",),
        expected_fields=("error_count",),
        expected_keywords=("error",),
    ),
    EvalCase(
        id="lint-pkg",
        category="tool_discrimination",
        prompt="Does ruff report lint violations in pkg?",
        expected_tools=("ruff_check",),
        expected_fields=("violation_count",),
        expected_keywords=("violation",),
    ),
    EvalCase(
        id="types-and-lint",
        category="multi_step",
        prompt="Type-check pkg/app.py and run ruff on it, then summarise both results.",
        expected_tools=("typecheck", "ruff_check"),
        expected_keywords=("error", "ruff"),
    ),
    EvalCase(
        id="error-source-line",
        category="multi_step",
        prompt="Find the type error in pkg/app.py and show the source line it is on.",
        expected_tools=("typecheck", "read_file"),
        expected_fields=("errors", "line"),
        expected_keywords=("not an int",),
    ),
    EvalCase(
        id="error-line-message",
        category="field_access",
        prompt="Which line of pkg/app.py has a type error, and what is its message?",
        expected_tools=("typecheck",),
        expected_fields=("errors", "line", "message"),
        expected_keywords=("14",),
    ),
    EvalCase(
        id="violation-codes",
        category="field_access",
        prompt="List the rule codes of ruff's violations in pkg.",
        expected_tools=("ruff_check",),
        expected_fields=("violations", "code"),
    ),
    EvalCase(
        id="explain-dataclass",
        category="direct_answers",
        prompt="In one sentence, what does the @dataclass decorator generate?",
        expect_code=False,
        expected_keywords=("init",),
    ),
    EvalCase(
        id="explain-comprehension",
        category="direct_answers",
        prompt="What is a list comprehension? Answer without running code.",
        expect_code=False,
        expected_keywords=("list",),
    ),
    EvalCase(
        id="where-point",
        category="lsp_navigation",
        prompt="Where is the class Point defined?",
        expected_tools=("workspace_symbols|goto_definition|search",),
        expected_keywords=("shapes.py",),
    ),
    EvalCase(
        id="symbols-shapes",
        category="lsp_navigation",
        prompt="List the symbols defined in pkg/shapes.py.",
        expected_tools=("document_symbols",),
        expected_keywords=("Point", "Square"),
    ),
    EvalCase(
        id="changed-files",
        category="git",
        prompt="Which files have uncommitted changes?",
        expected_tools=("git_status",),
        expected_keywords=("app.py",),
    ),
    EvalCase(
        id="last-commit",
        category="git",
        prompt="What was the last commit's message?",
        expected_tools=("git_log",),
        expected_keywords=("fixture",),
    ),
)


def suite(name: str) -> tuple[EvalCase, ...]:
    """A suite by name: ``default`` (all cases) or one category."""
    if name == "default":
        return DEFAULT_SUITE
    if name in CATEGORIES:
        return tuple(c for c in DEFAULT_SUITE if c.category == name)
    raise ValueError(f"unknown suite {name!r}: use 'default' or one of {', '.join(CATEGORIES)}")
