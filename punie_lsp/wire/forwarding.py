"""Which LSP methods go to ty: what it advertised at ``initialize`` and what it registered.

A request is forwarded when ty advertised the capability that covers it, or registered
it later with ``client/registerCapability`` (ty registers pull diagnostics that way for
a client declaring ``textDocument.diagnostic.dynamicRegistration``, which VS Code's
language client does); everything else is punie's (or unknown: ``MethodNotFound``).
Document and workspace notifications always go to ty so its view of the editor
matches ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "FORWARDED_NOTIFICATIONS",
    "PYGLS_STATE_NOTIFICATIONS",
    "Routes",
    "forwarded_requests",
    "registered_requests",
    "ty_section",
]

CAPABILITY_METHODS: Mapping[str, tuple[str, ...]] = {
    "hoverProvider": ("textDocument/hover",),
    "definitionProvider": ("textDocument/definition",),
    "declarationProvider": ("textDocument/declaration",),
    "typeDefinitionProvider": ("textDocument/typeDefinition",),
    "implementationProvider": ("textDocument/implementation",),
    "referencesProvider": ("textDocument/references",),
    "documentHighlightProvider": ("textDocument/documentHighlight",),
    "documentSymbolProvider": ("textDocument/documentSymbol",),
    "workspaceSymbolProvider": ("workspace/symbol", "workspaceSymbol/resolve"),
    "completionProvider": ("textDocument/completion", "completionItem/resolve"),
    "signatureHelpProvider": ("textDocument/signatureHelp",),
    "renameProvider": ("textDocument/rename", "textDocument/prepareRename"),
    "inlayHintProvider": ("textDocument/inlayHint", "inlayHint/resolve"),
    "semanticTokensProvider": (
        "textDocument/semanticTokens/full",
        "textDocument/semanticTokens/full/delta",
        "textDocument/semanticTokens/range",
    ),
    "foldingRangeProvider": ("textDocument/foldingRange",),
    "selectionRangeProvider": ("textDocument/selectionRange",),
    "callHierarchyProvider": (
        "textDocument/prepareCallHierarchy",
        "callHierarchy/incomingCalls",
        "callHierarchy/outgoingCalls",
    ),
    "typeHierarchyProvider": (
        "textDocument/prepareTypeHierarchy",
        "typeHierarchy/supertypes",
        "typeHierarchy/subtypes",
    ),
    "codeActionProvider": ("textDocument/codeAction", "codeAction/resolve"),
    "codeLensProvider": ("textDocument/codeLens", "codeLens/resolve"),
    "documentLinkProvider": ("textDocument/documentLink", "documentLink/resolve"),
    "colorProvider": ("textDocument/documentColor", "textDocument/colorPresentation"),
    "documentFormattingProvider": ("textDocument/formatting",),
    "documentRangeFormattingProvider": ("textDocument/rangeFormatting",),
    "documentOnTypeFormattingProvider": ("textDocument/onTypeFormatting",),
    "linkedEditingRangeProvider": ("textDocument/linkedEditingRange",),
    "monikerProvider": ("textDocument/moniker",),
    "inlineValueProvider": ("textDocument/inlineValue",),
    "diagnosticProvider": ("textDocument/diagnostic", "workspace/diagnostic"),
}

FILE_OPERATION_METHODS: Mapping[str, str] = {
    "willCreate": "workspace/willCreateFiles",
    "willRename": "workspace/willRenameFiles",
    "willDelete": "workspace/willDeleteFiles",
}

FORWARDED_NOTIFICATIONS = frozenset(
    {
        "textDocument/didOpen",
        "textDocument/didChange",
        "textDocument/didClose",
        "textDocument/didSave",
        "textDocument/willSave",
        "notebookDocument/didOpen",
        "notebookDocument/didChange",
        "notebookDocument/didSave",
        "notebookDocument/didClose",
        "workspace/didChangeWorkspaceFolders",
        "workspace/didChangeConfiguration",
        "workspace/didChangeWatchedFiles",
        "workspace/didCreateFiles",
        "workspace/didRenameFiles",
        "workspace/didDeleteFiles",
        "$/setTrace",
    }
)
"""Editor notifications ty always receives (when it is running; a restart replays state)."""

PYGLS_STATE_NOTIFICATIONS = frozenset(
    {
        "textDocument/didOpen",
        "textDocument/didChange",
        "textDocument/didClose",
        "notebookDocument/didOpen",
        "notebookDocument/didChange",
        "notebookDocument/didClose",
        "workspace/didChangeWorkspaceFolders",
        "workspace/didChangeConfiguration",
        "$/setTrace",
    }
)
"""Forwarded notifications that also update punie's own state (documents, folders, settings)."""


def _advertised(value: Any) -> bool:
    return value is not None and value is not False


def forwarded_requests(capabilities: Mapping[str, Any]) -> frozenset[str]:
    """The request methods ty serves, according to its ``ServerCapabilities``."""
    methods: set[str] = set()
    for capability, names in CAPABILITY_METHODS.items():
        if _advertised(capabilities.get(capability)):
            methods.update(names)
    workspace = capabilities.get("workspace")
    operations = workspace.get("fileOperations") if isinstance(workspace, Mapping) else None
    if isinstance(operations, Mapping):
        for key, method in FILE_OPERATION_METHODS.items():
            if _advertised(operations.get(key)):
                methods.add(method)
    sync = capabilities.get("textDocumentSync")
    if isinstance(sync, Mapping) and sync.get("willSaveWaitUntil"):
        methods.add("textDocument/willSaveWaitUntil")
    return frozenset(methods)


