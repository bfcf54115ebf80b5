"""Loading an mlx-lm checkpoint with errors that say which model failed and what to do.

``mlx_lm.load`` raises whatever went wrong underneath (a Hugging Face hub lookup, a
missing ``config.json``, an unknown architecture), often without naming the model.
A user only sees these in ``punie.status`` or the CLI, so each is turned into one
``MlxModelLoadError`` naming the path or repo; a repo id that is not cached and cannot
be fetched (no network, as on many of the machines this runs on) says to pass a local
directory instead. Called on the model's worker thread only.

mlx-lm is imported inside the functions that use it: ``import mlx_lm`` costs ~1.3 s
(ARCHITECTURE, upstream traps), paid only by a process that runs an ``mlx:`` model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["MlxAdapterLoadError", "MlxDraftLoadError", "MlxModelLoadError", "load_model"]


class MlxModelLoadError(RuntimeError):
    """The model, draft model or adapter could not be loaded: the message says which and why."""


class MlxDraftLoadError(MlxModelLoadError):
    """The draft model (speculative decoding) could not be loaded or does not fit the
    model: the message names it."""


class MlxAdapterLoadError(MlxModelLoadError):
    """The LoRA adapter could not be loaded or applied to the model (which itself loaded):
    the message names the adapter's path. Never the base model answering without it."""


def load_model(
    path_or_repo: str, draft_model: str | None, adapter_path: str | None
) -> tuple[Any, Any, Any | None]:
    """(model, tokenizer wrapper, draft model or None), or ``MlxModelLoadError``."""
    if adapter_path is not None:
        _check_adapter(adapter_path)
    model, tokenizer = _load_one(path_or_repo, "model", adapter_path)
    draft = None
    if draft_model is not None:
        try:
            draft, draft_tokenizer = _load_one(draft_model, "draft model", None)
        except MlxModelLoadError as error:
            raise MlxDraftLoadError(str(error)) from error
        if draft_tokenizer.vocab_size != tokenizer.vocab_size:
            raise MlxDraftLoadError(
                f"draft model {draft_model!r} has a different vocabulary from {path_or_repo!r}: "
                "speculative decoding needs a draft model with the same tokenizer"
            )
    return model, tokenizer, draft


def _check_adapter(adapter_path: str) -> None:
    """Before any weights load: the adapter folder exists and is one (a typo in the path
    fails in a second, naming it, rather than after the model has loaded)."""
    folder = Path(adapter_path).expanduser()
    where = repr(adapter_path)
    if not folder.is_absolute():  # relative to punie-lsp's working directory, not the file's
        where += f" ({folder.absolute()})"
    if not folder.is_dir():
        raise MlxAdapterLoadError(
            f"LoRA adapter directory {where} does not exist: pass the folder `punie-lsp train "
            "finetune` wrote (adapter_config.json + adapters.safetensors), as an absolute path"
        )
    if not (folder / "adapter_config.json").is_file():
        raise MlxAdapterLoadError(
            f"LoRA adapter directory {where} has no adapter_config.json: pass the folder "
            "`mlx_lm lora` wrote (adapter_config.json + adapters.safetensors)"
        )


def _apply_adapter(model: Any, adapter_path: str, path_or_repo: str) -> Any:
    """mlx-lm's own ``load_adapters``, as ``mlx_lm.load`` calls it, but after the model
    loaded on its own: a bad adapter is then named as the adapter's fault, not the model's."""
    from mlx_lm.tuner.utils import load_adapters

    try:
        model = load_adapters(model, str(Path(adapter_path).expanduser()))
    except Exception as error:
        raise MlxAdapterLoadError(
            f"LoRA adapter {adapter_path!r} could not be applied to mlx model "
            f"{path_or_repo!r}: {type(error).__name__}: {error} (an adapter fits the base "
            "model it was trained on)"
        ) from error
    model.eval()
    return model


def _load_one(path_or_repo: str, what: str, adapter_path: str | None) -> tuple[Any, Any]:
    from mlx_lm import load

    local = Path(path_or_repo).expanduser()
    if not local.exists() and (
        path_or_repo.startswith(("/", ".", "~")) or path_or_repo.count("/") != 1
    ):
        raise MlxModelLoadError(
            f"mlx {what} {path_or_repo!r}: no such directory, and not a Hugging Face repo id "
            "(owner/name); pass a model directory or a repo id"
        )
    try:
        loaded = load(str(local) if local.exists() else path_or_repo)
    except Exception as error:
        if local.exists():
            raise MlxModelLoadError(
                f"could not load mlx {what} from {str(local)!r}: {type(error).__name__}: {error} "
                "(an mlx-lm model directory has config.json, *.safetensors weights "
                "and tokenizer files)"
            ) from error
        raise MlxModelLoadError(
            f"could not load mlx {what} {path_or_repo!r}: its weights are not in the local "
            "Hugging Face cache and cannot be downloaded here (no network?); download them "
            "where there is network (`pip install huggingface_hub`, then "
            "`hf download " + path_or_repo + "`) or pass a local model directory. "
            f"Underlying error: {type(error).__name__}: {error}"
        ) from error
    if adapter_path is None:
        return loaded[0], loaded[1]
    return _apply_adapter(loaded[0], adapter_path, path_or_repo), loaded[1]
