"""The registry: entry-point plug-ins, stubs that type-check, JSON schema, call_tool, CLI."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from ty import find_ty_bin

from typed_tools import (
    ENTRY_POINT_GROUP,
    ToolArgumentError,
    ToolContext,
    builtin_tools,
    call_tool,
    json_schema,
    load_tools,
    stubs,
)
from typed_tools.cli import main

PLUGIN = '''
from typed_tools import ToolContext, ToolResult


class ShoutResult(ToolResult):
    """A shouted text."""

    text: str = ""
    """The text in capitals."""


async def shout(ctx: ToolContext, text: str, times: int = 1) -> ShoutResult:
    """Repeat ``text`` in capitals (a plug-in shown through entry points)."""
    return ShoutResult(success=True, text=" ".join([text.upper()] * times))
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution installed on sys.path with a ``punie.tools`` entry point."""
    site = tmp_path / "site"
    dist = site / "punie_shout-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "punie_shout.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: punie-shout\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nshout = punie_shout:shout\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()


async def test_plugin_is_loaded_validated_and_called(plugin: None, tmp_path: Path) -> None:
    tools = load_tools()
    assert set(builtin_tools()) < set(tools) and "shout" in tools
    spec = tools["shout"]
    assert spec.result_model.__name__ == "ShoutResult"
    assert [p.name for p in spec.parameters] == ["text", "times"]
    ctx = ToolContext(root=tmp_path)
    result = await call_tool("shout", ctx, {"text": "hi", "times": 2}, tools)
    assert not isinstance(result, str)
    assert result.model_dump() == {
        "success": True,
        "error": None,
        "parse_error": None,
        "text": "HI HI",
    }
    with pytest.raises(ToolArgumentError, match="'times' must be int"):
        await call_tool("shout", ctx, {"text": "hi", "times": "2"}, tools)
    assert "def shout(text: str, times: int = 1) -> ShoutResult:" in stubs(tools)


async def test_call_tool_misuse(tmp_path: Path) -> None:
    ctx = ToolContext(root=tmp_path)
    with pytest.raises(ToolArgumentError, match="unknown tool 'nope'"):
        await call_tool("nope", ctx, {})
    with pytest.raises(ToolArgumentError, match="missing a required argument: 'path'"):
        await call_tool("read_file", ctx, {})