REGISTRATION_METHODS: Mapping[str, tuple[str, ...]] = {
    **{names[0]: names for names in CAPABILITY_METHODS.values()},
    # LSP names the registration of all three semantic-token requests by their stem.
    "textDocument/semanticTokens": CAPABILITY_METHODS["semanticTokensProvider"],
    **{method: (method,) for method in FILE_OPERATION_METHODS.values()},
    "textDocument/willSaveWaitUntil": ("textDocument/willSaveWaitUntil",),
}
"""A ``Registration.method`` and the request methods it lets the editor send (LSP 3.17,
"Client capabilities" / dynamic registration: a registration names the feature's
request; follow-ups such as ``completionItem/resolve`` come with it)."""


def registered_requests(method: str) -> tuple[str, ...]:
    """The request methods a ``Registration`` of ``method`` covers (none for notifications)."""
    return REGISTRATION_METHODS.get(method, ())


class Routes:
    """What goes to ty now: the requests and commands it advertised or registered since.

    ``forwarded`` and ``commands`` are replaced whole (never mutated), so a reader on
    another thread always sees one consistent set.
    """

    def __init__(self) -> None:
        self.forwarded: frozenset[str] = frozenset()
        """Request methods ty answers now: advertised at initialize, or registered since."""
        self.commands: frozenset[str] = frozenset()
        """``workspace/executeCommand`` commands ty answers now."""
        self._advertised: frozenset[str] = frozenset()
        self._advertised_commands: frozenset[str] = frozenset()
        self._registrations: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        """ty's live registrations by id: (request methods, executeCommand commands)."""
        self._registered: dict[str, tuple[Any, Any]] = {}
        """ty's live registrations by id: (method, registerOptions) as the editor has them."""

    def advertise(self, capabilities: Mapping[str, Any]) -> None:
        """ty's ``ServerCapabilities`` from its ``initialize`` result."""
        self._advertised = forwarded_requests(capabilities)
        provider = capabilities.get("executeCommandProvider")
        commands = (provider.get("commands") if isinstance(provider, Mapping) else None) or []
        self._advertised_commands = frozenset(c for c in commands if isinstance(c, str))
        self._reroute()

    def track(self, method: str, params: Mapping[str, Any]) -> bool:
        """Follow ty's (un)registrations; True when the editor already has all of them.

        A restarted ty registers again what its predecessor registered: the editor keeps
        registrations across our restart, so those are answered here, not relayed.
        """
        if method == "client/unregisterCapability":
            # "unregisterations": the LSP spec's own spelling of the field.
            for item in params.get("unregisterations") or []:
                if isinstance(item, Mapping):
                    self._registrations.pop(item.get("id"), None)
                    self._registered.pop(item.get("id"), None)
            self._reroute()
            return False
        items = [r for r in params.get("registrations") or [] if isinstance(r, Mapping)]
        if items and all(
            self._registered.get(r.get("id")) == (r.get("method"), r.get("registerOptions"))
            for r in items
        ):
            return True
        for item in items:
            registration_id, registered = item.get("id"), item.get("method")
            if not isinstance(registration_id, str) or not isinstance(registered, str):
                continue
            self._registered[registration_id] = (registered, item.get("registerOptions"))
            options = item.get("registerOptions")
            commands: tuple[str, ...] = ()
            if registered == "workspace/executeCommand" and isinstance(options, Mapping):
                commands = tuple(c for c in options.get("commands") or [] if isinstance(c, str))
            self._registrations[registration_id] = (registered_requests(registered), commands)
        self._reroute()
        return False

    def changed(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``Unregistration``s a ``client/registerCapability`` needs first: ids the
        editor already has with another method or other options (a ty restarted with new
        settings registers pull diagnostics again under the same id, with
        ``workspaceDiagnostics`` following ``diagnosticMode``). An editor refuses an id it
        has, so the old registration goes before the new one is relayed."""
        stale = []
        for item in params.get("registrations") or []:
            if not isinstance(item, Mapping):
                continue
            known = self._registered.get(item.get("id"))
            if known is not None and known != (item.get("method"), item.get("registerOptions")):
                stale.append({"id": item.get("id"), "method": known[0]})
        return stale

    def _reroute(self) -> None:
        """Recompute what goes to ty (rare: initialize and ty's (un)registrations)."""
        methods = set(self._advertised)
        commands = set(self._advertised_commands)
        for requests, registered_commands in self._registrations.values():
            methods.update(requests)
            commands.update(registered_commands)
        self.forwarded = frozenset(methods)
        self.commands = frozenset(commands)


_TY_OBJECTS = frozenset(
    {"configuration", "inlayHints", "completions", "experimental"}
    | {"environment", "src", "rules", "terminal", "analysis"}
)
"""Keys of ty's editor settings (and of its ``configuration``, ty.toml's options) whose
values are objects: the structs ty 0.0.105 logs for its initialization options, and
ty.toml's tables. Lists such as ``environment.extra-paths`` or ``src.include`` stay
lists. ``pythonExtension`` is left out on purpose: ty panics on an empty one, while an
empty list only makes it drop its options (with an error in its log)."""


def ty_section(value: Any) -> Any:
    """ty's settings with Lua's ``[]`` read as ``{}`` wherever ty expects an object.

    ty drops its whole section when one object arrives as a list (Neovim's
    ``ty = { inlayHints = {} }`` is sent as ``"inlayHints": []``).
    """
    if value == []:
        return {}
    if not isinstance(value, Mapping):
        return value

    def fix(item: Any) -> Any:
        if not isinstance(item, Mapping):
            return item
        return {
            key: {} if child == [] and key in _TY_OBJECTS else fix(child)
            for key, child in item.items()
        }

    return fix(value)
