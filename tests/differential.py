"""Differential driver: the same LSP messages to ``ty server`` and to punie-lsp, answers compared.

Both servers get the same ``initialize`` (Neovim's recorded capabilities, pull
diagnostics), the same opened files, then a seeded random plan of requests of every
kind punie-lsp forwards, at random positions in the files. ty runs as punie-lsp runs it
(``typed_tools.ty_environment``), so only forwarding can make an answer differ.

Answers are compared whole (result or error), after ``normalise``: the only differences
allowed are the ones ty itself produces between two runs (a semantic-token ``resultId``
is a per-server counter). ``tests/punie_lsp/test_differential.py`` asserts equality;
``benchmarks/proxy_overhead.py --differential`` prints the totals.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_lsp

from punie_lsp.wire.forwarding import forwarded_requests
from typed_tools.lines import line_content, split_keepends
from typed_tools.ty_environment import ty_environment, ty_executable

__all__ = ["Plan", "Totals", "compare", "plan_requests"]

PUNIE = [sys.executable, "-P", "-m", "punie_lsp", "--stdio"]
"""``-P``: the workspace is the cwd, and a library's ``types.py`` there must not shadow Python's."""

NOT_COMPARED = {
    "workspace/diagnostic": "ty holds it open until something changes (LSP long polling)",
    "workspace/executeCommand": "ty's one command prints process details that differ",
}
"""Forwarded kinds the plan leaves out, and why."""


class _Client:
    """A minimal JSON-RPC client over a child's stdio (same for both servers)."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.cwd,
            env=self.env,
            limit=1 << 26,
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        with contextlib.suppress(asyncio.IncompleteReadError):
            while True:
                header = await stdout.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in header.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                message = json.loads(await stdout.readexactly(length))
                if "method" in message:
                    if "id" in message:
                        self._reply(message)
                    continue
                future = self.pending.pop(message.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(message)

    def _reply(self, request: dict[str, Any]) -> None:
        result: Any = None
        if request["method"] == "workspace/configuration":
            result = [{} for _ in (request.get("params") or {}).get("items") or []]
        self.send({"jsonrpc": "2.0", "id": request["id"], "result": result})

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def request(self, method: str, params: Any, timeout: float = 60.0) -> dict[str, Any]:
        msg_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = future
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return await asyncio.wait_for(future, timeout)

    async def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout=10)
            self.send({"jsonrpc": "2.0", "method": "exit"})
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader


def _capabilities() -> dict[str, Any]:
    recorded = Path(pytest_lsp.__file__).parent / "clients" / "neovim_v0.11.0.json"
    capabilities = json.loads(recorded.read_text())["capabilities"]
    capabilities["general"]["positionEncodings"] = ["utf-16"]
    return capabilities


@dataclass
class Plan:
    """Requests to send, in order: (kind, method, params)."""

    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _position(rng: random.Random, lines: list[str]) -> dict[str, int]:
    candidates = [i for i, line in enumerate(lines) if line_content(line).strip()]
    line = rng.choice(candidates) if candidates else 0
    content = line_content(lines[line]) if lines else ""
    return {"line": line, "character": _utf16(content[: rng.randint(0, len(content))])}


def _identifiers(text: str) -> list[str]:
    import re

    return sorted(set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]{3,}\b", text)))


