"""What an agent command asks of one run: the prompt, where, and whether it may edit.

Its own module so that the run (``agent_host``) and what records it (``traces``) both
read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Request"]


@dataclass(frozen=True, kw_only=True)
class Request:
    """One agent command, resolved: what to ask and what the answer may change."""

    command: str
    prompt: str
    title: str
    root: Path
    conversation_id: str
    continues: bool = False
    """The editor passed ``conversation_id`` (a follow-up), rather than punie-lsp making it."""
    may_edit: bool = True
