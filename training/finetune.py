"""Fine-tuning through mlx-lm's Python API: LoRA or full, resumable; fuse; quantize.

The training loop is mlx-lm's own (``mlx_lm.tuner.trainer.train``) over its
``ChatDataset`` (the ``messages`` + ``tools`` rows a dataset directory holds), with
``linear_to_lora_layers`` for LoRA. What this module adds is what a user of the
editor needs around it:

- an adapter directory ``mlx:`` loads (``MlxModel(adapter_path=...)``), holding
  ``adapter_config.json``, ``adapters.safetensors`` and ``training_log.json`` (losses,
  tokens/s and peak memory, which ``training.report`` plots);
- resuming: the adapter weights and the step they were saved at are written together
  every ``save_every`` steps, and ``resume=True`` continues from them (the optimizer
  state restarts, as mlx-lm's own ``--resume-adapter-file`` does);
- one progress bar on stderr (tqdm, which mlx-lm installs); mlx-lm's own console
  output is kept off stdout, which may carry a protocol or a JSON result.

mlx and mlx-lm are imported inside the functions: ``import training`` stays cheap.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "FinetuneConfig",
    "FinetuneResult",
    "LossPoint",
    "finetune",
    "fuse",
    "load_rows",
    "quantize",
    "read_log",
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
    max_seq_length: int = 2048
    """Longer rows are truncated."""
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


def _model_path(model: str) -> str:
    return model.removeprefix("mlx:")


def _load(model: str, **options: Any) -> Any:
    """mlx-lm's ``load``; a model it cannot find or fetch is a one-line ``ValueError``."""
    from mlx_lm.utils import load

    path = _model_path(model)
    try:
        return load(path, **options)
    except Exception as error:  # the hub, the network, or a folder that is not a model
        if Path(path).expanduser().exists():
            hint = "an mlx-lm model directory has config.json, *.safetensors and tokenizer files"
        else:
            hint = (
                "it is not in the local Hugging Face cache and cannot be downloaded here "
                "(no network, or no such repo); download it where there is network "
                f"(`pip install huggingface_hub`, then `hf download {path}`) or pass a "
                "local model directory"
            )
        detail = " ".join(f"{type(error).__name__}: {error}".split())
        raise ValueError(f"--model {model}: cannot load it: {hint} ({detail})") from error


def load_rows(path: Path) -> list[dict[str, Any]]:
    """JSONL chat rows, with tool-call arguments given as JSON text turned into objects.

    OpenAI's format carries ``arguments`` as a string; chat templates iterate them as a
    mapping (``arguments | items``), so both spellings train the same.
    """
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        for message in row.get("messages", []):
            for call in message.get("tool_calls") or []:
                function = call.get("function", call)
                if isinstance(function.get("arguments"), str):
                    function["arguments"] = json.loads(function["arguments"])
        rows.append(row)
    return rows


def _state(output: Path) -> dict[str, Any] | None:
    state = output / STATE_FILE
    if not (state.is_file() and (output / "adapters.safetensors").is_file()):
        return None
    saved = json.loads(state.read_text())
    config = saved.get("config")
    if isinstance(config, dict):
        saved["config"] = {CONFIG_RENAMES.get(key, key): value for key, value in config.items()}
    return saved


def _check_resumable(config: FinetuneConfig, saved: dict[str, Any], output: Path) -> None:
    """Refuse, by field, to resume a run saved with a different model or adapter shape."""
    wanted = {**asdict(config), "model": _model_path(config.model)}
    if "model" in saved:
        saved = {**saved, "model": _model_path(saved["model"])}
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


def _write_state(
    output: Path, config: FinetuneConfig, step: int, result: FinetuneResult, weights: Any
) -> None:
    """Weights first, then the step that names them: a crash in between loses one save."""
    import mlx.core as mx

    mx.save_safetensors(str(output / "adapters.safetensors"), weights)
    state = {
        "step": step,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "losses": [asdict(p) for p in result.losses],
        "val_losses": result.val_losses,
    }
    (output / STATE_FILE).write_text(json.dumps(state, indent=1))


