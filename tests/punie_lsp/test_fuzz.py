"""Hundreds of malformed or random messages at one punie-lsp: it answers, and survives.

An editor never sends most of these, but extensions, half-written clients and dropped
bytes do, and a language server that dies (or leaves a request hanging) costs the user
every feature at once. The contract checked here is JSON-RPC's: a message with a valid
id and a method gets exactly one response; input that cannot be a request is answered
with an error whose id is null (ParseError for bytes that are not JSON, InvalidRequest
for a non-conforming message); an unknown method is MethodNotFound and unusable params
are InvalidParams. After all of it, a hover still gives ty's right answer.

One server takes every batch (state accumulates, as in a real session), so ids are made
unique per run: a duplicated id would make "exactly one response" unmeasurable.
"""

from __future__ import annotations

import json
import queue
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURE_PROJECT
from tests.rawlsp import RawServer, frame

pytestmark = pytest.mark.timeout(240)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

MIN_MESSAGES = 500
BATCHES = 60
BATCH_SIZE = (9, 14)
ANSWER_SECONDS = 3.0
"""How long a batch waits for answers before cancelling what is still open."""
CANCELLED_SECONDS = 30.0
"""After ``$/cancelRequest`` every open request must still be answered, within this."""

TY_REQUESTS = [
    "textDocument/hover",
    "textDocument/definition",
    "textDocument/declaration",
    "textDocument/typeDefinition",
    "textDocument/implementation",
    "textDocument/references",
    "textDocument/documentHighlight",
    "textDocument/documentSymbol",
    "workspace/symbol",
    "textDocument/completion",
    "completionItem/resolve",
    "textDocument/signatureHelp",
    "textDocument/prepareRename",
    "textDocument/rename",
    "textDocument/inlayHint",
    "textDocument/semanticTokens/full",
    "textDocument/semanticTokens/full/delta",
    "textDocument/semanticTokens/range",
    "textDocument/foldingRange",
    "textDocument/selectionRange",
    "textDocument/prepareCallHierarchy",
    "callHierarchy/incomingCalls",
    "callHierarchy/outgoingCalls",
    "textDocument/prepareTypeHierarchy",
    "typeHierarchy/supertypes",
    "typeHierarchy/subtypes",
    "textDocument/codeAction",
    "textDocument/diagnostic",
    "workspace/diagnostic",
]
"""Requests ty serves (so punie forwards them as bytes); ``workspace/diagnostic`` long-polls."""

OTHER_REQUESTS = [
    "initialize",
    "workspace/executeCommand",
    "textDocument/formatting",
    "textDocument/codeLens",
    "textDocument/documentLink",
    "workspace/willRenameFiles",
]
"""Requests punie answers itself, or that nobody serves (an error either way, or a result)."""

NOTIFICATIONS = [
    "initialized",
    "$/cancelRequest",
    "$/setTrace",
    "$/progress",
    "window/workDoneProgress/cancel",
    "workspace/didChangeConfiguration",
    "workspace/didChangeWatchedFiles",
    "workspace/didChangeWorkspaceFolders",
    "workspace/didCreateFiles",
    "workspace/didDeleteFiles",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didSave",
    "textDocument/willSave",
    "textDocument/didClose",
    "notebookDocument/didOpen",
    "window/showMessage",
    "window/logMessage",
    "textDocument/publishDiagnostics",
    "telemetry/event",
]
"""LSP notifications (some only go server -> editor); never ``exit``."""

CLIENT_SIDE_REQUESTS = [
    "workspace/configuration",
    "client/registerCapability",
    "window/showMessageRequest",
    "window/workDoneProgress/create",
    "workspace/applyEdit",
]
"""Requests an editor serves: a server asked them should say it does not."""

FORBIDDEN = {"exit", "shutdown"}
SYNC_METHODS = {m for m in NOTIFICATIONS if m.startswith(("textDocument/", "notebookDocument/"))}

CONTENT_TYPE = b"Content-Type: application/vscode-jsonrpc; charset=utf-8"

