"""One prompt through the agent on a scripted model: real Monty, real typed tools, real ty."""

from __future__ import annotations

import json
from pathlib import Path

from agent import AgentDeps, ProgressEvent
from agent.code_mode import CodeModeTools
from tests.agent.conftest import Code, Script, make_agent
from typed_tools import TyClient
from typed_tools.workspace import split_lines

APP = "pkg/app.py"


async def test_two_programs_then_an_answer(
    deps: AgentDeps, code_tools: CodeModeTools, events: list[ProgressEvent]
) -> None:
    programs = [
        'r = list_files("pkg/*.py")\nr.files',
        'print(len(read_file("pkg/shapes.py").split("\\n")))',
    ]
    script = Script([*map(Code, programs), "Three modules; shapes.py is the longest."])
    result = await make_agent(script, code_tools).ask("What is in pkg?", deps)

    assert (result.outcome, result.error) == ("ok", None)
    assert result.answer.strip() == "Three modules; shapes.py is the longest."
    assert result.code == programs
    assert [(c.tool, c.args) for c in result.calls] == [
        ("list_files", {"glob": "pkg/*.py"}),
        ("read_file", {"path": "pkg/shapes.py"}),
    ]
    assert result.turns == 3
    assert result.usage.requests == 3
    # The second request carried the first program's value back to the model.
    assert 'value: ["pkg/__init__.py", "pkg/app.py", "pkg/shapes.py"]' in script.sent(2)
    lines = len(split_lines((deps.tools.root / "pkg/shapes.py").read_text()))
    # A program that prints is answered with exactly what it printed, as in Punie's rows.
    assert script.tool_returns(3)[-1] == str(lines)
    kinds = [e.kind for e in events]
    assert kinds[:6] == ["code", "toolCall", "toolResult", "code", "toolCall", "toolResult"]
    assert kinds[-1] == "answer"
    assert "".join(e.text for e in events if e.kind == "text") == result.answer
    # Each program's check started as soon as the model's call was complete.
    checker = deps.pool.checker(code_tools.stubs)
    assert (checker.checks, checker.claimed) == (2, 2)


