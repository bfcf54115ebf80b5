"""LoRA and full fine-tuning on the tiny model: loss falls, resume continues, outputs load."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from training.adapters import FinetuneConfig, read_log
from training.convert import fuse, quantize
from training.finetune import finetune, load_rows

pytestmark = pytest.mark.timeout(300)


def config(model: Path, data: Path, output: Path) -> FinetuneConfig:
    return FinetuneConfig(
        model=f"mlx:{model}",
        data=data,
        output=output,
        iters=12,
        batch_size=4,
        learning_rate=1e-3,
        save_every=6,
        steps_per_eval=6,
        val_batches=1,
        progress=False,
    )


def test_string_tool_arguments_become_objects(dataset: Path) -> None:
    row = load_rows(dataset / "train.jsonl")[0]
    call = row["messages"][2]["tool_calls"][0]["function"]
    assert isinstance(call["arguments"], dict)
    assert "code" in call["arguments"]


def test_lora_loss_falls_and_resume_continues(
    tiny_model: Path, dataset: Path, tmp_path: Path
) -> None:
    adapter = tmp_path / "adapter"
    first = finetune(config(tiny_model, dataset, adapter))
    assert [p.step for p in first.losses] == [2, 4, 6, 8, 10, 12]
    assert first.losses[-1].loss < first.losses[0].loss
    assert first.tokens_per_second > 0
    assert first.peak_memory_gb > 0
    assert first.val_losses[-1][1] < first.val_losses[0][1]
    assert json.loads((adapter / "adapter_config.json").read_text())["fine_tune_type"] == "lora"

    resumed = finetune(replace(config(tiny_model, dataset, adapter), iters=18, resume=True))
    assert resumed.started_at_step == 12
    assert resumed.step == 18
    assert [p.step for p in resumed.losses][-3:] == [14, 16, 18]
    # Continuing from trained weights, not from scratch: the first new loss is low.
    assert resumed.losses[6].loss < first.losses[0].loss
    log = read_log(adapter)
    assert log is not None
    assert log.step == 18

    again = finetune(replace(config(tiny_model, dataset, adapter), iters=18, resume=True))
    assert again.started_at_step == 18  # nothing left to do

    other_shape = replace(config(tiny_model, dataset, adapter), rank=4, iters=24, resume=True)
    with pytest.raises(ValueError, match=r"cannot resume .*rank 8 -> 4"):
        finetune(other_shape)
    kept = read_log(adapter)
    assert kept is not None and kept.step == 18  # the refused run changed nothing


def test_full_fine_tune_fuses_and_quantizes(
    tiny_model: Path, dataset: Path, tmp_path: Path
) -> None:
    from mlx_lm.utils import load

    full = replace(
        config(tiny_model, dataset, tmp_path / "full"),
        fine_tune_type="full",
        num_layers=1,
        iters=4,
        learning_rate=1e-3,
        save_every=2,
    )
    result = finetune(full)
    assert result.losses[-1].loss < result.losses[0].loss
    fused = fuse(str(tiny_model), tmp_path / "full", tmp_path / "fused")
    load(str(fused))
    quantized = quantize(str(fused), tmp_path / "q8", bits=8)
    assert json.loads((quantized / "config.json").read_text())["quantization"]["bits"] == 8
    load(str(quantized))
    with pytest.raises(ValueError, match="bits"):
        quantize(str(fused), tmp_path / "q3", bits=3)  # ty: ignore[invalid-argument-type]  # refused at run time too


def test_cosine_schedule_warms_up_decays_and_resumes_where_it_stopped(
    tiny_model: Path, dataset: Path, tmp_path: Path
) -> None:
    from training.finetune import _schedule

    scheduled = replace(
        config(tiny_model, dataset, tmp_path / "cosine"),
        lr_schedule="cosine",
        warmup=4,
        save_every=2,
    )
    rate = _schedule(scheduled, 0)
    assert float(rate(0)) == 0.0
    assert float(rate(2)) == pytest.approx(5e-4)
    assert float(rate(4)) == pytest.approx(1e-3)
    assert float(rate(12)) == pytest.approx(0.0, abs=1e-9)
    # A run resumed at step 6 reads the schedule from step 6, not from the start again.
    assert float(_schedule(scheduled, 6)(0)) == pytest.approx(float(rate(6)))
    assert _schedule(config(tiny_model, dataset, tmp_path), 0) == 1e-3

    # The trainer uses it: the rates it reports rise through the warm-up, then fall.
    reported = [p.learning_rate for p in finetune(scheduled).losses]
    assert reported[0] < reported[1]
    assert reported[1] > reported[-2] > reported[-1]


OLD_AND_NEW_FLAGS = [
    (("--method", "full"), ("--fine-tune-type", "full"), "fine_tune_type", "full"),
    (("--iterations", "7"), ("--iters", "7"), "iters", 7),
    (("--eval-every", "3"), ("--steps-per-eval", "3"), "steps_per_eval", 3),
    (
        ("--grad-accumulation", "2"),
        ("--grad-accumulation-steps", "2"),
        "grad_accumulation_steps",
        2,
    ),
]


@pytest.mark.parametrize(("old", "new", "field", "value"), OLD_AND_NEW_FLAGS)
def test_finetune_flags_take_mlx_lms_names_and_keep_the_earlier_ones(
    old: tuple[str, str], new: tuple[str, str], field: str, value: object
) -> None:
    from training.cli import _parser

    base = ["finetune", "--model", "m", "--data", "d", "--output", "o"]
    assert getattr(_parser().parse_args([*base, *old]), field) == value
    assert getattr(_parser().parse_args([*base, *new]), field) == value


def test_a_run_saved_under_the_earlier_field_names_is_checked_by_them(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A training_log.json written before the rename ("method", "iterations") still
    refuses a resume with another adapter shape, naming the field as it is called now."""
    from training.cli import main

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapters.safetensors").write_bytes(b"")
    saved = {"model": "m", "method": "full", "iterations": 12, "rank": 8, "eval_every": 6}
    state = {"step": 12, "config": saved, "losses": [], "val_losses": []}
    (adapter / "training_log.json").write_text(json.dumps(state))
    common = ["--model", "m", "--data", str(dataset), "--output", str(adapter), "--resume"]

    assert main(["finetune", *common, "--method", "lora"]) == 2
    said = capsys.readouterr().err
    assert "cannot resume" in said and "fine_tune_type 'full' -> 'lora'" in said
    assert main(["finetune", *common, "--fine-tune-type", "lora"]) == 2
    assert "fine_tune_type 'full' -> 'lora'" in capsys.readouterr().err
    log = read_log(adapter)
    assert log is not None and log.step == 12


def test_rows_longer_than_max_seq_length_stop_the_run_before_anything_is_written(
    tiny_model: Path, dataset: Path, tmp_path: Path
) -> None:
    """mlx-lm cut such rows to the limit and said so only on its (quieted) stdout: with
    the prompt masked every answer was cut away, the loss was NaN and the run exited 0.
    This agent's own rows (~2,400 tokens of instructions) overran the old default 2048."""
    adapter = tmp_path / "adapter"
    short = replace(config(tiny_model, dataset, adapter), max_seq_length=16)
    with pytest.raises(ValueError, match=r"train.jsonl: \d+ of \d+ rows are longer than") as raised:
        finetune(short)
    assert "--max-seq-length 16 tokens" in str(raised.value)
    assert "raise --max-seq-length to" in str(raised.value)
    assert not adapter.exists()
    assert FinetuneConfig(model="m", data=dataset, output=adapter).max_seq_length >= 4096