SAFE_CHARS = st.characters(exclude_categories=("Cs",))
"""No lone surrogates: strict JSON parsers reject them, Python's does not."""

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(SAFE_CHARS, max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(SAFE_CHARS, max_size=10), json_values, max_size=5)


@dataclass(frozen=True)
class Project:
    root: Path
    app: str
    shapes: str
    scratch: str


@dataclass(frozen=True)
class Case:
    """One thing written to punie's stdin and what JSON-RPC says must come back."""

    data: bytes
    kind: str
    """"body" (counted toward the total) or "header" (a framing defect, no body)."""
    reply_id: tuple[str, Any] | None = None
    """The id one response must carry, keyed by type so that 1 and "1" stay apart."""
    codes: frozenset[int] | None = None
    """When set, the response must be an error with one of these codes."""
    stray_id: tuple[str, Any] | None = None
    """A response-shaped message: at most one answer, and only an error."""
    parse_error: bool = False
    null_invalid: str = ""
    """"must" or "may": an InvalidRequest with a null id (an id that cannot be echoed)."""
    summary: str = ""


def id_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


class IdPool:
    """Unique valid ids: hypothesis proposes one, a counter breaks ties."""

    def __init__(self) -> None:
        self.used: set[tuple[str, Any]] = set()
        self.counter = 0

    def unique(self, proposed: int | str) -> int | str:
        value = proposed
        while id_key(value) in self.used:
            self.counter += 1
            value = (
                proposed + 7919 * self.counter
                if isinstance(proposed, int)
                else f"{proposed}#{self.counter}"
            )
        self.used.add(id_key(value))
        return value


def not_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return True
    return False


def position_params(project: Project) -> st.SearchStrategy[dict[str, Any]]:
    """Well-formed params for most of ty's requests (the rest ignore or reject them),
    so that a good share of the traffic reaches ty's real answers, not its validation."""
    position = st.fixed_dictionaries({"line": st.integers(0, 20), "character": st.integers(0, 30)})
    return st.fixed_dictionaries(
        {
            "textDocument": st.fixed_dictionaries(
                {"uri": st.sampled_from([project.app, project.shapes, project.scratch])}
            ),
            "position": position,
            "range": st.fixed_dictionaries({"start": position, "end": position}),
            "context": st.sampled_from(
                [{"includeDeclaration": True}, {"triggerKind": 1}, {"diagnostics": []}]
            ),
            "query": st.text("abcdefghijklmnopqrstuvwxyzPS", max_size=4),
            "newName": st.just("renamed"),
            "previousResultIds": st.just([]),
        }
    )


@st.composite
def request_params(draw: st.DrawFn, method: str, project: Project) -> Any:
    """Random JSON, or params shaped like the method's with random holes and values."""
    if draw(st.booleans()):
        return draw(json_values)
    uris = [project.scratch, draw(st.text(SAFE_CHARS, max_size=20))]
    if method not in SYNC_METHODS:  # the final hover's file is never opened/changed here
        uris += [project.app, project.shapes]
    position = st.fixed_dictionaries(
        {"line": st.integers(-3, 2**33), "character": st.integers(-3, 300)}
    )
    shaped = st.fixed_dictionaries(
        {"textDocument": st.fixed_dictionaries({"uri": st.sampled_from(uris)})},
        optional={
            "position": position,
            "range": st.fixed_dictionaries({"start": position, "end": position}),
            "context": json_objects,
            "newName": st.text(SAFE_CHARS, max_size=10),
            "query": st.text(SAFE_CHARS, max_size=10),
            "command": st.sampled_from(["punie.status", "punie.tool", "nope"]),
            "arguments": st.lists(json_values, max_size=2),
            "item": json_objects,
        },
    )
    params: dict[str, Any] = draw(shaped)
    if method in SYNC_METHODS:
        params["textDocument"] = {
            **params["textDocument"],
            "version": draw(st.integers(-2, 5)),
            "languageId": "python",
            "text": draw(st.text(SAFE_CHARS, max_size=40)),
        }
    return params


def weighted(draw: st.DrawFn, weights: dict[str, int]) -> str:
    """Pick a key with the given weights (``one_of`` would weigh branches by its own rules)."""
    keys = [k for k, w in weights.items() for _ in range(w)]
    return keys[draw(st.integers(0, len(keys) - 1))]