async def test_field_access_on_a_real_type_error(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script(
        [
            Code(f'r = typecheck("{APP}")\ne = r.errors[0]\n[e.line, e.severity, r.error_count]'),
            "broken() returns a str on line 13.",
        ]
    )
    result = await make_agent(script, code_tools).ask("Why does app.py fail?", deps)

    assert result.outcome == "ok"
    assert 'value: [13, "error", 1]' in script.sent(2)
    assert result.calls[0].tool == "typecheck"
    assert not result.calls[0].success  # Punie's verdict: ty found an error


async def test_a_runtime_error_is_sent_back_and_the_fix_runs(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script(
        [
            Code('files = list_files("pkg/*.py").files\nfiles[10]'),
            Code('files = list_files("pkg/*.py").files\nlen(files)'),
            "There are three.",
        ]
    )
    result = await make_agent(script, code_tools).ask("How many modules?", deps)

    assert result.outcome == "ok"
    retry = script.sent(2)
    assert "runtime error at line 2" in retry
    assert "IndexError" in retry
    assert "value: 3" in script.sent(3)
    assert len(result.code) == 2


async def test_a_type_error_is_caught_before_running_and_fixed(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script(
        [
            Code(f'r = typecheck("{APP}")\nr.eror_count'),
            Code(f'r = typecheck("{APP}")\nr.error_count'),
            "app.py has 1 type error.",
        ]
    )
    result = await make_agent(script, code_tools).ask("How many type errors?", deps)

    assert result.outcome == "ok"
    assert "typing error at line 2" in script.sent(2)
    assert "eror_count" in script.sent(2)
    # The failed program never ran: only the fixed one called typecheck.
    assert [c.tool for c in result.calls] == ["typecheck"]
    assert "value: 1\n" in script.sent(3)


async def test_code_that_keeps_failing_ends_the_run(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script([Code("1 / 0")])
    result = await make_agent(script, code_tools, code_retries=2).ask("Divide", deps)

    assert result.outcome == "code_failed"
    assert result.error is not None
    assert "execute_code" in result.error
    assert len(result.code) == 3  # the first attempt and two retries


async def test_writes_become_edits_and_the_disk_is_untouched(
    deps: AgentDeps, code_tools: CodeModeTools, workspace: Path
) -> None:
    before = (workspace / APP).read_text()
    fixed = before.replace('return "not an int"', "return 0")
    script = Script(
        [
            Code(
                f'text = read_file("{APP}")\n'
                f"new = text.replace('return \"not an int\"', 'return 0')\n"
                f'write_file("{APP}", new)'
            ),
            Code(f'r = typecheck("{APP}")\n[r.success, r.error, r.error_count]'),
            "Fixed broken() to return an int.",
        ]
    )
    # A ty language server of the run's own, so typecheck sees the proposed text. Per-file
    # pull diagnostics: in workspace mode ty's workspace/diagnostic did not answer once the
    # overlay made the file clean (reproduced without the agent; reported to typed_tools).
    deps.tools.ty = ty = TyClient(workspace, workspace_diagnostics=False)
    await ty.start()
    try:
        result = await make_agent(script, code_tools, edits="auto").ask("Fix app.py", deps)
    finally:
        await ty.stop()

    assert result.outcome == "ok"
    assert [(e.path, e.text) for e in result.edits] == [(str(workspace / APP), fixed)]
    assert (workspace / APP).read_text() == before
    assert "value: [true, null, 0]" in script.sent(3)  # ty saw the proposed text, not the disk


async def test_the_request_limit_is_a_clear_outcome(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script([Code("1 + 1")])  # a model that never stops calling the tool
    result = await make_agent(script, code_tools, request_limit=3).ask("Loop", deps)

    assert result.outcome == "usage_limit"
    assert result.error is not None
    assert "request_limit" in result.error or "request limit" in result.error
    assert len(script.requests) == 3
    assert (result.turns, result.usage.requests) == (3, 3)  # counted even though it failed
    assert result.code == ["1 + 1"] * 3
    assert result.edits == []


async def test_the_token_limit_is_a_clear_outcome(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script([Code("1 + 1"), "done"])
    result = await make_agent(script, code_tools, total_tokens_limit=50).ask("Hi", deps)

    assert result.outcome == "usage_limit"
    assert result.error is not None
    assert "total_tokens_limit" in result.error or "token" in result.error


async def test_a_call_written_as_text_runs_and_is_never_shown(
    deps: AgentDeps, code_tools: CodeModeTools, events: list[ProgressEvent]
) -> None:
    """Any backend's text goes through the recogniser: JSON content (Ollama's habit) runs."""
    program = 'len(list_files("pkg/*.py").files)'
    call = json.dumps({"name": "execute_code", "arguments": {"code": program}})
    script = Script([call, "There are three modules."])

    result = await make_agent(script, code_tools).ask("How many modules?", deps)

    assert (result.outcome, result.error) == ("ok", None)
    assert result.code == [program]
    assert "value: 3" in script.sent(2)
    streamed = "".join(e.text for e in events if e.kind == "text")
    assert "execute_code" not in streamed
    assert streamed == result.answer


async def test_a_fenced_program_runs_but_code_shown_in_prose_is_the_answer(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    program = 'typecheck("pkg/app.py").error_count'
    shown = "Like this: ```python\ndef add(a: int, b: int) -> int:\n    return a + b\n``` done."
    script = Script([f"Checking.\n```python\n{program}\n```", shown])

    result = await make_agent(script, code_tools).ask("Errors? And how do I add?", deps)

    assert result.outcome == "ok"
    assert result.code == [program + "\n"]
    assert result.answer.strip() == shown


async def test_an_empty_answer_is_sent_back_for_words(
    deps: AgentDeps, code_tools: CodeModeTools
) -> None:
    script = Script(["", "pkg has three modules."])
    result = await make_agent(script, code_tools).ask("What is in pkg?", deps)

    assert (result.outcome, result.answer.strip()) == ("ok", "pkg has three modules.")
    assert result.usage.requests == 2
    assert "Answer the user in plain text, or call execute_code." in script.sent(2)
