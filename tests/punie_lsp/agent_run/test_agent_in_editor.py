"""The agent from the editor, end to end: a real server, ty, sandbox and pygls client.

Only the model is scripted (``tests/scripted_models.py``, through the server's
test-only ``PUNIE_LSP_MODEL_FACTORY`` hook): it cannot be a real model here.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from punie_lsp.agent_run.streaming import STREAM_INTERVAL_SECONDS
from tests.conftest import Client, change_document, initialize_params, make_client, open_document

pytestmark = pytest.mark.timeout(120)

BROKEN = 'return "not an int"'


class Editor(Client):
    """A test client that records ``applyEdit``s and answers questions as told."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.messages_from_punie: list[dict[str, Any]] = []
        self.answer: str | None = None


def apply_edit(
    client: Editor, params: types.ApplyWorkspaceEditParams
) -> types.ApplyWorkspaceEditResult:
    client.applied.append(params)
    return types.ApplyWorkspaceEditResult(applied=True)


def show_message_request(
    client: Editor, params: types.ShowMessageRequestParams
) -> types.MessageActionItem | None:
    return types.MessageActionItem(title=client.answer) if client.answer else None


def punie_message(client: Editor, params: Any) -> None:
    # pygls hands unknown notifications' params over as namedtuples.
    client.messages_from_punie.append(params._asdict() if hasattr(params, "_asdict") else params)


@asynccontextmanager
async def session(
    project: Path,
    model: str,
    *,
    profile: str = "neovim",
    punie: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncGenerator[Editor]:
    client = make_client(
        {
            types.WORKSPACE_APPLY_EDIT: apply_edit,
            types.WINDOW_SHOW_MESSAGE_REQUEST: show_message_request,
            "punie/message": punie_message,
        },
        Editor,
    )
    assert isinstance(client, Editor)
    client.root = project
    server_env = {
        **os.environ,
        "PUNIE_LSP_MODEL_FACTORY": f"tests.scripted_models:{model}",
        **(env or {}),
    }
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=server_env)
    await client.initialize_session(initialize_params(profile, project, {"punie": punie or {}}))
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


async def command(client: Client, name: str, argument: Any, token: str | None = None) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=[argument], work_done_token=token)
    )


def applied_text(client: Editor, uri: str, before: str) -> str:
    """The buffer after the editor applies what punie sent (line edits, in order)."""
    [params] = client.applied
    changes = params.edit.document_changes or []
    [doc_edit] = [c for c in changes if isinstance(c, types.TextDocumentEdit)]
    assert doc_edit.text_document.uri == uri
    lines = before.splitlines(keepends=True)
    for edit in sorted(doc_edit.edits, key=lambda e: e.range.start.line, reverse=True):
        start, end = edit.range.start.line, edit.range.end.line
        assert isinstance(edit, types.TextEdit)
        lines[start:end] = [edit.new_text]
    return "".join(lines)


def diagnostic_of(project: Path) -> dict[str, Any]:
    line = next(
        i
        for i, text in enumerate((project / "pkg/app.py").read_text().splitlines())
        if BROKEN in text
    )
    return {
        "range": {"start": {"line": line, "character": 11}, "end": {"line": line, "character": 23}},
        "message": "Return type does not match returned value",
        "code": "invalid-return-type",
        "source": "ty",
    }


async def test_ask_streams_its_answer(project: Path) -> None:
    # Words further apart than the stream interval go out one by one, as generated.
    slow = {"PUNIE_TEST_CHUNK_DELAY": str(STREAM_INTERVAL_SECONDS * 1.5)}
    async with session(project, "hello", env=slow) as client:
        result = await command(client, "punie.ask", {"prompt": "Is my code fine?"}, token="ask-1")
        assert result["outcome"] == "ok"
        assert result["answer"].strip() == "Hello from Punie: your code looks fine."
        texts = [m["text"] for m in client.messages_from_punie if m["kind"] == "text"]
        assert len(texts) > 3  # word by word, as it was generated
        assert "".join(texts).strip() == result["answer"].strip()
        assert {m["conversationId"] for m in client.messages_from_punie} == {
            result["conversationId"]
        }
        reports = client.progress_reports["ask-1"]
        assert type(reports[0]).__name__ == "WorkDoneProgressBegin"
        assert type(reports[-1]).__name__ == "WorkDoneProgressEnd"
        status = await command(client, "punie.status", {})
        assert status["model"]["loaded"] is True