VALID_NOTIFICATION_PARAMS: dict[str, Any] = {
    "initialized": {},
    "$/cancelRequest": {"id": "never-sent"},
    "$/setTrace": {"value": "off"},
    "$/progress": {"token": "t", "value": {"kind": "end"}},
    "window/workDoneProgress/cancel": {"token": "t"},
    "workspace/didChangeConfiguration": {"settings": {}},
    "workspace/didChangeWatchedFiles": {"changes": []},
    "window/showMessage": {"type": 3, "message": "hi"},
    "window/logMessage": {"type": 3, "message": "hi"},
    "telemetry/event": {},
}
"""Params these notifications accept, so a request-shaped copy gets past structuring."""


@st.composite
def message_case(draw: st.DrawFn, project: Project, ids: IdPool) -> Case:
    """A JSON-RPC-ish object with each field valid, missing or of a wrong type."""
    message: dict[str, Any] = {}
    jsonrpc_kind = weighted(draw, {"valid": 12, "missing": 1, "wrong": 1, "random": 1})
    jsonrpc: Any = "2.0"
    if jsonrpc_kind == "wrong":
        jsonrpc = draw(st.sampled_from(["1.0", 2.0, None, "2.0 ", "", "2"]))
    elif jsonrpc_kind == "random":
        jsonrpc = draw(json_values)
    if jsonrpc_kind != "missing":
        message["jsonrpc"] = jsonrpc
    id_kind = weighted(
        draw,
        {"int": 8, "huge": 1, "str": 6, "none": 4}
        | {"float": 1, "bool": 1, "null": 1, "object": 1, "list": 1},
    )
    msg_id: Any = None
    if id_kind == "int":
        msg_id = ids.unique(draw(st.integers(-(2**31), 2**31 - 1)))
    elif id_kind == "huge":  # valid JSON-RPC, outside LSP's int32
        msg_id = ids.unique(draw(st.integers(2**31, 2**62) | st.integers(-(2**62), -(2**31) - 1)))
    elif id_kind == "str":
        msg_id = ids.unique(draw(st.text(SAFE_CHARS, max_size=16)))
    elif id_kind == "float":
        msg_id = draw(st.floats(allow_nan=False, allow_infinity=False)) + 0.5
    elif id_kind == "bool":
        msg_id = draw(st.booleans())
    elif id_kind == "object":
        msg_id = draw(json_objects)
    elif id_kind == "list":
        msg_id = draw(st.lists(json_scalars, max_size=3))
    if id_kind != "none":
        message["id"] = msg_id
    group = weighted(
        draw,
        {"ty": 8, "other": 2, "notification": 3, "client": 1, "random": 2}
        | {"absent": 1, "wrong-type": 1},
    )
    method: Any = None
    if group == "ty":
        method = draw(st.sampled_from(TY_REQUESTS))
    elif group == "other":
        method = draw(st.sampled_from(OTHER_REQUESTS))
    elif group == "notification":
        method = draw(st.sampled_from(NOTIFICATIONS))
    elif group == "client":
        method = draw(st.sampled_from(CLIENT_SIDE_REQUESTS))
    elif group == "random":
        method = draw(st.text(SAFE_CHARS, max_size=24).filter(lambda m: m not in FORBIDDEN))
    elif group == "wrong-type":
        method = draw(json_scalars.filter(lambda m: not isinstance(m, str)))
    if group != "absent":
        message["method"] = method
    params_kind = weighted(draw, {"valid": 2, "shaped": 4, "missing": 1, "null": 1, "scalar": 1})
    if params_kind == "valid" and method in VALID_NOTIFICATION_PARAMS:
        message["params"] = VALID_NOTIFICATION_PARAMS[method]
    elif params_kind == "valid" and method in TY_REQUESTS:
        message["params"] = draw(position_params(project))
    elif params_kind in ("valid", "shaped"):
        message["params"] = draw(request_params(method if isinstance(method, str) else "", project))
    elif params_kind == "null":
        message["params"] = None
    elif params_kind == "scalar":
        message["params"] = draw(json_scalars.filter(lambda v: v is not None))
    if group == "absent" and draw(st.booleans()):  # response-shaped
        message[draw(st.sampled_from(["result", "error"]))] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        message[draw(st.text(SAFE_CHARS, min_size=1, max_size=8))] = draw(json_values)
        message.setdefault("jsonrpc", jsonrpc if jsonrpc != "missing" else None)

    body = json.dumps(message).encode()
    if draw(st.integers(0, 4)) == 0:
        data = b"Content-Length: %d\r\n%s\r\n\r\n%s" % (len(body), CONTENT_TYPE, body)
    else:
        data = frame(body)
    summary = f"{message!r:.300}"
    valid_id = id_kind in ("int", "huge", "str")
    # What the message says it is, in the order a JSON-RPC server has to decide it.
    if "id" in message and not valid_id:
        strict = isinstance(message.get("method"), str)
        return Case(data, "body", null_invalid="must" if strict else "may", summary=summary)
    if not valid_id:
        return Case(data, "body", summary=summary)  # a notification: never answered
    key = id_key(msg_id)
    if not isinstance(message.get("method"), str):
        if message.get("method") is None:  # response-shaped
            return Case(data, "body", stray_id=key, summary=summary)
        return Case(data, "body", key, frozenset({INVALID_REQUEST}), summary=summary)
    if message.get("jsonrpc") != "2.0":
        return Case(data, "body", key, frozenset({INVALID_REQUEST}), summary=summary)
    params = message.get("params")
    if params is not None and not isinstance(params, dict | list):
        return Case(
            data, "body", key, frozenset({INVALID_REQUEST, INVALID_PARAMS}), summary=summary
        )
    codes: frozenset[int] | None
    if group in ("ty", "other"):
        codes = None  # a result, or whatever error the params earn
    elif group == "notification":
        # A notification cannot be answered with a result; bad params may be named first.
        codes = frozenset({INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS})
    elif group == "client":
        codes = frozenset({METHOD_NOT_FOUND, INVALID_PARAMS})
    else:
        codes = frozenset({METHOD_NOT_FOUND})
    return Case(data, "body", key, codes, summary=summary)


