"""The path flags of ``punie-lsp train``'s steps, checked before any work is done.

A wrong folder is named by its flag before a model loads (mlx-lm would report a local
path as a bad Hugging Face repo id, or a missing file by its errno), and no step writes
over what is there: found by a fresh user's pass, ``fuse`` wrote its model files into
an existing folder and ``eval`` failed to write its JSON only after the whole suite ran.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["path_problems"]


def path_problems(args: argparse.Namespace) -> str | None:
    """A path flag that cannot work, said before any model loads or any work is done.

    Inputs: a folder flag that names nothing or the wrong kind of folder (mlx-lm would
    report a local path as a bad Hugging Face repo id, or a missing file by its errno).
    Outputs: what the step would write over or fail to write only at its end: fuse
    wrote its model files into any existing folder, a second ``finetune`` without
    ``--resume`` replaced a trained adapter, and ``eval`` wrote its JSON only after the
    whole suite had run.
    """
    step = args.step
    data, adapter = getattr(args, "data", None), getattr(args, "adapter", None)
    if isinstance(data, Path):
        if not data.is_dir():
            return f"--data {data}: no such folder"
        if not (data / "train.jsonl").is_file():
            return f"--data {data}: no train.jsonl there; build a dataset with `train data`"
    if adapter is not None:
        folder = Path(adapter)
        if not folder.is_dir():
            return f"--adapter {adapter}: no such folder"
        if not (folder / "adapter_config.json").is_file():
            return (
                f"--adapter {adapter}: not an adapter folder (no adapter_config.json); "
                "name the folder `train finetune --output` wrote"
            )
    model = getattr(args, "model", None)
    if isinstance(model, str) and step in ("finetune", "fuse", "quantize"):
        local = Path(model.removeprefix("mlx:")).expanduser()
        if model.removeprefix("mlx:").startswith(("/", "./", "../", "~")) or local.is_dir():
            if not local.is_dir():
                return f"--model {model}: no such model folder (or name a Hugging Face repo)"
            if not (local / "config.json").is_file():
                return f"--model {model}: not an mlx-lm model folder (no config.json)"
    return _output_problem(args)


def _output_problem(args: argparse.Namespace) -> str | None:
    output: Path | None = getattr(args, "output", None)
    if output is None:
        return None
    if args.step in ("fuse", "quantize"):
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            return (
                f"--output {output} already exists; name a new folder (the {args.step}d "
                "model's files would replace what is there)"
            )
        return None
    if args.step == "finetune":
        if output.exists() and not output.is_dir():
            return f"--output {output} is a file; name a folder for the adapter"
        if (output / "adapters.safetensors").exists() and not args.resume:
            return (
                f"--output {output} holds a trained adapter; add --resume to continue it, "
                "or name a new folder"
            )
        return None
    if output.is_dir():
        return f"--output {output} is a folder; name the file to write"
    ancestor = output.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        return f"--output {output}: cannot write there ({ancestor} is not a writable folder)"
    return None
