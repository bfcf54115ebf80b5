"""``punie-lsp train data``: each step writes or reads a dataset directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.test_punie_format import PUNIE_ROW
from training.datasets_cli import main

FIXTURE_PROJECT = Path(__file__).parents[2] / "training" / "sample_project"


@pytest.mark.parametrize("step", ["generate", "import-traces", "import-punie", "stats"])
def test_each_step_explains_itself(step: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([step, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out) > 200


def test_generate_then_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    args = ["generate", "--out", str(out), "--source", str(FIXTURE_PROJECT), "--per-category", "1"]
    assert main(args) == 0
    assert "generating" in capsys.readouterr().err
    assert main(["stats", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sum(split["rows"] for split in report.values()) == 7


def test_import_punie(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "punie.jsonl"
    source.write_text(json.dumps(PUNIE_ROW) + "\n{}\n")
    assert main(["import-punie", str(source), "--out", str(tmp_path / "data")]) == 0
    assert "skipped" in capsys.readouterr().err
    lines = (tmp_path / "data" / "train.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["category"] == "punie"


def test_stats_of_a_missing_directory(tmp_path: Path) -> None:
    assert main(["stats", str(tmp_path / "nope")]) == 2


def _punie_row(code: str) -> dict[str, object]:
    call = f"<tool_call><function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n"
    return {
        "messages": [
            {"role": "user", "content": f"question about {code[:20]}"},
            {"role": "assistant", "content": call + "</function></tool_call>"},
            {"role": "user", "content": "<tool_response>\nok\n</tool_response>"},
            {"role": "assistant", "content": "done"},
        ]
    }


def test_import_punie_refuses_rows_whose_programs_do_not_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    programs = [
        'r = typecheck("src")\nprint(r.error_count, r.success)',  # Punie's fields: kept
        'content = read_file("a.py")\nprint(len(content.split("\\n")))',  # str: kept
        'r = ruff_check("src")\nprint(r.warnings)',  # a field nobody has: refused
        'r = ruff_check("x")\nprint(r.warnings)',  # the same reason, counted twice
        'print(lint_everything("src"))',  # a function that does not exist: refused
        "def broken(:\n    pass",  # syntax: refused
    ]
    source = tmp_path / "punie.jsonl"
    source.write_text("".join(json.dumps(_punie_row(code)) + "\n" for code in programs))
    out = tmp_path / "data"
    assert main(["import-punie", str(source), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "refused 4 of 6 rows" in err
    assert "    2  unresolved-attribute `.warnings` on RuffResult" in err
    assert "    1  unresolved-reference `lint_everything`" in err
    assert "    1  syntax error" in err
    kept = [
        json.loads(line)
        for split in ("train", "valid", "test")
        if (out / f"{split}.jsonl").exists()
        for line in (out / f"{split}.jsonl").read_text().splitlines()
    ]
    assert len(kept) == 2

    assert main(["import-punie", str(source), "--out", str(tmp_path / "all"), "--no-check"]) == 0
    assert "wrote 6 rows" in capsys.readouterr().out