raw_bodies = st.one_of(
    st.binary(max_size=60),
    st.binary(min_size=1, max_size=20).map(lambda b: b"\xff\xfe\xfd" + b),  # invalid UTF-8
    st.text(SAFE_CHARS, max_size=60).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()[:-1]),  # truncated JSON
    st.just(b"{'single': 'quotes'}"),
    st.just(b"Content-Length: 5\r\n\r\n"),  # a header where a body belongs
).filter(not_json)


def garbage_case(data: bytes) -> Case:
    return Case(frame(data), "body", parse_error=True, summary=f"not JSON {data!r:.100}")


def non_object_case(value: Any) -> Case:
    body = json.dumps(value).encode()
    return Case(frame(body), "body", null_invalid="must", summary=f"JSON {body!r:.100}")


HEADER_DEFECTS = [
    CONTENT_TYPE + b"\r\n\r\n",  # no length
    b"Content-Length: abc\r\n\r\n",
    b"Content-Length: -7\r\n\r\n",
    b"Content-Length: 12x\r\nX-Noise: 1\r\n\r\n",
    b"X-Only-Noise: yes\r\n\r\n",
]
"""Header blocks the server must skip, none followed by a body (nothing else is
recoverable: after a lost length, body bytes would be read as headers)."""


@st.composite
def any_case(draw: st.DrawFn, project: Project, ids: IdPool) -> Case:
    kind = weighted(draw, {"message": 14, "garbage": 2, "non-object": 2, "header": 1})
    if kind == "message":
        return draw(message_case(project, ids))
    if kind == "garbage":
        return garbage_case(draw(raw_bodies))
    if kind == "non-object":
        return non_object_case(draw(json_values.filter(lambda v: not isinstance(v, dict))))
    defect = draw(st.sampled_from(HEADER_DEFECTS))
    return Case(defect, "header", summary=f"{defect!r}")


