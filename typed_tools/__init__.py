"""Typed tools: Pydantic results for ty, ruff, pytest, LSP navigation, files and git.

Importing the package starts nothing: ty clients start on first use, plug-ins load
when ``load_tools()`` is called.
"""

from typed_tools.base import (
    DocumentSyncBackend,
    PositionEncoding,
    ResultItem,
    SemanticBackend,
    ToolArgumentError,
    ToolContext,
    ToolResult,
)
from typed_tools.registry import (
    ENTRY_POINT_GROUP,
    ToolSpec,
    builtin_tools,
    call_tool,
    json_schema,
    load_tools,
    stubs,
)
from typed_tools.ty_client import TyBackend, TyBackendPool, default_pool

__all__ = [
    "ENTRY_POINT_GROUP",
    "DocumentSyncBackend",
    "PositionEncoding",
    "ResultItem",
    "SemanticBackend",
    "ToolArgumentError",
    "ToolContext",
    "ToolResult",
    "ToolSpec",
    "TyBackend",
    "TyBackendPool",
    "builtin_tools",
    "call_tool",
    "default_pool",
    "json_schema",
    "load_tools",
    "stubs",
]
