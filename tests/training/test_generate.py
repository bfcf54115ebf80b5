"""Generated examples carry real sandbox results, in every category, reproducibly."""

from __future__ import annotations

import json
from pathlib import Path

from agent.tool_calls import CODE_TOOL
from training.generate import CATEGORIES, generate_rows_async
from training.projects import package_source
from training.rows import code_mode_instructions, write_dataset

FIXTURE_PROJECT = Path(__file__).parents[2] / "training" / "sample_project"


async def test_every_category_from_real_runs(tmp_path: Path) -> None:
    sources = [FIXTURE_PROJECT, package_source("iniconfig")]
    seen: list[tuple[int, int]] = []
    rows = await generate_rows_async(
        sources, per_category=3, seed=5, progress=lambda done, total: seen.append((done, total))
    )
    assert {row.category for row in rows} == set(CATEGORIES)
    assert len({row.id for row in rows}) == len(rows) == 3 * len(CATEGORIES)
    assert seen[-1] == (len(rows), len(rows))
    for row in rows:
        system, user, *rest = row.messages
        assert system == {"role": "system", "content": code_mode_instructions()}
        assert user["role"] == "user"
        assert row.tools[0]["function"]["name"] == CODE_TOOL
        if row.category == "direct_answer":
            assert [m["role"] for m in rest] == ["assistant"]
            continue
        call, tool, answer = rest
        code = call["tool_calls"][0]["function"]["arguments"]["code"]
        assert code and tool["role"] == "tool" and answer["content"]
        # Printed output as it is (Punie's rows), else the value and the calls.
        printed = "print(" in code
        assert tool["content"].startswith("value: ") != printed, (code, tool["content"])
    fixes = [r for r in rows if r.category == "check_and_fix"]
    # ty saw the proposed fix: one error before, none after.
    assert all(r.messages[3]["content"].startswith("value: [1, 0]") for r in fixes)
    git = [r.messages[3]["content"] for r in rows if r.category == "git"]
    assert any("NOTES.md" in text or "Initial import" in text for text in git)

    counts = write_dataset(rows, tmp_path, seed=5)
    assert sum(counts.values()) == len(rows) and counts["valid"] >= 1
    line = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert line["messages"][0]["role"] == "system"


async def test_same_seed_same_rows() -> None:
    first = await generate_rows_async([FIXTURE_PROJECT], per_category=2, seed=11)
    again = await generate_rows_async([FIXTURE_PROJECT], per_category=2, seed=11)
    assert [r.id for r in first] == [r.id for r in again]