class _Bar:
    """tqdm on stderr when available, else a one-line counter."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self._tqdm: Any = None
        self.n, self.total, self.enabled = initial, total, enabled
        if not enabled:
            return
        with contextlib.suppress(ImportError):
            from tqdm import tqdm

            self._tqdm = tqdm(total=total, initial=initial, desc="train", file=sys.stderr)

    def update(self, loss: float | None = None) -> None:
        self.n += 1
        if self._tqdm is not None:
            self._tqdm.update(1)
            if loss is not None:
                self._tqdm.set_postfix(loss=f"{loss:.3f}")
        elif self.enabled:
            sys.stderr.write(f"\rtrain {self.n}/{self.total}")

    def note(self, loss: float) -> None:
        if self._tqdm is not None:
            self._tqdm.set_postfix(loss=f"{loss:.3f}")

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.enabled:
            sys.stderr.write("\n")


def finetune(config: FinetuneConfig) -> FinetuneResult:
    """Train; the adapter directory is complete when this returns (and after each save)."""
    import mlx.core as mx
    import mlx.optimizers as optim
    import numpy as np
    from mlx.utils import tree_flatten
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.datasets import CacheDataset, ChatDataset
    from mlx_lm.tuner.trainer import TrainingArgs, iterate_batches, train
    from mlx_lm.tuner.utils import linear_to_lora_layers

    started = time.perf_counter()
    output = config.output
    train_rows = load_rows(config.data / "train.jsonl")
    valid_file = config.data / "valid.jsonl"
    valid_rows = load_rows(valid_file) if valid_file.is_file() else []
    if len(train_rows) < config.batch_size:
        raise ValueError(
            f"{config.data / 'train.jsonl'} has {len(train_rows)} rows, fewer than the batch "
            f"size {config.batch_size}: lower --batch-size or add rows"
        )

    previous = _state(output) if config.resume else None
    if previous:
        _check_resumable(config, previous.get("config", {}), output)
    start = int(previous["step"]) if previous else 0
    result = FinetuneResult(adapter_dir=output, step=start, started_at_step=start)
    if previous:
        result.losses = [LossPoint(**p) for p in previous["losses"]]
        result.val_losses = [(int(s), float(v)) for s, v in previous["val_losses"]]

    mx.random.seed(config.seed + start)
    np.random.seed(config.seed + start)
    # mlx-lm's stubs give load() a union of 2- and 3-tuples; without return_config it is 2.
    loaded: Any = _load(config.model)
    model, tokenizer = loaded
    layers = len(model.layers)
    num_layers = layers if config.num_layers < 0 else min(config.num_layers, layers)
    model.freeze()
    lora_parameters = {"rank": config.rank, "scale": config.scale, "dropout": config.dropout}
    if config.fine_tune_type == "full":
        for layer in model.layers[layers - num_layers :]:
            layer.unfreeze()
    else:
        linear_to_lora_layers(model, num_layers, lora_parameters)
    if previous:
        model.load_weights(str(output / "adapters.safetensors"), strict=False)

    output.mkdir(parents=True, exist_ok=True)
    # What mlx_lm.load(adapter_path=...) reads back (mlx-lm's own key names).
    adapter_config = {
        "fine_tune_type": config.fine_tune_type,
        "num_layers": num_layers,
        "lora_parameters": lora_parameters,
        "model": _model_path(config.model),
        "mask_prompt": config.mask_prompt,
    }
    (output / "adapter_config.json").write_text(json.dumps(adapter_config, indent=1))

    remaining = config.iters - start
    if remaining <= 0:
        result.seconds = time.perf_counter() - started
        return result

    def chat(rows: list[dict[str, Any]]) -> CacheDataset:
        data = ChatDataset(rows, tokenizer, mask_prompt=config.mask_prompt)
        return CacheDataset(data)

    use_valid = len(valid_rows) >= config.batch_size
    save_every = max(1, config.save_every)
    bar = _Bar(config.iters, start, config.progress)

    class Recorder(TrainingCallback):
        def on_train_loss_report(self, train_info: dict[str, Any]) -> None:
            step = start + int(train_info["iteration"])
            point = LossPoint(
                step=step,
                loss=float(train_info["train_loss"]),
                tokens_per_second=float(train_info["tokens_per_second"]),
                peak_memory_gb=float(train_info["peak_memory"]),
                learning_rate=float(train_info["learning_rate"]),
            )
            result.losses.append(point)
            result.trained_tokens = int(train_info["trained_tokens"])
            result.step = step
            bar.note(point.loss)
            if step % save_every == 0 and step < config.iters:
                weights = dict(tree_flatten(model.trainable_parameters()))
                _write_state(output, config, step, result, weights)

        def on_val_loss_report(self, val_info: dict[str, Any]) -> None:
            result.val_losses.append(
                (start + int(val_info["iteration"]), float(val_info["val_loss"]))
            )

    def batches(
        dataset: Any,
        batch_size: int,
        max_seq_length: int,
        loop: bool = False,
        seed: int | None = None,
        comm_group: Any = None,
    ) -> Iterator[Any]:
        # The trainer loops over training batches (loop=True); validation does not.
        for batch in iterate_batches(
            dataset, batch_size, max_seq_length, loop=loop, seed=seed, comm_group=comm_group
        ):
            if loop:
                bar.update()
            yield batch

    args = TrainingArgs(
        batch_size=config.batch_size,
        iters=remaining,
        val_batches=config.val_batches,
        # Every save step must be a report step: the recorder saves there.
        steps_per_report=math.gcd(10, save_every),
        steps_per_eval=max(1, config.steps_per_eval),
        steps_per_save=remaining + 1,
        adapter_file=str(output / "adapters.safetensors"),
        max_seq_length=config.max_seq_length,
        grad_accumulation_steps=config.grad_accumulation_steps,
    )
    try:
        with _quiet_stdout():
            train(
                model=model,
                optimizer=optim.Adam(learning_rate=_schedule(config, start)),
                train_dataset=chat(train_rows),
                val_dataset=chat(valid_rows) if use_valid else None,
                args=args,
                iterate_batches=batches,
                training_callback=Recorder(),
            )
    finally:
        bar.close()
    result.step = config.iters
    _write_state(
        output, config, result.step, result, dict(tree_flatten(model.trainable_parameters()))
    )
    result.seconds = time.perf_counter() - started
    return result


def _schedule(config: FinetuneConfig, start: int) -> Any:
    """The learning rate, or a schedule over the whole run read from step ``start`` on.

    A resumed run's optimizer counts from zero again, so the schedule is shifted by the
    steps already taken: stopping and resuming trains with the same rates as one run.
    """
    from mlx_lm.tuner.utils import build_schedule

    if config.lr_schedule == "constant" and not config.warmup:
        return config.learning_rate
    warmup = min(config.warmup, config.iters)
    rate = config.learning_rate
    # mlx-lm's schedules (lora.py's ``lr_schedule``): after a warm-up from zero, the
    # named one starts a step later; the cosine is sized to reach zero at ``iters``.
    if config.lr_schedule == "cosine":
        decay = config.iters - warmup - (1 if warmup else 0)
        named = {"name": "cosine_decay", "arguments": [rate, max(1, decay)]}
    else:
        named = {"name": "linear_schedule", "arguments": [rate, rate, 1]}
    whole = build_schedule({**named, "warmup": warmup})
    return lambda step: whole(step + start)


@contextlib.contextmanager
def _quiet_stdout() -> Generator[None]:
    """mlx-lm prints its console UI to stdout; keep it off (our bar is on stderr)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def read_log(adapter_dir: Path) -> FinetuneResult | None:
    """The saved log of an adapter directory (for reports), or None."""
    state = _state(adapter_dir)
    if state is None:
        return None
    return FinetuneResult(
        adapter_dir=adapter_dir,
        step=int(state["step"]),
        started_at_step=0,
        losses=[LossPoint(**p) for p in state["losses"]],
        val_losses=[(int(s), float(v)) for s, v in state["val_losses"]],
    )


