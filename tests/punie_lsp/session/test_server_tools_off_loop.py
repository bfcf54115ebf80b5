"""The server builds the typed tools off the event loop.

Building them imports every ``punie.tools`` plug-in (the domain validators' LibCST takes
~1 s) and renders the stubs. Done on the loop by the first ``punie.runCode`` or
``punie.tool``, it held every forwarded request meanwhile (a hover waited 0.6 s in the
hostile suite under ``PYTHONASYNCIODEBUG``).
"""

from __future__ import annotations

import threading
from typing import Any

from agent.code_mode import CodeModeTools
from punie_lsp.server.language_server import PunieLanguageServer
from punie_lsp.wire.router import Router
from punie_lsp.wire.transport import FrameWriter


class _Discard(FrameWriter):
    """A writer with no editor behind it (nothing is sent in this test)."""

    def __init__(self) -> None:
        pass

    def write_body(self, body: bytes) -> None:
        pass


async def test_the_tools_are_built_once_in_a_worker_thread(monkeypatch: Any) -> None:
    built_in: list[threading.Thread] = []
    load = CodeModeTools.load

    def recording_load(*args: Any, **kwargs: Any) -> CodeModeTools:
        built_in.append(threading.current_thread())
        return load(*args, **kwargs)

    monkeypatch.setattr(CodeModeTools, "load", recording_load)
    server = PunieLanguageServer(Router(_Discard(), on_exit=lambda _: None))
    first = await server.session.load_code_mode_tools()
    again = await server.session.load_code_mode_tools()
    assert first is again
    assert built_in and built_in[0] is not threading.current_thread()
    assert len(built_in) == 1
    assert "read_file" in first.tools and "validate_component" in first.tools