def batch_strategy(project: Project, ids: IdPool) -> st.SearchStrategy[list[Case]]:
    return st.lists(any_case(project, ids), min_size=BATCH_SIZE[0], max_size=BATCH_SIZE[1])


@dataclass
class Ledger:
    """Everything punie answered, checked against what each case required."""

    server: RawServer
    replies: dict[tuple[str, Any], list[dict[str, Any]]] = field(default_factory=dict)
    null_errors: Counter[int] = field(default_factory=Counter)
    malformed: list[Any] = field(default_factory=list)
    bodies_sent: int = 0
    headers_sent: int = 0
    parse_errors_due: int = 0
    null_invalid_due: int = 0
    null_invalid_allowed: int = 0
    sent_ids: set[tuple[str, Any]] = field(default_factory=set)

    def drain(self, timeout: float) -> bool:
        """Take one message from punie (answering its requests); False on timeout."""
        try:
            message = self.server.messages.get(timeout=timeout)
        except queue.Empty:
            return False
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self.malformed.append(message)
        elif "method" in message:
            if "id" in message:  # punie (or ty through it) asks the editor something
                self.server.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
        elif message.get("id") is None:
            error = message.get("error")
            if isinstance(error, dict) and isinstance(error.get("code"), int):
                self.null_errors[error["code"]] += 1
            else:
                self.malformed.append(message)
        else:
            self.replies.setdefault(id_key(message["id"]), []).append(message)
        return True

    def wait(self, done: Any, seconds: float) -> bool:
        """Drain until ``done()`` holds or ``seconds`` pass (a bounded wait, no sleep)."""
        deadline = time.monotonic() + seconds
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.drain(min(remaining, 0.5))
        return True


def check_batch(ledger: Ledger, batch: list[Case]) -> None:
    server = ledger.server
    server.write(b"".join(case.data for case in batch))
    for case in batch:
        if case.kind == "body":
            ledger.bodies_sent += 1
        else:
            ledger.headers_sent += 1
        ledger.parse_errors_due += case.parse_error
        ledger.null_invalid_due += case.null_invalid == "must"
        ledger.null_invalid_allowed += bool(case.null_invalid)
        ledger.sent_ids |= {k for k in (case.reply_id, case.stray_id) if k is not None}
    expected = {c.reply_id: c for c in batch if c.reply_id is not None}

    def all_answered() -> bool:
        return all(k in ledger.replies for k in expected) and (
            ledger.null_errors[PARSE_ERROR] >= ledger.parse_errors_due
            and ledger.null_errors[INVALID_REQUEST] >= ledger.null_invalid_due
        )

    if not ledger.wait(all_answered, ANSWER_SECONDS):
        # Still open (ty long-polls workspace/diagnostic): cancel, as an editor would.
        for key in expected:
            if key not in ledger.replies:
                server.notify("$/cancelRequest", {"id": key[1]})
        ledger.wait(all_answered, CANCELLED_SECONDS)
    assert server.proc.poll() is None, f"punie-lsp died (code {server.proc.returncode})"

    missing = [c.summary for k, c in expected.items() if k not in ledger.replies]
    assert not missing, f"requests never answered: {missing}"
    for key, case in expected.items():
        replies = ledger.replies[key]
        assert len(replies) == 1, (case.summary, replies)
        reply = replies[0]
        error = reply.get("error")
        assert ("result" in reply) != (error is not None), reply
        if error is not None:
            assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str)
        if case.codes is not None:
            assert error is not None and error["code"] in case.codes, (case.summary, reply)
    for case in batch:
        if case.stray_id is not None:
            stray = ledger.replies.get(case.stray_id, [])
            assert len(stray) <= 1 and all("error" in r for r in stray), (case.summary, stray)
    assert not ledger.malformed, ledger.malformed
    assert set(ledger.replies) <= ledger.sent_ids, set(ledger.replies) - ledger.sent_ids
    assert ledger.null_errors[PARSE_ERROR] == ledger.parse_errors_due
    assert ledger.null_errors[INVALID_REQUEST] <= ledger.null_invalid_allowed
    assert set(ledger.null_errors) <= {PARSE_ERROR, INVALID_REQUEST}, ledger.null_errors


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RawServer, Project]]:
    root = tmp_path_factory.mktemp("fuzz") / "project"
    shutil.copytree(FIXTURE_PROJECT, root)
    (root / "pkg" / "scratch.py").write_text("value = 1\n")
    project = Project(
        root=root,
        app=(root / "pkg" / "app.py").as_uri(),
        shapes=(root / "pkg" / "shapes.py").as_uri(),
        scratch=(root / "pkg" / "scratch.py").as_uri(),
    )
    server = RawServer(["--stdio"])
    try:
        server.initialize(root)
        yield server, project
    finally:
        server.kill()


