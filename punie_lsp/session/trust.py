"""Trust per workspace folder: whether tools may run a folder's own code (``pytest_run``).

The ``trust`` setting is one boolean per connection, but one connection serves several
folders once the editor adds some (``workspace/didChangeWorkspaceFolders``; Neovim's
``vim.lsp.buf.add_workspace_folder()``, and Neovim then sends that folder's files to the
same client). The trust the editor gave for its first folders must not spread to a
folder added later: the Neovim plug-in trusts only the folders in its ``trusted`` list.

So each folder's trust is the editor's answer to ``workspace/configuration`` for section
``punie`` with that folder as ``scopeUri`` (LSP's per-resource settings; VS Code answers
its window's trust, the Neovim plug-in whether that folder is in ``trusted``). Until a
folder has an answer: a folder the session started with has the ``trust`` setting; a
folder added later is untrusted (it would otherwise be trusted for as long as the
editor takes to answer). An answer without a boolean ``trust`` means the setting. An
editor that cannot answer ``workspace/configuration`` has the setting for every folder:
it has no other way to say.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["FolderTrust"]


class FolderTrust:
    """Per-folder answers to the scoped ``punie`` configuration; see the module."""

    def __init__(self) -> None:
        self._answers: dict[Path, bool | None] = {}
        """A folder -> its scoped ``trust`` (None: the answer did not say)."""
        self._initial: set[Path] = set()

    def started_with(self, folders: Iterable[Path]) -> None:
        """The folders of ``initialize``: the ``trust`` setting was given for them."""
        self._initial = set(folders)

    def answered(self, folder: Path, section: Any) -> None:
        """The editor's scoped ``punie`` section for ``folder``."""
        trust = section.get("trust") if isinstance(section, dict) else None
        self._answers[folder] = trust if isinstance(trust, bool) else None

    def removed(self, folder: Path) -> None:
        self._answers.pop(folder, None)
        self._initial.discard(folder)

    def trusted(self, folder: Path, *, setting: bool, scoped: bool) -> bool:
        """Whether ``folder`` may run its code: ``setting`` is the ``trust`` setting,
        ``scoped`` whether the editor answers ``workspace/configuration``."""
        if not scoped:
            return setting
        if folder in self._answers:
            answer = self._answers[folder]
            return setting if answer is None else answer
        return setting and folder in self._initial
