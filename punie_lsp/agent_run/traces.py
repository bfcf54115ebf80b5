"""Trace capture (``captureTraces``): each agent run appended as one JSON line.

The training pipeline turns these into dataset rows, so a line holds everything a row
needs: the prompt, the whole exchange with the model (its code and what each
``execute_code`` returned), the tool-call trace, the outcome and ty's verdict on the
proposed files. The file lives in the user data directory (``PUNIE_LSP_DATA_DIR``, else
``$XDG_DATA_HOME/punie-lsp``, else ``~/.local/share/punie-lsp``), never in the project.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from punie_lsp.agent_run.request import Request
from punie_lsp.agent_run.result import CommandResult

__all__ = ["append_trace", "trace_file"]

logger = logging.getLogger(__name__)

TRACE_VERSION = 1


def trace_file() -> Path:
    base = os.environ.get("PUNIE_LSP_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "punie-lsp"
    )
    return Path(base) / "traces.jsonl"


_FROM_RESULT = {"conversation_id", "outcome", "answer", "code", "calls", "diagnostics_delta"}
"""The ``CommandResult`` fields a trace keeps as they are (camelCase, as the editor got them)."""


def append_trace(request: Request, result: CommandResult, messages: list[Any]) -> None:
    """Append one run; a failure to write is logged, never raised into the user's run."""
    # Pydantic AI's import takes seconds; only a run with captureTraces on pays it here.
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    record = {
        "version": TRACE_VERSION,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": request.command,
        "prompt": request.prompt,
        "workspace": str(request.root),
        **result.model_dump(mode="json", include=_FROM_RESULT),
        "edits": [{"path": e.path} for e in result.edits],  # the text is in the messages
        "applied": result.applied,
        "messages": ModelMessagesTypeAdapter.dump_python(messages, mode="json"),
    }
    path = trace_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        logger.warning("could not write the trace to %s: %s", path, exc)
