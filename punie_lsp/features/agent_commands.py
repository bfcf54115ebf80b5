"""The agent commands: punie.ask, .fix, .explain, .writeTests and .resetConversation.

Handlers are thin: they turn the command's one object argument (and the editor's
buffer) into a prompt and hand it to ``AgentHost.run``. The selection reaches the model
as numbered lines of the editor's current text, so it sees unsaved changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from punie_lsp.agent_run.agent_host import Request, new_conversation_id
from punie_lsp.server.language_server import PunieLanguageServer
from typed_tools.lines import split_lines

__all__ = ["COMMANDS"]

DEFAULT_SELECTION_QUESTION = "What does this code do, and is anything wrong with it?"


def _object(name: str, args: Any) -> dict[str, Any]:
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise JsonRpcInvalidParams(f"{name}: the argument must be an object")
    return args


def _line_span(range_: Any) -> tuple[int, int] | None:
    try:
        start = int(range_["start"]["line"])
        end = int(range_["end"]["line"])
        if range_["end"]["character"] == 0 and end > start:
            end -= 1  # a selection ending at column 0 does not include that line
    except (KeyError, TypeError, ValueError):
        return None
    return (start, end) if 0 <= start <= end else None


def _where(
    ls: PunieLanguageServer, name: str, args: dict[str, Any], *, need_range: bool
) -> tuple[Path, str, str]:
    """(workspace root, relative path, selected code as numbered lines) for a command."""
    uri = args.get("uri")
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{name}: 'uri' (the document) is required")
    root = ls.command_root(name, uri)
    path = Path(to_fs_path(uri) or uri)
    relative = path.relative_to(root).as_posix()
    span = _line_span(args.get("range"))
    if span is None:
        if need_range:
            raise JsonRpcInvalidParams(f"{name}: 'range' (the selection) is required")
        return root, relative, ""
    text = ls.document_text(uri)
    if text is None:
        raise JsonRpcInvalidParams(f"{name}: cannot read {relative}")
    lines = split_lines(text)
    numbered = "\n".join(
        f"{n + 1:>4} | {lines[n]}" for n in range(span[0], min(span[1] + 1, len(lines)))
    )
    return root, relative, numbered


def _conversation(args: dict[str, Any]) -> str:
    value = args.get("conversationId")
    return value if isinstance(value, str) and value else new_conversation_id()


async def ask(ls: PunieLanguageServer, args: Any = None) -> dict[str, Any]:
    """``punie.ask {prompt, uri?, range?, conversationId?}``."""
    args = _object("punie.ask", args)
    prompt = args.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise JsonRpcInvalidParams("punie.ask: 'prompt' must be a string")
    if args.get("uri") is None:
        if not prompt:
            raise JsonRpcInvalidParams("punie.ask: 'prompt' is required")
        root = ls.command_root("punie.ask", None)
        text = prompt
    else:
        root, relative, selection = _where(ls, "punie.ask", args, need_range=False)
        text = prompt or DEFAULT_SELECTION_QUESTION
        if selection:
            text += f"\n\nIn {relative}, the selected lines:\n```python\n{selection}\n```"
        else:
            text += f"\n\n(The user is looking at {relative}.)"
    request = Request(
        command="ask",
        prompt=text,
        title="Punie: answering",
        root=root,
        conversation_id=_conversation(args),
    )
    return await ls.agent_host.run(request)


async def fix(ls: PunieLanguageServer, args: Any = None) -> dict[str, Any]:
    """``punie.fix {uri, range | diagnostic}``: a fix checked by ty, applied per ``edits``."""
    args = _object("punie.fix", args)
    diagnostic = args.get("diagnostic")
    if isinstance(diagnostic, dict) and "range" in diagnostic and "range" not in args:
        args = {**args, "range": diagnostic["range"]}
    root, relative, selection = _where(ls, "punie.fix", args, need_range=True)
    if isinstance(diagnostic, dict):
        code = diagnostic.get("code")
        line = (_line_span(diagnostic.get("range")) or (0, 0))[0] + 1
        problem = (
            f"[{code}] {diagnostic.get('message')}" if code else str(diagnostic.get("message"))
        )
        task = f"Fix this problem reported at line {line} of {relative}: {problem}"
    else:
        task = f"Fix the problems in the selected lines of {relative}"
    prompt = (
        f"{task}\n\nThe code there:\n```python\n{selection}\n```\n"
        "Read the file, propose the corrected whole file with write_file, and check it "
        "with typecheck before you answer."
    )
    request = Request(
        command="fix",
        prompt=prompt,
        title="Punie: fixing",
        root=root,
        conversation_id=_conversation(args),
    )
    return await ls.agent_host.run(request)


async def explain(ls: PunieLanguageServer, args: Any = None) -> dict[str, Any]:
    """``punie.explain {uri, range}``: an explanation; edits are never made."""
    args = _object("punie.explain", args)
    root, relative, selection = _where(ls, "punie.explain", args, need_range=True)
    prompt = (
        f"Explain what this code from {relative} does, for a developer reading it:\n"
        f"```python\n{selection}\n```"
    )
    request = Request(
        command="explain",
        prompt=prompt,
        title="Punie: explaining",
        root=root,
        conversation_id=_conversation(args),
        may_edit=False,
    )
    return await ls.agent_host.run(request)


async def write_tests(ls: PunieLanguageServer, args: Any = None) -> dict[str, Any]:
    """``punie.writeTests {uri, range}``: a pytest file proposed, run, applied per ``edits``."""
    args = _object("punie.writeTests", args)
    root, relative, selection = _where(ls, "punie.writeTests", args, need_range=True)
    module = Path(relative).stem
    prompt = (
        f"Write pytest tests for this code from {relative}:\n```python\n{selection}\n```\n"
        f"Propose them with write_file as tests/test_{module}.py (extend it if it exists), "
        "run them with pytest_run, and say what they cover."
    )
    request = Request(
        command="writeTests",
        prompt=prompt,
        title="Punie: writing tests",
        root=root,
        conversation_id=_conversation(args),
    )
    return await ls.agent_host.run(request)


def reset_conversation(ls: PunieLanguageServer, args: Any = None) -> None:
    """``punie.resetConversation {conversationId}``: forget its history."""
    args = _object("punie.resetConversation", args)
    conversation = args.get("conversationId")
    if not isinstance(conversation, str):
        raise JsonRpcInvalidParams("punie.resetConversation: 'conversationId' is required")
    ls.agent_host.reset(conversation)


COMMANDS = {
    "punie.ask": ask,
    "punie.fix": fix,
    "punie.explain": explain,
    "punie.writeTests": write_tests,
    "punie.resetConversation": reset_conversation,
}
