"""Tool calls wherever a model put them: the one recogniser every backend goes through.

Local model servers do not agree on where a tool call goes (``tests/model_servers.py`` reproduces
each server's stream and cites the report it is based on):

- OpenAI ``tool_calls`` — the standard; handled by the backend, normalised by
  ``agent.recognising_model`` (repeated names, empty ids, object arguments).
- JSON as the whole ``content`` — Ollama with qwen2.5-coder writes
  ``{"name": "execute_code", "arguments": {...}}`` as text (a list, several objects or a
  ```` ```json ```` fence of them also occur).
- Hermes tags as text — ``<tool_call>{"name": …, "arguments": …}</tool_call>`` when the
  server runs no tool parser (vLLM without ``--tool-call-parser``, LM Studio on some
  models).
- Qwen3-Coder XML as text — ``<function=execute_code><parameter=code>…</parameter>
  </function>``, with or without the ``<tool_call>`` tags.
- A fenced Python block — small coders often "answer" with code; it is a call only
  when the program calls a Code Mode function (``typecheck``, ``read_file``…). Code that
  merely shows the user something (``def add(a, b): …``) stays prose.

Only calls to a tool the model was offered count: a JSON object in a reply that names
something else is text. The parsing is mlx-lm's (``mlx_lm.tool_parsers``) wherever it
has a parser, with one workaround: Qwen3-Coder markers inside a value (see
``protect_qwen3_markers``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CODE_TOOL",
    "XML_END",
    "XML_START",
    "CallSource",
    "ParsedToolCall",
    "Recognised",
    "ToolParser",
    "call_arguments",
    "fenced_call",
    "hold_from",
    "parse_tool_text",
    "protect_qwen3_markers",
    "recognise_text",
    "unreadable_call",
]

CODE_TOOL = "execute_code"
"""Code Mode's one tool (Punie's name)."""

ToolParser = Callable[[str, Any], Any]
"""An mlx-lm tool parser (``tokenizer.tool_parser``): span text, tool schemas -> call(s)."""

CallSource = Literal["parser", "tag", "json", "xml", "fence"]
"""Where a call was read from: a tokenizer's tool span, hermes tags, bare JSON, bare
Qwen3-Coder XML, or a fenced Python block."""

TAG_START = "<tool_call>"
TAG_END = "</tool_call>"
XML_START = "<function="
MARKERS = (TAG_START, XML_START)
"""Text from one of these on may be a call: a stream holds it back until the reply ends."""

_FENCE = re.compile(r"```(?:python|py)[ \t]*\r?\n(.*?)```", re.DOTALL)
_JSON_FENCE = re.compile(r"\A```(?:json)?[ \t]*\r?\n(.*?)\r?\n?```\Z", re.DOTALL)
_XML_CALL = re.compile(r"<function=([^\s<>]+)>(.*?</function>)", re.DOTALL)
XML_END = re.compile(r"</function>\s*(?:</tool_call>|\Z)")
"""The end of a Qwen3-Coder call: ``</function>`` closing the span or the reply."""
_NEXT_CALL = re.compile(r"<tool_call>\s*<function=")
_PARAM_OPEN = re.compile(r"<parameter=[^\s<>]+>")
_PLACEHOLDER = "\ue000"
"""A private-use character standing in for ``<`` of a marker inside a value."""


@dataclass(frozen=True, kw_only=True)
class ParsedToolCall:
    """A tool call read from a reply."""

    name: str
    """The tool's name, one the model was offered."""
    arguments: dict[str, Any]
    """Its arguments, decoded."""
    source: CallSource = "parser"
    """Which form it was written in."""


@dataclass(frozen=True, kw_only=True)
class Recognised:
    """A reply's text split into calls and the prose around them."""

    calls: list[ParsedToolCall]
    """Calls in the order written; empty when the text is only prose."""
    text: str
    """The text without the calls (a fenced call keeps its fence: the user saw it)."""


def call_arguments(arguments: object) -> dict[str, Any] | None:
    """Arguments as a dict, whatever form a server or parser handed them over in.

    A dict is kept; a JSON string is decoded, twice when it decodes to another string
    (mlx-lm's ``json_tools`` returns ``arguments`` as the model wrote them, and models
    trained on OpenAI transcripts write them as a JSON *string*, which ``mlx_lm server``
    then encodes again); an empty string is ``{}``. Anything else is ``None``.
    """
    for _ in range(2):
        if not isinstance(arguments, str):
            break
        if not arguments.strip():
            return {}
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    return arguments if isinstance(arguments, dict) else None


