"""The cattrs/lsprotocol notebook-filter trap, shown on ty's real capabilities.

If this test's first half starts failing (the stock converter copes), lsprotocol has
fixed the bug and ``typed_tools.lsp_converter`` can drop its hook.
"""

from __future__ import annotations

import asyncio
import json

import cattrs
import pytest
from lsprotocol import types
from pygls.protocol import default_converter
from ty import find_ty_bin

from typed_tools.lsp_converter import converter


async def ty_capabilities() -> dict:
    proc = await asyncio.create_subprocess_exec(
        find_ty_bin(), "server", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": None, "capabilities": {}},
        }
    ).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    header = await proc.stdout.readuntil(b"\r\n\r\n")
    length = int(header.split(b":")[1].split(b"\r\n")[0])
    result = json.loads(await proc.stdout.readexactly(length))["result"]
    proc.kill()
    await proc.wait()
    return result["capabilities"]


async def test_stock_converter_fails_and_ours_structures_tys_capabilities() -> None:
    capabilities = await ty_capabilities()
    assert "notebookDocumentSync" in capabilities
    with pytest.raises(cattrs.BaseValidationError) as failure:
        default_converter().structure(capabilities, types.ServerCapabilities)
    assert "Unsupported type" in repr(failure.value.exceptions)

    structured = converter().structure(capabilities, types.ServerCapabilities)
    sync = structured.notebook_document_sync
    assert isinstance(sync, types.NotebookDocumentSyncOptions)
    cells = sync.notebook_selector[0].cells
    assert cells is not None
    assert cells[0].language == "python"


@pytest.mark.parametrize(
    ("notebook", "expected"),
    [
        (None, None),
        ("jupyter-notebook", "jupyter-notebook"),
        ({"notebookType": "jupyter"}, types.NotebookDocumentFilterNotebookType("jupyter")),
        ({"scheme": "file"}, types.NotebookDocumentFilterScheme(scheme="file")),
        ({"pattern": "*.ipynb"}, types.NotebookDocumentFilterPattern(pattern="*.ipynb")),
    ],
)
def test_every_form_of_the_notebook_filter(notebook: object, expected: object) -> None:
    selector: dict[str, object] = {"cells": [{"language": "python"}]}
    if notebook is not None:
        selector["notebook"] = notebook
    options = {"notebookSelector": [selector]}
    structured = converter().structure(options, types.NotebookDocumentSyncOptions)
    assert structured.notebook_selector[0].notebook == expected


def test_a_filter_of_the_wrong_shape_is_an_error() -> None:
    options = {"notebookSelector": [{"cells": [], "notebook": 42}]}
    with pytest.raises(cattrs.BaseValidationError):
        converter().structure(options, types.NotebookDocumentSyncOptions)
