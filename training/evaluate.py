"""The evaluation harness: each prompt through the real agent, scored against its case.

The path is the editor's: ``PunieAgent`` with the model under test, ``execute_code`` in
a Monty sandbox, the typed tools (ty, ruff, git, navigation) on a copy of a workspace.
Nothing is mocked, so a score reflects what a user would see. The copy is made a git
repository with one commit and one uncommitted change, so the git cases have history
and a status to read; ``write_file`` only proposes, so cases cannot disturb each other.

A case's score is the mean of its checks, each in [0, 1]: the run finished (``ok``),
the expected tools were called (or, for direct answers, no code ran), the expected
fields were read, the expected keywords are in the answer. It passes when every check
is 1. Categories report the mean score, the pass rate, model turns and latency.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from training.projects import copy_project
from training.suites import EvalCase

__all__ = [
    "CaseResult",
    "CategoryScore",
    "EvalRun",
    "load_run",
    "run_suite",
    "score_case",
]


class CaseResult(BaseModel):
    """One prompt's run and its checks."""

    id: str
    category: str
    prompt: str
    score: float
    """Mean of ``checks``."""
    passed: bool
    """Every check is 1."""
    checks: dict[str, float]
    """``ok``, ``tools`` or ``no_code``, ``fields``, ``keywords``: each in [0, 1]."""
    outcome: str
    error: str | None = None
    """Why the run failed (``AgentResult.error``), for outcomes other than ``ok``."""
    answer: str
    code: list[str] = Field(default_factory=list)
    tools_called: list[str] = Field(default_factory=list)
    turns: int = 0
    latency_seconds: float = 0.0


class CategoryScore(BaseModel):
    cases: int
    score: float
    """Mean case score."""
    pass_rate: float
    mean_turns: float
    mean_latency_seconds: float


class EvalRun(BaseModel):
    """A whole suite against one model: what ``train eval`` writes as JSON."""

    model: str
    adapter: str | None = None
    suite: str = "default"
    started: str
    seconds: float
    cases: list[CaseResult]
    categories: dict[str, CategoryScore]
    overall: float
    """Mean case score over all cases."""


def _field_read(code: str, name: str) -> bool:
    return (
        re.search(rf"\.{re.escape(name)}\b|\[\s*['\"]{re.escape(name)}['\"]\s*\]", code) is not None
    )


def score_case(
    case: EvalCase, *, outcome: str, answer: str, code: Sequence[str], tools: Sequence[str]
) -> dict[str, float]:
    """The checks of one run (pure: the unit tests feed it by hand)."""
    checks = {"ok": 1.0 if outcome == "ok" else 0.0}
    called = set(tools)
    if not case.expect_code:
        checks["no_code"] = 0.0 if code else 1.0
    elif case.expected_tools:
        hits = [any(t in called for t in want.split("|")) for want in case.expected_tools]
        checks["tools"] = sum(hits) / len(hits)
    if case.expected_fields:
        source = "\n".join(code)
        hits = [_field_read(source, f) for f in case.expected_fields]
        checks["fields"] = sum(hits) / len(hits)
    if case.expected_keywords:
        lowered = answer.lower()
        hits = [k.lower() in lowered for k in case.expected_keywords]
        checks["keywords"] = sum(hits) / len(hits)
    return checks


def summarise(cases: Sequence[CaseResult]) -> dict[str, CategoryScore]:
    by: dict[str, list[CaseResult]] = {}
    for case in cases:
        by.setdefault(case.category, []).append(case)
    return {
        name: CategoryScore(
            cases=len(group),
            score=statistics.fmean(c.score for c in group),
            pass_rate=sum(c.passed for c in group) / len(group),
            mean_turns=statistics.fmean(c.turns for c in group),
            mean_latency_seconds=statistics.fmean(c.latency_seconds for c in group),
        )
        for name, group in by.items()
    }


_NOT_COPIED = (".git", ".venv", "__pycache__", "node_modules", ".*_cache")
"""A workspace's own history and environments stay out of the copy: it gets a fresh repo."""


