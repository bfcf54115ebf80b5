"""Settings: camelCase JSON resolved field by field; every problem named, defaults kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from agent.config import DEFAULT_MODEL, SandboxSettings, Settings
from punie_lsp.session.settings import resolve, split_initialization_options
from punie_lsp.wire.forwarding import ty_section
from tests.conftest import Client, initialize_params

CASES: list[tuple[str, Any, Settings, list[str]]] = [
    ("absent", None, Settings(), []),
    ("an empty Lua table", [], Settings(), []),
    ("nested empty Lua table", {"sandbox": []}, Settings(), []),
    ("empty", {}, Settings(), []),
    (
        "all valid",
        {
            "model": "openai:qwen",
            "baseUrl": "http://127.0.0.1:8080/v1",
            "temperature": 0,
            "maxTokens": 512,
            "sandbox": {"timeoutSeconds": 5, "memoryMb": 64},
            "edits": "auto",
            "captureTraces": True,
        },
        Settings(
            model="openai:qwen",
            base_url="http://127.0.0.1:8080/v1",
            temperature=0.0,
            max_tokens=512,
            sandbox=SandboxSettings(timeout_seconds=5.0, memory_mb=64),
            edits="auto",
            capture_traces=True,
        ),
        [],
    ),
    ("snake_case accepted", {"max_tokens": 9}, Settings(max_tokens=9), []),
    (
        "unknown key",
        {"colour": "x", "edits": "never"},  # (a misspelt model setting is refused: below)
        Settings(edits="never"),
        ["unknown setting 'punie.colour'"],
    ),
    (
        "wrong types are not coerced",
        {"captureTraces": "false", "maxTokens": "12", "temperature": True},
        Settings(),
        [
            "invalid 'punie.captureTraces': expected true or false, got str",
            "invalid 'punie.maxTokens': expected an integer, got str",
            "invalid 'punie.temperature': expected a number, got bool",
        ],
    ),
    (
        "choices are named",
        {"edits": "sometimes"},
        Settings(),
        ["invalid 'punie.edits': expected one of 'ask', 'auto', 'never', got 'sometimes'"],
    ),
    (
        "out of range, each named, the good ones kept",
        {
            "temperature": 5,
            "maxTokens": -5,
            "sandbox": {"timeoutSeconds": -1, "memoryMb": 0},
            "edits": "never",
        },
        Settings(edits="never"),
        [
            "invalid 'punie.temperature': must be at least 0 and at most 2, got 5",
            "invalid 'punie.maxTokens': must be at least 1 and at most 131072, got -5",
            "invalid 'punie.sandbox.timeoutSeconds': must be above 0 and at most 3600, got -1",
            "invalid 'punie.sandbox.memoryMb': must be at least 16 and at most 65536, got 0",
        ],
    ),
    (
        "a timeout of exactly 0 is refused, the edges of ranges are kept",
        {"sandbox": {"timeoutSeconds": 0, "memoryMb": 16}, "temperature": 2, "maxTokens": 1},
        Settings(sandbox=SandboxSettings(memory_mb=16), temperature=2.0, max_tokens=1),
        ["invalid 'punie.sandbox.timeoutSeconds': must be above 0"],
    ),
    (
        "nested problems keep the good siblings",
        {"sandbox": {"memoryMb": 32, "timeoutSeconds": "soon", "cpu": 2}},
        Settings(sandbox=SandboxSettings(memory_mb=32)),
        [
            "invalid 'punie.sandbox.timeoutSeconds': expected a number, got str",
            "unknown setting 'punie.sandbox.cpu'",
        ],
    ),
    (
        "trust and the tool-call cap",
        {"trust": True, "sandbox": {"maxToolCalls": 1000}},
        Settings(trust=True, sandbox=SandboxSettings(max_tool_calls=1000)),
        [],
    ),
    (
        "a tool-call cap of 0 is refused",
        {"sandbox": {"maxToolCalls": 0}, "trust": "yes"},
        Settings(),
        [
            "invalid 'punie.sandbox.maxToolCalls': must be at least 1 and at most 100000, got 0",
            "invalid 'punie.trust': expected true or false, got str",
        ],
    ),
    ("nested not an object", {"sandbox": 3}, Settings(), ["'punie.sandbox' must be an object"]),
    (
        # A settings UI writes "" when the user clears a text box (VS Code): unset, as null.
        "a blank optional string is unset",
        {"draftModel": " ", "baseUrl": "", "adapter": "", "maxTokens": 9},
        Settings(max_tokens=9),
        [],
    ),
    (
        "a draft model only speeds answers up: a bad one is named, none used",
        {"draftModel": 3, "maxTokens": 9},
        Settings(max_tokens=9),
        ["invalid 'punie.draftModel': expected a string, got int"],
    ),
]


@pytest.mark.parametrize(
    ("raw", "expected", "problems"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_resolve(raw: Any, expected: Settings, problems: list[str]) -> None:
    settings, found, bad_model = resolve(raw)
    assert settings == expected
    assert bad_model is None
    assert len(found) == len(problems)
    for message, start in zip(found, problems, strict=True):
        assert message.startswith(start)


@pytest.mark.parametrize(
    ("model", "written", "error"),
    [
        ("nonsense", "nonsense", "invalid 'punie.model': unknown model 'nonsense': write mlx:"),
        ("mxl:org/model", "mxl:org/model", "invalid 'punie.model': unknown model 'mxl:org/model'"),
        ("", "", "invalid 'punie.model': unknown model ''"),
        ("mlx:", "mlx:", "invalid 'punie.model': model 'mlx:' names no model after 'mlx:'"),
        (7, "7", "invalid 'punie.model': expected a string (mlx:<hf-repo-or-path>, "),
        (None, "null", "invalid 'punie.model': expected a string"),
        ({"name": "x"}, '{"name": "x"}', "invalid 'punie.model': expected a string"),
    ],
    ids=["unknown", "a typo in the prefix", "empty", "no name", "a number", "null", "an object"],
)
def test_a_model_that_cannot_be_used_is_named_and_never_replaced_by_the_default(
    model: Any, written: str, error: str
) -> None:
    """The one exception to "named, and its default used": the default model would be a
    multi-GB download, or another model answering. The other settings keep the rule."""
    settings, problems, bad_model = resolve({"model": model, "maxTokens": 0, "edits": "never"})
    assert bad_model is not None
    assert bad_model.written == written
    assert bad_model.error.startswith(error), bad_model.error
    assert written in bad_model.error and "\n" not in bad_model.error
    assert settings.edits == "never"  # the rest of the section is kept
    assert problems == ["invalid 'punie.maxTokens': must be at least 1 and at most 131072, got 0"]
    assert resolve({"model": "test:fine"}).bad_model is None


@pytest.mark.parametrize(
    ("section", "error"),
    [
        (
            {"model": "openai:coder", "baseUrl": "localhost:8080"},
            "invalid 'punie.baseUrl': must be an http:// or https:// URL, got 'localhost:8080'",
        ),
        (
            {"model": "openai:coder", "baseUrl": 8080},
            "invalid 'punie.baseUrl': expected a string or null, got 8080",
        ),
        (
            {"model": "openai:coder", "base_url": "ftp://h/v1"},
            "invalid 'punie.base_url': must be an http",
        ),
        (
            {"model": "mlx:org/m", "adapter": 5},
            "invalid 'punie.adapter': expected a string or null, got 5",
        ),
        (
            {"model": "mlx:org/m", "adapter": {"path": "/a"}},
            'invalid \'punie.adapter\': expected a string or null, got {"path": "/a"}',
        ),
        (
            {"model": "mxl:org/m", "adapter": ["a"]},
            "invalid 'punie.model': unknown model 'mxl:org/m'",
        ),
    ],
    ids=[
        "no scheme",
        "a number",
        "snake_case key",
        "adapter a number",
        "adapter an object",
        "both",
    ],
)
def test_a_bad_base_url_or_adapter_is_named_and_never_replaced_by_none(
    section: dict[str, Any], error: str
) -> None:
    """``baseUrl`` decides where the user's code goes and ``adapter`` which model answers:
    no ``baseUrl`` let the OpenAI client choose api.openai.com, no ``adapter`` ran the base
    model without the user's training. Like ``model``, a bad one is refused by name."""
    settings, problems, bad_model = resolve({**section, "maxTokens": 0})
    assert bad_model is not None
    assert bad_model.written == section["model"]
    assert bad_model.error.startswith(error), bad_model.error
    assert "\n" not in bad_model.error
    if section["model"] == "mxl:org/m":
        assert bad_model.error.endswith(
            "invalid 'punie.adapter': expected a string or null, got [\"a\"]"
        )
    assert problems == ["invalid 'punie.maxTokens': must be at least 1 and at most 131072, got 0"]
    assert settings.base_url is None and settings.adapter is None
    fine = {"baseUrl": "http://127.0.0.1:8080/v1", "adapter": "adapters/x", "model": "test:"}
    assert resolve(fine).bad_model is None
    assert resolve({"baseUrl": None, "adapter": None}).bad_model is None  # null: not set


