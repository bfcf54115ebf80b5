"""Host functions a program calls: their signatures, trace forms and error types.

What the runner needs to know about an external beyond calling it: the signature that
names a call's arguments in the trace (cached per external while it lives), a stand-in
when the program uses an external as a value, the trace of a call whose signature is
unknown, which results are large enough to convert off the event loop, and the Monty
exception type a host error becomes inside the sandbox.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, get_args
from weakref import WeakKeyDictionary

from pydantic_monty import ExcType

from sandbox._convert import trace_value

__all__ = [
    "OFF_LOOP_ITEMS",
    "External",
    "SignatureCache",
    "exc_type_for",
    "is_large",
    "positional_trace",
    "signature_of",
    "stand_in",
]

External: TypeAlias = Callable[..., Awaitable[Any]]
"""A host function the program may call: async, returning a Pydantic model or JSON."""

SignatureCache: TypeAlias = "WeakKeyDictionary[Callable[..., Any], inspect.Signature | None]"
"""Signatures of externals, kept by their owner (the pool) across runs, dropped with them."""

_EXC_TYPES: dict[str, ExcType] = {name: name for name in get_args(ExcType)}
"""Exception names Monty can raise in the sandbox, for mapping host exceptions."""


OFF_LOOP_ITEMS = 200
"""A result with more list entries than this is converted for Monty in a worker thread."""


def is_large(value: Any) -> bool:
    """Whether converting ``value`` would hold the loop for long (cheap: counts only)."""
    if isinstance(value, list):
        return len(value) > OFF_LOOP_ITEMS
    fields = getattr(type(value), "model_fields", None)
    if not fields:
        return False
    items = 0
    for name in fields:
        field_value = getattr(value, name, None)
        if isinstance(field_value, list):
            items += len(field_value)
    return items > OFF_LOOP_ITEMS


def signature_of(cache: SignatureCache, external: External) -> inspect.Signature | None:
    """``inspect.signature`` of an external, cached while the external lives."""
    try:
        return cache[external]
    except KeyError:
        pass
    except TypeError:  # cannot be weakly referenced: fine, just not cached
        return _inspect(external)
    signature = cache[external] = _inspect(external)
    return signature


def _inspect(external: External) -> inspect.Signature | None:
    try:
        return inspect.signature(external)
    except (TypeError, ValueError):
        return None


def stand_in(name: str) -> Callable[..., None]:
    """A stand-in for external ``name`` when the program uses it as a value (``f = tool``).

    Monty calls a host function back by its ``__name__``, which need not be the name
    it was registered under; the stand-in carries the registered name, and the call
    is dispatched (and traced) like any other. It is never invoked itself.
    """

    def handle(*args: object, **kwargs: object) -> None:
        raise AssertionError("external stand-ins are dispatched by name, never called")

    handle.__name__ = handle.__qualname__ = name
    return handle


def positional_trace(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Trace form of a call whose signature is unknown: ``{"0": …, "1": …, **kwargs}``."""
    named: dict[str, Any] = {str(index): trace_value(v) for index, v in enumerate(args)}
    named.update({key: trace_value(value) for key, value in kwargs.items()})
    return named


def exc_type_for(error: BaseException) -> ExcType:
    """The closest exception type Monty can raise inside the sandbox for a host error."""
    for klass in type(error).__mro__:
        if (exc_type := _EXC_TYPES.get(klass.__name__)) is not None:
            return exc_type
    return "RuntimeError"
