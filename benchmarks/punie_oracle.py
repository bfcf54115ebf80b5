"""Punie's own parsers as the oracle for what our typed tools' fields mean.

Punie-tuned models learnt what Punie's tools returned, so a field here must mean what
it meant there. This loads Punie's ``src/punie/agent/typed_tools.py`` (its parsers:
``parse_ty_output``, ``parse_ruff_output``, ``parse_pytest_output``, the five LSP
``parse_*_response`` functions, ``parse_git_status_output``, ``parse_git_diff_output``,
``parse_git_log_output``) and ``lsp_client.py`` (its ty client) from ``--punie-src`` by
path (never installed, never copied), produces each parser's raw input the way Punie's
``toolset.py`` does (the same command lines, output formats and LSP requests), and runs
our tool on the same workspace and position. Workspaces are real code nobody here
wrote: installed libraries (attrs, cattrs, h11, httpx2, certifi …) copied into fresh git
repositories given a few commits and working-tree edits of their real files, and a
clone of Punie's own repository.

It prints, per tool and per field, how many comparisons agree, then every kind of
disagreement with a count and an example, each with its judgement (``KNOWN`` below):
a deliberate difference of ours, a fault of Punie's parser on today's tool output, or
an environment difference. A kind without a judgement is printed as ``UNJUDGED``: a
meaning of ours that may differ from Punie's, to look at.

Punie's command lines (``toolset.py``): ``ty check PATH --output-format json``,
``ruff check PATH``, ``pytest PATH -v --tb=short``, ``git status --porcelain``,
``git diff [--staged]``, ``git log --format=%h|%an|%ad|%s -nCOUNT`` (all with the output
an ACP terminal gives: stdout and stderr together); navigation through its
``LSPClient`` (1-based positions in, ``line - 1``/``column - 1`` sent to ty).

    uv run python -m benchmarks.punie_oracle --punie-src /work/punie-src \\
        [--punie-git /work/.mirror/pauleveritt+punie/repo] [--library attrs …] \\
        [--positions 40]

Dependencies: Punie's parsers need only pydantic, its LSP client only the standard
library; ``ty``, ``ruff`` and ``pytest`` are this project's.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib.util
import io
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tokenize
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ruff.__main__ import find_ruff_bin

from typed_tools import ToolContext, TyClientPool, call_tool, default_pool, load_tools
from typed_tools.ty_environment import ty_environment, ty_executable

SITE = Path(sysconfig.get_paths()["purelib"])
BIN = Path(sys.executable).parent
LIBRARIES = ("attrs", "cattrs", "h11", "httpx2", "certifi", "greenlet")
"""Installed distributions used as workspaces (package folders copied, never edited in place)."""
PACKAGES = {"attrs": ("attr", "attrs"), "cattrs": ("cattrs", "cattr")}
"""Distributions whose import names differ from the distribution name."""
SERVER_TY = TyClientPool(workspace_diagnostics=True)
"""A ty as the server's private one runs (``workspace/diagnostic``), for ``typecheck``."""
RUFF = find_ruff_bin()
"""The ruff our ``ruff_check`` runs: Punie's ``ruff check`` gets the same binary."""
RUFF_RULES = '["E", "W", "F", "B", "UP", "SIM", "C4", "RUF"]'
"""Rules the library workspaces lint with, so their real code has violations of many kinds."""

