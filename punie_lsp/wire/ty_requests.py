"""ty's requests to the editor: relayed under ids of our own, their answers routed back.

ty asks the editor for its configuration, registers capabilities, creates progress
tokens and asks for refreshes. Each request is sent to the editor under a ``ty:N`` id
(ty's own ids could collide with pygls'), tagged with the generation of the ty that
asked: an answer meant for a ty that has since been replaced is dropped.
Registrations also change what is forwarded (``forwarding.Routes``), and a restarted
ty's repeated registrations are answered here: the editor still has them.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from punie_lsp.wire.forwarding import Routes, ty_section
from punie_lsp.wire.ty_child import TyChild

__all__ = ["RELAY_PREFIX", "TyRequests"]

logger = logging.getLogger(__name__)

RELAY_PREFIX = "ty:"
"""Prefix of the ids under which ty's requests reach the editor."""

_REGISTRATION_METHODS = frozenset({"client/registerCapability", "client/unregisterCapability"})


class TyRequests:
    """The requests ty has made of the editor that the editor has not answered yet."""

    def __init__(
        self,
        ty: TyChild,
        routes: Routes,
        *,
        to_client: Callable[[bytes], None],
        ty_settings: Callable[[], dict[str, Any]],
        on_ty_section: Callable[[Any], None] | None = None,
    ) -> None:
        """``on_ty_section`` hears the editor's answer for section ``ty`` to the current
        ty's ``workspace/configuration`` (what that ty now has)."""
        self._ty = ty
        self._routes = routes
        self._to_client = to_client
        self._ty_settings = ty_settings
        self._on_ty_section = on_ty_section
        self._relayed: dict[str, tuple[int, int | str]] = {}
        """Our id -> (generation of the ty that asked, ty's id)."""
        self._configuration_relays: dict[str, list[Any]] = {}
        """Relayed ``workspace/configuration`` requests (their items' sections): their
        answers get ``ty_section``, and an error answer becomes the initialization options."""
        self._ids = itertools.count(1)
        self.progress_tokens: set[Any] = set()
        """Tokens ty created (``window/workDoneProgress/create``): their cancels go to ty."""

    def relay(self, message: dict[str, Any]) -> None:
        """Send one of ty's requests to the editor (or answer a repeated registration)."""
        method = message["method"]
        params = message.get("params")
        if method == "window/workDoneProgress/create" and isinstance(params, dict):
            self.progress_tokens.add(params.get("token"))
        elif method in _REGISTRATION_METHODS and isinstance(params, dict):
            stale = self._routes.changed(params) if method == "client/registerCapability" else []
            if stale:
                unregister = {"unregisterations": stale}  # the LSP spec's spelling
                self._routes.track("client/unregisterCapability", unregister)
                self.ask_editor("client/unregisterCapability", unregister)
            if self._routes.track(method, params):
                self._ty.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                return
        relay_id = f"{RELAY_PREFIX}{next(self._ids)}"
        self._relayed[relay_id] = (self._ty.restarts, message["id"])
        if method == "workspace/configuration":
            items = params.get("items") if isinstance(params, dict) else None
            sections = [i.get("section") if isinstance(i, dict) else None for i in items or []]
            self._configuration_relays[relay_id] = sections
        self._to_client(json.dumps({**message, "id": relay_id}).encode())

    def ask_editor(self, method: str, params: Any) -> None:
        """A request of punie's own to the editor, in the relayed ones' order; its answer
        is dropped (generation -1 is no ty's)."""
        relay_id = f"{RELAY_PREFIX}{next(self._ids)}"
        self._relayed[relay_id] = (-1, relay_id)
        message = {"jsonrpc": "2.0", "id": relay_id, "method": method, "params": params}
        self._to_client(json.dumps(message).encode())

    def relay_cancel(self, message: dict[str, Any]) -> None:
        """ty cancels a request it made of the editor: name it by the id the editor saw."""
        params = message.get("params")
        if not isinstance(params, dict):
            return
        for relay_id, (generation, asked) in self._relayed.items():
            if asked == params.get("id") and generation == self._ty.restarts:
                note = {**message, "params": {**params, "id": relay_id}}
                self._to_client(json.dumps(note).encode())
                return

    def answer(self, msg_id: int | str, message: dict[str, Any]) -> bool:
        """Route the editor's answer to ty; False when ``msg_id`` is not one we relayed."""
        relay = self._relayed.pop(msg_id, None) if isinstance(msg_id, str) else None
        if relay is None:
            return False
        generation, ty_id = relay
        sections = self._configuration_relays.pop(msg_id, None)
        if sections is not None:
            items = message.get("result")
            if isinstance(items, list):  # Lua's [] where ty expects an object
                message = {**message, "result": [ty_section(item) for item in items]}
                if "ty" in sections and generation == self._ty.restarts and self._on_ty_section:
                    index = sections.index("ty")
                    if index < len(message["result"]):
                        self._on_ty_section(message["result"][index])
            elif "error" in message:
                # ty 0.0.105 answers no request again once its workspace/configuration got
                # an error (tests/punie_lsp/wire/test_workspace_relay.py shows it on ty
                # alone), and
                # vscode-languageclient 9 answers MethodNotFound to one that arrives just
                # after `initialized`. ty gets what the editor sent at initialize instead.
                logger.warning("editor refused ty's workspace/configuration: %s", message)
                answer = [self._ty_settings() if s == "ty" else None for s in sections]
                message = {"jsonrpc": "2.0", "id": msg_id, "result": answer}
        if generation == self._ty.restarts:  # else: the ty that asked has been replaced
            self._ty.send({**message, "id": ty_id})
        return True