def protect_qwen3_markers(span: str) -> str:
    """Hide ``</parameter>``, ``</function>`` and ``</tool_call>`` written *inside* a value.

    The workaround for mlx-lm's Qwen3-Coder parser (``mlx_lm.tool_parsers.qwen3_coder``),
    which ends a value at the first ``</parameter>`` (a non-greedy regex), so a program
    that searches for that string is cut short and the rest is lost; vLLM and sglang
    had the same bug (vllm-project/vllm#34919). A value ends at the last
    ``</parameter>`` before the next ``<parameter=`` or the closing ``</function>``:
    markers before that are content, and get a placeholder the parser passes through.
    ``restore_qwen3_markers`` puts them back. Test:
    ``test_upstream_qwen3_coder_parser_cuts_a_value_at_a_literal_marker``.
    """
    end = span.rfind("</function>")
    if end < 0:
        return span
    opens = list(_PARAM_OPEN.finditer(span, 0, end))
    out: list[str] = []
    position = 0
    for index, opening in enumerate(opens):
        limit = opens[index + 1].start() if index + 1 < len(opens) else end
        close = span.rfind("</parameter>", opening.end(), limit)
        if close < 0:
            continue
        value = span[opening.end() : close]
        for marker in ("</parameter>", "</function>", TAG_END, "<parameter="):
            value = value.replace(marker, _PLACEHOLDER + marker[1:])
        out.append(span[position : opening.end()])
        out.append(value)
        position = close
    out.append(span[position:])
    return "".join(out)


def _restore(value: object) -> Any:
    if isinstance(value, str):
        return value.replace(_PLACEHOLDER, "<")
    if isinstance(value, list):
        return [_restore(item) for item in value]
    if isinstance(value, dict):
        return {key: _restore(item) for key, item in value.items()}
    return value


def parse_tool_text(
    text: str, parser: ToolParser | None, tools: list[dict[str, Any]]
) -> list[ParsedToolCall]:
    """Calls in one tool span, through an mlx-lm parser; ``[]`` when it cannot read it.

    A span the parser rejects (usually a call cut off by ``max_tokens``) is not a call:
    the caller keeps its text so nothing the model wrote disappears. Qwen3-Coder spans
    go through ``protect_qwen3_markers`` first.
    """
    if parser is None:
        return []
    xml = XML_START in text
    try:
        parsed = parser(protect_qwen3_markers(text) if xml else text, tools or None)
    except (ValueError, SyntaxError, KeyError, TypeError):
        return []
    items = parsed if isinstance(parsed, list) else [parsed]
    calls: list[ParsedToolCall] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return []
        arguments = call_arguments(item.get("arguments", item.get("parameters", {})))
        if arguments is None:
            return []
        calls.append(ParsedToolCall(name=item["name"], arguments=_restore(arguments)))
    return calls


def _json_calls(text: str, offered: Collection[str]) -> list[ParsedToolCall] | None:
    """``text`` as one or more JSON call objects (or a list of them), else ``None``."""
    decoder = json.JSONDecoder()
    items: list[object] = []
    position = 0
    text = text.strip()
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return None
        items.extend(value if isinstance(value, list) else [value])
        while position < len(text) and text[position] in " \t\r\n,;":
            position += 1
    calls: list[ParsedToolCall] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        name = item.get("name")
        function = item.get("function")
        if name is None and isinstance(function, Mapping):  # {"function": {"name": …}}
            item, name = function, function.get("name")
        arguments = call_arguments(item.get("arguments", item.get("parameters", {})))
        if not isinstance(name, str) or name not in offered or arguments is None:
            return None
        calls.append(ParsedToolCall(name=name, arguments=arguments, source="json"))
    return calls or None


def _xml_calls(
    text: str, offered: Collection[str], xml_parser: ToolParser | None
) -> list[ParsedToolCall] | None:
    """A Qwen3-Coder ``<function=…>`` block through mlx-lm's parser, else ``None``."""
    if xml_parser is None:
        return None
    calls = parse_tool_text(text, xml_parser, [])
    if not calls or any(call.name not in offered for call in calls):
        return None
    return [ParsedToolCall(name=c.name, arguments=c.arguments, source="xml") for c in calls]


def _tagged(
    text: str, offered: Collection[str], xml_parser: ToolParser | None
) -> tuple[list[ParsedToolCall], str]:
    """Calls written as text with markers (hermes tags, Qwen3-Coder XML) and the prose left."""
    calls: list[ParsedToolCall] = []
    prose: list[str] = []
    position = 0
    while True:
        starts = [i for i in (text.find(m, position) for m in MARKERS) if i >= 0]
        if not starts:
            break
        start = min(starts)
        tagged = text.startswith(TAG_START, start)
        body_start = start + len(TAG_START) if tagged else start
        body, end = _span(text, body_start, tagged)
        found: list[ParsedToolCall] | None = None
        if body.lstrip().startswith(XML_START):
            found = _xml_calls(body, offered, xml_parser)
        elif tagged:
            found = _json_calls(body, offered)
            found = [
                ParsedToolCall(name=c.name, arguments=c.arguments, source="tag")
                for c in found or []
            ] or None
        if found is None:  # not a call we can run: the text stays as written
            prose.append(text[position:end])
        else:
            prose.append(text[position:start])
            calls.extend(found)
        position = end
    prose.append(text[position:])
    return calls, "".join(prose)