def test_fuzzed_messages_are_answered_and_survived(fuzz_server: tuple[RawServer, Project]) -> None:
    server, project = fuzz_server
    ledger = Ledger(server)
    ids = IdPool()

    @settings(
        max_examples=BATCHES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=batch_strategy(project, ids))
    def one_batch(batch: list[Case]) -> None:
        check_batch(ledger, batch)

    one_batch()
    assert ledger.bodies_sent >= MIN_MESSAGES, ledger.bodies_sent
    assert ledger.null_errors[INVALID_REQUEST] >= ledger.null_invalid_due

    uri = server.open(Path(project.root / "pkg" / "app.py"))
    hover = server.hover(uri, 7, 23)
    assert "Point" in str(hover["result"]["contents"]), hover


# -- what the fuzzing found, pinned down --------------------------------------------------


@pytest.mark.parametrize("msg_id", [2**31 - 1, 2**31, -(2**31) - 1, 2**53])
def test_request_ids_beyond_int32_are_answered(
    fuzz_server: tuple[RawServer, Project], msg_id: int
) -> None:
    """JSON-RPC allows any integer id; ty (LSP's int32) cannot even read such a request.

    Forwarded unchanged, the request was dropped by ty and the editor waited forever.
    """
    server, project = fuzz_server
    params = {"textDocument": {"uri": project.shapes}, "position": {"line": 0, "character": 6}}
    server.send({"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/hover", "params": params})
    reply = server.wait_for(lambda m: m.get("id") == msg_id and "method" not in m, 5)
    assert "result" in reply, reply


@pytest.mark.parametrize(
    "method", [*VALID_NOTIFICATION_PARAMS, "workspace/didChangeWorkspaceFolders"]
)
def test_notification_sent_with_an_id_is_answered(
    fuzz_server: tuple[RawServer, Project], method: str
) -> None:
    """A request must be answered, even one naming a notification: it gets an error.

    pygls structured these as notifications (dropping the id), so nothing came back.
    """
    server, _ = fuzz_server
    params = VALID_NOTIFICATION_PARAMS.get(method, {"event": {"added": [], "removed": []}})
    reply = server.request(method, params, timeout=5)
    assert reply.get("error", {}).get("code") in (INVALID_REQUEST, METHOD_NOT_FOUND), reply


@pytest.mark.parametrize("params", [{}, {"params": None}, {"params": {}}], ids=str)
def test_unknown_method_is_method_not_found(
    fuzz_server: tuple[RawServer, Project], params: dict[str, Any]
) -> None:
    """JSON-RPC lets ``params`` be omitted; that must not turn MethodNotFound into an
    InternalError (pygls' generic request type required the key)."""
    server, _ = fuzz_server
    server.send({"jsonrpc": "2.0", "id": "unknown-method", "method": "punie/nope", **params})
    reply = server.wait_for(lambda m: m.get("id") == "unknown-method", 5)
    assert reply.get("error", {}).get("code") == METHOD_NOT_FOUND, reply


def test_unknown_method_with_extra_members_is_method_not_found(
    fuzz_server: tuple[RawServer, Project],
) -> None:
    """Members JSON-RPC does not define are ignored, not an InternalError."""
    server, _ = fuzz_server
    server.send({"jsonrpc": "2.0", "id": "extra", "method": "punie/nope", "params": {}, "x": 1})
    reply = server.wait_for(lambda m: m.get("id") == "extra", 5)
    assert reply.get("error", {}).get("code") == METHOD_NOT_FOUND, reply
