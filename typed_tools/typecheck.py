"""``typecheck``: ty's diagnostics, from the live server when there is one.

Under the LSP server, ``ctx.ty`` is the editor's ty child: asking it through pull
diagnostics (``textDocument/diagnostic``) answers in milliseconds from ty's warm
database and sees the editor's unsaved buffers. ty answers pull requests only for
open documents, so files the editor has not opened (and this run's overlay) are
handed to the connection first when it supports ``sync_documents``; otherwise ``ty
check`` answers for them. A connection whose ty runs in ``workspace`` diagnostic mode
(attribute ``workspace_diagnostics = True``) is asked once with ``workspace/diagnostic``
instead of once per file; one with ``workspace_report`` (``WorkspaceDiagnosticConnection``:
the server's private ty, ``TyClient``) gets only this run's proposals and answers
with the files that have diagnostics, so nothing else is listed, sent or read. Without
a connection, ``ty check --output-format gitlab`` (the JSON format ty has; there is no
plain ``json``) runs in a subprocess.

The result is what ``ty check`` reports: LSP *hints* (severity 4: ty's unused-code
marks, drawn faded by editors) are not diagnostics ``ty check`` prints, so they are
left out; a file whose real path is outside the workspace (a symlink ty followed) is
left out too.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from typed_tools.base import (
    DocumentSyncConnection,
    PositionEncoding,
    ToolContext,
    TyConnection,
    WorkspaceDiagnosticConnection,
)
from typed_tools.containment import off_loop
from typed_tools.lines import from_lsp_character
from typed_tools.models import Severity, TypeCheckError, TypeCheckResult
from typed_tools.process import run
from typed_tools.tool import tool
from typed_tools.ty_client import UNSEEN_RESULT_ID
from typed_tools.ty_environment import ty_environment, ty_executable
from typed_tools.workspace import (
    ToolFailure,
    display_path,
    iter_files,
    overlay_text,
    read_text,
    resolve,
    split_lines,
)

__all__ = ["parse_gitlab_json", "typecheck"]

_GITLAB_SEVERITY: dict[str, Severity] = {
    "blocker": "error",
    "critical": "error",
    "major": "error",
    "minor": "warning",
    "info": "info",
}

_LSP_SEVERITY: dict[int, Severity] = {1: "error", 2: "warning", 3: "info"}
"""LSP severities ``ty check`` also reports; 4 (hint: unused code) it does not."""
_PYTHON = (".py", ".pyi")
_CONVERTED = "punie.converted"
"""Where a workspace report keeps its conversion to results (never a key LSP uses)."""


def parse_gitlab_json(ctx: ToolContext, output: str, cwd: Path) -> list[TypeCheckError]:
    """Diagnostics from ``ty check --output-format gitlab`` (1-based character columns)."""
    try:
        items: list[dict[str, Any]] = json.loads(output or "[]")
    except json.JSONDecodeError as exc:
        raise ToolFailure(f"ty printed something that is not JSON: {output[:200]!r}") from exc
    errors = []
    visibility = ctx.visibility()
    for item in items:
        location = item["location"]
        shown = visibility.display(cwd / location["path"])
        if shown is None:
            continue  # a workspace link to a file outside it: its diagnostics quote it
        begin = location.get("positions", {}).get("begin", {"line": 1, "column": 1})
        code = item.get("check_name", "")
        errors.append(
            TypeCheckError(
                file=shown,
                line=begin["line"],
                column=begin["column"],
                severity=_GITLAB_SEVERITY.get(item.get("severity", ""), "error"),
                code=code,
                message=item.get("description", "").removeprefix(f"{code}: "),
            )
        )
    return errors


def _result(errors: list[TypeCheckError]) -> TypeCheckResult:
    errors.sort(key=lambda e: (e.file, e.line, e.column))
    error_count = sum(e.severity == "error" for e in errors)
    return TypeCheckResult(
        success=error_count == 0,
        error_count=error_count,
        warning_count=sum(e.severity == "warning" for e in errors),
        errors=errors,
    )


async def _via_cli(ctx: ToolContext, targets: list[Path]) -> list[TypeCheckError]:
    root = resolve(ctx, ".")
    executable = await asyncio.to_thread(ty_executable)
    completed = await run(
        [executable, "check", "--output-format", "gitlab", "--no-progress"]
        + [str(t) for t in targets],
        cwd=root,
        base_env=ty_environment(),  # the project's environment, never punie-lsp's
    )
    # 2 is also what ty exits with when a file could not be read (not UTF-8): its report
    # still lists that file (code ``io``) and every other file's diagnostics.
    if completed.returncode not in (0, 1, 2) or not completed.stdout.strip().startswith("["):
        raise ToolFailure(f"ty check failed: {completed.error_line('ty')}")
    return parse_gitlab_json(ctx, completed.stdout, root)


async def _pull(ctx: ToolContext, ty: TyConnection, path: Path, text: str) -> list[TypeCheckError]:
    report = await ty.request("textDocument/diagnostic", {"textDocument": {"uri": path.as_uri()}})
    return _convert(ctx, ty, path, text, (report or {}).get("items", []))


def _convert(
    ctx: ToolContext, ty: TyConnection, path: Path, text: str, items: list[Any]
) -> list[TypeCheckError]:
    """LSP diagnostics of one file as results, columns converted against the analysed text."""
    if not items:
        return []
    return _convert_items(display_path(ctx, path), text, items, ty.position_encoding)


def _primary(message: str) -> str:
    """The diagnostic's own message, as ``ty check`` prints it.

    ty's LSP message appends its sub-diagnostics after a blank line (``info: Searched in
    the following paths…``, hints); ``ty check``'s JSON carries the first part only.
    """
    return message.split("\n\n", 1)[0]


def _convert_items(
    file: str, text: str, items: list[Any], encoding: PositionEncoding
) -> list[TypeCheckError]:
    """``_convert`` with the file's display path worked out once by the caller."""
    lines = split_lines(text)
    errors = []
    for item in items:
        severity = _LSP_SEVERITY.get(item.get("severity") or 1)
        if severity is None:
            continue
        start = item["range"]["start"]
        line_text = lines[start["line"]] if start["line"] < len(lines) else ""
        code = item.get("code")
        errors.append(
            TypeCheckError(
                file=file,
                line=start["line"] + 1,
                column=from_lsp_character(line_text, start["character"], encoding),
                severity=severity,
                code=str(code) if code is not None else "",
                message=_primary(item["message"]),
            )
        )
    return errors


