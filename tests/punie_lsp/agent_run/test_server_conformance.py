"""Conformance: the agent runs the call of every local model server, through ``ask`` and the editor.

Each shape in ``tests/model_servers.py`` is one server's way of streaming a tool call
(Ollama, llama.cpp, vLLM with the hermes parser, LM Studio, Qwen3-Coder XML as text),
each reproduced from the public report its docstring cites. The agent must run the
program exactly as written (markers inside it included), send its output back, and
answer; nothing of the call may leak into the answer. ``mlx_lm server`` runs for real
on the tiny test model in ``tests/agent/test_mlx_server.py``, through the same
recogniser (the agent's full instructions are more than the tiny model can follow, and
prefilling them on this CPU takes minutes).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pydantic_ai import models

from agent import cli
from tests.conftest import FIXTURE_PROJECT, Client, initialize_params, make_client
from tests.model_servers import (
    ANSWER,
    CODE,
    CUT_ANSWER,
    FAULTS,
    PARTIAL,
    SHAPES,
    Chunk,
    Shape,
    ShapeServer,
    content,
    garbled_call,
    ollama_tool_calls,
    punie_compact_xml,
    qwen3_coder_as_text,
    shape_server,
    silent_server,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def server() -> Iterator[ShapeServer]:
    with shape_server() as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE_PROJECT, tmp_path / "project"))


def ask(prompt: str, workspace: Path, *options: str) -> tuple[int, str, str]:
    """``punie-lsp ask`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    stderr, sys.stderr = sys.stderr, err
    try:
        with models.override_allow_model_requests(True):
            status = cli.main([prompt, "--workspace", str(workspace), *options], out=out)
    finally:
        sys.stderr = stderr
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("shape", SHAPES)
def test_ask_runs_the_call_of_each_server(shape: str, server: ShapeServer, workspace: Path) -> None:
    server.shape = SHAPES[shape]

    status, out, err = ask(
        "What is six times seven?", workspace, "--model", "openai:scripted", "--base-url",
        server.base_url,
    )  # fmt: skip

    assert status == 0, err
    assert server.codes_sent_back() == [CODE]
    assert any("42" in message for message in server.tool_messages())
    assert ANSWER in out
    assert "execute_code" not in out  # the call never shows as answer text
    assert len(server.bodies) == 2


async def test_the_editor_runs_the_call_of_each_server(server: ShapeServer, tmp_path: Path) -> None:
    """One editor session, the server switching shapes between prompts."""
    project = Path(shutil.copytree(FIXTURE_PROJECT, tmp_path / "project"))
    client = make_client({}, Client)
    env = {**os.environ, "PUNIE_LSP_MODEL_FACTORY": ""}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    settings = {"punie": {"model": "openai:scripted", "baseUrl": server.base_url}}
    await client.initialize_session(initialize_params("neovim", project, settings))
    outcomes: dict[str, tuple[str, str, list[str]]] = {}
    try:
        for name, shape in SHAPES.items():
            server.shape, server.bodies = shape, []
            result = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="punie.ask", arguments=[{"prompt": "What is six times seven?"}]
                )
            )
            assert result is not None
            outcomes[name] = (result["outcome"], result["answer"].strip(), result["code"])
    finally:
        await client.shutdown_session()
        await client.stop()

    assert outcomes == {name: ("ok", ANSWER, [CODE]) for name in SHAPES}


FAULT_ERRORS = {
    "closed-mid-answer": "closed its stream before the reply ended",
    "closed-mid-chunked-answer": "broke while it answered (peer closed connection",
    "error-body-with-200": "answered with an error instead of a stream: The model `qwen-coder`",
    "api-key-refused": "refused the API key (HTTP 401: Invalid API Key); set OPENAI_API_KEY",
    "context-exceeded": "cannot fit the prompt in its context window (HTTP 400: the request "
    "exceeds the available context size. try increasing the context size or enable context "
    "shift); start the server with a larger context",
    "context-exceeded-in-stream": "cannot fit the prompt in its context window",
    "cut-answer": "the model's reply reached {max_tokens} (2048 tokens) before it ended",
    "cut-call-as-text": "the model's reply reached {max_tokens} (2048 tokens) before it ended",
    "cut-tool-call-arguments": "the model's reply reached {max_tokens} (2048 tokens)",
}
"""What each fault in ``tests/model_servers.py`` is called in the run's error."""
FAULT_OUTCOMES = {
    name: "usage_limit" if name.startswith("cut-") else "model_error" for name in FAULTS
}
KEPT = {
    "closed-mid-answer": PARTIAL,
    "closed-mid-chunked-answer": PARTIAL,
    "error-body-with-200": "",
    "api-key-refused": "",
    "context-exceeded": "",
    "context-exceeded-in-stream": "",
    "cut-answer": CUT_ANSWER,
    # An unfinished call is not an answer: the markup was held back as a possible call
    # and is dropped, as a server's tool parser drops it (mlx_lm server sends none of it).
    "cut-call-as-text": "",
    "cut-tool-call-arguments": "",
}
"""What each fault leaves as the answer: the text the server streamed before it broke
(less markup held back as a possible call, in a reply cut at maxTokens)."""


@pytest.mark.parametrize("fault", FAULTS)
def test_ask_names_a_server_that_breaks_and_keeps_what_it_sent(
    fault: str, server: ShapeServer, workspace: Path
) -> None:
    """A stream cut short is a failed run with what was sent kept, never an ``ok`` answer
    (the half answer was printed with exit 0), a dead server mid-answer is not "cannot
    reach", a 200 carrying an error names the server's message (it was "ended without
    content or tool calls"), and a reply cut at max_tokens says so and runs nothing (a
    cut call written as text was printed as the answer, exit 0)."""
    server.fault = FAULTS[fault]

    status, out, err = ask(
        "What is six times seven?", workspace, "--model", "openai:qwen-coder", "--base-url",
        server.base_url,
    )  # fmt: skip

    assert status == 1, (out, err)
    error = err.splitlines()[-1]
    assert error.startswith("error: "), err
    assert FAULT_ERRORS[fault].format(max_tokens="--max-tokens") in error
    assert "cannot reach" not in error
    assert "Traceback" not in err and "Warning" not in err
    assert out.strip() == KEPT[fault].strip()
    assert server.codes_sent_back() == []  # nothing ran
    assert len(server.bodies) == 1


async def test_the_editor_is_told_of_each_server_fault(server: ShapeServer, tmp_path: Path) -> None:
    """The same faults through ``punie.ask``, one session: the error in one line naming
    the editor's setting, the streamed text kept as the answer; a good reply afterwards."""
    project = Path(shutil.copytree(FIXTURE_PROJECT, tmp_path / "project"))
    client = make_client({}, Client)
    env = {**os.environ, "PUNIE_LSP_MODEL_FACTORY": ""}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    settings = {"punie": {"model": "openai:qwen-coder", "baseUrl": server.base_url}}
    await client.initialize_session(initialize_params("neovim", project, settings))
    results: dict[str, dict[str, object]] = {}
    try:
        for name, fault in [*FAULTS.items(), ("none", None)]:
            server.fault = fault
            result = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="punie.ask", arguments=[{"prompt": "What is six times seven?"}]
                )
            )
            assert result is not None
            results[name] = result
    finally:
        await client.shutdown_session()
        await client.stop()

    for name in FAULTS:
        result = results[name]
        assert result["outcome"] == FAULT_OUTCOMES[name], (name, result)
        error = str(result["error"])
        assert FAULT_ERRORS[name].format(max_tokens="punie.maxTokens") in error, (name, error)
        assert "\n" not in error, (name, error)
        assert result.get("answer", "") == KEPT[name], (name, result)
        assert result.get("code", []) == [], (name, result)
    assert (results["none"]["outcome"], results["none"]["answer"]) == ("ok", ANSWER)


async def test_a_server_that_never_answers_fails_punie_ask_naming_the_setting(
    tmp_path: Path,
) -> None:
    """``punie.ask`` against a server that accepts and never answers: an error naming the
    URL and ``punie.requestTimeoutSeconds`` once that many seconds pass, not ~600 s."""
    project = Path(shutil.copytree(FIXTURE_PROJECT, tmp_path / "project"))
    client = make_client({}, Client)
    env = {**os.environ, "PUNIE_LSP_MODEL_FACTORY": ""}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    with silent_server() as url:
        settings = {"punie": {"model": "openai:hung", "baseUrl": url, "requestTimeoutSeconds": 1}}
        await client.initialize_session(initialize_params("neovim", project, settings))
        try:
            result = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="punie.ask", arguments=[{"prompt": "hi"}])
            )
        finally:
            await client.shutdown_session()
            await client.stop()
    assert result is not None
    assert result["outcome"] == "model_error", result
    assert url in result["error"]
    assert "sent nothing for 1 s" in result["error"]
    assert "punie.requestTimeoutSeconds" in result["error"]
    assert "\n" not in result["error"]


def test_a_server_that_reports_no_usage_is_said_once_without_a_python_warning(
    server: ShapeServer, workspace: Path
) -> None:
    """The ``punie-lsp ask`` process against a server whose streams carry no token counts:
    Pydantic AI's ``UsageLimitUnavailableWarning`` (its file, line and source line) was
    printed to the terminal and the summary said "0 tokens in"; now the summary says the
    server does not report them."""
    server.usage = False
    flags = ["--model", "openai:scripted", "--base-url", server.base_url]

    done = subprocess.run(
        [sys.executable, "-m", "punie_lsp", "ask", "6*7?", "--workspace", str(workspace), *flags],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert ANSWER in done.stdout
    assert "Warning" not in done.stderr and "warnings.warn" not in done.stderr, done.stderr
    assert "[2 model turns, tokens not reported by the server, 0 tool calls]" in done.stderr


PUNIE_PROGRAMS = [
    # Written here in the style of Punie's rows (data/phase33_merged: a typed tool, its
    # ``success`` verdict, fields printed in f-strings), for the sample project.
    'result = typecheck("pkg/")\n'
    "if result.success:\n"
    '    print("No type errors")\n'
    "else:\n"
    '    print(f"Found {result.error_count} errors")\n'
    "    for error in result.errors[:3]:\n"
    '        print(f"  {error.file}:{error.line} {error.code} - {error.message}")',
    'result = goto_definition("pkg/app.py", 4, 28, "Square")\n'
    "if result.success:\n"
    "    loc = result.locations[0]\n"
    '    print(f"Square is defined in {loc.file} at line {loc.line}")\n'
    "else:\n"
    '    print("Definition not found")',
]


def test_a_punie_conversation_is_replayed_and_reads_what_each_program_printed(
    server: ShapeServer, workspace: Path
) -> None:
    """Two programs in turn (Punie's compact XML, then Qwen3-Coder's spaced form), then an
    answer: both run as written, and each tool result the model reads is exactly what
    the program prints when ``punie-lsp run-code`` runs it on the same workspace (Punie's
    contract: "when a program prints, the model reads exactly what it printed", less the
    final newline)."""
    server.script = [
        punie_compact_xml(PUNIE_PROGRAMS[0]),
        qwen3_coder_as_text(PUNIE_PROGRAMS[1]),
        content(ANSWER),
    ]

    status, out, err = ask(
        "Type-check pkg and find Square", workspace, "--model", "openai:punie", "--base-url",
        server.base_url,
    )  # fmt: skip

    assert status == 0, err
    assert ANSWER in out
    assert server.codes_sent_back()[-2:] == PUNIE_PROGRAMS
    printed = []
    for program in PUNIE_PROGRAMS:
        done = subprocess.run(
            [sys.executable, "-m", "punie_lsp", "run-code", "-", "--workspace", str(workspace)],
            input=program,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        printed.append(json.loads(done.stdout)["stdout"])
    assert "Found 1 errors" in printed[0] and "pkg/app.py:" in printed[0]
    assert printed[1] == "Square is defined in pkg/shapes.py at line 20\n"
    # The final newline is dropped, as in Punie's rows (``<tool_response>\n…\n</tool_response>``).
    last = server.bodies[-1]["messages"]
    assert [m["content"] for m in last if m["role"] == "tool"] == [p.rstrip("\n") for p in printed]


def test_a_garbled_call_is_sent_back_to_the_model_not_shown_as_its_answer(
    server: ShapeServer, workspace: Path
) -> None:
    """Call markup the recogniser cannot read was the run's answer with outcome ``ok``;
    now the model is told its call could not be read, and its next reply counts."""
    server.script = [garbled_call(CODE), ollama_tool_calls(CODE), content(ANSWER)]

    status, out, err = ask(
        "What is six times seven?", workspace, "--model", "openai:small", "--base-url",
        server.base_url,
    )  # fmt: skip

    assert status == 0, err
    assert out.rstrip().endswith(ANSWER)
    assert server.codes_sent_back()[-1] == CODE
    retry = server.bodies[1]["messages"][-1]
    assert "tool call that could not be read" in str(retry["content"]), retry


def empty_reply(code: str) -> list[Chunk]:
    """A reply with no text and no call (LM Studio, a prompt over its context:
    lmstudio-ai/lmstudio-bug-tracker#2339, "200 with zero content deltas")."""
    return content("")


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        (garbled_call, "a tool call that could not be read"),
        (empty_reply, "a reply with no text and no call"),
    ],
)
def test_a_model_with_no_usable_answer_ends_naming_why(
    shape: Shape, reason: str, server: ShapeServer, workspace: Path
) -> None:
    """A model whose every reply is unreadable (or empty) fails in words that say so,
    not "Exceeded maximum output retries (3)"."""
    server.shape = shape

    status, out, err = ask(
        "What is six times seven?", workspace, "--model", "openai:small", "--base-url",
        server.base_url,
    )  # fmt: skip

    assert status == 1, (out, err)
    error = err.splitlines()[-1]
    assert error.startswith(f"error: the model gave no usable answer in 4 tries ({reason})")
    assert "retries" not in error
    assert len(server.bodies) == 4
