"""The agent commands: punie.ask, .fix, .explain, .writeTests and .resetConversation.

Handlers are thin: they turn the command's one object argument, already structured and
checked by pygls (``punie_lsp.features.arguments``), and the editor's buffer into a
prompt and hand it to ``AgentHost.run``, whose ``CommandResult`` the editor receives.
The selection reaches the model as numbered lines of the editor's current text, so it
sees unsaved changes.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from punie_lsp.agent_run.agent_host import (
    AgentHost,  # at run time: the server reads the hints
    new_conversation_id,
)
from punie_lsp.agent_run.request import Request
from punie_lsp.agent_run.result import CommandResult
from punie_lsp.features.arguments import (
    AskArguments,
    ExplainArguments,
    FixArguments,
    ResetConversationArguments,
    WriteTestsArguments,
    absent,
)
from punie_lsp.session.session import invalid_argument
from typed_tools.lines import split_lines

__all__ = ["COMMANDS"]

DEFAULT_SELECTION_QUESTION = "What does this code do, and is anything wrong with it?"

SELECTION_CHARS = 16_000
"""Most characters of a selection put into a prompt (about 4,000 tokens): its first lines,
then a note naming the lines left out and how to read them. A whole file selected
(``ggVG``) would otherwise be a prompt of a megabyte, which a local model reads for many
minutes and past its context; the model can still ``read_file`` what it needs."""


def _line_span(range_: types.Range) -> tuple[int, int]:
    start, end = range_.start.line, range_.end.line
    if range_.end.character == 0 and end > start:
        end -= 1  # a selection ending at column 0 does not include that line
    return start, max(start, end)


def _where(
    host: AgentHost, command: str, uri: str, range_: types.Range | None
) -> tuple[Path, str, str]:
    """(workspace root, relative path, selected code as numbered lines) for a command."""
    root = host.session.command_root(command, uri)
    path = Path(to_fs_path(uri) or uri)
    relative = path.relative_to(root).as_posix()
    if range_ is None:
        return root, relative, ""
    text = host.session.document_text(uri)
    if text is None:
        raise invalid_argument(f"{command}: cannot read {relative}")
    lines = split_lines(text)
    first, last = _line_span(range_)
    last = min(last, len(lines) - 1)
    shown: list[str] = []
    size = 0
    for n in range(first, last + 1):
        line = f"{n + 1:>4} | {lines[n]}"
        if len(line) > SELECTION_CHARS:  # one minified line can be a megabyte too
            line = line[:SELECTION_CHARS] + " … (the rest of this line is left out)"
        if shown and size + len(line) + 1 > SELECTION_CHARS:
            shown.append(
                f"… lines {n + 1}-{last + 1} of the selection are left out (too long for "
                f'one prompt); read them with read_file("{relative}") if you need them'
            )
            break
        shown.append(line)
        size += len(line) + 1
    return root, relative, "\n".join(shown)


async def ask(host: AgentHost, args: AskArguments | None = None) -> CommandResult:
    """``punie.ask {prompt, uri?, range?, conversationId?}``."""
    if args is None:
        raise absent(AskArguments)
    if args.uri is None:
        root = host.session.command_root(args.COMMAND, None)
        text = args.prompt or ""
    else:
        root, relative, selection = _where(host, args.COMMAND, args.uri, args.range)
        text = args.prompt or DEFAULT_SELECTION_QUESTION
        if selection:
            text += f"\n\nIn {relative}, the selected lines:\n```python\n{selection}\n```"
        else:
            text += f"\n\n(The user is looking at {relative}.)"
    request = Request(
        command="ask",
        prompt=text,
        title="Punie: answering",
        root=root,
        conversation_id=args.conversation_id or new_conversation_id(),
        continues=args.conversation_id is not None,
    )
    return await host.run(request)


async def fix(host: AgentHost, args: FixArguments | None = None) -> CommandResult:
    """``punie.fix {uri, range | diagnostic}``: a fix checked by ty, applied per ``edits``."""
    if args is None:
        raise absent(FixArguments)
    root, relative, selection = _where(host, args.COMMAND, args.uri, args.selection)
    diagnostic = args.diagnostic
    if diagnostic is not None:
        line = diagnostic.range.start.line + 1
        code = diagnostic.code
        problem = f"[{code}] {diagnostic.message}" if code else diagnostic.message
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
        conversation_id=args.conversation_id or new_conversation_id(),
        continues=args.conversation_id is not None,
    )
    return await host.run(request)


async def explain(host: AgentHost, args: ExplainArguments | None = None) -> CommandResult:
    """``punie.explain {uri, range}``: an explanation; edits are never made."""
    if args is None:
        raise absent(ExplainArguments)
    root, relative, selection = _where(host, args.COMMAND, args.uri, args.range)
    prompt = (
        f"Explain what this code from {relative} does, for a developer reading it:\n"
        f"```python\n{selection}\n```"
    )
    request = Request(
        command="explain",
        prompt=prompt,
        title="Punie: explaining",
        root=root,
        conversation_id=args.conversation_id or new_conversation_id(),
        continues=args.conversation_id is not None,
        may_edit=False,
    )
    return await host.run(request)


async def write_tests(host: AgentHost, args: WriteTestsArguments | None = None) -> CommandResult:
    """``punie.writeTests {uri, range}``: a pytest file proposed, run, applied per ``edits``."""
    if args is None:
        raise absent(WriteTestsArguments)
    root, relative, selection = _where(host, args.COMMAND, args.uri, args.range)
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
        conversation_id=args.conversation_id or new_conversation_id(),
        continues=args.conversation_id is not None,
    )
    return await host.run(request)


def reset_conversation(host: AgentHost, args: ResetConversationArguments | None = None) -> None:
    """``punie.resetConversation {conversationId}``: forget its history."""
    if args is None:
        raise absent(ResetConversationArguments)
    host.reset(args.conversation_id)


COMMANDS = {
    "punie.ask": ask,
    "punie.fix": fix,
    "punie.explain": explain,
    "punie.writeTests": write_tests,
    "punie.resetConversation": reset_conversation,
}