def plan_requests(files: list[Path], seed: int, per_file: int) -> Plan:
    """``per_file`` positions per file, each asked with every position-taking kind."""
    rng = random.Random(seed)
    plan = Plan()
    add = plan.requests.append
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = split_keepends(text)
        doc = {"uri": path.as_uri()}
        whole = {"start": {"line": 0, "character": 0}, "end": {"line": len(lines), "character": 0}}
        for kind, method in (
            ("documentSymbol", "textDocument/documentSymbol"),
            ("foldingRange", "textDocument/foldingRange"),
            ("semanticTokensFull", "textDocument/semanticTokens/full"),
            ("diagnostic", "textDocument/diagnostic"),
        ):
            add((kind, method, {"textDocument": doc}))
        add(("inlayHint", "textDocument/inlayHint", {"textDocument": doc, "range": whole}))
        names = _identifiers(text)
        for _ in range(per_file):
            at = _position(rng, lines)
            other = _position(rng, lines)
            start, end = sorted((at, other), key=lambda p: (p["line"], p["character"]))
            span = {"start": start, "end": end}
            point = {"textDocument": doc, "position": at}
            for kind, method, extra in (
                ("hover", "textDocument/hover", {}),
                ("definition", "textDocument/definition", {}),
                ("declaration", "textDocument/declaration", {}),
                ("typeDefinition", "textDocument/typeDefinition", {}),
                ("implementation", "textDocument/implementation", {}),
                ("documentHighlight", "textDocument/documentHighlight", {}),
                ("signatureHelp", "textDocument/signatureHelp", {}),
                ("prepareRename", "textDocument/prepareRename", {}),
                ("rename", "textDocument/rename", {"newName": "renamed_by_test"}),
                (
                    "references",
                    "textDocument/references",
                    {"context": {"includeDeclaration": True}},
                ),
                ("completion", "textDocument/completion", {"context": {"triggerKind": 1}}),
                ("prepareCallHierarchy", "textDocument/prepareCallHierarchy", {}),
                ("prepareTypeHierarchy", "textDocument/prepareTypeHierarchy", {}),
            ):
                add((kind, method, {**point, **extra}))
            add(
                (
                    "selectionRange",
                    "textDocument/selectionRange",
                    {"textDocument": doc, "positions": [at]},
                )
            )
            add(
                (
                    "semanticTokensRange",
                    "textDocument/semanticTokens/range",
                    {"textDocument": doc, "range": span},
                )
            )
            add(
                (
                    "codeAction",
                    "textDocument/codeAction",
                    {"textDocument": doc, "range": span, "context": {"diagnostics": []}},
                )
            )
            if names:
                add(("workspaceSymbol", "workspace/symbol", {"query": rng.choice(names)}))
        target = path.with_name(f"renamed_{path.name}")
        renamed = {"files": [{"oldUri": path.as_uri(), "newUri": target.as_uri()}]}
        add(("willRenameFiles", "workspace/willRenameFiles", renamed))
    return plan


FOLLOW_UPS = {
    "prepareCallHierarchy": ("callHierarchy/incomingCalls", "callHierarchy/outgoingCalls"),
    "prepareTypeHierarchy": ("typeHierarchy/supertypes", "typeHierarchy/subtypes"),
}
"""Requests on an item another answer returned: asked with ty's item, of both servers."""
RESOLVES = {
    "completion": "completionItem/resolve",
    "workspaceSymbol": "workspaceSymbol/resolve",
    "inlayHint": "inlayHint/resolve",
    "codeAction": "codeAction/resolve",
}
"""``…/resolve`` requests, asked with the first item of the answer they resolve."""


def normalise(method: str, response: dict[str, Any]) -> Any:
    """What is compared: result or error, minus what differs between two runs of ty."""
    response = {k: v for k, v in response.items() if k != "id"}
    result = response.get("result")
    if method.startswith("textDocument/semanticTokens") and isinstance(result, dict):
        # resultId is a per-server counter (a delta's ``edits`` are compared in full).
        response["result"] = {k: v for k, v in result.items() if k != "resultId"}
    if method == "workspace/symbol" and isinstance(result, list):
        # ty searches files in parallel: three runs of ty alone gave two orders.
        response["result"] = sorted(result, key=lambda s: json.dumps(s, sort_keys=True))
    if method == "textDocument/codeAction" and "result" in response:
        # punie appends its own actions after ty's (by design: they carry commands), so
        # its answer is a list where ty's may be null: compare ty's actions only.
        actions = result if isinstance(result, list) else []
        response["result"] = [a for a in actions if not str(a.get("title")).startswith("Punie")]
    return response


