"""``workspace/executeCommand`` commands punie answers itself (ty's go to ty).

Each command takes one object argument (``arguments[0]``), as the LSP contract in
ARCHITECTURE.md fixes, typed as a class of ``punie_lsp.features.arguments`` that pygls
structures and checks before the handler runs. The names are listed in
``wire.initialize.PUNIE_COMMANDS`` so that ``initialize`` can advertise them before
pygls has loaded; a test checks the two agree.
"""

from __future__ import annotations

import sys
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from agent.code_mode import run_code
from agent.config import EditsMode, SandboxSettings
from agent.result import ModelStatus
from punie_lsp import __version__
from punie_lsp.agent_run.agent_host import AgentHost
from punie_lsp.features import agent_commands
from punie_lsp.features.arguments import RunCodeArguments, ToolArguments, absent
from punie_lsp.session.progress import WorkDone
from punie_lsp.session.session import Session, invalid_argument  # Session: the server reads hints
from punie_lsp.wire.ty_child import ChildState
from sandbox import PoolHealth, RunResult, WireModel
from typed_tools import ToolArgumentError, call_tool

__all__ = ["COMMANDS", "StatusResult", "TyStatus", "status"]


class TyStatus(WireModel):
    """The ``ty server`` child, as ``punie.status`` reports it."""

    state: ChildState
    """``running``, or where it is in starting, restarting, failing or stopping."""
    pid: int | None = None
    """Its process id while it runs."""
    restarts: int = 0
    """How many times it was restarted: after a crash, or for new ``ty`` settings."""
    settings_pending: bool = False
    """A change of the editor's ``ty`` section waits to settle, or ty restarts with it."""
    last_error: str | None = None
    """Why it last failed."""
    version: str | None = None
    """ty's version, from its ``initialize`` answer."""


class StatusSettings(WireModel):
    """The settings in force that the editor may want to show."""

    edits: EditsMode
    """What happens to proposed edits."""
    capture_traces: bool
    """Whether runs are traced."""
    trust: bool
    """Whether tools may run the workspace's code (the setting or ``--trust``)."""
    sandbox: SandboxSettings
    """The sandbox limits."""


class StatusResult(WireModel):
    """``punie.status``: versions, the ty child, the model, the sandbox, the settings."""

    version: str
    """punie-lsp's version."""
    python: str
    """The server's Python version."""
    ty: TyStatus
    """The ty child."""
    model: ModelStatus
    """The model (``loaded: false`` until the first agent command)."""
    sandbox: PoolHealth
    """The sandbox pool (known without running anything)."""
    settings: StatusSettings
    """The settings in force."""


def status(host: AgentHost, *args: object) -> StatusResult:
    """``punie.status``: takes no arguments (editors send ``[{}]`` or none; ignored)."""
    session = host.session
    ty = session.ty
    settings = session.settings
    return StatusResult(
        version=__version__,
        python=sys.version.split()[0],
        ty=TyStatus(
            state=ty.state,
            pid=ty.pid,
            restarts=ty.restarts,
            settings_pending=session.router.ty_section.pending,
            last_error=ty.last_error,
            version=((ty.initialize_result or {}).get("serverInfo") or {}).get("version"),
        ),
        model=host.status(),
        sandbox=session.sandbox_pool.status(),
        settings=StatusSettings(
            edits=settings.edits,
            capture_traces=settings.capture_traces,
            trust=session.trusted,
            sandbox=settings.sandbox,
        ),
    )


async def tool(session: Session, args: ToolArguments | None = None) -> str | dict[str, Any]:
    """``punie.tool {name, args?, uri?}``: run one typed tool; its result as JSON.

    ``uri`` picks the workspace folder in a multi-root workspace (default: the first).
    A tool that could not run is a result with ``error`` (and Punie's ``parse_error``)
    set; a text tool (``read_file`` …) answers a string, and its failure is a
    ``RequestFailed`` error naming the reason; a wrong name or argument is
    ``InvalidParams`` saying what is wrong.
    """
    tools = (await session.load_code_mode_tools()).tools
    if args is None or args.name not in tools:
        known = ", ".join(sorted(tools))
        name = args.name if args is not None else None
        raise invalid_argument(f"punie.tool: unknown tool {name!r}; known tools: {known}")
    root = session.command_root(args.COMMAND, args.uri)
    try:
        await session.folder_trust_settled()
        result = await call_tool(args.name, session.tool_context(root), args.args, tools)
    except ToolArgumentError as exc:
        said = str(exc).removeprefix(f"{args.name}: ")  # named once: "punie.tool git_log: …"
        raise invalid_argument(f"punie.tool {args.name}: {said}") from None
    except OSError as exc:
        raise JsonRpcException(
            message=f"punie.tool {exc}", code=int(types.LSPErrorCodes.RequestFailed)
        ) from None
    if isinstance(result, str):
        return result
    return result.model_dump(mode="json")  # Punie's contract: every field, None included


async def run_code_command(session: Session, args: RunCodeArguments | None = None) -> RunResult:
    """``punie.runCode {code, uri?}``: the user's own code in the sandbox, no model.

    Returns ``{stdout, value, error?, calls}``. Progress shows each tool call; cancelling
    the progress or the request stops the run within a second.
    """
    if args is None:
        raise absent(RunCodeArguments)
    root = session.command_root(args.COMMAND, args.uri)
    async with WorkDone(session, "Punie: running code") as progress:
        tools = await session.load_code_mode_tools()
        await session.folder_trust_settled()
        ctx = session.tool_context(root)

        async def on_call(name: str, call_args: dict[str, Any]) -> None:
            progress.report(f"{name}({', '.join(f'{k}={v!r}' for k, v in call_args.items())})")

        ctx.on_call = on_call
        return await run_code(
            args.code,
            ctx,
            pool=session.sandbox_pool,
            limits=session.sandbox_limits(),
            cancel=progress.cancelled,
            tools=tools,
        )


COMMANDS = {
    "punie.status": status,
    "punie.tool": tool,
    "punie.runCode": run_code_command,
    **agent_commands.COMMANDS,
}
"""Command name -> handler; each takes the ``Session`` or the ``AgentHost`` first."""