async def test_fix_applies_a_versioned_edit_checked_by_ty(project: Path) -> None:
    async with session(project, "fixer", punie={"edits": "auto"}) as client:
        path = project / "pkg" / "app.py"
        uri = open_document(client, path)
        buffer = path.read_text() + "\n# typed but not saved\n"
        change_document(client, uri, 2, buffer)
        result = await command(
            client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}
        )

        assert result["applied"] is True, result
        assert result["diagnosticsDelta"] == [
            {"file": "pkg/app.py", "before": 1, "after": 0, "errors": []}
        ]
        [params] = client.applied
        [doc_edit] = params.edit.document_changes or []
        assert isinstance(doc_edit, types.TextDocumentEdit)
        assert doc_edit.text_document.version == 2
        assert applied_text(client, uri, buffer) == buffer.replace(BROKEN, "return 1")
        assert BROKEN in path.read_text()  # nothing written behind the editor's back


async def test_a_change_typed_during_the_run_blocks_the_edit(project: Path) -> None:
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.3"}
    async with session(project, "fixer", punie={"edits": "auto"}, env=slow) as client:
        path = project / "pkg" / "app.py"
        uri = open_document(client, path)
        running = asyncio.ensure_future(
            command(client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}, "fix")
        )
        while "fix" not in client.progress_reports:
            await asyncio.wait_for(client.wait_for_notification(types.PROGRESS), 10)
        change_document(client, uri, 2, path.read_text() + "\n# the user kept typing\n")
        result = await running
        assert result["applied"] is False
        assert "changed while Punie worked" in result["reason"]
        assert client.applied == []
        assert any("changed while Punie worked" in m.message for m in client.messages)


async def test_cancel_mid_run_stops_within_1s_and_applies_nothing(project: Path) -> None:
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.05"}
    async with session(project, "chatterbox", punie={"edits": "auto"}, env=slow) as client:
        running = asyncio.ensure_future(command(client, "punie.ask", {"prompt": "Talk"}, "talk"))
        while not client.messages_from_punie:
            # The server imports pygls, Pydantic AI and the tools first: seconds on a busy
            # machine. The bound under test is the cancellation below, not this start-up.
            await asyncio.wait_for(client.wait_for_notification("punie/message"), 60)
        started = time.monotonic()
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token="talk"))
        result = await asyncio.wait_for(running, 5)
        assert time.monotonic() - started < 1.0
        assert result["outcome"] == "cancelled"
        assert result["edits"] == []
        assert client.applied == []


async def test_fast_text_is_coalesced_in_order_and_nothing_lost(project: Path) -> None:
    async with session(project, "chatterbox") as client:  # 400 words, no delay
        result = await command(client, "punie.ask", {"prompt": "Talk"}, token="talk")
        assert result["outcome"] == "ok"
        texts = [m["text"] for m in client.messages_from_punie if m["kind"] == "text"]
        assert "".join(texts) == " ".join(["word"] * 400) + " "
        # One message per interval, not per chunk: 400 chunks come out in far fewer.
        assert 1 <= len(texts) < 100, len(texts)
        assert texts[0] == "word "  # the first chunk is not held back
        assert type(client.progress_reports["talk"][-1]).__name__ == "WorkDoneProgressEnd"


async def test_two_runs_at_once(project: Path) -> None:
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.01"}
    async with session(project, "chatterbox", env=slow) as client:
        first, second = await asyncio.gather(
            command(client, "punie.ask", {"prompt": "one", "conversationId": "a"}),
            command(client, "punie.ask", {"prompt": "two", "conversationId": "b"}),
        )
        assert (first["conversationId"], second["conversationId"]) == ("a", "b")
        assert first["outcome"] == second["outcome"] == "ok"
        by_conversation = {m["conversationId"] for m in client.messages_from_punie}
        assert by_conversation == {"a", "b"}


async def test_a_prompt_queued_in_its_conversation_says_so_and_can_be_cancelled(
    project: Path,
) -> None:
    """Two Asks in one conversation run one after the other (VS Code's *Ask* passes the
    conversation on): the second one's progress says it waits for the first (it said
    "starting the model…" for as long as the first ran), and cancelling it from the
    editor ends it at once while the first goes on."""
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.3"}
    async with session(project, "chatterbox", env=slow) as client:
        first = asyncio.ensure_future(
            command(client, "punie.ask", {"prompt": "one", "conversationId": "c"}, "one")
        )
        while not any(m.get("kind") == "text" for m in client.messages_from_punie):
            await asyncio.wait_for(client.wait_for_notification("punie/message"), 10)
        second = asyncio.ensure_future(
            command(client, "punie.ask", {"prompt": "two", "conversationId": "c"}, "two")
        )

        def says_it_waits() -> bool:
            return any(
                "waiting for the previous prompt" in (getattr(r, "message", None) or "")
                for r in client.progress_reports.get("two", [])
            )

        async def until_it_says_it_waits() -> None:
            while not says_it_waits():
                await client.wait_for_notification(types.PROGRESS)

        await asyncio.wait_for(until_it_says_it_waits(), 20)
        cancelled_at = time.monotonic()
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token="two"))
        result = await asyncio.wait_for(second, 5)
        assert time.monotonic() - cancelled_at < 1.0
        assert result["outcome"] == "cancelled"
        assert not first.done()
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token="one"))
        assert (await asyncio.wait_for(first, 5))["outcome"] == "cancelled"


