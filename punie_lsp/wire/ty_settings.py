"""The editor's ``ty`` section, what the running ty has of it, and the restart between.

ty 0.0.105 reads its settings only when it starts: from ``initializationOptions`` and
from the editor's answer to its one ``workspace/configuration`` (the first wins where
both set a key), and it has no handler for ``workspace/didChangeConfiguration``
(``tests/punie_lsp/wire/test_ty_settings_restart.py`` shows both on ty alone). So a
changed section restarts the ty child with it as its ``initializationOptions``
(``TyChild.replace``: the crash path's replay of documents and requests), once the
section stayed unchanged for ``SETTLE_SECONDS``. The same section again (a change of
``punie`` alone) restarts nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from punie_lsp.wire.forwarding import ty_section
from punie_lsp.wire.ty_child import TyChild

__all__ = ["SETTLE_SECONDS", "TySettings"]

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 0.5
"""How long the editor's ``ty`` section must stay unchanged before ty is restarted with
it: a burst of changes (a settings file reloaded on every save) restarts ty once, with
the last."""
REASON = "ty restarted for new settings"

_UNANSWERED = object()
"""ty has not had the editor's answer to its ``workspace/configuration`` yet."""


class TySettings:
    """One session's ``ty`` section and the ty child that must follow it."""

    def __init__(
        self,
        ty: TyChild,
        *,
        initial: Callable[[], dict[str, Any]],
        on_lost: Callable[[], None],
        on_replaced: Callable[[], None],
    ) -> None:
        """``initial``: the section of the editor's ``initializationOptions``;
        ``on_lost`` runs when the old ty stops taking messages (see ``TyChild.replace``),
        ``on_replaced`` once the restart is under way."""
        self._ty = ty
        self._initial = initial
        self._on_lost = on_lost
        self._on_replaced = on_replaced
        self._wanted: dict[str, Any] | None = None
        """The editor's section, once it changed it after ``initialize``."""
        self._given: Any = None
        """The ``initializationOptions`` the current ty was started with."""
        self._answered: Any = _UNANSWERED
        """The editor's answer to the current ty's ``workspace/configuration`` for ``ty``."""
        self._settle: asyncio.TimerHandle | None = None
        self._replacing = False
        self.stopped = False
        """The session is ending: no more restarts."""

    def current(self) -> dict[str, Any]:
        """The editor's ``ty`` section now (``{}`` when none)."""
        return dict(self._wanted) if self._wanted is not None else self._initial()

    def initialize_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """ty's ``InitializeParams`` for a start now: the section in force as its options."""
        if self._wanted is not None:
            params["initializationOptions"] = self._wanted
        self._given = params.get("initializationOptions")
        self._answered = _UNANSWERED
        return params

    def answered(self, value: Any) -> None:
        """The editor answered the current ty's ``workspace/configuration`` for ``ty``."""
        self._answered = value

    def change(self, section: Mapping[str, Any]) -> None:
        """The editor's ``ty`` section now (an object; Lua's ``[]`` read as ``{}`` here)."""
        fixed = ty_section(dict(section))
        self._wanted = dict(fixed) if isinstance(fixed, Mapping) else {}
        if self._settle is None and self._has_wanted():
            return  # nothing changed for ty, nothing waiting
        self._arm()

    @property
    def pending(self) -> bool:
        """A change waits to settle, or ty is restarting with it."""
        restarting = self._ty.state in ("starting", "restarting")
        return self._settle is not None or (restarting and not self._has_wanted())

    def ready(self) -> bool:
        """ty is up (``on_ready``): True when it replaced one for new settings. A change
        that came after this ty was given its section is applied in turn."""
        replaced, self._replacing = self._replacing, False
        if not self._has_wanted() and self._settle is None:
            self._arm()
        return replaced

    def _arm(self) -> None:
        if self._settle is not None:
            self._settle.cancel()
        self._settle = asyncio.get_running_loop().call_later(SETTLE_SECONDS, self._apply)

    def _has_wanted(self) -> bool:
        """The running ty has the editor's section: it was started with it, or (started
        with none) the editor answered its ``workspace/configuration`` with it."""
        wanted = self._wanted
        if wanted is None:
            return True
        given = self._given if isinstance(self._given, Mapping) else {}
        return wanted == given or (not given and wanted == self._answered)

    def _apply(self) -> None:
        self._settle = None
        if self.stopped or self._has_wanted():
            return
        # Not running (starting, restarting): that start reads the section when it spawns
        # ty, and ``ready`` comes back here if it changed after.
        if self._ty.replace(REASON, self._on_lost):
            self._replacing = True
            logger.info("%s", REASON)
            self._on_replaced()
