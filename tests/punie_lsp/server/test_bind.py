"""``bind``: pygls still converts a command's arguments, and the handler gets the session.

Through pygls's own ``workspace/executeCommand`` path (a real ``LanguageServer``), with
an argument class pygls must structure and one it must refuse.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from lsprotocol import types
from pygls.lsp.server import LanguageServer

from punie_lsp.server.language_server import bind


@attrs.define
class Where:
    uri: str
    line: int


class Session:
    """Stands in for ``punie_lsp.session.Session``: only identity matters here."""


def where(session: Session, args: Where) -> dict[str, Any]:
    return {"session": type(session).__name__, "uri": args.uri, "line": args.line}


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data))

    def close(self) -> None:
        pass


def _execute(server: LanguageServer, arguments: list[Any]) -> dict[str, Any]:
    sent = Sent()
    server.protocol.set_writer(sent, include_headers=False)
    message = server.protocol.structure_message(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": types.WORKSPACE_EXECUTE_COMMAND,
            "params": {"command": "where", "arguments": arguments},
        }
    )
    server.protocol.handle_message(message)
    assert len(sent.messages) == 1
    return sent.messages[0]


def test_a_bound_handler_gets_the_session_and_structured_arguments() -> None:
    server = LanguageServer("t", "0")
    server.command("where")(bind(where, Session()))
    answer = _execute(server, [{"uri": "file:///w/a.py", "line": 3}])
    assert answer["result"] == {"session": "Session", "uri": "file:///w/a.py", "line": 3}


def test_arguments_pygls_cannot_structure_are_invalid_params() -> None:
    server = LanguageServer("t", "0")
    server.command("where")(bind(where, Session()))
    answer = _execute(server, [{"uri": "file:///w/a.py"}])
    assert answer["error"]["code"] == types.ErrorCodes.InvalidParams
