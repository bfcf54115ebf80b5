"""The editor changes its ``ty`` settings mid-session: ty is restarted with them, once.

First what ty itself does (ty 0.0.105, ``ty server`` alone): it reads its settings when
it starts, from ``initializationOptions`` and from the editor's answer to its one
``workspace/configuration`` (the first wins where both set a key), and has no handler
for ``workspace/didChangeConfiguration``. Then punie-lsp with real ty and a real pygls
client: a changed ``ty`` section restarts ty with it (documents and requests in flight
replayed, diagnostics refreshed, registrations with new options registered anew), a
burst of changes restarts it once, and a ``punie``-only change restarts nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities
from ty import find_ty_bin

from punie_lsp.wire.ty_child import TyChild
from tests.conftest import SERVER_COMMAND, Client, initialize_params, make_client
from tests.punie_lsp.wire.test_ty_restart import hover_fresh, open_with_unsaved_change, status
from tests.rawlsp import Connection

pytestmark = pytest.mark.timeout(90)

RULE = "invalid-explicit-return"
"""What ty reports on app.py's ``broken()`` (``return "not an int"`` in an ``-> int``)."""
IGNORE_RULE = {"configuration": {"rules": {RULE: "ignore"}}}


# -- ty alone ----------------------------------------------------------------------------


class Editor(Connection):
    """Answers ty's ``workspace/configuration`` with ``answer`` and keeps what ty asked."""

    answer: Any = None
    asked: list[Any]

    def reply(self, request: dict[str, Any]) -> Any:
        if request.get("method") == "workspace/configuration":
            self.asked.append(request["params"])
            return [self.answer for _ in request["params"]["items"]]
        return None


class TyAlone:
    """``ty server`` spoken to directly, as an editor with pull diagnostics would."""

    def __init__(self, root: Path, options: Any, answer: Any) -> None:
        self.proc = subprocess.Popen(
            [find_ty_bin(), "server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.editor = Editor(self.proc.stdout, self.proc.stdin)  # ty: ignore[invalid-argument-type]  # Popen's pipes are buffered binary files
        self.editor.answer, self.editor.asked = answer, []
        capabilities = {
            "workspace": {"configuration": True},
            "textDocument": {"diagnostic": {"dynamicRegistration": False}},
        }
        folders = [{"uri": root.as_uri(), "name": root.name}]
        self.editor.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "workspaceFolders": folders,
                "capabilities": capabilities,
                "initializationOptions": options,
            },
        )
        self.editor.notify("initialized", {})
        self.uri = self.editor.open(root / "pkg" / "app.py")

    def codes(self) -> set[str]:
        """The codes of ty's pulled diagnostics for app.py (also a barrier: ty has read
        everything sent before)."""
        report = self.editor.request("textDocument/diagnostic", {"textDocument": {"uri": self.uri}})
        return {d.get("code") for d in report["result"]["items"]}

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_ty_alone_reads_its_settings_only_when_it_starts(project: Path) -> None:
    """Why punie-lsp restarts ty: a changed section, sent or announced, changes nothing,
    and ty asks for its configuration once."""
    ty = TyAlone(project, None, {})
    try:
        assert RULE in ty.codes()
        ty.editor.notify("workspace/didChangeConfiguration", {"settings": {"ty": IGNORE_RULE}})
        assert RULE in ty.codes()
        ty.editor.notify("workspace/didChangeConfiguration", {"settings": None})
        assert RULE in ty.codes()
        assert len(ty.editor.asked) == 1
    finally:
        ty.close()


def test_ty_alone_prefers_initialization_options_to_its_configuration_answer(
    project: Path,
) -> None:
    """So a restart passes the new section as ``initializationOptions``: the editor's
    answer alone would lose to whatever ty was started with."""
    rule_is_error = {"configuration": {"rules": {RULE: "error"}}}
    ty = TyAlone(project, IGNORE_RULE, rule_is_error)
    try:
        assert RULE not in ty.codes()
        assert ty.editor.asked == [{"items": [{"scopeUri": project.as_uri(), "section": "ty"}]}]
    finally:
        ty.close()
    ty = TyAlone(project, rule_is_error, IGNORE_RULE)
    try:
        assert RULE in ty.codes()
    finally:
        ty.close()


# -- the ty child ------------------------------------------------------------------------