@pytest.mark.parametrize(
    ("section", "meant", "written"),
    [
        ({"modle": "openai:coder"}, "model", "openai:coder"),
        ({"model": "openai:coder", "baseURL": "http://127.0.0.1:8080/v1"}, "baseUrl", None),
        ({"adaptor": "/adapters/mine"}, "adapter", None),
        ({"model": "mlx:org/m", "adapterPath": "/adapters/mine"}, "adapter", None),
    ],
    ids=["model", "baseURL", "adaptor", "adapterPath"],
)
def test_a_misspelt_model_setting_is_refused_not_ignored(
    section: dict[str, Any], meant: str, written: str | None
) -> None:
    """An unknown key was named and ignored, so the setting it misspelt kept its default:
    ``"modle": "openai:coder"`` ran the default 7B model, ``"adaptor"`` the base model
    without the adapter. A near miss of a model setting left unset is refused instead;
    other unknown keys keep the rule (named and ignored)."""
    key = next(k for k in section if k != "model")
    _, problems, bad_model = resolve({**section, "maxToken": 5})
    assert bad_model is not None
    assert bad_model.error == f"unknown setting 'punie.{key}': did you mean 'punie.{meant}'?"
    assert bad_model.written == (written or section.get("model", DEFAULT_MODEL))
    assert problems == ["unknown setting 'punie.maxToken'"]  # not a model setting: ignored
    real = "test:" if meant == "model" else None
    assert resolve({**section, meant: real}).bad_model is None  # the real one is set