def fuse(model: str, adapter_dir: Path, output: Path, *, dequantize: bool = False) -> Path:
    """Merge the adapter into the base weights: a plain model directory ``mlx:`` loads."""
    from mlx.utils import tree_unflatten
    from mlx_lm.utils import dequantize_model, save

    loaded: Any = _load(model, adapter_path=str(adapter_dir), return_config=True)
    base, tokenizer, config = loaded
    fused = [
        (n, m.fuse(dequantize=dequantize)) for n, m in base.named_modules() if hasattr(m, "fuse")
    ]
    if fused:
        base.update_modules(tree_unflatten(fused))
    if dequantize:
        base = dequantize_model(base)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    save(output, _model_path(model), base, tokenizer, config, donate_model=False)
    return output


QuantBits = Literal[4, 5, 6, 8]


def quantize(model: str, output: Path, *, bits: QuantBits = 4, group_size: int = 64) -> Path:
    """A quantized copy of a model directory (mlx-lm's ``convert``), loadable by ``mlx:``."""
    from mlx_lm.convert import convert

    if bits not in (4, 5, 6, 8):
        raise ValueError(f"bits must be 4, 5, 6 or 8, not {bits}")
    with _quiet_stdout():
        convert(
            _model_path(model), str(output), quantize=True, q_bits=bits, q_group_size=group_size
        )
    return output
