"""The contracts every typed tool is written against.

A tool is an ``async`` function ``(ctx: ToolContext, /, **arguments) -> ToolResult`` whose
result is a Pydantic model with ``success`` (the tool's verdict, as Punie defines it for
that result: no type errors, no violations, all tests passed, something found …),
``parse_error`` (Punie's name for "could not run") and ``error`` (the same, punie-lsp's
name). A tool never raises for a failure of the thing it runs (a missing file, a crashed
``ty``, a timeout): the failure is ``success=False`` with both messages set, data the
sandboxed code can branch on. It raises ``ToolArgumentError`` only for misuse (wrong
argument types), which is a bug in the caller, not a result.

Three tools return text, as Punie's do: ``read_file``, ``write_file`` and
``run_command`` (``-> str``). A failure of theirs is an exception the program can catch
(``OSError`` or a subclass such as ``FileNotFoundError``), naming the path and the reason.

``TyConnection`` is how navigation tools reach a language server without importing
``punie_lsp``: the server implements it with its live ``ty`` child (so tools see the
editor's unsaved buffers); standalone use (CLI, training) starts a ty client of its own.
Messages cross it as JSON-shaped values, converted to lsprotocol types by the tools with
``typed_tools.lsp_converter.converter()``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeAlias, runtime_checkable

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict

from typed_tools.visibility import PathVisibility

__all__ = [
    "JSON",
    "Column",
    "Count",
    "DocumentSyncConnection",
    "PositionEncoding",
    "ResultItem",
    "ToolArgumentError",
    "ToolContext",
    "ToolResult",
    "TyConnection",
]

JSON: TypeAlias = Any
"""A JSON-shaped value (dict/list/str/int/float/bool/None) as exchanged over LSP."""

PositionEncoding: TypeAlias = Literal["utf-8", "utf-16", "utf-32"]

Count: TypeAlias = Annotated[int, Ge(1), Le(10_000)]
"""How many entries a tool may return (``git_log``'s ``count``, ``search``'s
``max_results``): at least 1, at most ``ToolContext.max_result_items``' default. Shown
as ``int`` in the stubs (Punie's signature); a value outside is a ``ToolArgumentError``
naming the range."""

Column: TypeAlias = Annotated[int, Ge(0), Le(2**31 - 1)]
"""A 1-based character column (0 reads as 1 and a column past the end clamps to it, as
LSP clamps); negative, or past LSP's 32-bit range, is a ``ToolArgumentError``."""


class ResultItem(BaseModel):
    """Base of the models nested in results (a diagnostic, a test, a location).

    Field docstrings become field descriptions, so the JSON schema and the generated
    stubs document every field without repeating the text.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)


class ToolResult(BaseModel):
    """Base of every tool result: the tool's verdict, and why it could not run if it could not.

    ``success`` is Punie's verdict (each result's docstring says what it means for that
    tool). ``success=False`` with ``error`` and ``parse_error`` None means the tool ran
    and the answer is "no"; with them set, the tool could not run at all.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    success: bool
    """The tool's verdict; see the result's own docstring (always False when it could not run)."""
    error: str | None = None
    """Why the tool could not run (timeout, path outside the workspace, ty crashed, …)."""
    parse_error: str | None = None
    """Punie's name for ``error``: set, with the same text, whenever the tool could not run."""


class ToolArgumentError(TypeError):
    """A tool was called with arguments of the wrong name or type (caller misuse)."""


@runtime_checkable
class TyConnection(Protocol):
    """A connection to a ty language server answering semantic questions about the workspace.

    (Named ``SemanticBackend`` before; "backend" in punie-lsp means the model's.)
    """

    @property
    def position_encoding(self) -> PositionEncoding:
        """The encoding LSP ``character`` offsets are counted in."""
        ...

    async def request(self, method: str, params: JSON) -> JSON:
        """Send an LSP request and return its raw ``result``; raise on an error response."""
        ...

    def open_document_text(self, uri: str) -> str | None:
        """The editor's current text of ``uri`` when it is open (possibly unsaved), else None."""
        ...