def test_import_has_no_side_effects() -> None:
    code = (
        "import typed_tools, typed_tools.ty_pool as t, psutil;"
        "print(t._default is None, psutil.Process().children())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True []"  # no pool, no ty child, no plug-in loaded


def test_stubs_type_check_and_catch_misuse(tmp_path: Path) -> None:
    source = stubs(builtin_tools())
    assert "ctx" not in source.split("def typecheck(")[1].split(")")[0]
    (tmp_path / "tools.pyi").write_text(source)
    (tmp_path / "good.py").write_text(
        "from tools import typecheck, goto_definition\n"
        "result = typecheck('src')\n"
        "line: int = result.errors[0].line\n"
        "where: str = goto_definition('a.py', symbol='f').locations[0].file\n"
    )
    ok = subprocess.run(
        [find_ty_bin(), "check", "tools.pyi", "good.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "bad.py").write_text(
        "from tools import typecheck\ntypecheck('x').errors[0].lines\n"
    )
    bad = subprocess.run(
        [find_ty_bin(), "check", "bad.py"], cwd=tmp_path, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "missing-attribute" in bad.stdout


def test_json_schema_describes_arguments_and_results() -> None:
    schema = json_schema(builtin_tools())
    hover = schema["hover"]
    assert hover["parameters"]["required"] == ["file_path"]
    assert set(hover["parameters"]["properties"]) == {"file_path", "line", "column", "symbol"}
    check = schema["typecheck"]["result"]
    assert check["properties"]["errors"]["description"].startswith("Every diagnostic")
    assert "TypeCheckError" in check["$defs"]
    json.dumps(schema)


def test_cli_runs_a_tool_and_prints_json(
    ctx: ToolContext, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["search", "--pattern", r"def \w+", "--workspace", str(ctx.root), "--path", "demo"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["success"] and out["match_count"] == 1
    assert out["matches"][0] == {
        "file": "demo/calc.py",
        "line": 1,
        "column": 1,
        "text": out["matches"][0]["text"],
    }

    code = main(["read_file", "--path", "../x", "--workspace", str(ctx.root)])
    assert code == 1 and "outside the workspace" in capsys.readouterr().err
    code = main(["typecheck", "--path", "../x", "--workspace", str(ctx.root)])
    assert code == 1 and "outside the workspace" in json.loads(capsys.readouterr().out)["error"]
    code = main(["read_file", "--path", "demo/calc.py", "--workspace", str(ctx.root)])
    assert code == 0 and capsys.readouterr().out == (ctx.root / "demo/calc.py").read_text()

    assert main(["search", "--pattern", "x", "--max-results", "many"]) == 2
    assert main(["--list"]) == 0 and "typecheck" in capsys.readouterr().out
    assert main(["git_diff", "--help"]) == 0 and "--staged" in capsys.readouterr().out


def test_the_context_keeps_backend_as_a_read_only_name_of_ty(tmp_path: Path) -> None:
    """Plug-in tools written when ``ToolContext.ty`` was ``backend`` still read it."""
    from typed_tools import TyClient

    client = TyClient(tmp_path)
    ctx = ToolContext(root=tmp_path, ty=client)
    assert ctx.backend is client
    assert ToolContext(root=tmp_path).backend is None


UNBOUNDED_ON_PURPOSE = {"line"}
"""Checked against the file instead: the result says ``line 0 is outside pkg/app.py (1-19)``."""


def test_every_number_argument_of_a_builtin_tool_has_bounds() -> None:
    """The sweep, kept: a new tool's count or limit cannot slip in unbounded."""
    unbounded = []
    for name, spec in builtin_tools().items():
        hints = typing.get_type_hints(inspect.unwrap(spec.function), include_extras=True)
        for parameter in spec.parameters:
            if parameter.name in UNBOUNDED_ON_PURPOSE:
                continue
            members = typing.get_args(hints[parameter.name]) or (hints[parameter.name],)
            annotated = [m for m in (hints[parameter.name], *members) if hasattr(m, "__metadata__")]
            numeric = {int, float} & {*members, parameter.annotation}
            if numeric and not annotated:
                unbounded.append(f"{name}({parameter.name})")
    assert unbounded == []


def _tool(project: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """``punie-lsp tool ARGS --workspace PROJECT``, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "punie_lsp", "tool", *args, "--workspace", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["git_log", "--count", "-5"],
            "git_log: argument 'count' must be int from 1 to 10000, got int -5",
        ),
        (["git_log", "--count", "0"], "argument 'count' must be int from 1 to 10000, got int 0"),
        (
            ["search", "--pattern", "x", "--max-results", "-1"],
            "'max_results' must be int from 1 to 10000",
        ),
        (
            ["hover", "--file-path", "pkg/app.py", "--line", "8", "--column", "-1"],
            "'column' must be int from 0 to 2147483647 or None, got int -1",
        ),
    ],
)
def test_a_number_outside_its_range_is_one_error_line(
    project: Path, args: list[str], said: str
) -> None:
    """``punie-lsp tool git_log --count -5`` used to answer ``success: true`` with no commits."""
    done = _tool(project, args)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and said in line
    assert done.stdout == ""


def test_bounds_leave_punies_signatures_as_they_are() -> None:
    text = stubs(builtin_tools())
    assert "def git_log(path: str = '.', count: int = 10) -> GitLogResult:" in text
    assert "max_results: int = 200" in text
    assert "column: int | None = None" in text
    assert "Annotated" not in text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["run_command", "--command", "grep", "--args", "notjson"],
            "argument --args: Input should be a valid array, written as JSON, "
            "e.g. '[\"-rn\", \"TODO\"]', got 'notjson'",
        ),
        (["git_log", "--count", "abc"], "argument --count: Input should be a valid integer"),
    ],
)
def test_an_option_that_does_not_parse_names_itself_once(
    project: Path, args: list[str], said: str
) -> None:
    """It said "argument --args: --args: Input should be a valid array" (found by a fresh
    user's pass)."""
    done = _tool(project, args)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert said in last
    flag = said.split()[1].rstrip(":")
    assert f"{flag}: {flag}:" not in last
