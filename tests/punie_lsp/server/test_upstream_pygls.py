"""Where pygls 2.1 breaks, and punie-lsp's named workarounds do not.

``lsp_shutdown`` breaks when a request is in flight (workaround:
``PunieProtocol.lsp_shutdown``). ``TextDocument`` splits lines with ``str.splitlines``,
clamps positions one short and reads an unopened file with universal newlines
(workaround: ``punie_lsp.session.documents``). When a ``test_pygls_*`` test starts failing,
pygls has fixed it and the workaround can go.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument

from punie_lsp.server.protocol import PunieProtocol
from punie_lsp.session.documents import LspTextDocument


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


async def _stop() -> None:
    """Stands in for ``PunieLanguageServer.stop``: only asked for here."""


def test_punie_shutdown_cancels_them_all() -> None:
    protocol = LanguageServer("t", "0", protocol_cls=PunieProtocol).protocol
    assert isinstance(protocol, PunieProtocol)
    protocol.on_shutdown = _stop
    in_flight(protocol)
    futures = list(protocol._request_futures.values())
    steps = protocol.lsp_shutdown()
    assert next(steps)[0] is _stop  # it now asks for the server's children to be stopped
    assert all(f.cancelled() for f in futures)
    assert protocol._shutdown


# -- the document model: see punie_lsp.session.documents ------------------------------------------

FORM_FEED_FILE = "a = 1\f\nb = 2\nc = 3\n"
"""Three LSP lines; ``str.splitlines`` sees four (it breaks at the form feed too)."""


def _change_line_2() -> types.TextDocumentContentChangePartial:
    """What the editor sends when the user types ``4`` over the ``3`` of ``c = 3``."""
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=2, character=4), end=types.Position(line=2, character=5)
        ),
        text="4",
    )


def test_pygls_document_breaks_lines_at_a_form_feed() -> None:
    document = TextDocument("file:///w/a.py", FORM_FEED_FILE)
    document.apply_change(_change_line_2())
    assert document.source == "a = 1\f\nb = 4\nc = 3\n"  # the editor has c = 4


def test_pygls_codec_clamps_past_the_last_line_one_short() -> None:
    document = TextDocument("file:///w/a.py", "x\nab")
    end_of_line = types.Position(line=1, character=99)
    assert document.offset_at_position(end_of_line) == 3  # the end is 4


def test_punie_documents_keep_the_editors_text() -> None:
    document = LspTextDocument("file:///w/a.py", FORM_FEED_FILE)
    document.apply_change(_change_line_2())
    assert document.source == "a = 1\f\nb = 2\nc = 4\n"
    assert (
        LspTextDocument("file:///w/a.py", "x\nab").offset_at_position(
            types.Position(line=1, character=99)
        )
        == 4
    )


def test_pygls_document_of_an_unopened_file_loses_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"x = 1\r\ny = 2\r\n")
    assert TextDocument(path.as_uri()).source == "x = 1\ny = 2\n"  # universal newlines
    assert LspTextDocument(path.as_uri()).source == "x = 1\r\ny = 2\r\n"