def _span(text: str, body_start: int, tagged: bool) -> tuple[str, int]:
    """The body of a marked call and where the call ends (after ``</tool_call>`` if any).

    An XML body ends at the last ``</function>`` + ``</tool_call>`` (or the end of the
    text) before the next call opens, not at the first ``</tool_call>``, which may be
    inside the code (the marker bug again).
    """
    rest = text[body_start:]
    if rest.lstrip().startswith(XML_START):
        ends = list(XML_END.finditer(rest))
        if not ends:
            return rest, len(text)
        # The last end before the next call opens: earlier ones are inside a value.
        following = _NEXT_CALL.search(rest, ends[0].end())
        limit = following.start() if following else len(rest)
        match = [end for end in ends if end.end() <= limit][-1]
        close = rest.find("</function>", match.start()) + len("</function>")
        return rest[:close], body_start + match.end()
    if not tagged:
        return rest, len(text)
    try:
        _, json_end = json.JSONDecoder().raw_decode(rest, len(rest) - len(rest.lstrip()))
    except json.JSONDecodeError:
        json_end = 0
    close = rest.find(TAG_END, json_end)
    if close < 0:
        return rest, len(text)
    return rest[:close], body_start + close + len(TAG_END)


def fenced_call(text: str, code_functions: Collection[str]) -> ParsedToolCall | None:
    """The first fenced Python block that calls a Code Mode function, as ``execute_code``.

    A block that does not parse, or calls none of ``code_functions``, shows code to the
    user: prose, not a call.
    """
    for match in _FENCE.finditer(text):
        code = match.group(1)
        if code.strip() and _calls_any(code, code_functions):
            return ParsedToolCall(name=CODE_TOOL, arguments={"code": code}, source="fence")
    return None


def _calls_any(code: str, functions: Collection[str]) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions
        for node in ast.walk(tree)
    )


def recognise_text(
    text: str,
    offered: Collection[str],
    *,
    code_functions: Collection[str] = (),
    xml_parser: ToolParser | None = None,
) -> Recognised:
    """Calls a reply wrote as text, and the prose around them.

    Args:
        text: the whole reply's text (the ``content``, not the ``tool_calls``).
        offered: names of the tools the model was given; a call to another name is text.
        code_functions: the sandbox's functions, which make a fenced block a program
            to run (``execute_code`` must be offered too).
        xml_parser: mlx-lm's Qwen3-Coder ``parse_tool_call``; without it (mlx-lm not
            importable) XML calls stay text.

    Forms are tried in order: marked calls (hermes tags, Qwen3-Coder XML) anywhere in
    the text; then the whole text as JSON calls (optionally in one ```` ```json ````
    fence); then, if nothing else matched, a fenced Python block.
    """
    calls, prose = _tagged(text, offered, xml_parser)
    if calls:
        return Recognised(calls=calls, text=prose)
    stripped = text.strip()
    fence = _JSON_FENCE.match(stripped)
    if stripped[:1] in "{[" or fence is not None:
        json_calls = _json_calls(fence.group(1) if fence else stripped, offered)
        if json_calls:
            return Recognised(calls=json_calls, text="")
    if CODE_TOOL in offered and (call := fenced_call(text, code_functions)) is not None:
        return Recognised(calls=[call], text=text)
    return Recognised(calls=[], text=text)


def hold_from(text: str) -> tuple[int, bool] | None:
    """Where a streamed reply must hold text back, and whether for good; ``None``: stream it.

    From a marker on, or from the start when the text opens like JSON, the text may be a
    call that the user should not see written out: held until the reply ends
    (``True``). A trailing partial marker (``<tool_``), leading whitespace or a partial
    ```` ```json ```` are held only until the next chunk shows what they are (``False``).
    """
    opening = text.lstrip()
    if not opening or "```json".startswith(opening):
        return 0, False
    if opening[0] in "{[" or opening.startswith("```json"):
        return 0, True
    found = [i for i in (text.find(m) for m in MARKERS) if i >= 0]
    if found:
        return min(found), True
    for marker in MARKERS:
        for size in range(len(marker) - 1, 0, -1):
            if text.endswith(marker[:size]):
                return len(text) - size, False
    return None


def unreadable_call(answer: str) -> bool:
    """Whether a final answer (text the recogniser read no call from) still holds call
    markup: ``<tool_call>`` or ``<function=execute_code``, as a model writes when it is cut
    or garbles the form. Such a reply is not an answer; JSON-looking text may be one."""
    return TAG_START in answer or f"{XML_START}{CODE_TOOL}" in answer