async def test_punies_own_request_in_flight_is_answered_by_the_new_ty(project: Path) -> None:
    """A typed tool's request the old ty was holding (``workspace/diagnostic``, held in
    ``openFilesOnly`` mode) is sent again to the ty that replaces it, as the editor's
    requests are, and answered there (in ``workspace`` mode)."""
    options: dict[str, Any] = {}
    folders = [{"uri": project.as_uri(), "name": project.name}]
    child = TyChild(
        cwd=str(project),
        initialize_params=lambda: {
            "processId": None,
            "rootUri": project.as_uri(),
            "workspaceFolders": folders,
            "capabilities": {"textDocument": {"diagnostic": {"dynamicRegistration": False}}},
            "initializationOptions": dict(options),
        },
        on_message=lambda *_: None,
        on_ready=lambda _: None,
        on_crash=lambda _: None,
    )
    await child.start()
    try:
        ask = child.request("workspace/diagnostic", {"previousResultIds": []})
        held = asyncio.ensure_future(ask)
        await child.request("workspace/symbol", {"query": "Point"})  # ty has read it
        assert not held.done()
        options["diagnosticMode"] = "workspace"
        assert child.replace("ty restarted for new settings", lambda: None)
        report = await asyncio.wait_for(held, 30)
        codes = {d["code"] for item in report["items"] for d in item["items"]}
        assert RULE in codes
        assert child.restarts == 1
    finally:
        await child.stop()


# -- through punie-lsp -------------------------------------------------------------------


async def start(project: Path, params: types.InitializeParams) -> Client:
    client = make_client()
    client.root = project
    await client.start_io(*SERVER_COMMAND)
    await client.initialize_session(params)
    return client


async def stop(client: Client) -> None:
    await client.shutdown_session()
    await client.stop()


def change(client: Client, ty: Any, punie: Any = None) -> None:
    """The editor's settings now (as Neovim sends them: every section, every time)."""
    client.set_configuration(ty, section="ty")
    settings = {"punie": punie or {}, "ty": ty}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))


async def pulled(client: Client, uri: str) -> dict[str, types.DiagnosticSeverity | None]:
    """ty's pulled diagnostics for ``uri``: code -> severity."""
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    return {str(d.code): d.severity for d in report.items}


async def status_when(
    client: Client, holds: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    """``punie.status`` once ``holds`` (punie's commands may overtake a notification's
    handler: the status is asked until it holds; TimeoutError after ``timeout`` s)."""

    async def asked() -> dict[str, Any]:
        while not holds(found := await status(client)):
            pass
        return found

    return await asyncio.wait_for(asked(), timeout)


async def settled(client: Client, restarts: int) -> dict[str, Any]:
    """``punie.status`` once ty has been restarted ``restarts`` times and runs, with no
    change of its settings waiting."""

    def holds(found: dict[str, Any]) -> bool:
        ty = found["ty"]
        return ty["restarts"] >= restarts and ty["state"] == "running" and not ty["settingsPending"]

    return await status_when(client, holds)


async def test_a_changed_ty_section_restarts_ty_once_with_it(project: Path) -> None:
    """Neovim's flow (pulled diagnostics, every section sent on each change). A burst of
    changes ending with the rule made a warning and ``diagnosticMode: workspace``
    restarts ty once: the request ty held meanwhile (``workspace/diagnostic``: ty answers
    it only in workspace mode) is answered by the new ty, the editor is asked to pull
    again, the unsaved buffer is still what ty sees. Then the rule turned off goes from
    the pulled diagnostics, and a ``ty`` value that is not an object is named and gives
    ty its defaults (the rule is back)."""
    params = initialize_params("neovim", project, {"punie": {}, "ty": {}})
    assert params.capabilities.workspace is not None
    params.capabilities.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(
        refresh_support=True
    )
    client = await start(project, params)
    held: asyncio.Future[Any] | None = None
    try:
        uri, line = open_with_unsaved_change(client)
        assert (await pulled(client, uri))[RULE] == types.DiagnosticSeverity.Error
        held = asyncio.ensure_future(
            client.workspace_diagnostic_async(
                types.WorkspaceDiagnosticParams(previous_result_ids=[])
            )
        )
        assert "fresh_only_in_buffer" in await hover_fresh(client, uri, line)  # ty has it
        assert not held.done()
        before = await status(client)

        change(client, {}, punie={"edits": "never"})  # punie's section alone changed
        after_punie = await status_when(client, lambda s: s["settings"]["edits"] == "never")
        assert after_punie["ty"]["settingsPending"] is False
        assert after_punie["ty"]["restarts"] == 0

        warn = {"configuration": {"rules": {RULE: "warn"}}}
        for ty in (IGNORE_RULE, [], {"diagnosticMode": "workspace"}, warn):
            change(client, ty)
        change(client, {"diagnosticMode": "workspace", **warn})
        report = await asyncio.wait_for(held, 30)  # answered by the new ty
        assert isinstance(report, types.WorkspaceDiagnosticReport)
        found = {str(d.code): d.severity for item in report.items for d in item.items}
        assert found[RULE] == types.DiagnosticSeverity.Warning
        assert (await pulled(client, uri))[RULE] == types.DiagnosticSeverity.Warning
        assert "fresh_only_in_buffer" in await hover_fresh(client, uri, line)
        after = await settled(client, 1)
        assert after["ty"]["restarts"] == 1
        assert after["ty"]["pid"] != before["ty"]["pid"]
        assert client.diagnostic_refresh_count == 1
        restarted = [m for m in client.log_messages if "ty restarted for new settings" in m.message]
        assert len(restarted) == 1

        change(client, IGNORE_RULE)
        await settled(client, 2)
        assert RULE not in await pulled(client, uri)

        change(client, 5)  # not an object: named, and ty uses its defaults
        await settled(client, 3)
        assert (await pulled(client, uri))[RULE] == types.DiagnosticSeverity.Error
        assert any("'ty' settings must be an object" in m.message for m in client.messages)
        assert client.diagnostic_refresh_count == 3
    finally:
        if held is not None and not held.done():
            held.cancel()
        await stop(client)


async def test_a_change_announced_without_settings_is_asked_for(project: Path) -> None:
    """An editor that announces a change with ``settings: null`` (the pull model LSP
    recommends) is asked for the ``ty`` section, and ty follows it."""
    client = await start(project, initialize_params("neovim", project))
    try:
        uri, _ = open_with_unsaved_change(client)
        assert RULE in await pulled(client, uri)
        client.set_configuration(IGNORE_RULE, section="ty")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await settled(client, 1)
        assert RULE not in await pulled(client, uri)
    finally:
        await stop(client)


async def tool(client: Client, name: str, **args: Any) -> dict[str, Any]:
    """``punie.tool``: a typed tool as the agent's programs call it, inside the server."""
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="punie.tool", arguments=[{"name": name, "args": args}])
    )
    assert isinstance(result, dict), result
    return result


