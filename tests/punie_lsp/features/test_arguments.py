"""Command arguments: what editors send is structured by pygls's converter, and misuse
is refused before any handler runs, in one line naming the command and the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_type_hints

import attrs
import pytest
from lsprotocol import types
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams

import punie_lsp
from punie_lsp.features.arguments import (
    ARGUMENT_CLASSES,
    AskArguments,
    CommandArguments,
    ExplainArguments,
    FixArguments,
    ResetConversationArguments,
    RunCodeArguments,
    ToolArguments,
    WriteTestsArguments,
    converter,
)
from punie_lsp.features.commands import COMMANDS
from punie_lsp.session.session import invalid_argument
from punie_lsp.wire.code_actions import punie_actions
from punie_lsp.wire.jsonrpc import invalid_params
from tests.editors.conftest import EDITORS

RANGE = {"start": {"line": 3, "character": 0}, "end": {"line": 5, "character": 0}}
DIAGNOSTIC = {"range": RANGE, "message": "bad", "code": "invalid-return-type", "source": "ty"}
URI = "file:///w/pkg/app.py"

CONVERTER = converter()

ACCEPTED: list[tuple[type[CommandArguments], dict[str, Any], CommandArguments | None]] = [
    (AskArguments, {"prompt": "why?"}, AskArguments(prompt="why?")),
    (
        AskArguments,  # VS Code's palette entry with a selection, continuing a conversation
        {"prompt": "why?", "uri": URI, "range": RANGE, "conversationId": "c1"},
        AskArguments(
            prompt="why?",
            uri=URI,
            range=CONVERTER.structure(RANGE, types.Range),
            conversation_id="c1",
        ),
    ),
    (AskArguments, {"uri": URI}, AskArguments(uri=URI)),
    (
        FixArguments,  # what the code action carries
        {"uri": URI, "range": RANGE, "diagnostic": DIAGNOSTIC},
        FixArguments(
            uri=URI,
            range=CONVERTER.structure(RANGE, types.Range),
            diagnostic=CONVERTER.structure(DIAGNOSTIC, types.Diagnostic),
        ),
    ),
    (ExplainArguments, {"uri": URI, "range": RANGE, "extra": 1}, None),  # unknown keys ignored
    (WriteTestsArguments, {"uri": URI, "range": RANGE}, None),
    (ResetConversationArguments, {"conversationId": "c1"}, None),
    (RunCodeArguments, {"code": "1 + 1"}, RunCodeArguments(code="1 + 1")),
    (ToolArguments, {"name": "typecheck"}, ToolArguments(name="typecheck", args={})),
    (
        ToolArguments,
        {"name": "read_file", "args": {"path": "a.py"}, "uri": URI},
        ToolArguments(name="read_file", args={"path": "a.py"}, uri=URI),
    ),
]


@pytest.mark.parametrize(("cls", "raw", "expected"), ACCEPTED)
def test_what_editors_send_is_structured(
    cls: type[CommandArguments], raw: dict[str, Any], expected: CommandArguments | None
) -> None:
    structured = CONVERTER.structure(raw, cls)
    assert isinstance(structured, cls)
    if expected is not None:
        assert structured == expected


REFUSED: list[tuple[type[CommandArguments], Any, str]] = [
    (AskArguments, {}, "punie.ask: 'prompt' is required"),
    (AskArguments, {"prompt": 3}, "punie.ask: 'prompt' must be a string, got a number"),
    (AskArguments, [{"prompt": "x"}], "punie.ask: the argument must be an object, got a list"),
    (FixArguments, {}, "punie.fix: 'uri' is required"),
    (FixArguments, {"uri": URI}, "punie.fix: 'range' (the selection) or 'diagnostic' is required"),
    (FixArguments, {"uri": 7, "range": RANGE}, "punie.fix: 'uri' must be a string, got a number"),
    (ExplainArguments, {"uri": URI}, "punie.explain: 'range' is required"),
    (
        ExplainArguments,
        {"uri": URI, "range": {"start": {"line": -1, "character": 0}, "end": RANGE["end"]}},
        "punie.explain: 'range.start' Position.line should be in range",
    ),
    (WriteTestsArguments, "file:///a.py", "punie.writeTests: the argument must be an object"),
    (  # said "'range.start.line' 'int' object is not subscriptable; …" (a fresh user's pass)
        AskArguments,
        {"prompt": "x", "range": {"start": 1, "end": RANGE["end"]}},
        "punie.ask: 'range.start' must be an object",
    ),
    (ResetConversationArguments, {}, "punie.resetConversation: 'conversationId' is required"),
    (RunCodeArguments, {"code": 3}, "punie.runCode: 'code' must be a string, got a number"),
    (RunCodeArguments, {"code": None}, "punie.runCode: 'code' must be a string, got null"),
    (ToolArguments, {"name": "x", "args": [1]}, "punie.tool: 'args' must be an object"),
]


@pytest.mark.parametrize(("cls", "raw", "message"), REFUSED)
def test_misuse_is_one_line_naming_the_command_and_key(
    cls: type[CommandArguments], raw: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(cls.COMMAND)}: ") as refused:
        CONVERTER.structure(raw, cls)
    text = str(refused.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_every_command_with_arguments_has_its_class_in_the_handlers_signature() -> None:
    by_command = {cls.COMMAND: cls for cls in ARGUMENT_CLASSES}
    for name, handler in COMMANDS.items():
        hints = get_type_hints(handler)
        if name == "punie.status":
            continue
        assert hints["args"] == by_command[name] | None, name


def test_the_code_actions_arguments_are_accepted() -> None:
    params = {
        "textDocument": {"uri": URI},
        "range": RANGE,
        "context": {"diagnostics": [DIAGNOSTIC]},
    }
    by_command = {cls.COMMAND: cls for cls in ARGUMENT_CLASSES}
    actions = punie_actions(params)
    assert {a["command"]["command"] for a in actions} == {
        "punie.fix",
        "punie.explain",
        "punie.writeTests",
        "punie.ask",
    }
    for action in actions:
        command = action["command"]
        [argument] = command["arguments"]
        CONVERTER.structure(argument, by_command[command["command"]])


def test_the_vscode_extensions_arguments_are_fields_of_the_classes() -> None:
    """``AgentArgs`` in the extension: every key it may send is one the classes read."""
    source = (EDITORS / "vscode" / "src" / "extension.ts").read_text()
    body = re.search(r"interface AgentArgs \{(.*?)\n\}", source, re.S)
    assert body is not None
    sent = set(re.findall(r"^\s*(\w+)\??:", body.group(1), re.M))
    assert sent == {"prompt", "uri", "range", "diagnostic", "conversationId"}
    assert sent <= _wire_names(AskArguments) | _wire_names(FixArguments)


def _wire_names(cls: type[CommandArguments]) -> set[str]:
    return {to_camel(f.name) for f in attrs.fields(cls)}


def test_every_invalid_params_error_has_pygls_shape() -> None:
    """One shape for a refused argument, whoever refuses it: pygls's converter, a handler
    (``invalid_argument``) or the router (``invalid_params``). Handlers built
    ``JsonRpcInvalidParams(message)`` themselves and lost pygls's "Invalid Params:"."""
    assert invalid_params("punie.tool: unknown tool 'x'") == (
        JsonRpcInvalidParams.of(ValueError("punie.tool: unknown tool 'x'")).message
    )
    assert invalid_argument("a\nb").message == "Invalid Params: a b"  # one line
    package = Path(punie_lsp.__file__).parent
    built = [
        f"{path.relative_to(package)}:{n}"
        for path in package.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "JsonRpcInvalidParams(" in line
        and "return JsonRpcInvalidParams(invalid_params(" not in line
    ]
    assert built == []