# Each known disagreement kind -> judgement. (a) would be a bug of ours: none stays here.
KNOWN: dict[str, str] = {
    "typecheck: Punie's command fails": (
        "(b)/(c) ty has no `--output-format json` (possible: full, concise, gitlab, github, "
        "junit, sarif); Punie's `ty check PATH --output-format json` prints a usage error and "
        "parse_ty_output returns success=False with parse_error. Compared instead: ty's "
        "concise diagnostics given to parse_ty_output in the JSON shape it reads (adapted)"
    ),
    "ruff_check: Punie's parser reads nothing": (
        "(b)/(c) `ruff check PATH` prints ruff's `full` format today (rule code first, "
        "` --> file:line:col` below); parse_ruff_output reads only the old "
        "`file:line:col: CODE [*] message` lines, finds no violation and reports success=True "
        "on a file with violations. Compared instead: `--output-format concise`, the lines it "
        "was written for"
    ),
    "file: absolute vs workspace-relative": (
        "deliberate: Punie's LSP parsers strip `file://` and give absolute paths; its datasets "
        "show workspace-relative ones (`src/config.py`), as ours do (compared after relativising)"
    ),
    "definition/references outside the workspace": (
        "deliberate: the workspace is the boundary; ours leaves out what a file outside it "
        "would show (a hover quoting a file symlinked from outside), Punie shows it"
    ),
    "workspace_symbols: outside the workspace": (
        "deliberate: ours lists only symbols in workspace files, Punie whatever ty returned"
    ),
    "ruff_check: multi-letter rule code": (
        "(b) parse_ruff_output's pattern `[A-Z]\\d+` reads only one-letter rule prefixes: "
        "every UP…, SIM…, RUF…, PLR…, FURB… violation is dropped, and its counts (and "
        "success on a file with only those) follow. Ours counts every violation"
    ),
    "git_status: untracked folder listed file by file": (
        "deliberate: Punie's `git status --porcelain` collapses an untracked folder into one "
        "entry `dir/` (not a file read_file can open); ours lists its files (`-uall`), so "
        "file_count counts files"
    ),
    "validators: line where Punie has None": (
        "deliberate: Punie's ValidationIssue has `line: int | None` and its validators never "
        "set it; ours gives the 1-based line (an addition; rule, severity, message and "
        "suggestion agree)"
    ),
    "validate_injection_site: a type defined in the file": (
        "(b) Punie warns `inject-type-must-be-imported` for `Inject[Database]` when "
        "`Database` is a class of the same file, on its own 'properly-formed' fixture "
        "(tests/fixtures/cst/valid_service.py; its test asserts nothing about issues); "
        "ours warns only for a name neither imported nor defined. A warning: `valid` agrees"
    ),
    "goto_definition: symbol corrects a position not on it": (
        "deliberate: given a position whose name is not `symbol` (a model's column off by a "
        "few), ours asks about the symbol's occurrence nearest to the line "
        "(typed_tools/positions.py); Punie asked at the position verbatim, answering for "
        "whatever stands there, or nothing"
    ),
    "git: path limits the result": (
        "deliberate: Punie runs `git status`/`git diff` with the folder as its working "
        "directory, which still reports the whole repository; ours limits the result to the "
        "folder, as Punie's datasets' programs expect (`git_diff(\"src\")` for 'what changed "
        "in src/', then `read_file(f.file)`)"
    ),
    "git_status: first line loses its leading space": (
        "(b) Punie's parser strips the whole output first, so an unstaged first entry "
        "` M a.py` reads as `M a.py`: staged=True and its file name loses a character"
    ),
    "git_status: quoted path": (
        "(b) porcelain v1 quotes paths with spaces or non-ASCII characters; Punie keeps the "
        'quotes (`"docs draft.md"`), ours gives the name'
    ),
    "git_diff: deleted file named /dev/null": (
        "(b) Punie takes a file's name from its `+++` line, which is `/dev/null` for a "
        "deleted file; ours gives the deleted file's path"
    ),
    "git_diff: line counted as a header": (
        "(b) Punie skips content lines starting with `+++`/`---` (an added `++x` or deleted "
        "`--x`) and starts a new file at an added `++…` line; ours takes git's numstat"
    ),
    "git_diff: binary or pure rename missing": (
        "(b) a binary file or a rename without edits has no `+++` line; Punie does not list it"
    ),
    "git_log: date format": (
        "deliberate: Punie's `%ad` is git's default date (`Mon Feb 16 10:30:00 2026 -0500`), "
        "ours ISO 8601 (`2026-02-16T10:30:00-05:00`); the same instant (checked). Punie's "
        "datasets show ISO dates (`2026-02-15`)"
    ),
    "git_log: message or author with `|`": (
        "(b) Punie splits `%h|%an|%ad|%s` at `|`: an author name with `|` shifts the fields"
    ),
    "pytest_run: pytest could not run": (
        "(b) when pytest cannot run (a conftest's import fails, a usage error), Punie's "
        "parser finds no test and no summary and returns success=True (no failure counted) "
        "with parse_error set; ours success=False with error, as every tool that could not run"
    ),
    "pytest_run: summary counts": (
        "(b) Punie's summary regex's optional groups never capture (lazy `.*?` before each), "
        "so its counts are its per-test lines; those include pytest's section headers "
        "(`____ ERROR collecting x.py ____` becomes a test named `____`) and miss xfail/xpass"
    ),
    "pytest_run: test name": (
        "(b) Punie's test name is the text before the outcome word on a `-v` line; for a "
        "parametrised id with spaces or a collection error header it is not the node id"
    ),
    "hover: content text": (
        "(c) the same ty answer gives the same text; a difference means ty answered "
        "differently (its state differs: our ty had other files open)"
    ),
    "document_symbols: flat SymbolInformation": (
        "(b) Punie's client does not declare hierarchicalDocumentSymbolSupport; were ty to "
        "answer flat, nesting would be lost. Ours keeps LSP's nesting as Punie's datasets show"
    ),
    "workspace_symbols: ordering": (
        "deliberate: ours orders exact and prefix matches first (a person searching expects "
        "it); the set is compared apart from the order"
    ),
    "columns: UTF-16 code units vs characters": (
        "deliberate: Punie's columns are LSP's UTF-16 offsets + 1; ours count characters + 1, "
        "as Python indexes a line (differ only after a non-BMP character)"
    ),
    "ty: different analysis": (
        "(c) the two ty processes disagree (a cold vs warm server, or a file one of them has "
        "open): not a meaning of either parser"
    ),
}


# ---------------------------------------------------------------------------- tallies


@dataclass
class Tally:
    """Agreement per tool and field, and disagreements by kind."""

    fields: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kinds: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def check(self, tool: str, name: str, punie: Any, ours: Any, kind: str, where: str) -> bool:
        """Count one comparison; a disagreement is filed under ``kind`` with an example."""
        same = punie == ours
        self.fields[tool][f"{name}:total"] += 1
        if same:
            self.fields[tool][f"{name}:agree"] += 1
        else:
            self.note(kind or f"{tool}: {name} differs", f"{where}: Punie {punie!r}, ours {ours!r}")
        return same

    def note(self, kind: str, example: str) -> None:
        self.kinds[kind] += 1
        if len(self.examples[kind]) < 3:
            self.examples[kind].append(example[:400])

    def report(self) -> str:
        lines = ["", "agreement per tool and field (agree/total):"]
        for tool in sorted(self.fields):
            counts = self.fields[tool]
            names = sorted({k.rsplit(":", 1)[0] for k in counts})
            agree = sum(counts[f"{n}:agree"] for n in names)
            total = sum(counts[f"{n}:total"] for n in names)
            parts = ", ".join(f"{n} {counts[f'{n}:agree']}/{counts[f'{n}:total']}" for n in names)
            lines.append(
                f"  {tool:<24} {agree}/{total} ({100 * agree / max(total, 1):.1f}%): {parts}"
            )
        lines.append("")
        lines.append("disagreements by kind:")
        for kind, count in self.kinds.most_common():
            verdict = KNOWN.get(kind) or KNOWN.get(kind.split(" [", 1)[0]) or "UNJUDGED"
            lines.append(f"  {count:>5}  {kind}")
            lines.append(f"         judgement: {verdict}")
            lines.extend(f"         e.g. {example}" for example in self.examples[kind])
        return "\n".join(lines)


