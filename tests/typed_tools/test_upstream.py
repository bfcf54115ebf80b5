"""pygls client behaviour that ``typed_tools/_upstream.py`` works around, shown directly.

These tests assert the *current* upstream behaviour. When one fails after an upgrade,
upstream changed: re-check the workaround it justifies and delete it if it is moot.
"""

from __future__ import annotations

import asyncio
import sys

from pygls.lsp.client import LanguageClient

from typed_tools._upstream import client_process


async def test_a_started_client_exposes_no_public_process() -> None:
    """Workaround 1: after ``start_io`` nothing public of the client holds the process."""
    client = LanguageClient("upstream-test", "0")
    # A child that waits for stdin to close: a stand-in server that never speaks.
    await client.start_io(sys.executable, "-c", "import sys; sys.stdin.read()")
    try:
        process = client_process(client)
        assert isinstance(process, asyncio.subprocess.Process)
        assert process.returncode is None

        holders = [
            f"{owner_name}.{name}"
            for owner_name, owner in (("client", client), ("client.protocol", client.protocol))
            for name in dir(owner)
            if not name.startswith("_") and _read(owner, name) is process
        ]
        assert holders == [], f"pygls now exposes the process as {holders}: use it instead"
    finally:
        process = client_process(client)
        assert process is not None
        if process.stdin is not None:
            process.stdin.close()
        await client.stop()
    assert process.returncode == 0


def _read(owner: object, name: str) -> object:
    """An attribute's value, or None for a property that refuses before ``initialize``."""
    try:
        return getattr(owner, name)
    except RuntimeError:
        return None
