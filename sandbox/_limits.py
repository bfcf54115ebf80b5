"""What one sandbox run may consume, and how that maps onto Monty's own limits.

Some limits Monty enforces inside the worker (heap size, recursion depth, time spent
executing, time slept); the others only the host can enforce, because they span host
work (wall-clock time including tool calls), count host-side events (tool calls) or
guard host memory (captured output). ``SandboxLimits`` is the one place both halves are
declared, so a setting such as ``sandbox.timeoutSeconds`` reaches every enforcer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic_monty import ResourceLimits

__all__ = ["SETTINGS", "LimitName", "SandboxLimits"]

LimitName = Literal[
    "timeout_seconds",
    "memory_mb",
    "max_recursion_depth",
    "max_tool_calls",
    "max_output_bytes",
]
"""The limit a ``limit``/``timeout``/``memory`` error names: a ``SandboxLimits`` field."""

SETTINGS: dict[LimitName, str] = {
    "timeout_seconds": "sandbox.timeoutSeconds",
    "memory_mb": "sandbox.memoryMb",
    "max_tool_calls": "sandbox.maxToolCalls",
}
"""The editor setting that raises each limit, named in the error a run hits (DESIGN's
``sandbox.*`` settings; the names are data here, the sandbox imports nothing of ours)."""

_WALL_CLOCK_GRACE_SECONDS = 0.25
"""How long the host waits past ``timeout_seconds`` before stopping the worker itself.

Monty's in-worker clock raises ``TimeoutError`` at the line that was running, which is
the more useful error; the host deadline is the backstop for time Monty does not count
(tool calls, a wedged worker) and must not win the race for a plain endless loop.
"""

_SUSPENSION_HEADROOM = 1000
"""Monty suspensions allowed beyond ``max_tool_calls`` (imports, name lookups, OS calls).

Monty cannot disable its suspension cap; keeping it above the tool-call cap means our
structured ``max_tool_calls`` error is the one a flood of tool calls meets.
"""


@dataclass(frozen=True, kw_only=True)
class SandboxLimits:
    """Resource limits of one run; every field is a hard stop with a structured error.

    Defaults follow the ``sandbox.*`` settings in DESIGN.md. Tests and benchmarks pass
    small values to stay fast.
    """

    timeout_seconds: float = 30.0
    """Wall-clock budget of the whole run, tool calls and type check included.

    Also caps time spent executing and sleeping inside the worker. Over it: error kind
    ``timeout``.
    """
    memory_mb: int = 256
    """Heap of the sandboxed program in MiB (Monty's ``max_memory``). Over it: ``memory``."""
    max_recursion_depth: int = 200
    """Deepest call stack the program may build. Over it: kind ``limit``.

    Far below Monty's 1000 default: model-written code rarely recurses deeply, and a
    shallow cap turns runaway recursion into an error in microseconds.
    """
    max_tool_calls: int = 200
    """External (tool) calls per run (setting ``sandbox.maxToolCalls``). Over it: kind
    ``limit``, the run stops at that call, and the error names the setting."""
    max_output_bytes: int = 1_000_000
    """Bytes of printed output kept, and the largest JSON form of the returned value.

    Over it: kind ``limit``; the run stops and ``stdout`` holds the first bytes.
    """

    def __post_init__(self) -> None:
        """Reject limits that would disable a guard: a zero or negative value is a bug."""
        for name in ("timeout_seconds", "memory_mb", "max_recursion_depth", "max_output_bytes"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive, got {value}")
        if self.max_tool_calls < 0:
            raise ValueError(f"SandboxLimits.max_tool_calls must be >= 0: {self.max_tool_calls}")

    @property
    def wall_clock_seconds(self) -> float:
        """When the host stops a run that Monty's own clock has not stopped."""
        return self.timeout_seconds + _WALL_CLOCK_GRACE_SECONDS

    def resource_limits(self) -> ResourceLimits:
        """The part of these limits the Monty worker enforces itself."""
        return ResourceLimits(
            max_feed_duration_secs=self.timeout_seconds,
            max_total_sleep_secs=self.timeout_seconds,
            max_memory=self.memory_mb * 1024 * 1024,
            max_recursion_depth=self.max_recursion_depth,
            max_suspensions=self.max_tool_calls + _SUSPENSION_HEADROOM,
        )