# ---------------------------------------------------------------------------- Punie's code


def load_punie(src: Path) -> tuple[ModuleType, ModuleType]:
    """Punie's ``typed_tools`` and ``lsp_client`` modules, loaded by path under private names."""
    agent = src / "src" / "punie" / "agent"
    modules = []
    for name in ("typed_tools", "lsp_client"):
        path = agent / f"{name}.py"
        if not path.is_file():
            raise SystemExit(f"punie_oracle: {path} not found (is --punie-src a Punie checkout?)")
        spec = importlib.util.spec_from_file_location(f"punie_oracle_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        modules.append(module)
    return modules[0], modules[1]


def load_punie_cst(src: Path, typed: ModuleType) -> ModuleType:
    """Punie's ``punie/cst/code_tools.py`` by path. It imports its result models from
    ``punie.agent.typed_tools``: that name is pointed at the module already loaded (Punie's
    package ``__init__`` would import its whole agent stack, which is not installed)."""
    for name in ("punie", "punie.agent"):
        sys.modules.setdefault(name, ModuleType(name))
    sys.modules["punie.agent.typed_tools"] = typed
    path = src / "src" / "punie" / "cst" / "code_tools.py"
    spec = importlib.util.spec_from_file_location("punie_oracle_code_tools", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VALIDATORS = (
    "validate_component", "check_render_tree", "validate_escape_context",
    "validate_service_registration", "check_dependency_graph", "validate_injection_site",
    "validate_middleware_chain", "check_di_template_binding", "validate_route_pattern",
)  # fmt: skip


def load_punie_validators(src: Path) -> dict[str, Callable[[str], Any]]:
    """Punie's nine domain validators (``punie/cst/validators``) by path: ``punie`` and
    ``punie.cst`` are registered as bare packages over Punie's folders, so their
    ``__init__`` (Punie's whole agent stack) never runs."""
    package = src / "src" / "punie"
    for name, folder in (("punie", package), ("punie.cst", package / "cst")):
        module = sys.modules.get(name) or ModuleType(name)
        module.__path__ = [str(folder)]
        sys.modules[name] = module
    validators = importlib.import_module("punie.cst.validators")
    return {name: getattr(validators, name) for name in VALIDATORS}


def _environment() -> dict[str, str]:
    """The environment Punie's commands get: the one our tools give ty
    (``ty_environment``: the user's Python environment, never punie-lsp's venv), with
    ``ty_executable()``'s folder first on PATH, so both sides' ty resolve imports alike
    (otherwise Punie's ty, started from our venv, resolves our dependencies: a difference
    of environment, not of meaning); ruff and git are found on PATH."""
    env = ty_environment()
    env["PATH"] = os.pathsep.join([str(Path(ty_executable()).parent), env["PATH"], str(BIN)])
    return env


async def terminal(command: list[str], cwd: Path) -> str:
    """What an ACP terminal returns for ``command``: stdout and stderr together."""

    def go() -> str:
        done = subprocess.run(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_environment(),
            timeout=600,
            check=False,
        )
        return done.stdout

    return await asyncio.to_thread(go)


# ---------------------------------------------------------------------------- workspaces


def _git(root: Path, *args: str, author: str = "Ada Lovelace") -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": "oracle@example.invalid",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": "oracle@example.invalid",
        "GIT_AUTHOR_DATE": "2026-02-16T10:30:00-05:00" if "commit" in args else "",
    }
    env = {k: v for k, v in env.items() if v}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _python_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.py")
        if ".git" not in p.parts and "__pycache__" not in p.parts and p.stat().st_size > 200
    )


def _edit_history(root: Path, package: Path) -> None:
    """A few commits and a working tree with every kind of change, made on real files."""
    files = sorted(_python_files(package), key=lambda p: -p.stat().st_size)
    # Commit 2: a real file gains `from __future__ import annotations` (additions).
    first = files[0]
    text = first.read_text(encoding="utf-8")
    future = "from __future__ import annotations\n"
    if future in text:  # already there: the edit drops it (the history then has deletions)
        first.write_text(text.replace(future, "", 1), encoding="utf-8")
    else:
        first.write_text(future + text, encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "typing: future annotations | one pass", author="Grace Hopper")
    # Commit 3: the last top-level definition of another file is removed (deletions).
    second = files[1]
    source = second.read_text(encoding="utf-8")
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    if defs:
        last = defs[-1]
        start = min([last.lineno, *(d.lineno for d in last.decorator_list)])
        lines = source.split("\n")
        del lines[start - 1 : last.end_lineno]
        second.write_text("\n".join(lines), encoding="utf-8")
        _git(root, "commit", "-qam", f"Remove {last.name}", author="Linus T")
    # Working tree: a staged rename, a staged edit edited again (MM), an unstaged edit
    # using an undefined name (a ty error), an unstaged deletion, untracked files.
    _git(root, "mv", str(files[2]), str(files[2].with_name(f"renamed_{files[2].name}")))
    third = files[3]
    third.write_text("import os\n" + third.read_text(encoding="utf-8"), encoding="utf-8")
    _git(root, "add", str(third))
    third.write_text(third.read_text(encoding="utf-8") + "\n# edited after staging\n")
    fourth = files[4]
    fourth.write_text(
        fourth.read_text(encoding="utf-8")
        + "\n\ndef _oracle_probe() -> int:\n    return undefined_name + 1\n",
        encoding="utf-8",
    )
    files[5].unlink()
    notes = root / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("one\n")
    (notes / "later.txt").write_text("two\n")
    (root / "docs draft.md").write_text("# draft\n")


