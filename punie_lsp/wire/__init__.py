"""The wire: LSP framing, JSON-RPC routing between the editor, ty and punie, the ty child.

Everything an editor's hover or definition passes through lives here, and none of it
imports pygls, lsprotocol or cattrs (an import-linter contract in ``pyproject.toml``
enforces it): importing those costs ~0.8 s, and the router answers ``initialize`` with
ty's capabilities while they load in a thread. Modules:

* ``transport``: ``Content-Length`` framing over asyncio pipes, stdin/stdout set-up.
* ``forwarding``: which methods go to ty (advertised or registered capabilities).
* ``ty_child``: the ``ty server`` process (spawn, initialize, restart, stop).
* ``router``: decides, per message, who answers it (ty, punie's pygls server, itself).
"""