async def test_edits_ask_without_annotations_asks_by_message(project: Path) -> None:
    # One session is asked three times; the edit goes out only when the user says "Apply"
    # (no answer, as when the message is dismissed, is a no).
    async with session(project, "fixer", punie={"edits": "ask"}) as client:
        uri = open_document(client, project / "pkg" / "app.py")
        for answer, applied in [("Discard", False), (None, False), ("Apply", True)]:
            client.answer = answer
            before = len(client.applied)
            result = await command(
                client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}
            )
            assert result["applied"] is applied, (answer, result)
            assert len(client.applied) - before == int(applied), answer


async def test_edits_ask_with_annotations_needs_confirmation(project: Path) -> None:
    async with session(project, "test_writer", profile="visual-studio-code") as client:
        uri = (project / "pkg" / "app.py").as_uri()
        result = await command(
            client,
            "punie.writeTests",
            {
                "uri": uri,
                "range": {
                    "start": {"line": 11, "character": 0},
                    "end": {"line": 13, "character": 0},
                },
            },
        )
        assert result["applied"] is True
        [params] = client.applied
        edit = params.edit
        assert edit.change_annotations is not None
        assert edit.change_annotations["punie"].needs_confirmation is True
        create, write = edit.document_changes or []
        assert isinstance(create, types.CreateFile)
        assert create.uri == (project / "tests" / "test_app.py").as_uri()
        assert isinstance(write, types.TextDocumentEdit)
        assert all(isinstance(e, types.AnnotatedTextEdit) for e in write.edits)
        assert not (project / "tests" / "test_app.py").exists()


async def test_edits_never_returns_them_only(project: Path) -> None:
    async with session(project, "fixer", punie={"edits": "never"}) as client:
        uri = (project / "pkg" / "app.py").as_uri()
        result = await command(
            client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)}
        )
        assert result["applied"] is False
        [edit] = result["edits"]
        assert "return 1" in edit["text"]
        assert client.applied == []


async def test_explain_never_edits(project: Path) -> None:
    async with session(project, "fixer", punie={"edits": "auto"}) as client:
        uri = (project / "pkg" / "app.py").as_uri()
        span = {"start": {"line": 11, "character": 0}, "end": {"line": 13, "character": 0}}
        result = await command(client, "punie.explain", {"uri": uri, "range": span})
        assert result["edits"] == []
        assert client.applied == []


async def test_traces_are_captured_as_json_lines(project: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"PUNIE_LSP_DATA_DIR": str(data)}
    async with session(project, "fixer", punie={"captureTraces": True}, env=env) as client:
        uri = (project / "pkg" / "app.py").as_uri()
        await command(client, "punie.fix", {"uri": uri, "diagnostic": diagnostic_of(project)})
        await command(client, "punie.ask", {"prompt": "thanks"})
    lines = (data / "traces.jsonl").read_text().splitlines()
    assert len(lines) == 2
    fix = json.loads(lines[0])
    assert fix["command"] == "fix"
    assert "invalid-return-type" in fix["prompt"]
    assert fix["code"][0].startswith("text = read_file")
    assert fix["diagnosticsDelta"][0]["after"] == 0
    assert [c["tool"] for c in fix["calls"]] == ["read_file", "write_file", "typecheck"]
    kinds = [part["part_kind"] for message in fix["messages"] for part in message["parts"]]
    assert "tool-return" in kinds


async def test_code_actions_merge_punie_and_ty_without_running_the_model(project: Path) -> None:
    async with session(project, "chatterbox") as client:
        uri = open_document(client, project / "pkg" / "app.py")
        diagnostic = diagnostic_of(project)
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=11, character=0),
                    end=types.Position(line=13, character=0),
                ),
                context=client.protocol._converter.structure(
                    {"diagnostics": [diagnostic]}, types.CodeActionContext
                ),
            )
        )
        titles = [a.title for a in actions or []]
        assert "Punie: explain" in titles
        assert "Punie: write tests" in titles
        assert "Punie: ask about selection" in titles
        assert any(t.startswith("Punie: fix invalid-return-type") for t in titles)
        assert any(not t.startswith("Punie") for t in titles)  # ty's own quick fix stays
        status = await command(client, "punie.status", {})
        assert status["model"]["loaded"] is False  # listing never touched the model