def _unreadable(ctx: ToolContext, path: Path, reason: str) -> TypeCheckError:
    return TypeCheckError(
        file=display_path(ctx, path),
        line=1,
        column=1,
        severity="error",
        code="io",
        message=f"Failed to read file: {reason}",
    )


async def _via_ty(ctx: ToolContext, ty: TyConnection, target: Path) -> list[TypeCheckError]:
    can_sync = isinstance(ty, DocumentSyncConnection)
    unreadable_files: list[TypeCheckError] = []
    texts: dict[Path, str] = {}
    to_sync: dict[str, str] = {}
    unopened: list[Path] = []

    def collect() -> None:
        """Walk and read off the event loop (a big tree or a slow disk must not block)."""
        for path in iter_files(ctx, target):
            if path.suffix not in (".py", ".pyi"):
                continue
            uri = path.as_uri()
            proposed = overlay_text(ctx, path)
            editor = ty.open_document_text(uri)
            if proposed is not None or editor is None:
                if not can_sync:
                    unopened.append(path)
                    continue
                try:
                    text = proposed if proposed is not None else read_text(ctx, path)
                except ToolFailure as unreadable:
                    # One unreadable file is a diagnostic of that file, as ``ty check`` says
                    # it (code ``io``), not the end of the whole check.
                    unreadable_files.append(_unreadable(ctx, path, str(unreadable)))
                    continue
                to_sync[uri] = text
            else:
                text = editor
            texts[path] = text

    await off_loop(collect)
    if to_sync and isinstance(ty, DocumentSyncConnection):
        await ty.sync_documents(to_sync)
    if getattr(ty, "workspace_diagnostics", False):
        # One request for the whole workspace; the files asked about were synced above.
        # ty may hold workspace/diagnostic open until something changes (LSP's long
        # polling), and with every file clean nothing has: it would never answer. Naming
        # each file with a result id ty never issued makes all of them reportable.
        previous = [{"uri": p.as_uri(), "value": UNSEEN_RESULT_ID} for p in texts]
        report = await ty.request("workspace/diagnostic", {"previousResultIds": previous})
        by_uri = {item["uri"]: item.get("items", []) for item in (report or {}).get("items", [])}
        batches = [_convert(ctx, ty, p, t, by_uri.get(p.as_uri(), [])) for p, t in texts.items()]
    else:
        batches = await asyncio.gather(*(_pull(ctx, ty, p, t) for p, t in texts.items()))
    errors = [error for batch in batches for error in batch] + unreadable_files
    if unopened:
        errors.extend(await _via_cli(ctx, unopened))
    return errors


