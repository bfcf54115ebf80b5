"""Reports: one self-contained HTML file; comparisons give per-category deltas."""

from __future__ import annotations

from pathlib import Path

from training.evaluate import CaseResult, EvalRun, load_run, summarise
from training.report import compare_runs, render_report, write_report


def run(model: str, scores: dict[str, float]) -> EvalRun:
    cases = [
        CaseResult(
            id=f"{category}-1",
            category=category,
            prompt="?",
            score=score,
            passed=score == 1.0,
            checks={"ok": score},
            outcome="ok",
            answer="<b>not markup</b>",
            turns=2,
            latency_seconds=1.5,
        )
        for category, score in scores.items()
    ]
    return EvalRun(
        model=model,
        started="2026-01-01T00:00:00+00:00",
        seconds=3.0,
        cases=cases,
        categories=summarise(cases),
        overall=sum(scores.values()) / len(scores),
    )


BEFORE = run("mlx:base", {"git": 0.5, "multi_step": 1.0})
AFTER = run("mlx:tuned", {"git": 1.0, "multi_step": 0.5, "direct_answers": 1.0})


def test_compare_gives_deltas_per_category() -> None:
    assert compare_runs(BEFORE, AFTER) == {
        "git": 0.5,
        "multi_step": -0.5,
        "direct_answers": 1.0,
        "overall": AFTER.overall - BEFORE.overall,
    }


def test_report_is_self_contained(tmp_path: Path) -> None:
    text = render_report(AFTER, baseline=BEFORE, losses=[(1, 3.0), (2, 1.0)], val_losses=[(2, 2.0)])
    assert "<svg" in text
    assert "<polyline" in text
    assert "<script" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for category in ("git", "multi_step", "direct_answers"):
        assert category in text
    assert "+0.50" in text
    assert "-0.50" in text
    assert "git-1: now passes" in text
    assert "multi_step-1: now fails" in text
    assert "<b>not markup</b>" not in text  # answers are escaped


def test_write_report_from_json(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(AFTER.model_dump_json())
    out = write_report(load_run(path), tmp_path / "r" / "report.html")
    assert "direct_answers" in out.read_text()
