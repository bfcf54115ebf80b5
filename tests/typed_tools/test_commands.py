"""run_command: Punie's command lines, printed as the real GNU tools print them.

Every emulated command is run twice on the same project: through ``run_command`` and
as the real program (GNU grep, findutils, coreutils on this machine) in a subprocess.
The outputs must match; only the order of a recursive walk may differ (GNU follows the
folder's order, we sort), so those are compared as sorted lines.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from typed_tools import ToolContext
from typed_tools.commands import run_command
from typed_tools.files import write_file

PROJECT = {
    "src/app.py": (
        "import os\n\n\ndef main():\n    print('main')\n\n\nclass App(Exception):\n    pass\n"
    ),
    "src/util.py": (
        "def helper(x):\n    return x * 2  # Main helper\n\n\ndef main_loop():\n    pass\n"
    ),
    "src/pkg/__init__.py": "",
    "src/pkg/deep.py": "async def fetch():\n    return 'def main'\n",
    "tests/test_app.py": "import pytest\n\n\n@pytest.fixture\ndef app():\n    return 1\n",
    "README.md": "# Demo\n\nRun main.\nline four\nline five\nline six\n",
    "templates/card.html": '<div class="card">x</div>\n',
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for name, text in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def real(root: Path, words: list[str]) -> str:
    completed = subprocess.run(
        words,
        cwd=root,
        capture_output=True,
        text=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    return completed.stdout + completed.stderr


ORDERED = [
    "grep -n 'def main' src/app.py",
    "grep -c def src/util.py src/app.py",
    "grep -i MAIN src/util.py",
    "grep -w main src/app.py src/util.py",
    "grep -v pass src/util.py",
    "grep -E '^(import|from)' src/app.py",
    "grep 'x \\* 2' src/util.py",
    "grep -n -A1 -B1 'line five' README.md",
    "grep -o 'de[a-z]*' src/util.py",
    "grep -x pass src/app.py",
    "grep -e helper -e loop src/util.py",
    "grep -l def src/app.py README.md src/util.py",
    "grep main nope.py",
    "grep -F 'x * 2' src/util.py",
    "grep '[[:digit:]]' src/util.py",
    "grep 'def \\(main\\|helper\\)' src/util.py src/app.py",
    "cat README.md src/pkg/deep.py",
    "cat -n src/util.py",
    "cat missing.txt",
    "head -n 2 README.md",
    "head -3 README.md src/app.py",
    "tail -n 2 README.md",
    "tail -n +5 README.md",
    "wc -l README.md",
    "wc README.md src/app.py",
    "wc -l src/app.py src/util.py",
    "ls",
    "ls -a src",
    "ls src tests",
    "ls -p src",
    "ls -l src",
    "ls -la src/pkg",
    "ls -l README.md src/app.py",
]
WALKS = [
    "grep -r 'def main' --include='*.py'",
    "grep -rn 'def main' --include='*.py' src/",
    "grep -r main .",
    "grep -rl def src",
    "grep -rc def src --include=*.py",
    "grep -r 'class=\"card\"' --include='*.html'",
    "grep -r 'import' src/ --exclude-dir=pkg",
    "find . -name '*.py'",
    "find src -type d",
    "find . -type f -name 'test_*.py'",
    "find . -maxdepth 1",
    "find src/ -name '*.py' -not -name '__init__.py'",
    "find . \\( -name '*.md' -o -name '*.html' \\)",
    "find . -iname 'READ*'",
    "find . -path '*pkg*' -type f",
    "find src -empty",
    "ls -R src",
]


@pytest.mark.skipif(shutil.which("grep") is None, reason="needs GNU grep to compare with")
@pytest.mark.parametrize("line", ORDERED)
async def test_output_is_what_the_real_command_prints(project: Path, line: str) -> None:
    assert await run_command(ToolContext(root=project), line) == real(project, shlex.split(line))


@pytest.mark.parametrize("line", WALKS)
async def test_walks_print_the_real_lines(project: Path, line: str) -> None:
    ours = await run_command(ToolContext(root=project), line)
    theirs = real(project, shlex.split(line))
    assert ours and sorted(ours.splitlines()) == sorted(theirs.splitlines())


async def test_command_and_args_as_punie_passes_them(project: Path) -> None:
    ctx = ToolContext(root=project)
    assert await run_command(ctx, "find", [".", "-name", "*.md"]) == "./README.md\n"
    assert await run_command(ctx, "grep", ["-r", "async def", "--include=*.py"]) == (
        "src/pkg/deep.py:async def fetch():\n"
    )
    assert await run_command(ctx, "ls", None, "src/pkg") == "__init__.py\ndeep.py\n"


async def test_proposed_files_are_seen_as_read_file_sees_them(project: Path) -> None:
    ctx = ToolContext(root=project)
    await write_file(ctx, "src/new/fresh.py", "def main():\n    pass\n")
    await write_file(ctx, "src/util.py", "nothing here\n")
    found = await run_command(ctx, "grep -rn 'def main' src")
    assert sorted(found.splitlines()) == [
        "src/app.py:4:def main():",
        "src/new/fresh.py:1:def main():",
        "src/pkg/deep.py:2:    return 'def main'",
    ]
    assert "src/new/fresh.py" in await run_command(ctx, "find src -name '*.py'")
    assert await run_command(ctx, "cat src/util.py") == "nothing here\n"
    assert await run_command(ctx, "ls src") == "app.py\nnew\npkg\nutil.py\n"
    assert not (project / "src" / "new").exists()


@pytest.mark.parametrize(
    "line",
    [
        "pytest tests/",
        "cd src && pytest tests/ -v",
        "grep -r main . | head -3",
        "cat README.md > copy.md",
        "python main.py",
        "find . -name '*.py' -exec rm {} ;",
        "find . -delete",
        "grep -P 'x' src/app.py",
        "git -c core.pager=sh log",
        "git commit -m x",
        "git diff --output=/tmp/x",
        "rm -rf src",
    ],
)
async def test_anything_else_is_refused_with_what_is_supported(project: Path, line: str) -> None:
    with pytest.raises(PermissionError, match="run_command runs only grep, find, ls") as refused:
        await run_command(ToolContext(root=project), line)
    assert "pytest_run(path)" in str(refused.value)
    assert (project / "src" / "app.py").exists()


@pytest.mark.parametrize(
    "line", ["cat ../secret.txt", "grep -r x /etc", "ls ..", "find .. -name secret.txt"]
)
async def test_paths_outside_the_workspace_are_refused(project: Path, line: str) -> None:
    (project.parent / "secret.txt").write_text("x = 'top secret'\n")
    with pytest.raises(PermissionError, match="outside the workspace"):
        await run_command(ToolContext(root=project), line)
    with pytest.raises(PermissionError, match="outside the workspace"):
        await run_command(ToolContext(root=project), "ls", cwd="..")


@pytest.fixture
def repository(project: Path) -> Path:
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "T"}
    env |= {"GIT_COMMITTER_EMAIL": "t@e", "PATH": "/usr/bin:/bin", "HOME": str(project)}
    for words in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "first"]):
        subprocess.run(["git", *words], cwd=project, check=True, env=env)
    (project / "README.md").write_text("changed\n")
    return project


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
async def test_git_read_only_subcommands_run_for_real(repository: Path) -> None:
    project = repository
    ctx = ToolContext(root=project)
    assert await run_command(ctx, "git status --short") == " M README.md\n"
    assert "+changed" in await run_command(ctx, "git diff")
    assert "first" in await run_command(ctx, "git log --oneline -n 1")
    assert "src/app.py" in (await run_command(ctx, "git ls-files")).splitlines()
    # A workspace below the repository's top level could reach files outside it.
    with pytest.raises(PermissionError, match="top level"):
        await run_command(ToolContext(root=project / "src"), "git log -p")
