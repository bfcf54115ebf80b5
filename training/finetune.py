"""Fine-tuning through mlx-lm's Python API: LoRA or full, resumable.

The training loop is mlx-lm's own (``mlx_lm.tuner.trainer.train``) over its
``ChatDataset`` (the ``messages`` + ``tools`` rows a dataset directory holds), with
``linear_to_lora_layers`` for LoRA. What this module adds is what a user of the
editor needs around it:

- an adapter directory ``mlx:`` loads (``MlxModel(adapter_path=...)``), holding
  ``adapter_config.json``, ``adapters.safetensors`` and ``training_log.json`` (losses,
  tokens/s and peak memory, which ``training.report`` plots; ``training.adapters``);
- resuming: the adapter weights and the step they were saved at are written together
  every ``save_every`` steps, and ``resume=True`` continues from them (the optimizer
  state restarts, as mlx-lm's own ``--resume-adapter-file`` does);
- one progress bar on stderr (tqdm, which mlx-lm installs); mlx-lm's own console
  output is kept off stdout, which may carry a protocol or a JSON result.

mlx and mlx-lm are imported inside the functions: ``import training`` stays cheap
(``import mlx_lm`` costs ~1.3 s). Fusing and quantizing are in ``training.convert``.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.adapters import (
    FinetuneConfig,
    FinetuneResult,
    LossPoint,
    check_resumable,
    saved_state,
    write_state,
)
from training.convert import load_model, model_path, quiet_stdout
from training.rows import read_rows

__all__ = ["finetune", "load_rows"]


def load_rows(path: Path) -> list[dict[str, Any]]:
    """JSONL chat rows, with tool-call arguments given as JSON text turned into objects.

    OpenAI's format carries ``arguments`` as a string; chat templates iterate them as a
    mapping (``arguments | items``), so both spellings train the same.

    Raises ``ValueError`` naming the file and line when it is not UTF-8 or a line is not
    a row (``training.rows.read_rows``), or a call's ``arguments`` text is not JSON.
    """
    rows = []
    for number, row in enumerate(read_rows(path), 1):
        chat = row.model_dump(mode="json", include={"messages", "tools"})
        for message in chat["messages"]:
            for call in message.get("tool_calls") or []:
                function = call.get("function", call)
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    try:
                        function["arguments"] = json.loads(function["arguments"])
                    except json.JSONDecodeError:
                        raise ValueError(
                            f"{path}: row {number}: a tool call's arguments are not JSON"
                        ) from None
        rows.append(chat)
    return rows


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

    previous = saved_state(output) if config.resume else None
    if previous:
        check_resumable(config, previous.get("config", {}), output)
    start = int(previous["step"]) if previous else 0
    result = FinetuneResult(adapter_dir=output, step=start, started_at_step=start)
    if previous:
        result.losses = [LossPoint(**p) for p in previous["losses"]]
        result.val_losses = [(int(s), float(v)) for s, v in previous["val_losses"]]

    mx.random.seed(config.seed + start)
    np.random.seed(config.seed + start)
    # mlx-lm's stubs give load() a union of 2- and 3-tuples; without return_config it is 2.
    loaded: Any = load_model(config.model)
    model, tokenizer = loaded

    def chat(rows: list[dict[str, Any]], name: str) -> CacheDataset:
        data = CacheDataset(ChatDataset(rows, tokenizer, mask_prompt=config.mask_prompt))
        _check_lengths(data, config.max_seq_length, config.data / name)
        return data

    # Tokenized (and cached for the trainer) before anything is written, so a row too
    # long for --max-seq-length stops the run with --output untouched.
    train_data = chat(train_rows, "train.jsonl")
    use_valid = len(valid_rows) >= config.batch_size
    valid_data = chat(valid_rows, "valid.jsonl") if use_valid else None
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
        "model": model_path(config.model),
        "mask_prompt": config.mask_prompt,
    }
    (output / "adapter_config.json").write_text(json.dumps(adapter_config, indent=1))

    remaining = config.iters - start
    if remaining <= 0:
        result.seconds = time.perf_counter() - started
        return result

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
                write_state(output, config, step, result, weights)

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
        with quiet_stdout():
            train(
                model=model,
                optimizer=optim.Adam(learning_rate=_schedule(config, start)),
                train_dataset=train_data,
                val_dataset=valid_data,
                args=args,
                iterate_batches=batches,
                training_callback=Recorder(),
            )
    finally:
        bar.close()
    result.step = config.iters
    write_state(
        output, config, result.step, result, dict(tree_flatten(model.trainable_parameters()))
    )
    result.seconds = time.perf_counter() - started
    return result


def _check_lengths(data: Any, max_seq_length: int, path: Path) -> None:
    """Refuse rows longer than ``max_seq_length`` tokens (``ValueError`` naming the flag).

    mlx-lm's batching cuts such a row to the limit and only warns on stdout. The cut
    part is the row's end, the answer it teaches: with the prompt masked a row left
    with no answer token makes the loss NaN, and without the mask it teaches a
    conversation that stops mid-way. Either way the run exits 0 having learnt nothing.
    """
    lengths = [len(data[index][0]) for index in range(len(data))]
    long = [n for n in lengths if n > max_seq_length]
    if long:
        raise ValueError(
            f"{path}: {len(long)} of {len(lengths)} rows are longer than --max-seq-length "
            f"{max_seq_length} tokens (the longest {max(long)}) and would lose their answers "
            f"to truncation; raise --max-seq-length to {max(long)} or more"
        )


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
