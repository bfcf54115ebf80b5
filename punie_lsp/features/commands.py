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
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from agent.code_mode import run_code
from punie_lsp import __version__
from punie_lsp.features import agent_commands
from punie_lsp.features.arguments import RunCodeArguments, ToolArguments
from punie_lsp.server.language_server import (
    PunieLanguageServer,  # at run time: pygls reads the hints
)
from punie_lsp.session.progress import WorkDone
from sandbox import RunResult
from typed_tools import ToolArgumentError, call_tool

__all__ = ["register", "status"]


def status(ls: PunieLanguageServer, *args: Any) -> dict[str, Any]:
    """``punie.status``: versions, the ty child's state, the settings in force."""
    ty = ls.ty
    settings = ls.settings
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "ty": {
            "state": ty.state,
            "pid": ty.pid,
            "restarts": ty.restarts,
            "lastError": ty.last_error,
            "version": ((ty.initialize_result or {}).get("serverInfo") or {}).get("version"),
        },
        "model": ls.agent_host.status(),
        "sandbox": ls.sandbox_pool.status().model_dump(mode="json"),
        "settings": {
            "edits": settings.edits,
            "captureTraces": settings.capture_traces,
            "trust": ls.trusted,
            "sandbox": {
                "timeoutSeconds": settings.sandbox.timeout_seconds,
                "memoryMb": settings.sandbox.memory_mb,
                "maxToolCalls": settings.sandbox.max_tool_calls,
            },
        },
    }


async def tool(ls: PunieLanguageServer, args: ToolArguments | None = None) -> Any:
    """``punie.tool {name, args?, uri?}``: run one typed tool; its result as JSON.

    ``uri`` picks the workspace folder in a multi-root workspace (default: the first).
    A tool that could not run is a result with ``error`` (and Punie's ``parse_error``)
    set; a text tool (``read_file`` …) answers a string, and its failure is a
    ``RequestFailed`` error naming the reason; a wrong name or argument is
    ``InvalidParams`` saying what is wrong.
    """
    tools = (await ls.load_code_mode_tools()).tools
    if args is None or args.name not in tools:
        known = ", ".join(sorted(tools))
        name = args.name if args is not None else None
        raise JsonRpcInvalidParams(f"punie.tool: unknown tool {name!r}; known tools: {known}")
    root = ls.command_root(args.COMMAND, args.uri)
    try:
        result = await call_tool(args.name, ls.tool_context(root), args.args, tools)
    except ToolArgumentError as exc:
        raise JsonRpcInvalidParams(f"punie.tool {args.name}: {exc}") from None
    except OSError as exc:
        raise JsonRpcException(
            message=f"punie.tool {exc}", code=int(types.LSPErrorCodes.RequestFailed)
        ) from None
    if isinstance(result, str):
        return result
    return result.model_dump(mode="json")  # Punie's contract: every field, None included


async def run_code_command(
    ls: PunieLanguageServer, args: RunCodeArguments | None = None
) -> RunResult:
    """``punie.runCode {code, uri?}``: the user's own code in the sandbox, no model.

    Returns ``{stdout, value, error?, calls}``. Progress shows each tool call; cancelling
    the progress or the request stops the run within a second.
    """
    if args is None:
        raise JsonRpcInvalidParams("punie.runCode: 'code' is required")
    root = ls.command_root(args.COMMAND, args.uri)
    async with WorkDone(ls, "Punie: running code") as progress:
        tools = await ls.load_code_mode_tools()
        ctx = ls.tool_context(root)

        async def on_call(name: str, call_args: dict[str, Any]) -> None:
            progress.report(f"{name}({', '.join(f'{k}={v!r}' for k, v in call_args.items())})")

        ctx.on_call = on_call
        return await run_code(
            args.code,
            ctx,
            pool=ls.sandbox_pool,
            limits=ls.sandbox_limits(),
            cancel=progress.cancelled,
            tools=tools,
        )


COMMANDS = {
    "punie.status": status,
    "punie.tool": tool,
    "punie.runCode": run_code_command,
    **agent_commands.COMMANDS,
}


def register(ls: PunieLanguageServer) -> None:
    for name, handler in COMMANDS.items():
        ls.command(name)(handler)