@dataclass
class Totals:
    """What one comparison sent and found."""

    by_kind: Counter[str] = field(default_factory=Counter)
    differing: list[tuple[str, str, Any, Any, Any]] = field(default_factory=list)
    """(kind, method, params, ty's answer, punie's answer) for every mismatch."""
    covered: set[str] = field(default_factory=set)
    forwarded: frozenset[str] = frozenset()

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


async def compare(root: Path, files: list[Path], *, seed: int, per_file: int) -> Totals:
    """Drive ``ty server`` and punie-lsp with the same plan over ``files`` under ``root``."""
    ty = _Client([ty_executable(), "server"], root, ty_environment())
    punie = _Client(PUNIE, root, None)
    servers = (ty, punie)
    totals = Totals()
    try:
        for server in servers:
            await server.start()
            uri = root.as_uri()
            initialized = await server.request(
                "initialize",
                {
                    "processId": None,
                    "rootUri": uri,
                    "workspaceFolders": [{"uri": uri, "name": root.name}],
                    "capabilities": _capabilities(),
                },
            )
            if server is ty:
                totals.forwarded = forwarded_requests(initialized["result"]["capabilities"])
            server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
            for path in files:
                item = {
                    "uri": path.as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": path.read_text(encoding="utf-8"),
                }
                server.send(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didOpen",
                        "params": {"textDocument": item},
                    }
                )
            # Settle: every file checked once, so no answer races ty's first indexing.
            for path in files:
                await server.request(
                    "textDocument/diagnostic", {"textDocument": {"uri": path.as_uri()}}
                )
        for kind, method, params in plan_requests(files, seed, per_file).requests:
            answers = [await s.request(method, params) for s in servers]
            _tally(totals, kind, method, params, answers)
            result = answers[0].get("result")
            for follow in FOLLOW_UPS.get(kind, ()):
                if isinstance(result, list) and result:
                    follow_params = {"item": result[0]}
                    follow_answers = [await s.request(follow, follow_params) for s in servers]
                    _tally(totals, follow, follow, follow_params, follow_answers)
            resolve = RESOLVES.get(kind)
            items = result.get("items") if isinstance(result, dict) else result
            if kind == "codeAction" and items is None:
                items = []  # ty's "no actions here"
            if resolve is not None and isinstance(items, list):
                # ty may answer without items (code actions with no diagnostic): the
                # request still goes, with the smallest valid item, for its error.
                first = items[0] if items else {"title": "no action here"}
                resolve_answers = [await s.request(resolve, first) for s in servers]
                _tally(totals, resolve, resolve, first, resolve_answers)
            if kind == "semanticTokensFull":
                # Each server's own resultId: they are per-server counters.
                delta = "textDocument/semanticTokens/full/delta"
                delta_answers = [
                    await s.request(
                        delta,
                        {**params, "previousResultId": (a.get("result") or {}).get("resultId")},
                    )
                    for s, a in zip(servers, answers, strict=True)
                ]
                _tally(totals, delta, delta, params, delta_answers)
            if kind == "diagnostic" and isinstance(result, dict) and result.get("items"):
                # Code actions on a real diagnostic: ty's quick fixes, and their resolve.
                found = result["items"][0]
                fix_params = {
                    "textDocument": params["textDocument"],
                    "range": found["range"],
                    "context": {"diagnostics": [found]},
                }
                fixes = [await s.request("textDocument/codeAction", fix_params) for s in servers]
                _tally(totals, "codeAction", "textDocument/codeAction", fix_params, fixes)
    finally:
        for server in servers:
            await server.stop()
    return totals


def _tally(
    totals: Totals, kind: str, method: str, params: Any, answers: list[dict[str, Any]]
) -> None:
    totals.by_kind[kind] += 1
    totals.covered.add(method)
    theirs, ours = (normalise(method, a) for a in answers)
    if theirs != ours:
        totals.differing.append((kind, method, params, theirs, ours))
