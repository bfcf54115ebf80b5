"""JSON-RPC 2.0 as the wire speaks it: error codes, notification methods, ids, answers.

Error codes are JSON-RPC's (``-32700`` … ``-32600``) and the LSP spec's (``-32002``,
``-32800``, ``-32803``, "Base Protocol" / "Response Message"). Answers punie writes
itself are encoded here, so every one has the same shape.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

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
    "Envelope",
    "error_body",
    "invalid_params",
    "read_envelope",
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


def invalid_params(problem: str) -> str:
    """The message of every ``InvalidParams`` error punie-lsp writes: ``Invalid Params:
    <problem>``, one line, as pygls words the ones it raises (``JsonRpcInvalidParams.of``:
    a command's argument that does not structure), so an editor sees one shape for a bad
    argument whoever found it: the router, pygls or a handler
    (``punie_lsp.session.session.invalid_argument``; ty's own, forwarded, are ty's)."""
    return f"Invalid Params: {' '.join(problem.split())}"


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


class Envelope(msgspec.Struct, gc=False):
    """A message's JSON-RPC members, as the reading thread routes it; ``params`` unread.

    ``id`` is typed as JSON-RPC allows it here (a JSON integer or string: ``true`` and
    ``1.0`` are refused), ``params`` kept as raw bytes.
    """

    jsonrpc: str
    method: str | msgspec.UnsetType = msgspec.UNSET
    id: int | str | msgspec.UnsetType = msgspec.UNSET
    params: msgspec.Raw = msgspec.Raw()


_ENVELOPE = msgspec.json.Decoder(Envelope)


def read_envelope(body: bytes) -> Envelope | None:
    """The envelope of a well-formed request or notification, else None.

    The whole body is checked as ty's reader would check it (ty exits on a body that is
    not JSON, or not UTF-8): msgspec parses every byte but builds nothing for
    ``params``, several times faster than ``json.loads``. None for anything that is not
    a JSON object of JSON-RPC 2.0 with a string ``method`` and object, array or absent
    params: the caller then decodes it fully and answers as JSON-RPC says.
    """
    try:
        body.decode()  # msgspec does not check the UTF-8 of what it skips
        envelope = _ENVELOPE.decode(body)
    except (ValueError, msgspec.DecodeError):
        return None
    params = envelope.params
    if (
        envelope.jsonrpc != "2.0"
        or envelope.method is msgspec.UNSET
        or (params and bytes(memoryview(params)[:1]) not in (b"{", b"["))
    ):
        return None
    return envelope
