"""Shared by the editor tests: where the editor set-ups live, what the server serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from punie_lsp.router import PUNIE_COMMANDS

EDITORS = Path(__file__).resolve().parents[2] / "editors"

AGENT_COMMANDS = (
    "punie.ask",
    "punie.fix",
    "punie.explain",
    "punie.writeTests",
    "punie.resetConversation",
)
"""The agent commands DESIGN.md's LSP contract names (served once the agent lands)."""


def missing_commands(*names: str) -> list[str]:
    return [name for name in names if name not in PUNIE_COMMANDS]


def require_server_commands(*names: str) -> None:
    """Skip, naming what is missing, while the server does not serve ``names`` yet."""
    missing = missing_commands(*names)
    if missing:
        pytest.skip(f"punie-lsp does not serve {', '.join(missing)} yet (PUNIE_COMMANDS)")