async def test_pushed_diagnostics_and_the_tools_follow_the_new_settings(project: Path) -> None:
    """VS Code 1.65's flow (pushed diagnostics): the rule turned off, app.py's pushed
    diagnostics lose it, with no restart of punie-lsp; the agent's ``typecheck`` (a
    private ty, started before the change) no longer reports it either, and ``hover``
    (the editor's new ty) still sees the unsaved buffer."""
    client = await start(project, initialize_params("visual-studio-code", project))
    try:
        uri, line = open_with_unsaved_change(client)
        checked = await tool(client, "typecheck", path="pkg/app.py")
        assert RULE in {e["code"] for e in checked["errors"]}, checked

        async def pushed(present: bool) -> None:
            while (RULE in {str(d.code) for d in client.diagnostics.get(uri, [])}) != present:
                await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

        await asyncio.wait_for(pushed(True), 30)
        change(client, IGNORE_RULE)
        await asyncio.wait_for(pushed(False), 30)
        after = await settled(client, 1)
        assert after["ty"]["restarts"] == 1
        checked = await tool(client, "typecheck", path="pkg/app.py")
        assert RULE not in {e["code"] for e in checked["errors"]}, checked
        hovered = await tool(
            client, "hover", file_path="pkg/app.py", line=line + 1, column=7, symbol="fresh"
        )
        assert "fresh_only_in_buffer" in str(hovered), hovered
    finally:
        await stop(client)


async def test_a_registration_with_new_options_replaces_the_old_one(project: Path) -> None:
    """VS Code's language client registers pull diagnostics dynamically; ty registers them
    under one id with ``workspaceDiagnostics`` following ``diagnosticMode``. The editor
    keeps registrations across ty's restart, so the old one is unregistered first."""
    seen: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def register(client: Client, params: types.RegistrationParams) -> None:
        for item in params.registrations:
            if item.method == types.TEXT_DOCUMENT_DIAGNOSTIC:
                seen.put_nowait(("register", item))

    def unregister(client: Client, params: types.UnregistrationParams) -> None:
        for item in params.unregisterations:
            if item.method == types.TEXT_DOCUMENT_DIAGNOSTIC:
                seen.put_nowait(("unregister", item))

    client = make_client(
        {
            types.CLIENT_REGISTER_CAPABILITY: register,
            types.CLIENT_UNREGISTER_CAPABILITY: unregister,
        }
    )
    capabilities = client_capabilities("visual-studio-code")
    assert capabilities.text_document is not None
    capabilities.text_document.diagnostic = types.DiagnosticClientCapabilities(
        dynamic_registration=True
    )
    params = initialize_params("visual-studio-code", project)
    params.capabilities = capabilities
    client.root = project
    await client.start_io(*SERVER_COMMAND)
    await client.initialize_session(params)
    try:
        kind, first = await asyncio.wait_for(seen.get(), 30)
        assert kind == "register"
        assert first.register_options["workspaceDiagnostics"] is False
        uri, _ = open_with_unsaved_change(client)
        change(client, {"diagnosticMode": "workspace"})
        kind, old = await asyncio.wait_for(seen.get(), 30)
        assert (kind, old.id) == ("unregister", first.id)
        kind, new = await asyncio.wait_for(seen.get(), 30)
        assert (kind, new.id) == ("register", first.id)
        assert new.register_options["workspaceDiagnostics"] is True
        assert RULE in await pulled(client, uri)  # still forwarded, to the new ty
        assert (await settled(client, 1))["ty"]["restarts"] == 1
        assert seen.empty()
    finally:
        await stop(client)