async def _via_workspace_report(
    ctx: ToolContext, ty: WorkspaceDiagnosticConnection, target: Path
) -> list[TypeCheckError]:
    """One ``workspace_report``; only the files with diagnostics are looked at, once each."""
    proposed = {path.as_uri(): text for path, text in ctx.overlay.items() if path.suffix in _PYTHON}
    reports = await ty.workspace_report(proposed)
    return await off_loop(_report_errors, ctx, ty, target, reports, proposed)


def _report_errors(
    ctx: ToolContext,
    ty: WorkspaceDiagnosticConnection,
    target: Path,
    reports: list[Any],
    proposed: dict[str, str],
) -> list[TypeCheckError]:
    """The reports of files under ``target`` and inside the workspace, as results.

    A report that did not change since the last call is the same object (see
    ``WorkspaceDiagnosticConnection``), so its conversion is kept in it, under ``_CONVERTED``
    and keyed by what it depends on besides the report: the root and the encoding.
    """
    root = os.path.realpath(ctx.root)
    wanted = str(target)
    inside_wanted = wanted.rstrip(os.sep) + os.sep
    key = (root, ty.position_encoding)
    errors: list[TypeCheckError] = []
    for report in reports:
        cached = report.get(_CONVERTED)
        if cached is None or cached[0] != key:
            cached = (key, *_convert_report(ctx, ty, root, report, proposed))
            report[_CONVERTED] = cached
        _, real, converted = cached
        if real is not None and (real == wanted or real.startswith(inside_wanted)):
            errors.extend(converted)
    return errors


def _convert_report(
    ctx: ToolContext,
    ty: WorkspaceDiagnosticConnection,
    root: str,
    report: dict[str, Any],
    proposed: dict[str, str],
) -> tuple[str | None, list[TypeCheckError]]:
    """One file's report: its real path (None outside the workspace) and its results."""
    items = report.get("items") or []
    uri = report.get("uri", "")
    if not items or not uri.startswith("file:"):
        return None, []
    real = os.path.realpath(unquote(urlsplit(uri).path))
    if not real.startswith(root + os.sep):
        return None, []  # outside the workspace: a link ty followed
    text = proposed.get(uri)
    if text is None:
        text = ty.open_document_text(uri)
    if text is None:
        try:
            text = read_text(ctx, Path(real))
        except ToolFailure:
            text = ""  # gone since ty read it: columns then count as ASCII
    display = Path(os.path.relpath(real, root)).as_posix()
    return real, _convert_items(display, text, items, ty.position_encoding)


@tool
async def typecheck(ctx: ToolContext, path: str = ".") -> TypeCheckResult:
    """Type-check ``path`` (a file or folder) with ty; unsaved editor buffers are seen."""
    target = resolve(ctx, path)
    if not target.exists() and overlay_text(ctx, target) is None:
        raise ToolFailure(f"no such file or folder: {display_path(ctx, target)}")
    ty = ctx.ty
    if isinstance(ty, WorkspaceDiagnosticConnection) and ty.workspace_diagnostics:
        return _result(await _via_workspace_report(ctx, ty, target))
    if ty is not None:
        return _result(await _via_ty(ctx, ty, target))
    return _result(await _via_cli(ctx, [target]))
