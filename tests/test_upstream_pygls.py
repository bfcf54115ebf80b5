"""pygls 2.1's ``lsp_shutdown`` breaks when a request is in flight; ours does not.

If the first test starts failing (pygls no longer raises), the workaround in
``PunieProtocol.lsp_shutdown`` can go.
"""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from punie_lsp.protocol import PunieProtocol


def in_flight(protocol: LanguageServerProtocol) -> None:
    """Two running requests whose completion callbacks forget them (as pygls' own do)."""
    for msg_id in ("a", "b"):
        future: Future[object] = Future()
        future.add_done_callback(lambda _, m=msg_id: protocol._request_futures.pop(m, None))
        protocol._request_futures[msg_id] = future


def test_pygls_shutdown_raises_with_requests_in_flight() -> None:
    protocol = LanguageServer("t", "0").protocol
    in_flight(protocol)
    with pytest.raises(RuntimeError, match="dictionary changed size during iteration"):
        list(protocol.lsp_shutdown())


class Owner(LanguageServer):
    """Stands in for PunieLanguageServer: only its ``stop`` is asked for here."""

    async def stop(self) -> None:
        return None


def test_punie_shutdown_cancels_them_all() -> None:
    protocol = Owner("t", "0", protocol_cls=PunieProtocol).protocol
    assert isinstance(protocol, PunieProtocol)
    in_flight(protocol)
    futures = list(protocol._request_futures.values())
    steps = protocol.lsp_shutdown()
    next(steps)  # it now asks for the server's children to be stopped
    assert all(f.cancelled() for f in futures)
    assert protocol._shutdown