@pytest.mark.parametrize("section", ["openai:coder", [1, 2], 7, True])
def test_a_section_that_is_not_an_object_is_never_the_default_model(section: Any) -> None:
    """``"punie": "openai:coder"`` resolved to every default: the default 7B model was
    downloaded and answered. Its model settings cannot be read, so they are refused."""
    settings, problems, bad_model = resolve(section)
    assert problems == [] and settings == Settings()
    assert bad_model is not None
    assert bad_model.error.startswith("the 'punie' settings must be an object, got ")
    assert bad_model.written in bad_model.error


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], {}),
        (
            {"inlayHints": [], "completions": [], "diagnosticMode": "workspace"},
            {"inlayHints": {}, "completions": {}, "diagnosticMode": "workspace"},
        ),
        (
            {"configuration": {"rules": [], "environment": {"extra-paths": []}}},
            {"configuration": {"rules": {}, "environment": {"extra-paths": []}}},
        ),
        (None, None),
        ("odd", "odd"),
    ],
)
def test_ty_section_reads_empty_lua_tables_as_objects_where_ty_wants_them(
    raw: Any, expected: Any
) -> None:
    assert ty_section(raw) == expected


def test_default_model_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[3] / "README.md").read_text()
    assert DEFAULT_MODEL in readme


@pytest.mark.parametrize(
    ("options", "punie", "ty"),
    [
        (None, None, None),
        (
            {"punie": {"edits": "auto"}, "ty": {"diagnosticMode": "workspace"}},
            {"edits": "auto"},
            {"diagnosticMode": "workspace"},
        ),
        ({"edits": "auto"}, {"edits": "auto"}, None),
        ({"edits": "never", "punie": {"edits": "auto"}}, {"edits": "auto"}, None),
    ],
)
def test_split_initialization_options(options: Any, punie: Any, ty: Any) -> None:
    assert split_initialization_options(options)[:2] == (punie, ty)


@pytest.mark.parametrize("ty", [5, "strict", [1]])
def test_a_ty_section_that_is_not_an_object_is_named(ty: Any) -> None:
    """It went unnamed while ty quietly got its defaults (found by a fresh user's pass)."""
    punie, passed, problems = split_initialization_options({"ty": ty, "punie": {}})
    assert (punie, passed) == ({}, None)
    assert problems == ["the 'ty' settings must be an object (ty's own); ty uses its defaults"]