def prepare_workspace(source: Path, into: Path) -> Path:
    """A copy of ``source`` as a new git repo: one commit, then one uncommitted edit.

    The source's own ``.git`` is not copied (a clean repository would otherwise leave
    nothing to commit), and an empty project still gets its commit.
    """
    root = copy_project(source, into / source.name, leave_out=_NOT_COPIED)
    git = shutil.which("git")
    if git is None:
        return root
    env = {
        "GIT_AUTHOR_NAME": "eval",
        "GIT_AUTHOR_EMAIL": "eval@localhost",
        "GIT_COMMITTER_NAME": "eval",
        "GIT_COMMITTER_EMAIL": "eval@localhost",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(into),
        "PATH": "/usr/bin:/bin",
    }
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["commit", "-q", "--allow-empty", "-m", "Add the project"],
    ):
        subprocess.run([git, *args], cwd=root, env=env, check=True, capture_output=True)
    for changed in sorted(root.rglob("app.py"))[:1]:
        changed.write_text(changed.read_text() + "\n# touched by the evaluation\n")
    return root


async def run_suite(
    cases: Sequence[EvalCase],
    *,
    model: str,
    workspace: Path,
    adapter: str | None = None,
    base_url: str | None = None,
    suite_name: str = "default",
    max_tokens: int = 512,
    request_timeout_seconds: float = 120.0,
    on_case: Callable[[CaseResult], None] | None = None,
) -> EvalRun:
    """Every case through one agent (greedy decoding); ``workspace`` is copied, not touched."""
    # Here, not at the top: ``train report`` reads runs through this module and needs
    # none of these (sandbox and typed_tools take ~4 s to import on this machine).
    from agent import AgentConfig, AgentDeps, PunieAgent
    from sandbox import SandboxPool
    from typed_tools import ToolContext
    from typed_tools.ty_pool import default_pool

    config = AgentConfig(
        model=model,
        base_url=base_url,
        adapter=adapter,
        temperature=0.0,
        max_tokens=max_tokens,
        request_timeout_seconds=request_timeout_seconds,
        surface="cli",
    )
    agent = PunieAgent(config)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.perf_counter()
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="punie-eval-") as tmp:
        root = prepare_workspace(workspace, Path(tmp))
        try:
            async with SandboxPool(max_workers=1) as pool:
                for case in cases:
                    # Trusted: a copy of the evaluation's own workspace, prepared above.
                    deps = AgentDeps(tools=ToolContext(root=root, trusted=True), pool=pool)
                    tic = time.perf_counter()
                    result = await agent.ask(case.prompt, deps)
                    latency = time.perf_counter() - tic
                    tools = [call.tool for call in result.calls]
                    checks = score_case(
                        case,
                        outcome=result.outcome,
                        answer=result.answer,
                        code=result.code,
                        tools=tools,
                    )
                    scored = CaseResult(
                        id=case.id,
                        category=case.category,
                        prompt=case.prompt,
                        score=statistics.fmean(checks.values()),
                        passed=all(v == 1.0 for v in checks.values()),
                        checks=checks,
                        outcome=result.outcome,
                        error=result.error,
                        answer=result.answer,
                        code=result.code,
                        tools_called=tools,
                        turns=result.turns,
                        latency_seconds=latency,
                    )
                    results.append(scored)
                    if on_case is not None:
                        on_case(scored)
        finally:
            agent.close()
            await default_pool().stop(root)
    return EvalRun(
        model=model,
        adapter=adapter,
        suite=suite_name,
        started=started,
        seconds=time.perf_counter() - clock,
        cases=results,
        categories=summarise(results),
        overall=statistics.fmean(c.score for c in results) if results else 0.0,
    )


def load_run(path: Path) -> EvalRun:
    """An ``EvalRun`` from the JSON ``train eval`` wrote; ``ValueError`` naming ``path`` if not."""
    try:
        return EvalRun.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise ValueError(
            f"{path} is not an eval run written by `train eval` ({where}: {first['msg']})"
        ) from None
