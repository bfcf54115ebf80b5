"""An adapter directory: what a fine-tuning run is configured with, what it recorded,
and how both are saved, checked on resume and read back.

The directory holds ``adapter_config.json`` (mlx-lm's, what ``mlx:`` with an adapter
reads), ``adapters.safetensors`` and ``training_log.json`` (``STATE_FILE``: the step the
weights belong to, the run's ``FinetuneConfig`` and every reported loss, which
``training.report`` plots). ``training.finetune`` runs the training that writes it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from training.convert import model_path

__all__ = [
    "CONFIG_RENAMES",
    "SHAPE_FIELDS",
    "STATE_FILE",
    "FinetuneConfig",
    "FinetuneResult",
    "LossPoint",
    "check_resumable",
    "read_log",
    "saved_state",
    "write_state",
]

STATE_FILE = "training_log.json"
"""Per adapter directory: the step reached, the config and every reported loss."""
SHAPE_FIELDS = ("model", "fine_tune_type", "rank", "scale", "dropout", "num_layers")
"""What a resumed run must share with the saved one: the weights' shape and meaning.

Steps, learning rate, batch size and data may change between runs (to train longer or
on more rows); these may not, or the saved weights would be loaded into a different
adapter, or onto a different model.
"""

CONFIG_RENAMES = {
    "method": "fine_tune_type",
    "iterations": "iters",
    "grad_accumulation": "grad_accumulation_steps",
    "eval_every": "steps_per_eval",
}
"""Earlier names of ``FinetuneConfig`` fields -> mlx-lm's: a ``training_log.json`` saved
with them is read as if written now (the CLI accepts the old flags too)."""


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    """One fine-tuning run: which model, which data, and mlx-lm's knobs.

    Fields mlx-lm also has carry its names (``mlx_lm.lora``'s config: ``fine_tune_type``,
    ``iters``, ``steps_per_eval``, ``grad_accumulation_steps`` …); ``CONFIG_RENAMES``
    maps the names runs were saved with before.
    """

    model: str
    """A model directory or Hugging Face repo id (an ``mlx:`` prefix is accepted)."""
    data: Path
    """A dataset directory with ``train.jsonl`` and optionally ``valid.jsonl``."""
    output: Path
    """The adapter directory to write (and to resume from)."""
    fine_tune_type: Literal["lora", "full"] = "lora"
    """``lora``: low-rank adapters on the last ``num_layers``; ``full``: those layers' weights."""
    rank: int = 8
    """LoRA rank."""
    scale: float = 20.0
    """LoRA scale (mlx-lm's name for alpha/rank)."""
    dropout: float = 0.0
    """LoRA dropout."""
    num_layers: int = 16
    """How many of the last transformer blocks to train; -1 or more than the model has: all."""
    learning_rate: float = 1e-5
    """Adam's learning rate (the peak, with a schedule)."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """``cosine``: decay from ``learning_rate`` to zero at ``iters`` (mlx's cosine_decay)."""
    warmup: int = 0
    """Steps of linear warm-up from zero to ``learning_rate`` first."""
    iters: int = 100
    """Total optimizer steps, counting steps of a resumed run."""
    batch_size: int = 4
    """Rows per step (the training set must hold at least this many)."""
    grad_accumulation_steps: int = 1
    """Steps whose gradients are summed before one update."""
    mask_prompt: bool = True
    """Score only the last assistant turn, not the prompt that leads to it."""
    max_seq_length: int = 4096
    """Tokens a row may have. A longer row is refused before training starts (mlx-lm
    would cut its end, the answer it teaches, and say so only on the stdout it prints
    to); this agent's rows open with ~2,400 tokens of instructions and tool schema."""
    seed: int = 0
    """Seeds mlx and numpy (batch order, LoRA init)."""
    save_every: int = 100
    """Save adapter weights and the step every this many steps (what ``resume`` reads)."""
    steps_per_eval: int = 200
    """Validation loss every this many steps (and at the first and last)."""
    val_batches: int = 25
    """Validation batches per evaluation; -1: the whole validation set."""
    resume: bool = False
    """Continue from ``output`` if it holds a saved step; otherwise start afresh."""
    progress: bool = True
    """Show a progress bar on stderr."""


@dataclass(frozen=True, kw_only=True)
class LossPoint:
    """One report of mlx-lm's trainer (a mean over the steps since the previous one)."""

    step: int
    loss: float
    tokens_per_second: float
    peak_memory_gb: float
    learning_rate: float


@dataclass(kw_only=True)
class FinetuneResult:
    """What a run produced: the adapter directory and what training measured."""

    adapter_dir: Path
    step: int
    """Steps done in total (a resumed run counts the earlier ones)."""
    started_at_step: int
    """0, or the step a resumed run continued from."""
    losses: list[LossPoint] = field(default_factory=list)
    """Training losses of this and earlier (resumed) runs, by step."""
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    """(step, validation loss)."""
    seconds: float = 0.0
    """Wall time of this run, loading included."""
    trained_tokens: int = 0
    """Tokens scored in this run."""

    @property
    def tokens_per_second(self) -> float:
        """Mean training throughput of this run's reports."""
        mine = [p for p in self.losses if p.step > self.started_at_step]
        return sum(p.tokens_per_second for p in mine) / len(mine) if mine else 0.0

    @property
    def peak_memory_gb(self) -> float:
        return max((p.peak_memory_gb for p in self.losses), default=0.0)


def saved_state(output: Path) -> dict[str, Any] | None:
    """``STATE_FILE`` of ``output`` with its config under today's field names; None when
    the directory holds no saved step (no state, or no weights beside it)."""
    state = output / STATE_FILE
    if not (state.is_file() and (output / "adapters.safetensors").is_file()):
        return None
    saved = json.loads(state.read_text())
    config = saved.get("config")
    if isinstance(config, dict):
        saved["config"] = {CONFIG_RENAMES.get(key, key): value for key, value in config.items()}
    return saved


def check_resumable(config: FinetuneConfig, saved: dict[str, Any], output: Path) -> None:
    """Refuse, by field, to resume a run saved with a different model or adapter shape."""
    wanted = {**asdict(config), "model": model_path(config.model)}
    if "model" in saved:
        saved = {**saved, "model": model_path(saved["model"])}
    differ = [
        f"{name} {saved[name]!r} -> {wanted[name]!r}"
        for name in SHAPE_FIELDS
        if name in saved and saved[name] != wanted[name]
    ]
    if differ:
        raise ValueError(
            f"cannot resume {output}: it was trained with a different "
            f"{', '.join(differ)}; use the saved values or a new output directory"
        )


def write_state(
    output: Path, config: FinetuneConfig, step: int, result: FinetuneResult, weights: Any
) -> None:
    """Weights first, then the step that names them: a crash in between loses one save."""
    import mlx.core as mx  # only a training run writes weights; ``import training`` stays light

    mx.save_safetensors(str(output / "adapters.safetensors"), weights)
    state = {
        "step": step,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "losses": [asdict(p) for p in result.losses],
        "val_losses": result.val_losses,
    }
    (output / STATE_FILE).write_text(json.dumps(state, indent=1))


def read_log(adapter_dir: Path) -> FinetuneResult | None:
    """The saved log of an adapter directory (for reports), or None."""
    state = saved_state(adapter_dir)
    if state is None:
        return None
    return FinetuneResult(
        adapter_dir=adapter_dir,
        step=int(state["step"]),
        started_at_step=0,
        losses=[LossPoint(**p) for p in state["losses"]],
        val_losses=[(int(s), float(v)) for s, v in state["val_losses"]],
    )
