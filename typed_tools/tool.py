"""The ``@tool`` decorator: what every typed tool does besides its own work.

Doing these in one place keeps the tools honest to the contract in ``base``:
arguments are checked (misuse raises ``ToolArgumentError`` with the parameter's name
and expected type), the run's ``on_call`` hook is awaited, the per-tool time limit is
enforced, and any failure to run becomes ``success=False`` with ``error`` and
``parse_error`` instead of an exception the sandboxed code would have to catch.

Tools returning ``str`` (Punie's ``read_file``, ``write_file``, ``run_command``) have no
result model to carry a failure: theirs is raised as an ``OSError`` (or the subclass the
failure names, e.g. ``FileNotFoundError``) whose message names the tool and the reason.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import pydantic

from typed_tools.base import ToolArgumentError, ToolContext, ToolResult
from typed_tools.containment import (
    Deadline,
    DeadlineExceeded,
    describe_size,
    off_loop,
    oversized_argument,
    result_items,
    using_deadline,
)
from typed_tools.workspace import ToolFailure

__all__ = ["ToolFunction", "describe_type", "result_model", "tool", "tool_parameters"]

logger = logging.getLogger(__name__)

_PARTIAL_MARGIN = 0.25
"""Blocking work's deadline comes this much (at most a tenth of the limit) before the
hard stop, so a search cut short hands back what it found instead of a bare timeout."""

R = TypeVar("R", bound=ToolResult | str)
ToolFunction = Callable[..., Awaitable[ToolResult | str]]


def tool_parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The tool's own parameters (everything after ``ctx``), with resolved annotations."""
    hints = typing.get_type_hints(function)
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())[1:]
    return {p.name: p.replace(annotation=hints.get(p.name, Any)) for p in parameters}


def result_model(function: Callable[..., Any]) -> type[ToolResult] | type[str]:
    """The result model a tool declares as its return annotation (or ``str``)."""
    model = typing.get_type_hints(function).get("return")
    if model is str or (isinstance(model, type) and issubclass(model, ToolResult)):
        return model
    name = getattr(function, "__name__", repr(function))
    raise TypeError(f"{name} must be annotated to return a ToolResult model or str")


def _failed(model: type[Any], message: str, exception: type[OSError] = OSError) -> Any:
    """A could-not-run result (``success=False``, both messages), or for ``str`` tools the
    exception the program sees."""
    if model is str:
        raise exception(message)
    return model(success=False, error=message, parse_error=message)


def _short_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error must not echo a huge argument."""
    text = repr(value) if not isinstance(value, str | bytes) or len(value) < limit else ""
    if not text:
        return f"<{len(value):,} {'characters' if isinstance(value, str) else 'bytes'}>"
    return text if len(text) <= limit else text[:limit] + "…"


def describe_type(annotation: Any) -> str:
    """``int``, ``int from 1 to 10000 or None``: a parameter's type as an error names it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        low = high = None
        for item in annotation.__metadata__:
            low = getattr(item, "ge", low)
            high = getattr(item, "le", high)
        base = describe_type(typing.get_args(annotation)[0])
        if low is not None and high is not None:
            return f"{base} from {low} to {high}"
        return f"{base} of at least {low}" if low is not None else base
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    if origin is list:
        return f"a list of {describe_type(typing.get_args(annotation)[0])}"
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _workspace_gone(ctx: ToolContext) -> str | None:
    """The one message for a workspace folder deleted or moved under a session (or a
    run): without it each tool said something else, blaming git ("cannot run
    /usr/bin/git: No such file …"), a ``cwd`` nobody passed, or a bare errno."""
    if ctx.root.is_dir():
        return None
    return (
        f"the workspace folder {ctx.root} no longer exists (deleted or moved); "
        "reopen the project where it is now"
    )


