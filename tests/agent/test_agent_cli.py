"""``punie-lsp ask`` end to end on a scripted model: answer on stdout, work on stderr."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_ai.models import Model

import agent.core
from agent.cli import main
from agent.config import AgentConfig
from tests.agent.conftest import Code, Script, closed_port
from tests.model_servers import silent_server

PUNIE = [sys.executable, "-m", "punie_lsp"]


def test_ask_streams_the_answer_and_shows_code_calls_and_diffs(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = Script(
        [
            Code('r = typecheck("pkg/app.py")\nwrite_file("notes.txt", "hi\\n")\nr.error_count'),
            "One type error; I left a note.",
        ]
    )

    def scripted(config: AgentConfig) -> Model:
        assert config.model == "openai:qwen"
        assert config.base_url == "http://127.0.0.1:1/v1"
        return script.model()

    monkeypatch.setattr(agent.core, "build_model", scripted)
    out = io.StringIO()

    status = main(
        [
            "ask",
            "What is wrong?",
            "--workspace",
            str(workspace),
            "--model",
            "openai:qwen",
            "--base-url",
            "http://127.0.0.1:1/v1",
        ],
        out=out,
    )

    err = capsys.readouterr().err
    assert status == 0, err
    stdout = out.getvalue()
    assert stdout.startswith("One type error; I left a note. \n")
    assert "+++ b/notes.txt\n@@ -0,0 +1 @@\n+hi\n" in stdout
    assert '│ r = typecheck("pkg/app.py")' in err
    assert "↳ typecheck(path='pkg/app.py')" in err
    assert "◀ value: 1" in err
    assert "proposed edit (not applied)" in err
    assert not (workspace / "notes.txt").exists()


def test_an_empty_prompt_is_a_usage_error(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to load the default model (minutes, or a download) to answer nothing."""
    assert main(["ask", "  ", "--workspace", str(workspace)]) == 2
    assert "the prompt is empty" in capsys.readouterr().err


def test_a_bad_model_string_is_a_usage_error(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["ask", "hi", "--workspace", str(workspace), "--model", "gpt-4"])

    assert status == 2
    assert "unknown model 'gpt-4'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--base-url", "localhost:11434"], "invalid --base-url: must be an http:// or https://"),
        (["--temperature", "3"], "invalid --temperature: must be at least 0 and at most 2, got 3"),
        (["--max-tokens", "0"], "invalid --max-tokens: must be at least 1 and at most 131072"),
        (["--request-timeout-seconds", "0"], "invalid --request-timeout-seconds: must be above 0"),
    ],
)
def test_a_flag_outside_the_settings_is_a_usage_error_naming_it(
    workspace: Path, capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    status = main(["hi", "--workspace", str(workspace), "--model", "openai:m", *flags])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert named in err


@pytest.mark.usefixtures("allow_requests")
def test_an_unreachable_server_fails_with_its_url(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    status = main(["hi", "--workspace", str(workspace), "--model", "openai:m", "--base-url", url])

    assert status == 1
    assert f"cannot reach the OpenAI-compatible server at {url}" in capsys.readouterr().err


def test_a_server_that_never_answers_times_out_naming_url_and_flag(workspace: Path) -> None:
    """A server that accepts and stays silent: one error line after the timeout, not ~600 s.

    The real ``punie-lsp ask`` process against a real socket that never answers.
    """
    with silent_server() as url:
        flags = ["--model", "openai:m", "--base-url", url, "--request-timeout-seconds", "1"]
        done = subprocess.run(
            [*PUNIE, "ask", "hi", "--workspace", str(workspace), *flags],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    [error] = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert url in error
    assert "sent nothing for 1 s" in error
    assert "--request-timeout-seconds" in error
    assert "Traceback" not in done.stderr
