"""The wire: LSP framing, JSON-RPC routing between the editor, ty and punie, the ty child.

Everything an editor's hover or definition passes through lives here, and none of it
imports pygls, lsprotocol or cattrs (an import-linter contract in ``pyproject.toml``
enforces it): importing those costs ~0.8 s, and the router answers ``initialize`` with
ty's capabilities while they load in a thread. Modules, bottom up:

* ``transport``: ``Content-Length`` framing; a TCP connection's asyncio side.
* ``pipes``: the reading threads and the shared, non-blocking writers that carry
  forwarded traffic of a stdio session (and ty's) past the event loop.
* ``jsonrpc``: error codes, notification methods, valid ids, punie's own answers, the
  envelope a reading thread routes by.
* ``forwarding``: which methods go to ty (advertised or registered: ``Routes``).
* ``ty_process`` / ``ty_child``: the ``ty server`` binary and process; its lifecycle
  (initialize, restarts, stop) and punie's own requests to it.
* ``initialize``: what punie advertises, what ty is started with.
* ``ty_requests``: ty's requests to the editor, relayed under ids of our own.
* ``pending``: editor requests forwarded to ty that it has not answered yet.
* ``code_actions``: punie's code actions, merged into ty's.
* ``router``: decides, per editor message, who answers it (ty, punie's pygls server,
  itself), and routes ty's answers back.
"""