def tool(function: Callable[..., Awaitable[R]] | Callable[..., R]) -> Callable[..., Awaitable[R]]:
    """Wrap ``async def name(ctx, ...) -> Model`` into a typed tool (see module docstring).

    A plain ``def`` tool (CPU-bound work such as parsing with LibCST) runs in a worker
    thread through ``containment.off_loop``, so it never blocks the server's event loop;
    it sees the call's deadline through ``containment.current_deadline()``.
    """
    is_async = inspect.iscoroutinefunction(function)
    name: str = getattr(function, "__name__", repr(function))
    # R is the function's declared return type, which result_model() reads back as a class.
    model = cast("type[R]", result_model(function))
    parameters = tool_parameters(function)
    # Bounds ride on ``Annotated`` (``typed_tools.base.Count``): checked here, while the
    # stubs, schemas and CLI show Punie's plain ``int`` (``tool_parameters`` strips them).
    checked = typing.get_type_hints(function, include_extras=True)
    adapters = {
        pname: pydantic.TypeAdapter(checked[pname], config=pydantic.ConfigDict(strict=True))
        if pname in checked
        else pydantic.TypeAdapter(p.annotation, config=pydantic.ConfigDict(strict=True))
        for pname, p in parameters.items()
    }
    signature = inspect.signature(function)

    @functools.wraps(function)
    async def wrapper(ctx: ToolContext, /, *args: Any, **kwargs: Any) -> R:
        if not isinstance(ctx, ToolContext):
            raise ToolArgumentError(f"{name}: first argument must be a ToolContext")
        try:
            bound = signature.bind(ctx, *args, **kwargs)
        except TypeError as exc:
            raise ToolArgumentError(f"{name}: {exc}") from None
        for pname, value in list(bound.arguments.items())[1:]:
            try:
                bound.arguments[pname] = adapters[pname].validate_python(value)
            except pydantic.ValidationError:
                expected = describe_type(checked.get(pname, parameters[pname].annotation))
                raise ToolArgumentError(
                    f"{name}: argument {pname!r} must be {expected}, "
                    f"got {type(value).__name__} {_short_repr(value)}"
                ) from None
        oversized = oversized_argument(bound.arguments, ctx.max_argument_bytes)
        if oversized is not None:
            return _failed(model, f"{name}: {oversized}")
        if ctx.on_call is not None:
            await ctx.on_call(name, dict(list(bound.arguments.items())[1:]))
        prefix = f"{name}: " if model is str else ""
        if (gone := _workspace_gone(ctx)) is not None:
            return _failed(model, prefix + gone, FileNotFoundError)
        timeout = ctx.timeouts.get(name, ctx.timeout_seconds)
        try:
            # Blocking work (off_loop threads) sees the deadline and stops just before the
            # limit with what it found; leaving the block stops it too (the call ended,
            # or the sandbox cancelled it at its own limit).
            with using_deadline(Deadline.after(timeout - min(timeout / 10, _PARTIAL_MARGIN))):
                call: Awaitable[R]
                if is_async:
                    # iscoroutinefunction said so: calling it gives the awaitable.
                    call = cast("Awaitable[R]", function(*bound.args, **bound.kwargs))
                else:
                    plain = cast("Callable[..., R]", function)  # a def tool returns R itself
                    call = off_loop(plain, *bound.args, **bound.kwargs)
                result = await asyncio.wait_for(call, timeout)
            if isinstance(result, str):
                # A proposal (max_argument_bytes) must read back; a file, up to max_read_bytes.
                cap = max(ctx.max_read_bytes, ctx.max_argument_bytes)
                if len(result) > cap:
                    return _failed(
                        model,
                        f"{name}: the answer is {describe_size(len(result))} of text, over the "
                        f"{describe_size(cap)} limit (max_read_bytes); ask about less",
                    )
            elif (items := result_items(result)) > ctx.max_result_items:
                return _failed(
                    model,
                    f"{name}: the answer has {items:,} entries, over the "
                    f"{ctx.max_result_items:,} limit (max_result_items); ask about a "
                    "smaller path",
                )
            return result
        except ToolArgumentError:
            raise
        except (TimeoutError, DeadlineExceeded):  # before OSError: TimeoutError is one
            return _failed(model, f"{name} did not finish within {timeout:g} s", TimeoutError)
        except (ToolFailure, OSError) as exc:
            if (gone := _workspace_gone(ctx)) is not None:  # it went away during the call
                return _failed(model, prefix + gone, FileNotFoundError)
            if isinstance(exc, ToolFailure):
                return _failed(model, prefix + str(exc), exc.exception)
            return _failed(model, f"{name}: {exc}", type(exc))
        except Exception as exc:
            # A bug in the tool itself: logged in full for us, reported briefly to the model.
            logger.exception("typed tool %s crashed", name)
            return _failed(model, f"{name} crashed: {type(exc).__name__}: {exc}")

    return wrapper
