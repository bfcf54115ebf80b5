"""``CommandResult``: the one shape the agent commands return, that the README documents
and the VS Code and Neovim plug-ins read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from agent.deps import ProgressKind
from agent.result import AgentResult, Edit
from punie_lsp.agent_run.result import (
    CommandResult,
    DiagnosticsDelta,
    ProposedEdit,
    PunieMessage,
)
from punie_lsp.features.arguments import converter
from tests.editors.conftest import EDITORS, server_settings

README = Path(__file__).resolve().parents[3] / "README.md"
FIELDS = {str(f.alias) for f in CommandResult.model_fields.values()}


def test_the_readme_table_lists_every_field_and_no_other() -> None:
    text = README.read_text()
    table = text.split("Command results (", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert documented == FIELDS


def test_the_vscode_extension_reads_only_fields_of_the_model() -> None:
    source = (EDITORS / "vscode" / "src" / "extension.ts").read_text()
    body = re.search(r"interface AgentResult \{(.*?)\n\}", source, re.S)
    assert body is not None
    read = set(re.findall(r"^\s*(\w+)\??:", body.group(1), re.M))
    assert read, "the interface moved: update this test"
    assert read <= FIELDS, read - FIELDS


def test_the_neovim_plugin_reads_only_fields_of_the_model() -> None:
    source = (EDITORS / "nvim" / "lua" / "punie" / "init.lua").read_text()
    handler = source.split("local function done(err, result)", 1)[1].split("if on_done then")[0]
    read = set(re.findall(r"\bresult\.(\w+)", handler))
    assert {"conversationId", "answer", "outcome", "edits", "applied", "reason"} <= read
    assert read <= FIELDS, read - FIELDS


def test_the_wire_json_is_camel_case_without_nulls() -> None:
    """What pygls sends for a handler's return value (the server's converter)."""
    agent = AgentResult(
        conversation_id="c1",
        answer="done",
        edits=[Edit(path="/w/a.py", text="x = 1\n")],
    )
    result = CommandResult.of(
        agent,
        edits=[ProposedEdit(uri="file:///w/a.py", path="/w/a.py", text="x = 1\n")],
        diagnostics_delta=[DiagnosticsDelta(file="a.py", before=1, after=0)],
        applied=True,
    )
    sent = converter().unstructure(result)
    assert sent["conversationId"] == "c1"
    assert sent["edits"] == [{"uri": "file:///w/a.py", "path": "/w/a.py", "text": "x = 1\n"}]
    assert sent["diagnosticsDelta"] == [{"file": "a.py", "before": 1, "after": 0, "errors": []}]
    assert sent["applied"] is True
    assert "reason" not in sent and "error" not in sent
    assert sent["usage"] == {"requests": 0, "inputTokens": 0, "outputTokens": 0}


def test_the_vscode_extension_reads_punie_message_as_the_model_has_it() -> None:
    source = (EDITORS / "vscode" / "src" / "answerView.ts").read_text()
    body = re.search(r"interface PunieMessage \{(.*?)\n\}", source, re.S)
    assert body is not None
    read = set(re.findall(r"^\s*(\w+)\??:", body.group(1), re.M))
    assert read == {str(f.alias) for f in PunieMessage.model_fields.values()}
    assert set(get_args(ProgressKind)) <= set(re.findall(r'"(\w+)"', body.group(1)))


def test_the_readme_configuration_table_is_the_settings_model() -> None:
    """Every ``punie.*`` setting (the model's fields, camelCase by its alias generator)
    is a row of the README's Configuration table, with the model's default."""
    table = README.read_text().split("\n## Configuration", 1)[1].split("\n\n", 3)[2]
    rows = dict(re.findall(r"^\| `([\w.]+)` \| ([^|]+) \|", table, re.M))
    settings = server_settings()
    assert set(rows) == {key.removeprefix("punie.") for key in settings}
    for key, (_, _, default) in settings.items():
        shown = rows[key.removeprefix("punie.")].strip()
        assert shown == _shown(default), (key, shown)


def _shown(default: object) -> str:
    """A default as the README writes it: `none`, `false`, `30`, `0.2`, `ask`."""
    if default is None:
        return "none"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"
