"""read_file, write_file (overlay only), list_files, search, and the workspace boundary."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from typed_tools import ToolArgumentError, ToolContext
from typed_tools.files import list_files, read_file, search, write_file
from typed_tools.typecheck import typecheck


async def test_read_file_returns_the_text(ctx: ToolContext) -> None:
    text = await read_file(ctx, "demo/calc.py")
    assert text == (ctx.root / "demo/calc.py").read_text()
    assert text.startswith("def add(")


async def test_write_file_is_seen_by_later_reads_but_not_written(ctx: ToolContext) -> None:
    before = (ctx.root / "demo/calc.py").read_text()
    written = await write_file(ctx, "demo/calc.py", "VALUE = 1\n")
    created = await write_file(ctx, "demo/new.py", "NEW_NAME = 2\n")
    assert written.startswith("Proposed to replace demo/calc.py (1 line)")
    crlf = await write_file(ctx, "demo/crlf.py", "a = 1\r\nb = 2\r\n")
    assert crlf.startswith("Proposed to create demo/crlf.py (2 lines)")  # was 3
    assert (await write_file(ctx, "demo/open.py", "a = 1\nb = 2")).startswith(
        "Proposed to create demo/open.py (2 lines)"
    )
    assert created.startswith("Proposed to create demo/new.py")

    assert await read_file(ctx, "demo/calc.py") == "VALUE = 1\n"
    assert await read_file(ctx, "demo/new.py") == "NEW_NAME = 2\n"
    assert "demo/new.py" in (await list_files(ctx, "*.py")).files
    hits = await search(ctx, r"NEW_NAME|VALUE")
    assert [(m.file, m.line) for m in hits.matches] == [("demo/calc.py", 1), ("demo/new.py", 1)]

    assert (ctx.root / "demo/calc.py").read_text() == before
    assert not (ctx.root / "demo/new.py").exists()
    fresh = ToolContext(root=ctx.root)
    assert await read_file(fresh, "demo/calc.py") == before


@pytest.mark.parametrize("path", ["../outside.txt", "demo/../../outside.txt", "/etc/hostname"])
async def test_paths_outside_the_workspace_are_refused(ctx: ToolContext, path: str) -> None:
    (ctx.root.parent / "outside.txt").write_text("secret")
    with pytest.raises(PermissionError, match=r"read_file: path .* is outside the workspace"):
        await read_file(ctx, path)
    with pytest.raises(PermissionError, match=r"write_file: path .* is outside the workspace"):
        await write_file(ctx, path, "x")
    assert not ctx.overlay
    assert (ctx.root.parent / "outside.txt").read_text() == "secret"


async def test_symlink_escaping_the_workspace_is_refused(ctx: ToolContext) -> None:
    secret = ctx.root.parent / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, ctx.root / "link.txt")
    os.symlink(ctx.root.parent, ctx.root / "linkdir")
    for path in ("link.txt", "linkdir/secret.txt"):
        # The refusal names the link and where it leads, or "x is outside" makes no sense
        # for a file that is plainly inside.
        root, target = ctx.root.resolve(), secret.resolve()
        said = f"path '{path}' -> {target} is outside the workspace {root}"
        with pytest.raises(PermissionError, match=re.escape(said)):
            await read_file(ctx, path)
        result = await typecheck(ctx, path)
        assert result.error is not None and said in result.error
    assert "link.txt" not in (await list_files(ctx)).files
    assert (await search(ctx, "top secret")).match_count == 0


async def test_absolute_path_inside_the_workspace_is_fine(ctx: ToolContext) -> None:
    text = await read_file(ctx, str(ctx.root / "demo" / "use.py"))
    assert text == (ctx.root / "demo" / "use.py").read_text()


async def test_a_read_that_cannot_happen_raises_naming_path_and_reason(ctx: ToolContext) -> None:
    with pytest.raises(FileNotFoundError, match=r"^read_file: no such file: nope\.py$"):
        await read_file(ctx, "nope.py")
    with pytest.raises(IsADirectoryError, match=r"^read_file: demo is a folder$"):
        await read_file(ctx, "demo")
    (ctx.root / "latin1.py").write_bytes(b"name = '\xe9'\n")
    with pytest.raises(OSError, match=r"^read_file: latin1\.py is not UTF-8 text"):
        await read_file(ctx, "latin1.py")
    with pytest.raises(IsADirectoryError, match=r"^write_file: demo is a folder$"):
        await write_file(ctx, "demo", "x")


async def test_listing_and_search_honour_gitignore(ctx: ToolContext) -> None:
    (ctx.root / ".gitignore").write_text("build/\n*.log\n")
    (ctx.root / "build").mkdir()
    (ctx.root / "build" / "gen.py").write_text("add = 1\n")
    (ctx.root / "debug.log").write_text("add\n")
    (ctx.root / "demo" / "nested.log").write_text("add\n")
    (ctx.root / "blob.bin").write_bytes(b"add\0\x01")
    files = (await list_files(ctx)).files
    assert "build/gen.py" not in files
    assert "debug.log" not in files and "demo/nested.log" not in files
    assert (await list_files(ctx, "demo/*.py")).files == [
        "demo/__init__.py",
        "demo/calc.py",
        "demo/use.py",
    ]
    result = await search(ctx, r"\badd\(")
    assert {(m.file, m.line, m.column) for m in result.matches} == {
        ("demo/calc.py", 1, 5),
        ("demo/use.py", 4, 9),
        ("tests/test_calc.py", 5, 12),
        ("tests/test_calc.py", 9, 12),
    }


async def test_search_truncates_and_reports_bad_patterns(ctx: ToolContext) -> None:
    limited = await search(ctx, "a", max_results=2)
    assert limited.success and limited.match_count == 2 and limited.truncated
    bad = await search(ctx, "(unclosed")
    assert not bad.success and "invalid regular expression" in (bad.error or "")


async def test_search_columns_count_characters(ctx: ToolContext) -> None:
    (ctx.root / "uni.txt").write_text("😀é target\n")
    [match] = (await search(ctx, "target", "uni.txt")).matches
    assert (match.line, match.column) == (1, 4)


async def test_wrong_argument_types_raise(ctx: ToolContext) -> None:
    with pytest.raises(ToolArgumentError, match="argument 'path' must be str, got int 3"):
        await read_file(ctx, 3)
    with pytest.raises(ToolArgumentError, match="max_results"):
        await search(ctx, "x", ".", "many")
    with pytest.raises(ToolArgumentError, match="unexpected keyword"):
        await read_file(ctx, path="a", mode="r")
    with pytest.raises(ToolArgumentError, match="ToolContext"):
        await read_file(Path("."), "a")  # type: ignore[arg-type]


def test_search_names_the_files_it_skips(tmp_path: Path) -> None:
    """A fresh user's fault: a Latin-1 file was passed over without a word, where the
    emulated ``grep`` says "binary file matches". Run as the user did, in a process."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/l.py").write_bytes(b"# caf\xe9\n")
    (tmp_path / "pkg/blob.bin").write_bytes(b"\0caf\0")
    (tmp_path / "pkg/other.bin").write_bytes(b"\0nothing here\0")
    (tmp_path / "pkg/ok.py").write_text("cafe = 1\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "punie_lsp",
            "tool",
            "search",
            "--pattern",
            "caf",
            "--workspace",
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [(m["file"], m["line"]) for m in out["matches"]] == [("pkg/ok.py", 1)]
    assert out["skipped_files"] == [
        {"file": "pkg/blob.bin", "reason": "binary file matches"},
        {
            "file": "pkg/l.py",
            "reason": "not UTF-8 text, matches with its undecodable bytes replaced",
        },
    ]  # a binary file the pattern does not match is passed over, as grep does


async def test_search_names_a_file_too_big_to_read(ctx: ToolContext) -> None:
    (ctx.root / "big.txt").write_text("x" * (ctx.max_read_bytes + 1))
    result = await search(ctx, "needle")
    [skipped] = [s for s in result.skipped_files if s.file == "big.txt"]
    assert "over the" in skipped.reason and "max_read_bytes" in skipped.reason
