"""Number flags of ``punie-lsp train``: a value outside its range is a usage error.

argparse's ``type=`` runs before anything loads, so a bad ``--batch-size 0`` or
``--learning-rate nan`` is one line naming the flag and its range (exit 2), not a
failure minutes later inside mlx-lm.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["integer", "number"]


def integer(low: int, high: int, *, also: int | None = None) -> Callable[[str], int]:
    """An ``int`` flag from ``low`` to ``high`` (and ``also``, e.g. -1 for "all")."""
    extra = f" (or {also})" if also is not None else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value != also and not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be at least {low} and at most {high}{extra}, got {value}"
            )
        return value

    return parse


def number(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    """A finite ``float`` flag above (``low_open``) or at least ``low``, at most ``high``."""
    relation = "above" if low_open else "at least"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            raise argparse.ArgumentTypeError(
                f"must be {relation} {low:g} and at most {high:g}, got {text}"
            )
        return value

    return parse
