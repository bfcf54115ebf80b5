"""mlx-lm model directories: loading one, fusing an adapter into it, quantizing it.

``load_model`` is mlx-lm's ``load`` with a one-line error naming ``--model``;
``fuse`` and ``quantize`` are mlx-lm's fuse and convert, writing directories ``mlx:``
loads. mlx and mlx-lm are imported inside the functions: ``import training`` stays cheap
(``import mlx_lm`` costs ~1.3 s and does not work everywhere).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Generator
from pathlib import Path
from typing import Any, Literal

__all__ = ["QuantBits", "fuse", "load_model", "model_path", "quantize", "quiet_stdout"]


def model_path(model: str) -> str:
    """A model as mlx-lm names it: the ``mlx:`` prefix the editor's setting takes, dropped."""
    return model.removeprefix("mlx:")


def load_model(model: str, **options: Any) -> Any:
    """mlx-lm's ``load``; a model it cannot find or fetch is a one-line ``ValueError``."""
    from mlx_lm.utils import load

    path = model_path(model)
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


@contextlib.contextmanager
def quiet_stdout() -> Generator[None]:
    """mlx-lm prints its console UI to stdout; keep it off (our bar is on stderr)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def fuse(model: str, adapter_dir: Path, output: Path, *, dequantize: bool = False) -> Path:
    """Merge the adapter into the base weights: a plain model directory ``mlx:`` loads."""
    from mlx.utils import tree_unflatten
    from mlx_lm.utils import dequantize_model, save

    loaded: Any = load_model(model, adapter_path=str(adapter_dir), return_config=True)
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
    save(output, model_path(model), base, tokenizer, config, donate_model=False)
    return output


QuantBits = Literal[4, 5, 6, 8]


def quantize(model: str, output: Path, *, bits: QuantBits = 4, group_size: int = 64) -> Path:
    """A quantized copy of a model directory (mlx-lm's ``convert``), loadable by ``mlx:``."""
    from mlx_lm.convert import convert

    if bits not in (4, 5, 6, 8):
        raise ValueError(f"bits must be 4, 5, 6 or 8, not {bits}")
    with quiet_stdout():
        convert(model_path(model), str(output), quantize=True, q_bits=bits, q_group_size=group_size)
    return output