def library_workspace(tmp: Path, distribution: str) -> Path | None:
    """An installed distribution's packages copied into a fresh git repository."""
    names = PACKAGES.get(distribution, (distribution,))
    sources = [SITE / name for name in names if (SITE / name).is_dir()]
    if not sources:
        print(f"  (skipped {distribution}: not installed)")
        return None
    root = tmp / distribution
    root.mkdir()
    for source in sources:
        shutil.copytree(source, root / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "oracle-{distribution}"\nversion = "0"\n'
        f"\n[tool.ruff.lint]\nextend-select = {RUFF_RULES}\n",
        encoding="utf-8",
    )
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"Import {distribution} as installed")
    if len(_python_files(root)) >= 6:
        _edit_history(root, root / sources[0].name)
    return root


def punie_workspace(tmp: Path, src: Path) -> Path:
    """Punie's own tree (``src``, ``tests``, its pyproject) in a fresh git repository,
    edited like the others."""
    root = tmp / "punie"
    root.mkdir()
    for name in ("src", "tests"):
        shutil.copytree(src / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "conftest.py"):
        if (src / name).is_file():
            shutil.copy(src / name, root / name)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Import Punie's tree")
    _edit_history(root, root / "src" / "punie")
    return root


def history_workspace(tmp: Path, git_dir: Path) -> Path:
    """A folder whose ``.git`` names Punie's real git directory: its history, read only
    (only ``git log`` is asked there; status and diff would refresh its index)."""
    root = tmp / "punie-history"
    root.mkdir()
    (root / ".git").write_text(f"gitdir: {git_dir}\n", encoding="utf-8")
    return root


async def oracle_history(tally: Tally, punie: ModuleType, root: Path) -> None:
    """``git_log`` on a real history: Punie's 126 commits, at several counts."""
    print(f"workspace {root.name}: Punie's git history", flush=True)
    ctx = ToolContext(root=root, timeout_seconds=300)
    for count in (1, 10, 50):
        await oracle_git_log(tally, punie, ctx, count)


# ---------------------------------------------------------------------------- comparisons


