"""Code Mode's binding: the typed tools as the sandbox's only way out, for one run.

The sandbox is generic (it knows externals and stubs, not tools); ``typed_tools`` knows
tools, not sandboxes. This module joins them for one ``ToolContext``: each tool
becomes an external the program calls like a plain function (``read_file("a.py")``,
positional or keyword), bound to the run's workspace, overlay and hooks, and declared
to the type checker by the registry's generated stubs.

A run that ends ``cancelled`` (or is stopped by a limit) may have proposed half of a
change; ``run_code`` puts the overlay back as it was before the run, so its proposals
are dropped and earlier runs' proposals are kept.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import CancelSignal, External, RunResult, SandboxLimits, SandboxPool, SandboxSession
from typed_tools.base import ToolContext, ToolResult
from typed_tools.registry import ToolSpec, call_tool, load_tools, stubs

__all__ = ["CodeModeTools", "run_code"]


@dataclass(frozen=True, kw_only=True)
class CodeModeTools:
    """The tools a run may call and their stubs, generated once and reused by every run.

    Build one per server (``CodeModeTools.load()``): reading entry points and rendering
    stubs costs milliseconds, a run should not.
    """

    tools: Mapping[str, ToolSpec]
    """The typed tools by name, as ``typed_tools.registry.load_tools()`` returns them."""
    stubs: str
    """Their ``.pyi`` source: the prompt shows it, the sandbox type-checks against it."""

    @classmethod
    def load(cls, tools: Mapping[str, ToolSpec] | None = None) -> CodeModeTools:
        """Built-in and plug-in tools (or the given ones) with their stubs."""
        specs = dict(tools) if tools is not None else load_tools()
        return cls(tools=specs, stubs=stubs(specs))

    def externals(self, ctx: ToolContext) -> dict[str, External]:
        """Every tool bound to ``ctx``, callable by the sandboxed program."""
        signatures = self._signatures
        return {
            name: _BoundTool(spec, signatures[name], ctx, self.tools)
            for name, spec in self.tools.items()
        }

    @functools.cached_property
    def _signatures(self) -> dict[str, inspect.Signature]:
        """Each tool's signature without ``ctx``, built once (0.2 ms a program otherwise)."""
        return {name: inspect.Signature(list(spec.parameters)) for name, spec in self.tools.items()}


class _BoundTool:
    """One tool as an external: positional arguments mapped to its parameter names.

    It carries the tool's signature without ``ctx`` (``inspect.signature`` reads
    ``__signature__``), so a wrong call is a ``TypeError`` in the program before the
    tool runs, and the run's trace records arguments by name.
    """

    def __init__(
        self,
        spec: ToolSpec,
        signature: inspect.Signature,
        ctx: ToolContext,
        tools: Mapping[str, ToolSpec],
    ) -> None:
        self.__name__ = spec.name
        self.__doc__ = spec.docstring
        self.__signature__ = signature
        self._ctx = ctx
        self._tools = tools

    async def __call__(self, *args: Any, **kwargs: Any) -> ToolResult | str:
        arguments = self.__signature__.bind(*args, **kwargs).arguments
        return await call_tool(self.__name__, self._ctx, dict(arguments), self._tools)


async def run_code(
    code: str,
    ctx: ToolContext,
    *,
    pool: SandboxPool,
    limits: SandboxLimits | None = None,
    cancel: CancelSignal | None = None,
    tools: CodeModeTools | None = None,
    type_check: bool = True,
    session: SandboxSession | None = None,
) -> RunResult:
    """Run model- or user-written ``code`` with the typed tools bound to ``ctx``.

    Proposed edits land in ``ctx.overlay``; when the result says ``discard_proposals``
    (cancelled, timed out, over a limit) the overlay is restored to its state before
    the run. Pass a ``CodeModeTools`` kept by the caller to avoid reloading the tools.
    With ``session`` (from ``pool.session`` with these tools' stubs, ``limits`` and
    ``type_check``) the code runs there, after the session's earlier programs.
    """
    bound = tools or CodeModeTools.load()
    before = dict(ctx.overlay)
    if session is not None:
        result = await session.run(code, externals=bound.externals(ctx), cancel=cancel)
    else:
        result = await pool.run(
            code,
            externals=bound.externals(ctx),
            stubs=bound.stubs,
            limits=limits,
            cancel=cancel,
            type_check=type_check,
        )
    if result.discard_proposals:
        ctx.overlay.clear()
        ctx.overlay.update(before)
    return result
