"""find: GNU findutils' tests and actions that only read (``-name``, ``-type``, ``-maxdepth`` …).

Actions that run programs or delete (``-exec``, ``-delete`` …) are refused as ``Unsupported``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

from typed_tools._coreutils.options import Unsupported, parse_number
from typed_tools._view import View

__all__ = ["find"]

_Test = Callable[[str, Path, int], bool]

_REFUSED_FIND = {
    "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf",
    "-fls", "-fstype",
}  # fmt: skip


def find(view: View, args: list[str]) -> str:
    """GNU find with ``-name/-iname/-path/-ipath/-type/-maxdepth/-mindepth/-empty``,
    ``!``/``-not``, ``-a``/``-o`` and parentheses; actions other than ``-print`` refused."""
    index = 0
    starts: list[str] = []
    while index < len(args) and not (args[index].startswith("-") or args[index] in "!()"):
        starts.append(args[index])
        index += 1
    expression = args[index:]
    for word in expression:
        if word in _REFUSED_FIND:
            raise Unsupported(f"find: {word} runs or writes something; it is not allowed")
    max_depth, min_depth = 10**6, 0
    tokens: list[str] = []
    position = 0
    while position < len(expression):
        word = expression[position]
        if word in ("-maxdepth", "-mindepth"):
            if position + 1 >= len(expression):
                raise Unsupported(f"find: {word} needs a number")
            value = parse_number(word, expression[position + 1])
            if word == "-maxdepth":
                max_depth = value
            else:
                min_depth = value
            position += 2
            continue
        tokens.append(word)
        position += 1
    test = _FindParser(tokens, view).parse()
    out = []
    for start in starts or ["."]:
        top = view.path(start)
        if not view.exists(top):
            out.append(f"find: '{start}': No such file or directory\n")
            continue
        for shown, path, depth in view.walk(top, start):
            if depth > max_depth:
                continue
            if depth >= min_depth and test(shown, path, depth):
                out.append(f"{shown}\n")
    return "".join(out)


class _FindParser:
    """Recursive descent over find's expression: or > and > not > primary."""

    def __init__(self, tokens: list[str], view: View) -> None:
        self.tokens = tokens
        self.index = 0
        self.view = view

    def parse(self) -> _Test:
        if not self.tokens:
            return lambda shown, path, depth: True
        test = self._or()
        if self.index < len(self.tokens):
            raise Unsupported(f"find: unexpected {self.tokens[self.index]!r}")
        return test

    def _peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _or(self) -> _Test:
        left = self._and()
        while self._peek() in ("-o", "-or"):
            self.index += 1
            right = self._and()
            left = (lambda a, b: lambda s, p, d: a(s, p, d) or b(s, p, d))(left, right)
        return left

    def _and(self) -> _Test:
        left = self._not()
        while (word := self._peek()) is not None and word not in ("-o", "-or", ")"):
            if word in ("-a", "-and"):
                self.index += 1
            right = self._not()
            left = (lambda a, b: lambda s, p, d: a(s, p, d) and b(s, p, d))(left, right)
        return left

    def _not(self) -> _Test:
        if self._peek() in ("!", "-not"):
            self.index += 1
            inner = self._not()
            return lambda s, p, d: not inner(s, p, d)
        return self._primary()

    def _value(self, word: str) -> str:
        if self.index >= len(self.tokens):
            raise Unsupported(f"find: {word} needs a value")
        value = self.tokens[self.index]
        self.index += 1
        return value

    def _primary(self) -> _Test:
        word = self._peek()
        if word is None:
            raise Unsupported("find: the expression ends too early")
        self.index += 1
        view = self.view
        if word == "(":
            inner = self._or()
            if self._peek() != ")":
                raise Unsupported("find: missing ')'")
            self.index += 1
            return inner
        if word in ("-print", "-true"):
            return lambda s, p, d: True
        if word == "-false":
            return lambda s, p, d: False
        if word in ("-name", "-iname"):
            glob = self._value(word)
            fold = word == "-iname"
            return lambda s, p, d: _glob(s.rstrip("/").rsplit("/", 1)[-1] or s, glob, fold)
        if word in ("-path", "-ipath", "-wholename", "-iwholename"):
            glob = self._value(word)
            fold = word.startswith("-i")
            return lambda s, p, d: _glob(s, glob, fold)
        if word == "-type":
            kinds = self._value(word)
            checks = {
                "f": lambda p: view.is_file(p) and not p.is_symlink(),
                "d": lambda p: view.is_dir(p) and not p.is_symlink(),
                "l": lambda p: p.is_symlink(),
            }
            if not set(kinds.split(",")) <= set(checks):
                raise Unsupported(f"find: -type {kinds} is not supported (f, d or l)")
            return lambda s, p, d: any(checks[k](p) for k in kinds.split(","))
        if word == "-empty":
            return lambda s, p, d: (
                not view.children(p) if view.is_dir(p) else view.is_file(p) and not view.data(p)
            )
        raise Unsupported(
            f"find: {word} is not supported (supported: -name, -iname, -path, -ipath, "
            "-type, -maxdepth, -mindepth, -empty, -print, !, -not, -a, -o, parentheses)"
        )


def _glob(text: str, glob: str, fold: bool) -> bool:
    return (
        fnmatch.fnmatchcase(text.lower(), glob.lower()) if fold else fnmatch.fnmatchcase(text, glob)
    )
