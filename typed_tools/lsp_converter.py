"""The cattrs converter for LSP messages, with the one upstream workaround we need.

cattrs >= 25 with lsprotocol 2025.0.0 cannot structure
``NotebookDocumentFilterWithCells.notebook``: its type is
``Optional[Union[str, NotebookDocumentFilterNotebookType, NotebookDocumentFilterScheme,
NotebookDocumentFilterPattern]]`` and lsprotocol registers no hook for the optional form.
ty and ruff both advertise ``notebookDocumentSync`` with such a filter, so a pygls
client structuring their ``initialize`` result fails inside its JSON decoder and then
waits forever for a response it already received. ``converter()`` registers the missing
hook; ``tests/typed_tools/test_lsp_converter.py`` shows the stock converter failing on ty's real
capabilities and this one succeeding. Remove the hook once lsprotocol ships one.
"""

from __future__ import annotations

from typing import Any, get_type_hints

import cattrs
from lsprotocol import types
from pygls.protocol import default_converter

__all__ = ["NOTEBOOK_FILTER_TYPE", "converter"]

NOTEBOOK_FILTER_TYPE = get_type_hints(types.NotebookDocumentFilterWithCells)["notebook"]
"""The optional union that cattrs cannot structure on its own."""

_FILTERS = (
    # Tried in order: each requires a different key, so the first that fits is the one meant.
    types.NotebookDocumentFilterNotebookType,
    types.NotebookDocumentFilterScheme,
    types.NotebookDocumentFilterPattern,
)


def _structure_notebook_filter(
    conv: cattrs.Converter, value: Any, _: Any
) -> str | types.NotebookDocumentFilter | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        for cls in _FILTERS:
            try:
                return conv.structure(value, cls)
            except (cattrs.BaseValidationError, TypeError, KeyError):
                continue
    raise TypeError(f"not a notebook document filter: {value!r}")


def converter() -> cattrs.Converter:
    """pygls' default converter plus the notebook-filter hook (see the module docstring)."""
    conv = default_converter()
    # Registered against the resolved type: the attrs field holds forward references.
    conv.register_structure_hook(
        NOTEBOOK_FILTER_TYPE, lambda value, t: _structure_notebook_filter(conv, value, t)
    )
    return conv
