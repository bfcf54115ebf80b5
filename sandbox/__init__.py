"""Run model-written Python in Monty (pydantic-monty), with host functions as its only way out.

Generic on purpose: it imports nothing of punie-lsp's. Callers bind their own externals
(``agent.code_mode`` binds the typed tools) and stubs::

    async with SandboxPool() as pool:
        result = await pool.run(
            'r = check("src")\\n[e.line for e in r.errors]',
            externals={"check": check},  # async def check(path: str) -> SomeModel
            stubs=STUBS,  # declares check() and SomeModel for the type check
            limits=SandboxLimits(timeout_seconds=10),
            cancel=cancel_event,  # asyncio.Event; set it to stop the run
        )
        result.model_dump()  # {stdout, value, error?, calls: [{tool, args, durationMs, success}]}

Several programs in a row (an agent run): ``pool.session(...)`` opens each one's session
ahead (see ``sandbox._session``); programs never share variables. Type checks run in the
pool's warm check-only session (``sandbox._checker``).

Importing this package has no side effects: no workers start until the first run.
"""

from sandbox._convert import TRACE_TEXT_LIMIT, ModelInstance, to_json, to_monty, trace_value
from sandbox._externals import External
from sandbox._limits import LimitName, SandboxLimits
from sandbox._pool import PoolHealth, SandboxPool
from sandbox._result import ErrorKind, RunError, RunResult, ToolCall
from sandbox._runner import CancelSignal
from sandbox._session import SandboxSession
from sandbox._wire import WireModel

__all__ = [
    "TRACE_TEXT_LIMIT",
    "CancelSignal",
    "ErrorKind",
    "External",
    "LimitName",
    "ModelInstance",
    "PoolHealth",
    "RunError",
    "RunResult",
    "SandboxLimits",
    "SandboxPool",
    "SandboxSession",
    "ToolCall",
    "WireModel",
    "to_json",
    "to_monty",
    "trace_value",
]
