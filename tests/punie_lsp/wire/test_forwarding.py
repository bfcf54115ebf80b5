"""Every feature ty serves, asked of punie-lsp and of a direct ``ty server``: same answers.

Each row also checks something concrete in the answer, so a forwarding bug that made
both sides empty (or both errors) would still fail.

The rows only read, so they share one pair of sessions per client profile (punie-lsp
with its ty child, and ``ty server`` itself: 6 processes for the module instead of 3
per row); the test that edits a file has a session of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types

from tests.conftest import (
    CLIENT_PROFILES,
    FIXTURE_PROJECT,
    SERVER_COMMAND,
    Client,
    initialize_params,
    make_client,
    open_document,
)
from typed_tools.ty_environment import ty_environment, ty_executable

pytestmark = pytest.mark.timeout(120)


@dataclass
class Pair:
    """punie-lsp and ``ty server`` on one project, one profile, both with the files open."""

    punie: Client
    ty: Client
    app: str
    shapes: str


async def start_ty_direct(root: Path, profile: str) -> Client:
    """A session with ``ty server`` itself: same project, same client profile.

    Run as punie-lsp runs it (``typed_tools.ty_environment``), so both see the same
    Python environment and only forwarding can make their answers differ.
    """
    direct = make_client()
    await direct.start_io(ty_executable(), "server", cwd=str(root), env=ty_environment())
    await direct.initialize_session(initialize_params(profile, root))
    return direct


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=CLIENT_PROFILES)
async def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    root = Path(shutil.copytree(FIXTURE_PROJECT, tmp_path_factory.mktemp("forwarding") / "p"))
    punie = make_client()
    punie.root, punie.profile = root, request.param
    await punie.start_io(*SERVER_COMMAND)
    await punie.initialize_session(initialize_params(request.param, root))
    direct = await start_ty_direct(root, request.param)
    for c in (punie, direct):
        app = open_document(c, root / "pkg" / "app.py")
        shapes = open_document(c, root / "pkg" / "shapes.py")
    yield Pair(punie, direct, app, shapes)
    for c in (punie, direct):
        await c.shutdown_session()
        await c.stop()


async def ask(client: Client, method: str, params: dict[str, Any]) -> Any:
    conv = client.protocol._converter
    # The table maps each method to its params class; a type checker sees only a union.
    params_type: Any = types.METHOD_TO_TYPES[method][2]
    result = await client.protocol.send_request_async(method, conv.structure(params, params_type))
    return conv.unstructure(result)


def pos(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


def text_of(result: Any) -> str:
    return repr(result)


# (name, method, params(app_uri, shapes_uri), check(result))
Row = tuple[str, str, Callable[[str, str], dict[str, Any]], Callable[[Any], bool]]

ROWS: list[Row] = [
    (
        "hover",
        "textDocument/hover",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(7, 23)},
        lambda r: "Point" in text_of(r["contents"]),
    ),
    (
        "definition",
        "textDocument/definition",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(8, 13)},
        lambda r: "shapes.py" in text_of(r),
    ),
    (
        "declaration",
        "textDocument/declaration",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(16, 12)},
        lambda r: "shapes.py" in text_of(r),
    ),
    (
        "typeDefinition",
        "textDocument/typeDefinition",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(8, 11)},
        lambda r: "shapes.py" in text_of(r),
    ),
    (
        "implementation",
        "textDocument/implementation",
        lambda _, shapes: {"textDocument": {"uri": shapes}, "position": pos(16, 8)},
        lambda r: r is None or isinstance(r, list),
    ),
    (
        "references",
        "textDocument/references",
        lambda app, _: {
            "textDocument": {"uri": app},
            "position": pos(7, 23),
            "context": {"includeDeclaration": True},
        },
        lambda r: len(r) >= 3 and "shapes.py" in text_of(r),
    ),
    (
        "documentHighlight",
        "textDocument/documentHighlight",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(8, 11)},
        lambda r: len(r) == 2,
    ),
    (
        "documentSymbol",
        "textDocument/documentSymbol",
        lambda app, _: {"textDocument": {"uri": app}},
        lambda r: {"total_area", "origin_distance", "broken", "main"} <= set(_names(r)),
    ),
    (
        "workspaceSymbol",
        "workspace/symbol",
        lambda *_: {"query": "Square"},
        lambda r: any(s["name"] == "Square" for s in r),
    ),
    (
        "completion",
        "textDocument/completion",
        lambda app, _: {
            "textDocument": {"uri": app},
            "position": pos(8, 17),
            "context": {"triggerKind": 1},
        },
        lambda r: "norm" in text_of(r),
    ),
    (
        "signatureHelp",
        "textDocument/signatureHelp",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(16, 18)},
        lambda r: "x: float" in text_of(r),
    ),
    (
        "prepareRename",
        "textDocument/prepareRename",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(7, 4)},
        lambda r: r is not None,
    ),
    (
        "rename",
        "textDocument/rename",
        lambda app, _: {
            "textDocument": {"uri": app},
            "position": pos(7, 4),
            "newName": "distance_from_origin",
        },
        lambda r: "distance_from_origin" in text_of(r),
    ),
    (
        "inlayHint",
        "textDocument/inlayHint",
        lambda app, _: {
            "textDocument": {"uri": app},
            "range": {"start": pos(0, 0), "end": pos(18, 0)},
        },
        lambda r: isinstance(r, list) and len(r) > 0,
    ),
    (
        "semanticTokensFull",
        "textDocument/semanticTokens/full",
        lambda app, _: {"textDocument": {"uri": app}},
        lambda r: len(r["data"]) > 20,
    ),
    (
        "semanticTokensRange",
        "textDocument/semanticTokens/range",
        lambda app, _: {
            "textDocument": {"uri": app},
            "range": {"start": pos(0, 0), "end": pos(5, 0)},
        },
        lambda r: len(r["data"]) > 5,
    ),
    (
        "foldingRange",
        "textDocument/foldingRange",
        lambda app, _: {"textDocument": {"uri": app}},
        lambda r: len(r) >= 3,
    ),
    (
        "selectionRange",
        "textDocument/selectionRange",
        lambda app, _: {"textDocument": {"uri": app}, "positions": [pos(8, 13)]},
        lambda r: len(r) == 1 and "parent" in r[0],
    ),
    (
        "prepareCallHierarchy",
        "textDocument/prepareCallHierarchy",
        lambda app, _: {"textDocument": {"uri": app}, "position": pos(7, 4)},
        lambda r: r[0]["name"] == "origin_distance",
    ),
    (
        "prepareTypeHierarchy",
        "textDocument/prepareTypeHierarchy",
        lambda _, shapes: {"textDocument": {"uri": shapes}, "position": pos(19, 6)},
        lambda r: r[0]["name"] == "Square",
    ),
]


def _names(symbols: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for symbol in symbols:
        out.append(symbol["name"])
        out.extend(_names(symbol.get("children") or []))
    return out


def _comparable(method: str, result: Any) -> Any:
    if method.startswith("textDocument/semanticTokens") and isinstance(result, dict):
        return result["data"]  # resultId is a per-server counter
    return result


@pytest.mark.parametrize(("name", "method", "params", "check"), ROWS, ids=[r[0] for r in ROWS])
@pytest.mark.asyncio(loop_scope="module")
async def test_feature_matches_ty(
    pair: Pair,
    name: str,
    method: str,
    params: Callable[[str, str], dict[str, Any]],
    check: Callable[[Any], bool],
) -> None:
    through_punie = await ask(pair.punie, method, params(pair.app, pair.shapes))
    from_ty = await ask(pair.ty, method, params(pair.app, pair.shapes))
    assert _comparable(method, through_punie) == _comparable(method, from_ty)
    assert check(through_punie), through_punie


@pytest.mark.asyncio(loop_scope="module")
async def test_hierarchy_follow_ups_match_ty(pair: Pair) -> None:
    answers = []
    for c in (pair.punie, pair.ty):
        call = (
            await ask(
                c,
                "textDocument/prepareCallHierarchy",
                {"textDocument": {"uri": pair.app}, "position": pos(7, 4)},
            )
        )[0]
        square = (
            await ask(
                c,
                "textDocument/prepareTypeHierarchy",
                {"textDocument": {"uri": pair.shapes}, "position": pos(19, 6)},
            )
        )[0]
        answers.append(
            (
                await ask(c, "callHierarchy/incomingCalls", {"item": call}),
                await ask(c, "callHierarchy/outgoingCalls", {"item": call}),
                await ask(c, "typeHierarchy/supertypes", {"item": square}),
            )
        )
    assert answers[0] == answers[1]
    incoming, outgoing, supertypes = answers[0]
    assert incoming[0]["from"]["name"] == "main"
    assert any(o["to"]["name"] == "norm" for o in outgoing)
    assert supertypes[0]["name"] == "Shape"


@pytest.mark.asyncio(loop_scope="function")
async def test_code_actions_keep_tys_quick_fixes(client: Client) -> None:
    root: Path = client.root
    path = root / "pkg" / "app.py"
    path.write_text(path.read_text() + "\n\nvalue = undefined_name\n")
    app = open_document(client, path)
    report = (
        await ask(client, "textDocument/diagnostic", {"textDocument": {"uri": app}})
        if (client.profile == "neovim")
        else None
    )
    if report is None:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        diagnostics = [client.protocol._converter.unstructure(d) for d in client.diagnostics[app]]
    else:
        report = await ask(client, "textDocument/diagnostic", {"textDocument": {"uri": app}})
        diagnostics = report["items"]
    unresolved = [d for d in diagnostics if d.get("code") == "unresolved-reference"]
    assert unresolved, diagnostics
    actions = await ask(
        client,
        "textDocument/codeAction",
        {
            "textDocument": {"uri": app},
            "range": unresolved[0]["range"],
            "context": {"diagnostics": unresolved},
        },
    )
    theirs = [a for a in actions if not a["title"].startswith("Punie")]
    assert theirs, "ty offers quick fixes for an unresolved name"
    assert {a.get("kind") for a in theirs} == {"quickfix"}
    # punie's own come after ty's, and carry commands instead of edits
    ours = actions[len(theirs) :]
    assert ours
    assert all(a["title"].startswith("Punie") and "command" in a for a in ours)
