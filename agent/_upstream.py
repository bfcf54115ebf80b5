"""Workarounds for mlx-lm behaviour seen from the server's process, kept in one place.

Each entry says what mlx-lm does, what we do instead, and which test in
``tests/agent/test_upstream.py`` shows the behaviour, so the workaround can be deleted
the day that test starts failing.

1. **Its Qwen3-Coder tool parser costs the whole of mlx-lm.**
   ``mlx_lm.tool_parsers.qwen3_coder`` needs only ``ast``, ``json`` and ``regex``, but
   importing it runs ``mlx_lm/__init__``, which imports mlx, transformers, tokenizers,
   huggingface_hub, numpy and jinja2: ~325 modules and ~1.4 s of Python holding the
   interpreter, in the server's process (the model itself runs in its worker). The agent
   needed the parser the first time a reply looked like Qwen3-Coder XML, mid-session, so
   every hover forwarded in that second and a half waited behind the import (one round
   of ``benchmarks.surfaces --model mlx`` at 10-17x idle p95). ``qwen3_coder_parser``
   loads the parser's own file under a private module name instead, without running the
   package. Tests: ``test_upstream_parser_import_loads_all_of_mlx_lm`` (the gap) and
   ``test_the_parser_alone_loads_none_of_it`` (ours).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from agent.tool_calls import ToolParser

__all__ = ["qwen3_coder_parser"]

_PARSER_MODULE = "agent._mlx_lm_qwen3_coder"
"""The private name the parser's file is loaded under (never ``mlx_lm.…``: a later
``import mlx_lm`` in the same process gets its own, complete package)."""


def qwen3_coder_parser() -> ToolParser | None:
    """mlx-lm's ``qwen3_coder.parse_tool_call(text, tools)``, loaded from its file alone.

    Returns ``None`` where mlx-lm is not installed (or has no such parser). Loading costs
    a few milliseconds; call it once and keep the result.
    """
    loaded = sys.modules.get(_PARSER_MODULE)
    if loaded is None:
        try:
            package = importlib.util.find_spec("mlx_lm")
        except (ImportError, ValueError):
            return None
        locations = package.submodule_search_locations if package else None
        if not locations:
            return None
        path = Path(next(iter(locations))) / "tool_parsers" / "qwen3_coder.py"
        spec = importlib.util.spec_from_file_location(_PARSER_MODULE, path)
        if spec is None or spec.loader is None or not path.is_file():
            return None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[_PARSER_MODULE] = loaded
        try:
            spec.loader.exec_module(loaded)
        except Exception:
            del sys.modules[_PARSER_MODULE]
            return None
    return getattr(loaded, "parse_tool_call", None)
