"""Workarounds for pygls 2 (2.0) client behaviour, kept in one place with their tests.

Each entry says what pygls does, what we do instead, and which test in
``tests/typed_tools/test_upstream.py`` shows the behaviour, so the workaround can be
deleted the day that test starts failing. (The cattrs/lsprotocol one lives in
``typed_tools.lsp_converter``.)

1. **A client does not expose the server process it started.** ``JsonRPCClient.start_io``
   keeps the ``asyncio.subprocess.Process`` in the private ``_server`` attribute and hands
   it out only to ``server_exit`` once it has already exited. ``TyClient`` must know
   whether ty still runs (a crashed ty is restarted) and kill a ty that ignores
   ``shutdown``, so ``client_process`` reads that attribute here and nowhere else.
   Test: ``test_a_started_client_exposes_no_public_process``.
"""

from __future__ import annotations

import asyncio

from pygls.client import JsonRPCClient

__all__ = ["client_process"]


def client_process(client: JsonRPCClient) -> asyncio.subprocess.Process | None:
    """The server process ``client.start_io`` started, or None before it (workaround 1)."""
    return client._server  # the one private read of pygls in typed_tools
