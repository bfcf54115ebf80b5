"""The whole pipeline on the tiny model, through the CLI a user runs.

dataset -> fine-tune a few LoRA steps (the loss falls) -> fuse -> evaluate the fused
model through the real agent (``mlx:<fused dir>``) -> HTML report with the categories
and the loss curve. The scores of a 2-layer model are not the point; that every step
hands the next one something it can load is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from training.adapters import read_log
from training.cli import main

pytestmark = pytest.mark.timeout(300)


def test_data_step_explains_when_part_a_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "training.datasets_cli", None)
    assert main(["data", "--help"]) == 2
    assert "dataset building is not available" in capsys.readouterr().err


@pytest.mark.parametrize("step", ["finetune", "fuse", "quantize", "eval", "report"])
def test_every_step_explains_itself(step: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([step, "--help"])
    assert exit_.value.code == 0
    assert "--output" in capsys.readouterr().out


def test_pipeline(tiny_model: Path, dataset: Path, tmp_path: Path) -> None:
    adapter, fused = tmp_path / "adapter", tmp_path / "fused"
    common = ["--batch-size", "4", "--learning-rate", "1e-3", "--save-every", "4"]
    assert (
        main(
            [
                *("finetune", "--model", f"mlx:{tiny_model}", "--data", str(dataset)),
                *("--output", str(adapter), "--iters", "8", *common),
            ]
        )
        == 0
    )
    log = read_log(adapter)
    assert log is not None
    assert log.losses[-1].loss < log.losses[0].loss

    assert (
        main(
            ["fuse", "--model", str(tiny_model), "--adapter", str(adapter), "--output", str(fused)]
        )
        == 0
    )
    assert (fused / "model.safetensors").is_file()

    result = tmp_path / "eval.json"
    assert (
        main(
            [
                *("eval", "--model", f"mlx:{fused}", "--suite", "git", "--max-tokens", "24"),
                *("--output", str(result)),
            ]
        )
        == 0
    )
    run = json.loads(result.read_text())
    assert run["model"] == f"mlx:{fused}"
    assert [c["category"] for c in run["cases"]] == ["git", "git"]
    assert all(c["turns"] >= 1 for c in run["cases"])
    assert set(run["categories"]) == {"git"}

    report = tmp_path / "report.html"
    assert (
        main(
            [
                *("report", str(result), "--baseline", str(result)),
                *("--training-log", str(adapter), "--output", str(report)),
            ]
        )
        == 0
    )
    text = report.read_text()
    assert "git" in text
    assert "<polyline" in text  # the loss curve
