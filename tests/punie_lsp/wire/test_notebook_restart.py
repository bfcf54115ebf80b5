"""A notebook survives a ty restart as a notebook: its cells still share one namespace.

Cells are replayed with ``notebookDocument/didOpen`` (one document, ordered cells), not
as separate files in which a name defined in an earlier cell would be undefined; and
the editor's later ``notebookDocument/didChange`` applies to the replayed notebook.
The crash is real (SIGKILL of punie's ty child).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURE_PROJECT
from tests.rawlsp import RawServer, wait_gone

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[RawServer, Path]]:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, root)
    server = RawServer(cwd=root)
    try:
        response = server.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": "project"}],
                "capabilities": {
                    "textDocument": {"diagnostic": {"dynamicRegistration": False}},
                    "notebookDocument": {"synchronization": {"dynamicRegistration": False}},
                },
            },
        )
        assert "result" in response, response
        server.notify("initialized", {})
        yield server, root
    finally:
        server.kill()


def _cell(notebook: Path, n: int) -> str:
    return f"vscode-notebook-cell:{notebook}#cell{n}"


def _problems(server: RawServer, uri: str) -> list[str]:
    report = server.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
    assert "result" in report, report
    return [d["message"] for d in report["result"]["items"]]


def _open_notebook(server: RawServer, notebook: Path) -> None:
    texts = ["count = 1\n", "total = count + 1\n"]
    cells: list[dict[str, Any]] = [
        {"kind": 2, "document": _cell(notebook, i)} for i in range(len(texts))
    ]
    server.notify(
        "notebookDocument/didOpen",
        {
            "notebookDocument": {
                "uri": notebook.as_uri(),
                "notebookType": "jupyter-notebook",
                "version": 1,
                "cells": cells,
            },
            "cellTextDocuments": [
                {"uri": _cell(notebook, i), "languageId": "python", "version": 1, "text": t}
                for i, t in enumerate(texts)
            ],
        },
    )


def test_a_restarted_ty_gets_the_notebook_back(server: tuple[RawServer, Path]) -> None:
    raw, root = server
    notebook = root / "analysis.ipynb"
    _open_notebook(raw, notebook)
    second = _cell(notebook, 1)
    assert _problems(raw, second) == []  # `count` comes from the first cell

    (ty,) = raw.ty_children()
    ty.kill()
    assert wait_gone([ty], 10) == []
    # Waits for the restarted ty (requests are queued while it comes back).
    assert _problems(raw, second) == []

    raw.notify(
        "notebookDocument/didChange",
        {
            "notebookDocument": {"uri": notebook.as_uri(), "version": 2},
            "change": {
                "cells": {
                    "textContent": [
                        {
                            "document": {"uri": second, "version": 2},
                            "changes": [{"text": "total = count + missing_name\n"}],
                        }
                    ]
                }
            },
        },
    )
    problems = _problems(raw, second)
    assert any("missing_name" in p for p in problems), problems
    assert not any("`count`" in p for p in problems), problems