@runtime_checkable
class DocumentSyncConnection(TyConnection, Protocol):
    """A connection that can be shown files the editor has not opened (optional extension).

    ty answers pull diagnostics (``textDocument/diagnostic``) only for open documents and
    answers ``workspace/diagnostic`` only in its ``workspace`` diagnostic mode. So before
    ``typecheck`` asks about a file the editor has not opened, or one this run's overlay
    changed, it hands the texts to ``sync_documents``. A connection without this method is
    asked only about files it has open; ``typecheck`` runs ``ty check`` for the rest.
    """

    async def sync_documents(self, documents: Mapping[str, str]) -> None:
        """Make the server analyse each ``uri -> text`` as the current content of that file.

        Called with the disk text of files the editor has not opened, and with this run's
        overlay texts, which win over an editor buffer for the run's questions. A connection
        sharing its ty with the editor must give the editor's text back to ty afterwards.
        """
        ...


@runtime_checkable
class WorkspaceDiagnosticConnection(TyConnection, Protocol):
    """A connection whose ty answers for the whole workspace at once (optional extension).

    ``typecheck`` then asks once, instead of once per file, and reads only the files
    that have diagnostics. A connection that has this method but not the mode says so
    with ``workspace_diagnostics = False``.
    """

    workspace_diagnostics: bool
    """Whether ``workspace_report`` can be called (ty runs in ``workspace`` mode)."""

    async def workspace_report(self, documents: Mapping[str, str]) -> list[JSON]:
        """ty's ``workspace/diagnostic`` reports of every file with diagnostics, as JSON.

        ``documents`` (``uri -> text``, this run's proposals) win over the disk and over
        the editor's buffers, which the connection adds itself. Each report is ``{"uri",
        "resultId", "items": [LSP Diagnostic…]}``. A file's report that did not change
        since the last call is the same dict object, so callers may keep what they
        derive from it in it, under a key of their own.
        """
        ...


@dataclass(kw_only=True)
class ToolContext:
    """What one run of tools sees: the workspace, the run's proposed edits, a connection to ty."""

    root: Path
    """The workspace folder; every path a tool touches must resolve inside it."""
    overlay: dict[Path, str] = field(default_factory=dict)
    """Files proposed by ``write_file`` in this run (absolute path → new text); reads see them."""
    ty: TyConnection | None = None
    """The live language server, or None to let navigation tools start their own ty client."""
    timeout_seconds: float = 60.0
    """Default time limit for one tool call that runs a subprocess or waits on ty."""
    timeouts: dict[str, float] = field(default_factory=dict)
    """Per-tool time limits by tool name (e.g. ``{"pytest_run": 300}``), overriding the default."""
    on_call: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    """Optional hook awaited before each tool call (progress reporting, cancellation checks)."""
    trusted: bool = False
    """Whether the user trusts this workspace to run its own code (``pytest_run``, the
    project's interpreter). Off unless the editor or ``--trust`` says so (README, "Trust")."""
    process_memory_mb: int = 4096
    """Address-space limit of each process running the project's code (pytest), in MiB."""
    max_read_bytes: int = 8_000_000
    """Largest file a tool reads whole (``read_file``, ``search``); bigger: an error naming it."""
    max_argument_bytes: int = 4_000_000
    """Largest text argument a tool accepts (``write_file`` content …); bigger: an error."""
    max_result_items: int = 10_000
    """Most list entries one result may carry (diagnostics, files, matches …); more: an
    error naming it, as converting them for the sandbox would take seconds."""
    max_overlay_bytes: int = 64_000_000
    """Most text all of a run's proposed files (``write_file``) may hold together."""
    _visibility: PathVisibility | None = field(default=None, init=False, repr=False)

    @property
    def backend(self) -> TyConnection | None:
        """``ty`` under its earlier name, for plug-in tools written against it (read only)."""
        return self.ty

    def visibility(self) -> PathVisibility:
        """Which reported paths results may show (built once per context; see containment)."""
        if self._visibility is None:
            self._visibility = PathVisibility(self.root)
        return self._visibility
