"""Which ty a tool asks: the run's live connection, else our own ``TyClient`` per root.

``TyClientPool`` owns one client per workspace root, started on first use and restarted
when ty died; ``default_pool()`` is the process-wide pool the tools fall back to, so the
CLI must ``await default_pool().stop_all()`` before exiting. Importing this module
starts nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from typed_tools.base import ToolContext, TyConnection
from typed_tools.ty_client import TyClient

__all__ = ["TyClientPool", "default_pool", "ty_connection"]


def _key(root: Path) -> Path:
    """Roots are compared resolved, so ``.`` and its absolute spelling share one ty."""
    return root.resolve()


class TyClientPool:
    """One lazily started ``TyClient`` per workspace root, with a stop for all of them."""

    def __init__(self, **client_options: Any) -> None:
        self._options = client_options
        self._clients: dict[Path, TyClient] = {}
        self._locks: dict[Path, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self, root: Path) -> TyClient:
        """The running ty for ``root``, starting (or restarting) it when needed."""
        root = _key(root)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Locks belong to one event loop; clients of a finished loop are restarted below.
            self._loop = loop
            self._locks.clear()
        async with self._locks.setdefault(root, asyncio.Lock()):
            ty = self._clients.get(root)
            if ty is not None and ty.running:
                return ty
            if ty is not None:
                await ty.stop()
            ty = TyClient(root, **self._options)
            await ty.start()
            self._clients[root] = ty
            return ty

    async def stop(self, root: Path) -> None:
        """Stop the client of ``root`` if one runs."""
        ty = self._clients.pop(_key(root), None)
        if ty is not None:
            await ty.stop()

    async def stop_all(self) -> None:
        """Stop every ty (at CLI exit, test teardown, server shutdown)."""
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(b.stop() for b in clients))


_default: TyClientPool | None = None


def default_pool() -> TyClientPool:
    """The process-wide pool, created on first use (importing this module starts nothing)."""
    global _default
    if _default is None:
        _default = TyClientPool()
    return _default


async def ty_connection(ctx: ToolContext) -> TyConnection:
    """The run's live server when there is one, else our own ty for the workspace root."""
    if ctx.ty is not None:
        return ctx.ty
    return await default_pool().get(ctx.root)