async def test_misuse_is_named(project: Path) -> None:
    """pygls refuses a bad argument before the handler runs: InvalidParams, one line. What
    a handler refuses itself (a file outside the workspace or unreadable, an unknown tool
    or its bad argument) has the same shape: it lacked pygls's "Invalid Params:" prefix."""
    async with session(project, "hello") as client:
        app = (project / "pkg/app.py").as_uri()
        gone = (project / "pkg/gone.py").as_uri()
        lines = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
        for name, argument, message in [
            ("punie.explain", {"uri": app}, "Invalid Params: punie.explain: 'range' is required"),
            ("punie.ask", {}, "Invalid Params: punie.ask: 'prompt' is required"),
            ("punie.fix", {"uri": app}, "Invalid Params: punie.fix: 'range' (the selection) or"),
            ("punie.fix", "app.py", "Invalid Params: punie.fix: the argument must be an object"),
            # A file opened outside the project (``nvim /tmp/scratch.py``): say what to do.
            (
                "punie.ask",
                {"prompt": "hi", "uri": "file:///tmp/scratch.py"},
                "Invalid Params: punie.ask: file:///tmp/scratch.py is not inside a workspace "
                f"folder ({project}): the agent reads and edits only inside one; open the "
                "file from its project's folder",
            ),
            (
                "punie.runCode",
                {"code": "1", "uri": "file:///tmp/scratch.py"},
                "Invalid Params: punie.runCode: file:///tmp/scratch.py is not inside",
            ),
            (
                "punie.explain",
                {"uri": gone, "range": lines},
                "Invalid Params: punie.explain: cannot read pkg/gone.py",
            ),
            ("punie.tool", {"name": "nope"}, "Invalid Params: punie.tool: unknown tool 'nope'"),
            (
                "punie.tool",
                {"name": "read_file", "args": {"path": 3}},
                "Invalid Params: punie.tool read_file: ",
            ),
        ]:
            with pytest.raises(JsonRpcInvalidParams) as refused:
                await command(client, name, argument)
            assert refused.value.message.startswith(message), refused.value.message
            assert "\n" not in refused.value.message
        for arguments, message in [
            (None, "Invalid Params: punie.ask: needs one object argument"),
            ([{"prompt": "hi"}, 2], "Invalid Params: Expected 1 arguments, got 2"),  # pygls's
        ]:
            with pytest.raises(JsonRpcInvalidParams, match=re.escape(message)):
                await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="punie.ask", arguments=arguments)
                )
        assert await command(client, "punie.resetConversation", {"conversationId": "nope"}) is None


async def test_a_huge_selection_reaches_the_model_cut_with_a_note(project: Path) -> None:
    """``ggVG`` on a long file, then explain: the prompt holds the selection's first lines
    up to a bound and says which lines are left out and how to read them, instead of a
    megabyte prompt a local model reads for many minutes (and past its context)."""
    path = project / "pkg" / "big.py"
    lines = [f"def f{i}(x: int) -> int:\n    return x + {i}\n" for i in range(20000)]
    path.write_text("".join(lines))
    async with session(project, "echo") as client:
        uri = path.as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=0, text=path.read_text()
                )
            )
        )
        everything = {"start": {"line": 0, "character": 0}, "end": {"line": 40000, "character": 0}}
        for name in ("punie.explain", "punie.ask", "punie.writeTests", "punie.fix"):
            argument = {"uri": uri, "range": everything, "prompt": "what is it?"}
            prompt = (await command(client, name, argument))["answer"]
            assert len(prompt) < 20_000, (name, len(prompt))
            assert "   1 | def f0(x: int) -> int:" in prompt
            assert "40000 | " not in prompt
            assert re.search(r"lines \d+-40000 of the selection are left out", prompt), prompt[
                -400:
            ]
            assert 'read_file("pkg/big.py")' in prompt
        minified = project / "pkg" / "min.py"
        minified.write_text("x = [" + "1, " * 500_000 + "]\n")
        one_line = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 9}}
        argument = {"uri": minified.as_uri(), "range": one_line}
        prompt = (await command(client, "punie.explain", argument))["answer"]
        assert len(prompt) < 20_000
        assert prompt.count("1, 1, ") > 1000
        assert "the rest of this line is left out" in prompt


async def test_editors_without_a_plugin_get_the_answer_as_a_message(project: Path) -> None:
    async with session(project, "hello") as client:
        await command(client, "punie.ask", {"prompt": "Is my code fine?"})

        def shown() -> bool:
            return any(m.message.startswith("Punie: Hello from Punie") for m in client.messages)

        while not shown():
            await asyncio.wait_for(client.wait_for_notification(types.WINDOW_SHOW_MESSAGE), 10)