@pytest.mark.parametrize("profile", ["neovim"])
async def test_bad_settings_are_named_in_one_message(profile: str, project: Any) -> None:
    import sys

    from tests.conftest import make_client

    client: Client = make_client()
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio")
    options = {"punie": {"modle": "x", "maxTokens": "many", "sandbox": {"memoryMb": 32}}}
    await client.initialize_session(initialize_params(profile, project, options))
    await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    [message] = [m for m in client.messages if "punie-lsp" in m.message]
    assert message.type == types.MessageType.Warning
    assert "unknown setting 'punie.modle'" in message.message
    assert "invalid 'punie.maxTokens'" in message.message
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="punie.status", arguments=[{}])
    )
    assert isinstance(status, dict)
    assert status["settings"]["sandbox"]["memoryMb"] == 32
    await client.shutdown_session()
    await client.stop()


async def test_out_of_range_settings_never_fail_a_command(project: Any) -> None:
    """``sandbox.timeoutSeconds: -1`` once made every ``punie.runCode`` an internal error."""
    import sys

    from tests.conftest import make_client

    client: Client = make_client()
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio")
    options = {"punie": {"sandbox": {"timeoutSeconds": -1, "memoryMb": 0}, "maxTokens": -5}}
    await client.initialize_session(initialize_params("neovim", project, options))
    await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    [message] = [m for m in client.messages if "punie-lsp" in m.message]
    for name in ("sandbox.timeoutSeconds", "sandbox.memoryMb", "maxTokens"):
        assert f"invalid 'punie.{name}'" in message.message
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="punie.runCode", arguments=[{"code": "6 * 7"}])
    )
    assert isinstance(result, dict)
    assert result["value"] == 42
    await client.shutdown_session()
    await client.stop()


def test_the_same_bad_setting_is_shown_once(project: Path) -> None:
    """Neovim sends its ``punie`` section three ways (initializationOptions,
    didChangeConfiguration, the answer to workspace/configuration): one typo popped up
    three times (found by a fresh user in headless Neovim). A new problem still shows."""
    from tests.rawlsp import RawServer

    server = RawServer()

    def reply(request: dict[str, Any]) -> Any:  # the editor's answer; ty asks too
        if request.get("method") != "workspace/configuration":
            return None
        items = request["params"]["items"]
        return [{"bogus": 1} if i.get("section") == "punie" else {} for i in items]

    server.reply = reply  # this editor's settings
    shown: list[str] = []

    def until(msg_id: str, method: str | None = None) -> Callable[[dict[str, Any]], bool]:
        def match(message: dict[str, Any]) -> bool:
            if message.get("method") == "window/showMessage":
                shown.append(message["params"]["message"])
            if method is not None:  # punie's own request, not ty's (relayed)
                items = (message.get("params") or {}).get("items") or []
                return message.get("method") == method and any(
                    i.get("section") == "punie" for i in items
                )
            return message.get("id") == msg_id and "method" not in message

        return match

    try:
        server.send(
            {
                "jsonrpc": "2.0",
                "id": "init",
                "method": "initialize",
                "params": {
                    "processId": None,
                    "rootUri": project.as_uri(),
                    "capabilities": {"workspace": {"configuration": True}},
                    "initializationOptions": {"punie": {"bogus": 1}},
                },
            }
        )
        server.wait_for(until("init"), 60)
        server.notify("initialized", {})
        # Answered (with the same typo) before anything else is sent, as Neovim does.
        server.wait_for(until("", "workspace/configuration"), 60)
        server.notify("workspace/didChangeConfiguration", {"settings": {"punie": {"bogus": 1}}})
        status = {"command": "punie.status", "arguments": [{}]}
        server.send(
            {"jsonrpc": "2.0", "id": "s1", "method": "workspace/executeCommand", "params": status}
        )
        server.wait_for(until("s1"), 60)
        server.notify("workspace/didChangeConfiguration", {"settings": {"punie": {"typo": 1}}})
        server.send(
            {"jsonrpc": "2.0", "id": "s2", "method": "workspace/executeCommand", "params": status}
        )
        server.wait_for(until("s2"), 60)
        server.send({"jsonrpc": "2.0", "id": "down", "method": "shutdown"})
        server.wait_for(until("down"), 60)
    finally:
        server.kill()
    assert [m for m in shown if "'punie.bogus'" in m] == [
        "punie-lsp: ignored in initializationOptions (defaults used): unknown setting 'punie.bogus'"
    ]
    assert len([m for m in shown if "'punie.typo'" in m]) == 1, shown
