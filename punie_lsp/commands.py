"""``workspace/executeCommand`` commands punie answers itself (ty's go to ty).

Each command takes one object argument (``arguments[0]``), as the LSP contract in
DESIGN.md fixes. The names are listed in ``router.PUNIE_COMMANDS`` so that ``initialize``
can advertise them before pygls has loaded; a test checks the two agree.
"""

from __future__ import annotations

import sys
from typing import Any

from punie_lsp import __version__
from punie_lsp.server import PunieLanguageServer  # at run time: pygls reads the hints

__all__ = ["register", "status"]


def status(ls: PunieLanguageServer, *args: Any) -> dict[str, Any]:
    """``punie.status``: versions, the ty child's state, the settings in force."""
    ty = ls.ty
    settings = ls.settings
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "ty": {
            "state": ty.state,
            "pid": ty.pid,
            "restarts": ty.restarts,
            "lastError": ty.last_error,
            "version": ((ty.initialize_result or {}).get("serverInfo") or {}).get("version"),
        },
        "model": {"name": settings.model, "backend": settings.model.partition(":")[0]},
        "settings": {
            "edits": settings.edits,
            "captureTraces": settings.capture_traces,
            "sandbox": {
                "timeoutSeconds": settings.sandbox.timeout_seconds,
                "memoryMb": settings.sandbox.memory_mb,
            },
        },
    }


COMMANDS = {"punie.status": status}


def register(ls: PunieLanguageServer) -> None:
    for name, handler in COMMANDS.items():
        ls.command(name)(handler)
