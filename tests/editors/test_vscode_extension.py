"""The VS Code extension builds, and what it contributes matches what the server serves.

No VS Code runs here: the extension's manifest is checked against the server's own
definitions, so that a command or a setting renamed on one side fails here (its build
from a clean copy with ``npm ci``, ``tsc`` and ``vsce package``, against the real
``@types/vscode`` and vscode-languageclient, is test_vscode_e2e's, which also checks the
compiled command table): palette commands against
``punie_lsp.wire.initialize.PUNIE_COMMANDS``, the settings schema against
``agent.config.Settings`` (field names, types, defaults, enums). The extension's own unit
tests (``npm test``: what it sends the server, in ``src/settings.ts``) run here with
Node's test runner, on the Node that ``tests/editors/vscode/install.sh`` installs (CI) or
the one on ``PATH``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from punie_lsp.wire.initialize import PUNIE_COMMANDS
from tests.editors.conftest import AGENT_COMMANDS, EDITORS, server_bounds, server_settings

VSCODE = EDITORS / "vscode"
PACKAGE = json.loads((VSCODE / "package.json").read_text())
TABLE = json.loads((VSCODE / "src" / "commands.json").read_text())
EXTENSION_TS = (VSCODE / "src" / "extension.ts").read_text()

NOT_IN_PALETTE = {"punie.tool", "punie.runCode"}
"""Server commands for scripts and tests, not for people: no palette entry."""


def contributed_commands() -> list[str]:
    return [c["command"] for c in PACKAGE["contributes"]["commands"]]


def contributed_settings() -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = {}
    for section in PACKAGE["contributes"]["configuration"]:
        for key, schema in section["properties"].items():
            assert key not in properties, f"{key} declared twice"
            properties[key] = schema
    return properties


def test_palette_commands_are_the_table_the_extension_registers() -> None:
    declared = [*TABLE["server"], *TABLE["client"]]
    assert sorted(contributed_commands()) == sorted(declared)
    assert len(set(declared)) == len(declared)
    # extension.ts has one handler per declared id (and fails to activate otherwise).
    handlers = re.findall(r'^\s+"(punie-lsp\.\w+)":', EXTENSION_TS, re.MULTILINE)
    assert sorted(handlers) == sorted(declared)
    assert 'from "./commands.json"' in EXTENSION_TS


def test_palette_ids_never_shadow_server_commands() -> None:
    # vscode-languageclient registers each command the server advertises under its own
    # id (that is how code actions run them): a palette command with the same id would
    # make activation fail with "command already exists".
    server_side = {*PUNIE_COMMANDS, *AGENT_COMMANDS, *TABLE["server"].values()}
    assert not server_side & set(contributed_commands())


def test_palette_runs_commands_the_server_serves() -> None:
    wanted = set(TABLE["server"].values())
    assert wanted == {*AGENT_COMMANDS, "punie.status"}
    assert wanted <= set(PUNIE_COMMANDS), "the palette runs a command the server lacks"


def test_every_server_command_for_people_has_a_palette_entry() -> None:
    for command in PUNIE_COMMANDS:
        if command not in NOT_IN_PALETTE:
            assert command in TABLE["server"].values(), f"{command}: no palette command"


def test_key_bindings_and_menus_name_contributed_commands() -> None:
    ids = set(contributed_commands())
    bindings = PACKAGE["contributes"]["keybindings"]
    assert {b["command"] for b in bindings} >= {"punie-lsp.ask", "punie-lsp.fix"}
    assert all(b["command"] in ids for b in bindings)
    assert len({b["key"] for b in bindings}) == len(bindings)
    for items in PACKAGE["contributes"]["menus"].values():
        assert all(item["command"] in ids for item in items)


SET_BY_THE_EXTENSION = {"punie.trust"}
"""Server settings the extension fills in itself, never read from settings.json: ``trust``
is VS Code's workspace trust (a repository's own .vscode/settings.json must not be able to
trust itself)."""


def test_settings_schema_mirrors_the_server_settings() -> None:
    schema = contributed_settings()
    expected = {k: v for k, v in server_settings().items() if k not in SET_BY_THE_EXTENSION}
    ours = {key: value for key, value in schema.items() if key.startswith("punie.")}
    assert sorted(ours) == sorted(expected)
    for key, (kind, enum, default) in expected.items():
        assert ours[key]["type"] == kind, key
        assert ours[key].get("enum") == enum, key
        assert ours[key]["default"] == default, key
    bounds = server_bounds()
    for key in expected:  # the ranges on the settings model's fields (agent.config.Settings)
        limits = ("minimum", "exclusiveMinimum", "maximum")
        assert {b: ours[key][b] for b in limits if b in ours[key]} == bounds[key], key


def test_workspace_trust_is_sent_as_the_trust_setting() -> None:
    # Every way the section reaches the server goes through punieSettings, which sets
    # `trust` from VS Code; granting trust sends it again. (tests/editors/
    # test_vscode_e2e.py sees the server's answer change in a real VS Code.)
    assert "trust: vscode.workspace.isTrusted" in EXTENSION_TS
    assert "onDidGrantWorkspaceTrust(sendSettings)" in EXTENSION_TS
    assert "configurationSection" not in EXTENSION_TS.replace(
        "`synchronize.configurationSection`", ""
    )
    assert EXTENSION_TS.count("punieSettings(") >= 3
    untrusted = PACKAGE["capabilities"]["untrustedWorkspaces"]
    assert untrusted["supported"] == "limited"
    # What starts a process is never taken from an untrusted workspace's settings.
    launch = {k for k in contributed_settings() if k.startswith("punie-lsp.") and "trace" not in k}
    assert set(untrusted["restrictedConfigurations"]) == launch


def test_ty_section_is_one_object_and_client_settings_stay_out_of_punie() -> None:
    schema = contributed_settings()
    assert schema["ty"]["type"] == "object"
    # The `punie` section is sent to the server whole: the extension's own settings
    # live under `punie-lsp.` so the server never sees them as unknown keys.
    client_only = {k for k in schema if k not in ("ty",) and not k.startswith("punie.")}
    assert client_only
    assert all(k.startswith("punie-lsp.") for k in client_only)
    assert "punie-lsp.server.path" in client_only
    assert "punie-lsp.interpreter" in client_only


def test_server_is_started_with_stdio() -> None:
    assert '"--stdio"' in EXTENSION_TS
    assert '"-m", "punie_lsp"' in EXTENSION_TS
    assert PACKAGE["main"] == "./out/extension.js"


def _node_path() -> str:
    """``PATH`` with a Node that has ``npm``: install.sh's (CI), else the one on PATH; skips
    (fails under CI=true, which installs it) when there is none."""
    install = Path(__file__).parent / "vscode" / "install.sh"
    found = subprocess.run(
        ["bash", str(install), "--paths"], capture_output=True, text=True, timeout=60
    )
    path = os.environ["PATH"]
    if found.returncode == 0:
        return os.pathsep.join([str(Path(json.loads(found.stdout)["node"]).parent), path])
    if shutil.which("npm") is None:
        reason = f"no npm: {found.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.mark.timeout(300)
def test_the_extensions_unit_tests_pass(tmp_path: Path) -> None:
    """``npm ci`` and ``npm test`` on a copy of the extension: ``src/test/*.test.ts``,
    among them the ``ty`` section a selected interpreter is added to (a ``ty`` value that
    is not an object was dropped without a word; now the server names it), and that a
    changed ``ty`` section is sent, not a restart of the server (which lost the
    conversations; punie-lsp now restarts its ty child itself)."""
    build = tmp_path / "vscode"
    shutil.copytree(VSCODE, build, ignore=shutil.ignore_patterns("node_modules", "out"))
    env = {**os.environ, "PATH": _node_path()}
    for command in (["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], ["npm", "test"]):
        done = subprocess.run(
            command, cwd=build, env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    # Node's summary (TAP "# pass 5" on Node 20, an info sign and "pass 5" on Node 24):
    # some ran, none failed.
    assert re.search(r"^\S+ pass [1-9]", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"^\S+ fail 0$", done.stdout, re.MULTILINE), done.stdout
