"""Typed tools: Pydantic results for ty, ruff, pytest, LSP navigation, files and git.

Importing the package starts nothing: ty clients start on first use, plug-ins load
when ``load_tools()`` is called.
"""

from typed_tools.base import (
    DocumentSyncConnection,
    PositionEncoding,
    ResultItem,
    ToolArgumentError,
    ToolContext,
    ToolResult,
    TyConnection,
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
from typed_tools.ty_client import TyClient
from typed_tools.ty_pool import TyClientPool, default_pool

__all__ = [
    "ENTRY_POINT_GROUP",
    "DocumentSyncConnection",
    "PositionEncoding",
    "ResultItem",
    "ToolArgumentError",
    "ToolContext",
    "ToolResult",
    "ToolSpec",
    "TyClient",
    "TyClientPool",
    "TyConnection",
    "builtin_tools",
    "call_tool",
    "default_pool",
    "json_schema",
    "load_tools",
    "stubs",
]
