"""The router's bookkeeping of what ty registered and asked, on ty's own message shapes.

The messages are the ones ty 0.0.105 sends (captured from ``ty server`` with a client
declaring ``textDocument.diagnostic.dynamicRegistration``); the router is driven
directly, because ty unregisters and cancels its own requests only in situations a
session cannot provoke on demand. End to end, ``tests/punie_lsp/test_editor_profiles.py``
covers registration through a real ty.
"""

from __future__ import annotations

import json
from typing import Any

from punie_lsp.wire.router import Router
from punie_lsp.wire.transport import FrameWriter


class _Recorder(FrameWriter):
    """A writer that keeps what would have gone to the editor."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def write_body(self, body: bytes) -> None:
        self.sent.append(json.loads(body))


def _router() -> tuple[Router, _Recorder]:
    writer = _Recorder()
    router = Router(writer, on_exit=lambda _: None)
    router.release_held()  # as after the initialize result
    return router, writer


DIAGNOSTIC_REGISTRATION = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "client/registerCapability",
    "params": {
        "registrations": [
            {
                "id": "ty/textDocument/diagnostic",
                "method": "textDocument/diagnostic",
                "registerOptions": {
                    "documentSelector": None,
                    "identifier": "ty",
                    "interFileDependencies": True,
                    "workDoneProgress": False,
                    "workspaceDiagnostics": False,
                },
            }
        ]
    },
}


def _from_ty(router: Router, message: dict[str, Any]) -> None:
    router.on_ty_message(message, json.dumps(message).encode())


def test_a_registration_routes_its_methods_until_unregistered() -> None:
    router, writer = _router()
    assert "textDocument/diagnostic" not in router.forwarded
    _from_ty(router, DIAGNOSTIC_REGISTRATION)
    assert {"textDocument/diagnostic", "workspace/diagnostic"} <= router.forwarded
    relayed = writer.sent[-1]
    assert relayed["method"] == "client/registerCapability"
    assert relayed["id"] != 1  # relayed under an id of the router's own
    _from_ty(
        router,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "client/unregisterCapability",
            "params": {
                "unregisterations": [
                    {"id": "ty/textDocument/diagnostic", "method": "textDocument/diagnostic"}
                ]
            },
        },
    )
    assert "textDocument/diagnostic" not in router.forwarded
    # Registered again after the unregistration: relayed and routed again.
    _from_ty(router, {**DIAGNOSTIC_REGISTRATION, "id": 3})
    assert writer.sent[-1]["method"] == "client/registerCapability"
    assert "textDocument/diagnostic" in router.forwarded


def test_registered_commands_and_semantic_tokens_route() -> None:
    router, _ = _router()
    _from_ty(
        router,
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "client/registerCapability",
            "params": {
                "registrations": [
                    {
                        "id": "a",
                        "method": "workspace/executeCommand",
                        "registerOptions": {"commands": ["ty.later"]},
                    },
                    {"id": "b", "method": "textDocument/semanticTokens", "registerOptions": {}},
                ]
            },
        },
    )
    assert "ty.later" in router.ty_commands
    assert "textDocument/semanticTokens/range" in router.forwarded


def test_a_cancelled_ty_request_is_named_by_the_id_the_editor_saw() -> None:
    router, writer = _router()
    _from_ty(
        router,
        {"jsonrpc": "2.0", "id": 9, "method": "workspace/configuration", "params": {"items": []}},
    )
    editor_id = writer.sent[-1]["id"]
    assert editor_id != 9
    _from_ty(router, {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 9}})
    assert writer.sent[-1] == {
        "jsonrpc": "2.0",
        "method": "$/cancelRequest",
        "params": {"id": editor_id},
    }


def test_a_registration_again_with_other_options_replaces_the_editors() -> None:
    """A ty restarted for new settings registers pull diagnostics under the same id, with
    ``workspaceDiagnostics`` following ``diagnosticMode``: the same options are answered
    here (the editor has them); other options go to the editor after an unregistration of
    the old ones (it refuses an id it has), whose answer ty never sees."""
    router, writer = _router()
    _from_ty(router, DIAGNOSTIC_REGISTRATION)
    sent = len(writer.sent)
    _from_ty(router, {**DIAGNOSTIC_REGISTRATION, "id": 2})
    assert len(writer.sent) == sent  # the same registration: not relayed again
    params: Any = DIAGNOSTIC_REGISTRATION["params"]
    [registration] = params["registrations"]
    options = {**registration["registerOptions"], "workspaceDiagnostics": True}
    again = {"registrations": [{**registration, "registerOptions": options}]}
    _from_ty(router, {**DIAGNOSTIC_REGISTRATION, "id": 3, "params": again})
    unregister, register = writer.sent[sent:]
    assert unregister["method"] == "client/unregisterCapability"
    assert unregister["params"] == {
        "unregisterations": [
            {"id": "ty/textDocument/diagnostic", "method": "textDocument/diagnostic"}
        ]
    }
    assert register["method"] == "client/registerCapability"
    assert register["params"] == again
    assert "workspace/diagnostic" in router.forwarded
    router.handle_body(
        json.dumps({"jsonrpc": "2.0", "id": unregister["id"], "result": None}).encode()
    )
    assert writer.sent[sent:] == [unregister, register]  # the answer went nowhere


def test_progress_a_lost_ty_was_reporting_is_ended() -> None:
    """ty reports ``Checking`` on the editor's token of ``workspace/diagnostic`` (in
    workspace mode); a ty that dies (or is replaced for new settings) mid-check never
    ends it, and the editor would show it for good. Ended progress is left alone."""
    router, writer = _router()

    def progress(token: str, kind: str) -> None:
        params = {"token": token, "value": {"kind": kind, "title": "Checking"}}
        _from_ty(router, {"jsonrpc": "2.0", "method": "$/progress", "params": params})

    progress("checking", "begin")
    progress("done", "begin")
    progress("done", "end")
    sent = len(writer.sent)
    router.on_ty_crash("ty exited with code 9 after 3.0 s")
    ended = [m for m in writer.sent[sent:] if m.get("method") == "$/progress"]
    assert ended == [
        {
            "jsonrpc": "2.0",
            "method": "$/progress",
            "params": {
                "token": "checking",
                "value": {"kind": "end", "message": "ty exited with code 9 after 3.0 s"},
            },
        }
    ]
