"""``punie-lsp train data``: each step writes or reads a dataset directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.test_punie_format import PUNIE_ROW
from training.datasets_cli import main

FIXTURE_PROJECT = Path(__file__).parents[1] / "fixtures" / "project"


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
