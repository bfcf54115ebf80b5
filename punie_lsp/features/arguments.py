"""The ``punie.*`` commands' arguments, as classes pygls's converter structures.

Each command takes one object (``arguments[0]``; VS Code, Neovim and every plug-in
send ``arguments: [{...}]``). pygls structures it into the handler's annotated class
with the server's cattrs converter (``converter()`` below registers these classes on
it) and answers a bad one with ``InvalidParams`` itself, before the handler runs:
the handlers never check a shape by hand.

What the editor sees is one line naming the command and each problem, e.g. ``Invalid
Params: punie.fix: 'uri' is required``. Keys are camelCase on the wire (Pydantic's
``to_camel``, the alias generator the rest of the wire uses); strings are not
coerced (``{"code": 3}`` is refused, not run as ``"3"``); LSP types (``Range``,
``Diagnostic``) are structured by lsprotocol's own hooks; unknown keys are ignored, as
LSP does for objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override
from lsprotocol import types
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams

from punie_lsp.session.session import invalid_argument
from sandbox import WireModel
from typed_tools.lsp_converter import converter as lsp_converter

__all__ = [
    "AskArguments",
    "CommandArguments",
    "ExplainArguments",
    "FixArguments",
    "ResetConversationArguments",
    "RunCodeArguments",
    "ToolArguments",
    "WriteTestsArguments",
    "absent",
    "converter",
]


@attrs.frozen(kw_only=True)
class CommandArguments:
    """The base of every command's argument class: the command it belongs to."""

    COMMAND: ClassVar[str] = ""
    """The command's name, for messages."""


@attrs.frozen(kw_only=True)
class AskArguments(CommandArguments):
    """``punie.ask {prompt, uri?, range?, conversationId?}``: a question, maybe about code."""

    COMMAND: ClassVar[str] = "punie.ask"
    prompt: str | None = None
    """The question; with ``uri`` and no prompt, a default question about the selection."""
    uri: str | None = None
    """The document the question is about."""
    range: types.Range | None = None
    """The selection in it (its lines reach the model as the editor has them)."""
    conversation_id: str | None = None
    """Continue this conversation (a previous result's ``conversationId``)."""

    def __attrs_post_init__(self) -> None:
        if self.uri is None and not self.prompt:
            raise ValueError("'prompt' is required (or 'uri' to ask about a document)")


@attrs.frozen(kw_only=True)
class FixArguments(CommandArguments):
    """``punie.fix {uri, range | diagnostic, conversationId?}``."""

    COMMAND: ClassVar[str] = "punie.fix"
    uri: str
    """The document to fix."""
    range: types.Range | None = None
    """The lines to fix; defaults to the diagnostic's range."""
    diagnostic: types.Diagnostic | None = None
    """The problem to fix (a code action passes ty's or ruff's diagnostic)."""
    conversation_id: str | None = None
    """Continue this conversation."""

    def __attrs_post_init__(self) -> None:
        if self.range is None and self.diagnostic is None:
            raise ValueError("'range' (the selection) or 'diagnostic' is required")

    @property
    def selection(self) -> types.Range:
        """The lines the fix is about: ``range``, else the diagnostic's."""
        if self.range is not None:
            return self.range
        assert self.diagnostic is not None  # __attrs_post_init__ requires one of them
        return self.diagnostic.range


@attrs.frozen(kw_only=True)
class ExplainArguments(CommandArguments):
    """``punie.explain {uri, range, conversationId?}``."""

    COMMAND: ClassVar[str] = "punie.explain"
    uri: str
    """The document."""
    range: types.Range
    """The selection to explain."""
    conversation_id: str | None = None
    """Continue this conversation."""


@attrs.frozen(kw_only=True)
class WriteTestsArguments(CommandArguments):
    """``punie.writeTests {uri, range, conversationId?}``."""

    COMMAND: ClassVar[str] = "punie.writeTests"
    uri: str
    """The document."""
    range: types.Range
    """The code to test."""
    conversation_id: str | None = None
    """Continue this conversation."""


@attrs.frozen(kw_only=True)
class ResetConversationArguments(CommandArguments):
    """``punie.resetConversation {conversationId}``."""

    COMMAND: ClassVar[str] = "punie.resetConversation"
    conversation_id: str
    """The conversation to forget."""


