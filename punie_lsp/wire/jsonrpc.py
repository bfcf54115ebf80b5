"""JSON-RPC 2.0 as the wire speaks it: error codes, notification methods, ids, answers.

Error codes are JSON-RPC's (``-32700`` … ``-32600``) and the LSP spec's (``-32002``,
``-32800``, ``-32803``, "Base Protocol" / "Response Message"). Answers punie writes
itself are encoded here, so every one has the same shape.
"""

from __future__ import annotations

import json
from typing import Any

from punie_lsp.wire.forwarding import FORWARDED_NOTIFICATIONS

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "NOTIFICATIONS",
    "PARSE_ERROR",
    "REQUEST_CANCELLED",
    "REQUEST_FAILED",
    "SERVER_NOT_INITIALIZED",
    "error_body",
    "result_body",
    "valid_id",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800
REQUEST_FAILED = -32803

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
"""LSP's ``integer`` range: an id outside it is remapped before ty sees it."""

NOTIFICATIONS = FORWARDED_NOTIFICATIONS | {
    "initialized",
    "exit",
    "$/cancelRequest",
    "$/progress",
    "window/workDoneProgress/cancel",
    "telemetry/event",
    "window/showMessage",
    "window/logMessage",
    "textDocument/publishDiagnostics",
}
"""LSP notification methods: a message naming one with an ``id`` is an invalid request."""


def valid_id(value: object) -> bool:
    """A request id JSON-RPC allows here: an integer (not a bool) or a string."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def result_body(msg_id: int | str, result: Any) -> bytes:
    """The body of a successful response."""
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "result": result}).encode()


def error_body(msg_id: int | str | None, code: int, message: str) -> bytes:
    """The body of an error response (``id`` null when the request's was unreadable)."""
    error = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
    return json.dumps(error).encode()
