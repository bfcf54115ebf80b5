"""Punie's code actions, merged into ty's: each carries a command, none runs the model.

Listing must be instant (editors ask on every cursor move), so this is a pure function
of the request's JSON: no pygls, no ty round trip of its own, no model. On a ty or ruff
diagnostic it offers "Punie: fix …" (``punie.fix``); on a non-empty selection "Punie:
explain", "Punie: write tests" and "Punie: ask about selection". ``context.only`` is
honoured the way LSP defines kinds: an action matches a requested kind it starts with.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CODE_ACTION_KINDS", "merge", "punie_actions"]

FIX_KIND = "quickfix"
SELECTION_KIND = "refactor.punie"
CODE_ACTION_KINDS = (FIX_KIND, SELECTION_KIND)
"""Kinds punie adds to ty's ``codeActionProvider.codeActionKinds``."""

_FIXABLE_SOURCES = frozenset({"ty", "ruff", "Ruff"})
_TITLE_CHARS = 70


def _matches(kind: str, only: Any) -> bool:
    if not isinstance(only, list) or not only:
        return True
    return any(isinstance(o, str) and (kind == o or kind.startswith(o + ".")) for o in only)


def _is_empty(range_: Any) -> bool:
    try:
        start, end = range_["start"], range_["end"]
        return start["line"] == end["line"] and start["character"] == end["character"]
    except (KeyError, TypeError):
        return True


def _command(title: str, command: str, argument: dict[str, Any]) -> dict[str, Any]:
    return {"title": title, "command": command, "arguments": [argument]}


def punie_actions(params: Any) -> list[dict[str, Any]]:
    """Punie's ``CodeAction``s for a ``textDocument/codeAction`` request's params."""
    if not isinstance(params, dict):
        return []
    document = params.get("textDocument")
    uri = document.get("uri") if isinstance(document, dict) else None
    range_ = params.get("range")
    context = params.get("context") if isinstance(params.get("context"), dict) else {}
    if not isinstance(uri, str) or not isinstance(range_, dict):
        return []
    only = context.get("only")
    actions: list[dict[str, Any]] = []
    if _matches(FIX_KIND, only):
        for diagnostic in context.get("diagnostics") or []:
            if not isinstance(diagnostic, dict) or diagnostic.get("source") not in _FIXABLE_SOURCES:
                continue
            code = diagnostic.get("code")
            message = str(diagnostic.get("message", "")).splitlines()[0] if diagnostic else ""
            label = f"{code}: {message}" if code else message
            if len(label) > _TITLE_CHARS:
                label = label[: _TITLE_CHARS - 1] + "…"
            title = f"Punie: fix {label}"
            actions.append(
                {
                    "title": title,
                    "kind": FIX_KIND,
                    "diagnostics": [diagnostic],
                    "command": _command(
                        title, "punie.fix", {"uri": uri, "range": range_, "diagnostic": diagnostic}
                    ),
                }
            )
    if not _is_empty(range_) and _matches(SELECTION_KIND, only):
        selection = {"uri": uri, "range": range_}
        for title, command in (
            ("Punie: explain", "punie.explain"),
            ("Punie: write tests", "punie.writeTests"),
            ("Punie: ask about selection", "punie.ask"),
        ):
            actions.append(
                {
                    "title": title,
                    "kind": SELECTION_KIND,
                    "command": _command(title, command, selection),
                }
            )
    return actions


def merge(ty_result: Any, params: Any) -> list[Any]:
    """ty's actions first (its quick fixes are exact), then punie's."""
    theirs = ty_result if isinstance(ty_result, list) else []
    return [*theirs, *punie_actions(params)]