def rel(root: Path, path: str) -> str:
    """Punie's absolute (or cwd-relative) path as a workspace-relative one when inside."""
    candidate = Path(path)
    if not candidate.is_absolute():
        return path
    try:
        return candidate.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _by(items: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped


def compare_lists(
    tally: Tally,
    tool: str,
    where: str,
    punie: list[Any],
    ours: list[Any],
    key: Callable[[Any], Any],
    fields_: Iterable[str],
    missing_kind: Callable[[Any, str], str],
    field_kinds: dict[str, str] | None = None,
) -> None:
    """Match items by ``key``; compare ``fields_`` of matched items; file unmatched ones.

    ``field_kinds`` names the kind a field's disagreement is filed under, when known."""
    fields_ = tuple(fields_)
    mine = _by(ours, key)
    theirs = _by(punie, key)
    for k in theirs.keys() | mine.keys():
        a, b = theirs.get(k, []), mine.get(k, [])
        side = "Punie only" if len(a) > len(b) else "ours only"
        kind = missing_kind((a if len(a) > len(b) else b)[0], side) if len(a) != len(b) else ""
        tally.check(tool, "items matched", len(a), len(b), kind, f"{where} {k}")
        for x, y in zip(a, b, strict=False):
            for name in fields_:
                kind = (field_kinds or {}).get(name, "")
                tally.check(tool, name, getattr(x, name), getattr(y, name), kind, f"{where} {k}")


# ---------------------------------------------------------------------------- per tool


async def ours(ctx: ToolContext, name: str, **args: Any) -> Any:
    return await call_tool(name, ctx, args)


async def oracle_typecheck(tally: Tally, punie: ModuleType, ctx: ToolContext, path: str) -> None:
    root = ctx.root
    raw = await terminal(["ty", "check", path, "--output-format", "json"], root)
    as_run = punie.parse_ty_output(raw)
    mine = await ours(ctx, "typecheck", path=path)
    if as_run.parse_error:
        tally.note(
            "typecheck: Punie's command fails", f"{root.name}:{path}: {as_run.parse_error[:120]}"
        )
    concise = await terminal(["ty", "check", path, "--output-format", "concise"], root)
    shaped = []
    for line in concise.split("\n"):
        m = re.match(r"^(.+?):(\d+):(\d+): (error|warning|info)\[([\w-]+)\] (.*)$", line)
        if m:
            file, row, col, severity, code, message = m.groups()
            shaped.append(
                {"file": file, "line": int(row), "column": int(col), "severity": severity,
                 "code": code, "message": message}
            )  # fmt: skip
    theirs = punie.parse_ty_output(json.dumps(shaped) if shaped else "")
    # The server's path too: its private ty in workspace diagnostic mode, one request.
    live = ToolContext(root=root, ty=await SERVER_TY.get(root), timeout_seconds=300)
    through_server = await ours(live, "typecheck", path=path)
    where = f"{root.name}:{path}"
    for tool, result in (("typecheck", mine), ("typecheck (server's ty)", through_server)):
        for name in ("success", "error_count", "warning_count"):
            tally.check(tool, name, getattr(theirs, name), getattr(result, name), "", where)
        tally.check(tool, "len(errors)", len(theirs.errors), len(result.errors), "", where)
        compare_lists(
            tally, tool, where, theirs.errors, result.errors,
            key=lambda e: (e.file, e.line, e.column, e.code, e.message),
            fields_=("severity",),
            missing_kind=lambda e, side: f"typecheck: diagnostic {side}",
        )  # fmt: skip


async def oracle_ruff(tally: Tally, punie: ModuleType, ctx: ToolContext, path: str) -> None:
    root = ctx.root
    as_run = punie.parse_ruff_output(await terminal([RUFF, "check", "--no-cache", path], root))
    mine = await ours(ctx, "ruff_check", path=path)
    where = f"{root.name}:{path}"
    if as_run.violation_count == 0 and mine.violation_count:
        tally.note(
            "ruff_check: Punie's parser reads nothing",
            f"{where}: Punie success={as_run.success} count=0 parse_error={as_run.parse_error!r}, "
            f"ours {mine.violation_count}",
        )
    concise = await terminal(
        [RUFF, "check", "--no-cache", "--output-format", "concise", path], root
    )
    theirs = punie.parse_ruff_output(concise)
    tool = "ruff_check"
    one_letter = sum(bool(re.fullmatch(r"[A-Z]\d+", v.code)) for v in mine.violations)
    kind = "ruff_check: multi-letter rule code" if one_letter == theirs.violation_count else ""
    for name in ("success", "violation_count", "fixable_count"):
        tally.check(tool, name, getattr(theirs, name), getattr(mine, name), kind, where)
    compare_lists(
        tally, tool, where, theirs.violations, mine.violations,
        key=lambda v: (v.file, v.line, v.column, v.code),
        fields_=("message", "fixable"),
        missing_kind=lambda v, side: (
            "ruff_check: multi-letter rule code"
            if side == "ours only" and not re.fullmatch(r"[A-Z]\d+", v.code)
            else f"ruff_check: violation {side}"
        ),
    )  # fmt: skip


async def oracle_pytest(tally: Tally, punie: ModuleType, ctx: ToolContext, path: str) -> None:
    root = ctx.root
    raw = await terminal([sys.executable, "-m", "pytest", path, "-v", "--tb=short"], root)
    theirs = punie.parse_pytest_output(raw)
    mine = await ours(ctx, "pytest_run", path=path)
    where = f"{root.name}:{path}"
    tool = "pytest_run"
    if mine.error:
        kind = "pytest_run: pytest could not run"
        tally.check(tool, "success", theirs.success, mine.success, kind, where)
        tally.note(kind, f"{where}: Punie {theirs!r:.200}; ours {mine.error[:200]}")
        return
    for name in ("success", "passed", "failed", "errors", "skipped"):
        tally.check(
            tool,
            name,
            getattr(theirs, name),
            getattr(mine, name),
            "pytest_run: summary counts" if name != "success" else "",
            where,
        )
    tally.check(
        tool, "len(tests)", len(theirs.tests), len(mine.tests), "pytest_run: summary counts", where
    )
    compare_lists(
        tally, tool, where, theirs.tests, mine.tests,
        key=lambda t: t.name,
        fields_=("outcome",),
        missing_kind=lambda t, side: "pytest_run: test name",
    )  # fmt: skip


async def oracle_git(
    tally: Tally, punie: ModuleType, ctx: ToolContext, package: str | None
) -> None:
    root = ctx.root
    where = root.name
    # git_status
    theirs = punie.parse_git_status_output(await terminal(["git", "status", "--porcelain"], root))
    mine = await ours(ctx, "git_status", path=".")
    tool = "git_status"
    folders = any(f.file.endswith("/") for f in theirs.files)
    for name in ("success", "clean", "file_count"):
        kind = "git_status: untracked folder listed file by file" if folders else ""
        tally.check(tool, name, getattr(theirs, name), getattr(mine, name), kind, where)
    first_line = (await terminal(["git", "status", "--porcelain"], root)).split("\n")[0]
    mangled = theirs.files[0].file if first_line.startswith(" ") else None

    def status_kind(item: Any, side: str) -> str:
        if item.file.endswith("/") or item.file.startswith("notes/"):
            return "git_status: untracked folder listed file by file"
        if item.file.startswith('"') or item.file == "docs draft.md":
            return "git_status: quoted path"
        if mangled is not None and mangled in (item.file, item.file[1:]):
            return "git_status: first line loses its leading space"
        return f"git_status: entry {side}"

    compare_lists(
        tally, tool, where, theirs.files, mine.files,
        key=lambda f: f.file,
        fields_=("status", "staged"),
        missing_kind=status_kind,
    )  # fmt: skip
    # git_diff, unstaged and staged
    for staged in (False, True):
        command = ["git", "diff", *(["--staged"] if staged else [])]
        theirs = punie.parse_git_diff_output(await terminal(command, root))
        mine = await ours(ctx, "git_diff", path=".", staged=staged)
        tool, here = "git_diff", f"{where} staged={staged}"
        unlisted = any((f.status == "renamed" and not f.hunks) or f.binary for f in mine.files)
        for name in ("success", "file_count", "additions", "deletions"):
            kind = "git_diff: binary or pure rename missing" if unlisted else ""
            tally.check(tool, name, getattr(theirs, name), getattr(mine, name), kind, here)

        def diff_kind(item: Any, side: str) -> str:
            if item.file == "/dev/null" or getattr(item, "status", "") == "deleted":
                return "git_diff: deleted file named /dev/null"
            if getattr(item, "binary", False) or getattr(item, "status", "") == "renamed":
                return "git_diff: binary or pure rename missing"
            return f"git_diff: file {side}"

        compare_lists(
            tally, tool, here, theirs.files, mine.files,
            key=lambda f: f.file,
            fields_=("additions", "deletions", "hunks"),
            missing_kind=diff_kind,
        )  # fmt: skip
    await oracle_git_log(tally, punie, ctx, 10)
    if package is not None:
        await oracle_git_path(tally, punie, ctx, package)


async def oracle_git_path(tally: Tally, punie: ModuleType, ctx: ToolContext, path: str) -> None:
    """``git_status(path)`` and ``git_diff(path)`` for a folder: Punie runs git there (its
    ``cwd``), ours limits the result to it."""
    root = ctx.root
    where = f"{root.name} path={path}"
    kind = "git: path limits the result"
    raw = await terminal(["git", "status", "--porcelain"], root / path)
    theirs = punie.parse_git_status_output(raw).files
    mine = (await ours(ctx, "git_status", path=path)).files
    tally.check("git_status", "file_count (path)", len(theirs), len(mine), kind, where)
    under = [f for f in theirs if f.file.startswith(f"{path}/")]
    tally.check("git_status", "files under path", len(under), len(theirs), kind, where)
    theirs_diff = punie.parse_git_diff_output(await terminal(["git", "diff"], root / path)).files
    mine_diff = (await ours(ctx, "git_diff", path=path)).files
    tally.check("git_diff", "file_count (path)", len(theirs_diff), len(mine_diff), kind, where)


async def oracle_git_log(tally: Tally, punie: ModuleType, ctx: ToolContext, count: int) -> None:
    root = ctx.root
    where = f"{root.name} count={count}"
    raw = await terminal(["git", "log", "--format=%h|%an|%ad|%s", f"-n{count}"], root)
    theirs = punie.parse_git_log_output(raw)
    mine = await ours(ctx, "git_log", path=".", count=count)
    tool = "git_log"
    for name in ("success", "commit_count"):
        tally.check(tool, name, getattr(theirs, name), getattr(mine, name), "", where)
    for a, b in zip(theirs.commits, mine.commits, strict=False):
        here = f"{where} {b.hash}"
        for name in ("hash", "message", "author"):
            kind = "git_log: message or author with `|`" if name != "hash" else ""
            tally.check(tool, name, getattr(a, name), getattr(b, name), kind, here)
        tally.check(tool, "date", a.date, b.date, "git_log: date format", here)
        instant = datetime.strptime(a.date, "%a %b %d %H:%M:%S %Y %z")
        same = instant == datetime.fromisoformat(b.date)
        tally.check(tool, "date (same instant)", True, same, "git_log: date instant", here)


# ---------------------------------------------------------------------------- LSP tools


def positions(root: Path, files: list[Path], count: int) -> list[tuple[Path, int, int, str]]:
    """``count`` identifier positions (file, 1-based line, 1-based column, name) spread over
    ``files``: every k-th non-keyword name token, so calls, attributes and definitions mix."""
    names: list[tuple[Path, int, int, str]] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError):
            continue
        for token in tokens:
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                line = text.split("\n")[token.start[0] - 1]
                if line.isascii():  # Python's and LSP's columns agree on ASCII lines
                    names.append((path, token.start[0], token.start[1] + 1, token.string))
    step = max(1, len(names) // max(count, 1))
    return names[::step][:count]


LOCATION_TOOLS = (
    (
        "goto_definition",
        "parse_definition_response",
        "locations",
        ("line", "column", "end_line", "end_column"),
    ),
    ("find_references", "parse_references_response", "references", ("line", "column")),
)
"""The tools answered with locations: the tool (and Punie's client method), Punie's
parser, the result's list and the fields compared per item."""


async def oracle_navigation(
    tally: Tally,
    punie: ModuleType,
    client: Any,
    ctx: ToolContext,
    samples: list[tuple[Path, int, int, str]],
) -> None:
    root = ctx.root
    for path, line, column, name in samples:
        relative = path.relative_to(root).as_posix()
        where = f"{root.name}:{relative}:{line}:{column} {name}"
        for tool, parser, items, fields in LOCATION_TOOLS:
            request = getattr(client, tool)  # Punie's LSPClient names its methods as the tools
            theirs = getattr(punie, parser)(await request(str(path), line, column), name)
            mine = await ours(ctx, tool, file_path=relative, line=line, column=column, symbol=name)
            _locations(
                tally,
                tool,
                root,
                where,
                theirs.success,
                mine.success,
                getattr(theirs, items),
                getattr(mine, items),
                fields,
            )
        # hover
        theirs = punie.parse_hover_response(await client.hover(str(path), line, column), name)
        mine = await ours(ctx, "hover", file_path=relative, line=line, column=column, symbol=name)
        tally.check("hover", "success", theirs.success, mine.success, "", where)
        if theirs.success and mine.success:
            tally.check(
                "hover", "content", theirs.content, mine.content, "hover: content text", where
            )
            tally.check("hover", "language", theirs.language, mine.language, "", where)
        elif theirs.success and mine.error:
            tally.note(
                "definition/references outside the workspace", f"{where} hover: {mine.error}"
            )
        # A column off by the name's length, as models give it: Punie asks there verbatim.
        off = column + len(name) + 1
        theirs = punie.parse_definition_response(
            await client.goto_definition(str(path), line, off), name
        )
        mine = await ours(
            ctx, "goto_definition", file_path=relative, line=line, column=off, symbol=name
        )
        a = [(rel(root, x.file), x.line, x.column) for x in theirs.locations]
        b = [(x.file, x.line, x.column) for x in mine.locations]
        kind = "goto_definition: symbol corrects a position not on it"
        here = f"{root.name}:{relative}:{line}:{off} {name}"
        tally.check("goto_definition (column off)", "locations", a, b, kind, here)


def _locations(
    tally: Tally, tool: str, root: Path, where: str, ok_a: bool, ok_b: bool,
    a: list[Any], b: list[Any], fields_: tuple[str, ...],
) -> None:  # fmt: skip
    inside = list(a)
    tally.check(tool, "success", ok_a, ok_b, "", where)
    if tool == "find_references":
        tally.check(tool, "reference_count", len(inside), len(b), "", where)
    for x in inside:
        x.file = rel(root, x.file)
    compare_lists(
        tally, tool, where, inside, b,
        key=lambda loc: (loc.file, loc.line, loc.column),
        fields_=fields_,
        missing_kind=lambda loc, side: f"{tool}: location {side}",
    )  # fmt: skip


async def oracle_symbols(
    tally: Tally, punie: ModuleType, client: Any, ctx: ToolContext, files: list[Path]
) -> list[str]:
    root = ctx.root
    queries: list[str] = []
    for path in files:
        relative = path.relative_to(root).as_posix()
        theirs = punie.parse_document_symbols_response(
            await client.document_symbols(str(path)), str(path)
        )
        mine = await ours(ctx, "document_symbols", file_path=relative)
        tool, where = "document_symbols", f"{root.name}:{relative}"
        for name in ("success", "symbol_count"):
            tally.check(tool, name, getattr(theirs, name), getattr(mine, name), "", where)
        tally.check(
            tool,
            "len(symbols)",
            len(theirs.symbols),
            len(mine.symbols),
            "document_symbols: flat SymbolInformation"
            if not any(s.children for s in theirs.symbols)
            else "",
            where,
        )

        def flat(symbols: list[Any]) -> Iterable[tuple[str, Any]]:
            for s in symbols:
                yield f"{s.name}@{s.line}", s
                yield from flat(s.children)

        a, b = dict(flat(theirs.symbols)), dict(flat(mine.symbols))
        flat_answer = not any(s.children for s in theirs.symbols)
        nesting_kind = "document_symbols: flat SymbolInformation" if flat_answer else ""
        for k in a.keys() | b.keys():
            if k not in a or k not in b:
                tally.note("document_symbols: symbol on one side", f"{where} {k}")
                continue
            for name in ("kind", "end_line"):
                tally.check(
                    tool, name, getattr(a[k], name), getattr(b[k], name), "", f"{where} {k}"
                )
            tally.check(
                tool,
                "len(children)",
                len(a[k].children),
                len(b[k].children),
                nesting_kind,
                f"{where} {k}",
            )
        queries.extend(s.name for s in mine.symbols if s.kind == 5)
    return queries


async def oracle_workspace_symbols(
    tally: Tally, punie: ModuleType, client: Any, ctx: ToolContext, queries: list[str]
) -> None:
    root = ctx.root
    for query in queries:
        theirs = punie.parse_workspace_symbols_response(
            await client.workspace_symbols(query), query
        )
        mine = await ours(ctx, "workspace_symbols", query=query)
        tool, where = "workspace_symbols", f"{root.name} {query!r}"
        inside = [s for s in theirs.symbols if not rel(root, s.file).startswith("/")]
        if len(inside) != len(theirs.symbols):
            tally.note(
                "workspace_symbols: outside the workspace",
                f"{where}: Punie lists {theirs.symbols[0].file}",
            )
        for s in inside:
            s.file = rel(root, s.file)
        tally.check(tool, "success", bool(inside), mine.success, "", where)
        tally.check(tool, "symbol_count", len(inside), mine.symbol_count, "", where)
        order_a, order_b = [s.name for s in inside], [s.name for s in mine.symbols]
        if order_a != order_b:
            tally.note(
                "workspace_symbols: ordering", f"{where}: Punie {order_a[:4]}, ours {order_b[:4]}"
            )
        compare_lists(
            tally, tool, where, inside, mine.symbols,
            key=lambda s: (s.name, s.file, s.line),
            fields_=("kind", "container_name"),
            missing_kind=lambda s, side: f"workspace_symbols: symbol {side}",
        )  # fmt: skip


CST_PATTERNS = (
    "FunctionDef", "ClassDef", "Call", "Decorator", "ImportFrom",
    "call:isinstance", "decorator:property", "import:typing",
)  # fmt: skip
CST_IMPORTS = ("import json", "from typing import Any", "import os")


async def oracle_cst(tally: Tally, cst: ModuleType, ctx: ToolContext, files: list[Path]) -> None:
    """``cst_find_pattern``, ``cst_rename`` and ``cst_add_import``: Punie's functions and
    ours on the same files, patterns, names and imports."""
    root = ctx.root
    for path in files:
        relative = path.relative_to(root).as_posix()
        for pattern in CST_PATTERNS:
            theirs = cst.cst_find_pattern(str(path), pattern)
            mine = await ours(ctx, "cst_find_pattern", file_path=relative, pattern=pattern)
            tool, where = "cst_find_pattern", f"{root.name}:{relative} {pattern}"
            for name in ("success", "match_count"):
                tally.check(tool, name, getattr(theirs, name), getattr(mine, name), "", where)
            compare_lists(
                tally, tool, where, theirs.matches, mine.matches,
                key=lambda m: (m.line, m.column, m.node_type),
                fields_=("code_snippet",),
                missing_kind=lambda m, side: f"cst_find_pattern: match {side}",
            )  # fmt: skip
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        for old in [*names[:2], "self"]:
            theirs = cst.cst_rename(str(path), old, f"{old}_renamed")
            mine = await ours(
                ctx, "cst_rename", file_path=relative, old_name=old, new_name=f"{old}_renamed"
            )
            tool, where = "cst_rename", f"{root.name}:{relative} {old}"
            for name in ("success", "rename_count", "modified_source"):
                tally.check(tool, name, getattr(theirs, name), getattr(mine, name), "", where)
        for statement in CST_IMPORTS:
            theirs = cst.cst_add_import(str(path), statement)
            mine = await ours(ctx, "cst_add_import", file_path=relative, import_stmt=statement)
            tool, where = "cst_add_import", f"{root.name}:{relative} {statement!r}"
            for name in ("success", "import_added", "modified_source"):
                tally.check(tool, name, getattr(theirs, name), getattr(mine, name), "", where)


async def oracle_validators(
    tally: Tally, theirs_by_name: dict[str, Callable[[str], Any]], ctx: ToolContext,
    files: list[Path],
) -> None:  # fmt: skip
    """The nine domain validators, Punie's and ours (the ``punie.tools`` plug-in)."""
    root = ctx.root
    tools = load_tools()
    for path in files:
        relative = path.relative_to(root).as_posix()
        for name, validator in theirs_by_name.items():
            theirs = validator(str(path))
            mine: Any = await call_tool(name, ctx, {"file_path": relative}, tools)
            tool, where = name, f"{root.name}:{relative}"
            for field_name in ("valid", "domain"):
                a, b = getattr(theirs, field_name), getattr(mine, field_name)
                tally.check(tool, field_name, a, b, "", where)
            local = any(i.rule == "inject-type-must-be-imported" for i in theirs.issues)
            kind = "validate_injection_site: a type defined in the file" if local else ""
            tally.check(tool, "len(issues)", len(theirs.issues), len(mine.issues), kind, where)
            compare_lists(
                tally, tool, where, theirs.issues, mine.issues,
                key=lambda i: i.rule,
                fields_=("severity", "message", "suggestion", "line"),
                missing_kind=lambda i, side: (
                    "validate_injection_site: a type defined in the file"
                    if i.rule == "inject-type-must-be-imported" else f"validators: issue {side}"
                ),
                field_kinds={"line": "validators: line where Punie has None"},
            )  # fmt: skip


# ---------------------------------------------------------------------------- main


@dataclass
class Plan:
    """What is asked about in one workspace."""

    python_files: list[Path]
    check_paths: list[str]
    """Paths given to typecheck and ruff_check: the root and its first package."""
    tests: str | None
    """The tests folder given to pytest_run, if any."""
    package: str | None
    """A folder given to the git tools as their ``path``."""
    sources: list[Path]
    """Up to six non-test modules for the LSP and LibCST tools."""


def _plan(root: Path) -> Plan:
    python_files = _python_files(root)
    package_dirs = sorted(p.parent.name for p in root.glob("*/__init__.py"))
    check_paths = [".", *package_dirs[:1]]
    if (root / "src" / "punie").is_dir():
        check_paths = ["src/punie/agent", "src/punie/cst"]
    folders = [root / "tests", *(root / d / "tests" for d in package_dirs)]
    tests = next((f.relative_to(root).as_posix() for f in folders if f.is_dir()), None)
    sources = [p for p in python_files if "tests" not in p.parts][:6]
    package = "src" if (root / "src").is_dir() else next(iter(package_dirs), None)
    return Plan(python_files, check_paths, tests, package, sources)


async def run_workspace(
    tally: Tally,
    punie: ModuleType,
    lsp: ModuleType,
    cst: ModuleType,
    validators: dict[str, Callable[[str], Any]],
    root: Path,
    args: argparse.Namespace,
) -> None:
    plan = await asyncio.to_thread(_plan, root)
    print(f"workspace {root.name}: {len(plan.python_files)} Python files", flush=True)
    ctx = ToolContext(root=root, trusted=True, timeout_seconds=300)
    for path in plan.check_paths:
        await oracle_typecheck(tally, punie, ctx, path)
        await oracle_ruff(tally, punie, ctx, path)
    if plan.tests:
        await oracle_pytest(tally, punie, ctx, plan.tests)
    await oracle_git(tally, punie, ctx, plan.package)

    client = lsp.LSPClient()
    client.root_uri = root.as_uri()  # Punie's client roots at its cwd: the workspace
    old, saved_env, punie_env = Path.cwd(), dict(os.environ), _environment()
    os.chdir(root)
    os.environ.clear()
    os.environ.update(punie_env)  # Punie's client starts `ty server` from os.environ
    try:
        await client.start()
        files = plan.sources
        queries = await oracle_symbols(tally, punie, client, ctx, files)
        await oracle_workspace_symbols(
            tally, punie, client, ctx, [*sorted(set(queries))[:8], "Erro"]
        )
        samples = await asyncio.to_thread(positions, root, files, args.positions)
        await oracle_navigation(tally, punie, client, ctx, samples)
        await oracle_cst(tally, cst, ctx, files)
        fixtures = await asyncio.to_thread(lambda: sorted(root.glob("tests/fixtures/cst/*.py")))
        await oracle_validators(tally, validators, ctx, files + fixtures)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(old)
        await client.shutdown()


async def main_async(args: argparse.Namespace) -> None:
    punie, lsp = load_punie(args.punie_src)
    cst = load_punie_cst(args.punie_src, punie)
    validators = load_punie_validators(args.punie_src)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="punie-oracle-") as scratch:
        tmp = Path(scratch)
        roots = [r for r in (library_workspace(tmp, d) for d in args.library) if r]
        roots.append(punie_workspace(tmp, args.punie_src))
        try:
            for root in roots:
                await run_workspace(tally, punie, lsp, cst, validators, root, args)
            if args.punie_git:
                await oracle_history(tally, punie, history_workspace(tmp, args.punie_git))
        finally:
            await default_pool().stop_all()
            await SERVER_TY.stop_all()
    print(tally.report())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--punie-src", type=Path, required=True, help="a checkout of pauleveritt/punie"
    )
    parser.add_argument(
        "--punie-git", type=Path, help="Punie's git directory: its history for git_log"
    )
    parser.add_argument(
        "--library",
        action="append",
        help=f"installed distribution (default {', '.join(LIBRARIES)})",
    )
    parser.add_argument(
        "--positions", type=int, default=40, help="navigation positions per workspace"
    )
    args = parser.parse_args(argv)
    args.library = args.library or list(LIBRARIES)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