@attrs.frozen(kw_only=True)
class RunCodeArguments(CommandArguments):
    """``punie.runCode {code, uri?}``."""

    COMMAND: ClassVar[str] = "punie.runCode"
    code: str
    """Python for the sandbox."""
    uri: str | None = None
    """Picks the workspace folder in a multi-root workspace (default: the first)."""


@attrs.frozen(kw_only=True)
class ToolArguments(CommandArguments):
    """``punie.tool {name, args?, uri?}``."""

    COMMAND: ClassVar[str] = "punie.tool"
    name: str
    """The typed tool (``punie.status`` and the README list them)."""
    args: dict[str, Any] = attrs.field(factory=dict)
    """Its named arguments."""
    uri: str | None = None
    """Picks the workspace folder in a multi-root workspace (default: the first)."""


def _text(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {_json_name(value)}")
    return value


def _optional_text(value: Any, kind: Any) -> str | None:
    return None if value is None else _text(value, kind)


def _object(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"must be an object of named arguments, got {_json_name(value)}")
    return dict(value)


_STRICT = {str: _text, str | None: _optional_text, dict[str, Any]: _object}
"""Hooks for the fields whose JSON type is checked, not coerced as cattrs would."""


_JSON_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def _json_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


_NOT_AN_OBJECT = "must be an object"
"""What cattrs's ``TypeError`` ("'int' object is not subscriptable", raised at the first
field it reads) means: the value one level up is not an object."""


def _format(exc: BaseException, kind: Any) -> str:
    if isinstance(exc, KeyError):
        return "is required"
    if isinstance(exc, TypeError) and "not subscriptable" in str(exc):
        return _NOT_AN_OBJECT
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        return str(exc)
    return f"is not a valid {getattr(kind, '__name__', kind)}"


def _message(cls: type[CommandArguments], exc: Exception) -> str:
    """One line: the command, then each problem with the key it is at."""
    if isinstance(exc, cattrs.BaseValidationError):
        lines = cattrs.transform_error(exc, path="", format_exception=_format)
    else:  # a rule across fields (__attrs_post_init__)
        lines = [f"{exc} @ "]
    problems: list[str] = []
    for line in lines:
        text, _, where = line.rpartition(" @ ")
        parts = [to_camel(part) for part in where.lstrip(".").split(".") if part]
        if text == _NOT_AN_OBJECT:
            parts = parts[:-1]  # cattrs names the field it tried to read inside it
        key = ".".join(parts)
        problem = f"'{key}' {text}" if key else text
        if problem not in problems:
            problems.append(problem)
    return f"{cls.COMMAND}: {'; '.join(problems)}"


def _register(conv: cattrs.Converter, cls: type[CommandArguments]) -> None:
    attrs.resolve_types(cls)
    overrides = {
        f.name: override(rename=to_camel(f.name), struct_hook=_STRICT.get(f.type))
        for f in attrs.fields(cls)
    }
    # cattrs takes the per-field overrides as keyword arguments beside its own flags.
    structure = make_dict_structure_fn(cls, conv, **overrides)  # ty: ignore[invalid-argument-type]

    def hook(value: Any, _: Any) -> CommandArguments:
        if not isinstance(value, Mapping):
            raise ValueError(
                f"{cls.COMMAND}: the argument must be an object, got {_json_name(value)}"
            )
        try:
            return structure(value, cls)
        except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
            raise ValueError(_message(cls, exc)) from None

    conv.register_structure_hook(cls, hook)


ARGUMENT_CLASSES: tuple[type[CommandArguments], ...] = (
    AskArguments,
    FixArguments,
    ExplainArguments,
    WriteTestsArguments,
    ResetConversationArguments,
    RunCodeArguments,
    ToolArguments,
)


def absent(cls: type[CommandArguments]) -> JsonRpcInvalidParams:
    """The refusal of a command sent without ``arguments`` at all (pygls then calls the
    handler with none, so the handler raises this), worded as pygls words the others."""
    return invalid_argument(f"{cls.COMMAND}: needs one object argument")


def _wire_json(model: WireModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def converter() -> cattrs.Converter:
    """The server's converter: LSP's (``typed_tools.lsp_converter``) plus these classes,
    and results: a handler returns its ``WireModel`` (``CommandResult``, ``RunResult``)
    and pygls sends its camelCase JSON without the fields that are None."""
    conv = lsp_converter()
    for cls in ARGUMENT_CLASSES:
        _register(conv, cls)
    conv.register_unstructure_hook(WireModel, _wire_json)
    return conv
