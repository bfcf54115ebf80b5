"""The harness: checks scored by hand, and a suite through the real agent (test backend)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic_ai import models

from training.evaluate import prepare_workspace, run_suite, score_case
from training.suites import CATEGORIES, DEFAULT_SUITE, EvalCase, suite

FIXTURE = Path(__file__).parents[2] / "training" / "sample_project"

TYPES = EvalCase(
    id="t",
    category="field_access",
    prompt="?",
    expected_tools=("typecheck", "read_file|search"),
    expected_fields=("errors", "line"),
    expected_keywords=("14", "str"),
)
DIRECT = EvalCase(id="d", category="direct_answers", prompt="?", expect_code=False)


@pytest.mark.parametrize(
    ("case", "code", "tools", "answer", "outcome", "expected"),
    [
        (
            TYPES,
            ["for e in typecheck('a').errors:\n    print(e.line)", "read_file('a')"],
            ["typecheck", "read_file"],
            "Line 14 returns a STR",
            "ok",
            {"ok": 1.0, "tools": 1.0, "fields": 1.0, "keywords": 1.0},
        ),
        (
            TYPES,
            ["r = typecheck('a')\nprint(r['errors'])"],
            ["typecheck"],
            "line 14",
            "code_failed",
            {"ok": 0.0, "tools": 0.5, "fields": 0.5, "keywords": 0.5},
        ),
        (DIRECT, [], [], "words", "ok", {"ok": 1.0, "no_code": 1.0}),
        (DIRECT, ["print(1)"], [], "words", "ok", {"ok": 1.0, "no_code": 0.0}),
    ],
)
def test_checks(
    case: EvalCase,
    code: list[str],
    tools: list[str],
    answer: str,
    outcome: str,
    expected: dict[str, float],
) -> None:
    assert score_case(case, outcome=outcome, answer=answer, code=code, tools=tools) == expected


def test_suite_covers_every_category() -> None:
    assert {c.category for c in DEFAULT_SUITE} == set(CATEGORIES)
    assert len({c.id for c in DEFAULT_SUITE}) == len(DEFAULT_SUITE)
    assert all(c.category == "git" for c in suite("git"))
    with pytest.raises(ValueError, match="unknown suite"):
        suite("nope")


def test_workspace_is_a_repo_with_one_change(tmp_path: Path) -> None:
    root = prepare_workspace(FIXTURE, tmp_path)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
    )
    assert status.stdout.split() == ["M", "pkg/app.py"]


async def test_suite_runs_through_the_agent() -> None:
    # The test backend answers in words without calling a tool: direct answers pass,
    # tool cases score only their "ok" and keyword checks.
    cases = [c for c in DEFAULT_SUITE if c.id in ("explain-comprehension", "types-app")]
    with models.override_allow_model_requests(True):
        run = await run_suite(cases, model="test:a list of errors", workspace=FIXTURE)
    by_id = {c.id: c for c in run.cases}
    assert by_id["explain-comprehension"].passed
    assert by_id["types-app"].checks == {"ok": 1.0, "tools": 0.0, "fields": 0.0, "keywords": 1.0}
    assert run.categories["direct_answers"].score == 1.0
    assert run.categories["tool_discrimination"].mean_turns == 1
    assert run.overall == pytest.approx((1.0 + 0.5) / 2)
