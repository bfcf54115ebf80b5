"""GNU-style option parsing shared by the emulated programs, and ``Unsupported``."""

from __future__ import annotations

__all__ = ["Options", "Unsupported", "parse_number"]


class Unsupported(Exception):
    """A program or option ``run_command`` does not provide; the message says what it does."""


def parse_number(option: str, value: str) -> int:
    """``value`` as the integer ``option`` takes, else ``Unsupported`` naming both."""
    try:
        return int(value)
    except ValueError:
        raise Unsupported(f"{option} needs a number, got {value!r}") from None


class Options:
    """GNU-style option parsing: bundled short flags (``-rn``), values (``-A 3``, ``-A3``,
    ``--include=*.py``, ``--include *.py``), ``--`` ending options, operands kept in order."""

    def __init__(
        self,
        program: str,
        args: list[str],
        flags: str,
        valued: str = "",
        long_flags: dict[str, str] | None = None,
        long_valued: frozenset[str] = frozenset(),
    ) -> None:
        self.set: set[str] = set()
        self.values: list[tuple[str, str]] = []
        self.operands: list[str] = []
        long_flags = long_flags or {}
        index = 0
        while index < len(args):
            arg = args[index]
            index += 1
            if arg == "--":
                self.operands += args[index:]
                break
            if arg.startswith("--") and len(arg) > 2:
                name, eq, value = arg[2:].partition("=")
                if name in long_valued:
                    if not eq:
                        if index >= len(args):
                            raise Unsupported(f"{program}: option --{name} needs a value")
                        value = args[index]
                        index += 1
                    self.values.append((name, value))
                elif name in long_flags and not eq:
                    self.set.add(long_flags[name])
                else:
                    raise Unsupported(f"{program}: option --{name} is not supported")
                continue
            if arg.startswith("-") and len(arg) > 1 and not arg[1:].isdigit():
                position = 1
                while position < len(arg):
                    letter = arg[position]
                    position += 1
                    if letter in valued:
                        value = arg[position:]
                        if not value:
                            if index >= len(args):
                                raise Unsupported(f"{program}: option -{letter} needs a value")
                            value = args[index]
                            index += 1
                        self.values.append((letter, value))
                        break
                    if letter not in flags:
                        raise Unsupported(f"{program}: option -{letter} is not supported")
                    self.set.add(letter)
                continue
            self.operands.append(arg)

    def last(self, name: str) -> str | None:
        found = [value for key, value in self.values if key == name]
        return found[-1] if found else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.values if key == name]
