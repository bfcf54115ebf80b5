"""grep: GNU grep's basic (``-G``), extended (``-E``) and fixed (``-F``) patterns, its
flags ``-rRnilLcvwxhHosqI``, context and limits (``-A/-B/-C/-m``), include/exclude globs.

Patterns run on the ``regex`` engine with a per-line time limit (``containment``):
a model-written pattern that backtracks forever stops with ``PatternTooSlow``.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import regex as regex_engine

from typed_tools._coreutils.options import Options, Unsupported, parse_number
from typed_tools._view import View
from typed_tools.containment import LINE_SECONDS, PatternTooSlow, search_line

__all__ = ["grep"]

_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
}


def _bracket(pattern: str, index: int) -> tuple[str, int]:
    """A POSIX bracket expression starting at ``pattern[index] == '['`` as a Python set."""
    out = ["["]
    index += 1
    if index < len(pattern) and pattern[index] == "^":
        out.append("^")
        index += 1
    first = True
    while index < len(pattern):
        char = pattern[index]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), index + 1
        if pattern.startswith("[:", index):
            end = pattern.find(":]", index + 2)
            name = pattern[index + 2 : end] if end != -1 else ""
            if name in _POSIX_CLASSES:
                out.append(_POSIX_CLASSES[name])
                index = end + 2
                first = False
                continue
        out.append("\\" + char if char in "\\[]^" and not (char == "^" and not first) else char)
        index += 1
        first = False
    raise Unsupported("grep: unmatched [ in the pattern")


def _regex(pattern: str, extended: bool) -> str:
    """A POSIX basic (BRE) or extended (ERE) regular expression as Python ``re`` source.

    BRE: ``\\( \\) \\{ \\} \\| \\+ \\?`` are the operators (GNU extensions included) and
    the bare characters are literal; ERE is the other way round. Both: bracket
    expressions with ``[:classes:]`` and a literal backslash, ``\\<``/``\\>`` word edges.
    """
    out: list[str] = []
    index = 0
    operators = "(){}|+?"
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            following = pattern[index + 1]
            index += 2
            if following in "<>":
                out.append(r"\b")
            elif following in operators:
                out.append(re.escape(following) if extended else following)
            elif following in "wWsSbB" or following.isdigit():
                out.append("\\" + following)
            else:
                out.append(re.escape(following))
            continue
        if char == "[":
            text, index = _bracket(pattern, index)
            out.append(text)
            continue
        if char in operators:
            out.append(char if extended else re.escape(char))
        elif char == "*" and (not out or out[-1] in ("^", "(", "|")):
            out.append(r"\*")  # a leading star is literal in POSIX
        else:
            out.append(char)
        index += 1
    return "".join(out)


_GREP_LONG = {
    "recursive": "r",
    "dereference-recursive": "R",
    "line-number": "n",
    "ignore-case": "i",
    "files-with-matches": "l",
    "files-without-match": "L",
    "count": "c",
    "invert-match": "v",
    "word-regexp": "w",
    "line-regexp": "x",
    "extended-regexp": "E",
    "fixed-strings": "F",
    "basic-regexp": "G",
    "no-filename": "h",
    "with-filename": "H",
    "only-matching": "o",
    "no-messages": "s",
    "quiet": "q",
    "silent": "q",
    "color": "",
    "colour": "",
}


def grep(view: View, args: list[str]) -> str:
    """GNU grep over files and folders (``-r``), printing as to a pipe."""
    options = Options(
        "grep",
        args,
        flags="rRnilLcvwxEFGhHosqI",
        valued="eABCm",
        long_flags=_GREP_LONG,
        long_valued=frozenset({"include", "exclude", "exclude-dir", "regexp", "max-count"}),
    )
    flags = options.set
    patterns = options.all("e") + options.all("regexp")
    operands = list(options.operands)
    if not patterns:
        if not operands:
            return "Usage: grep [OPTION]... PATTERNS [FILE]...\n"
        patterns = [operands.pop(0)]
    patterns = [p for pattern in patterns for p in pattern.split("\n")]
    if "F" in flags:
        sources = [re.escape(p) for p in patterns]
    else:
        sources = [_regex(p, "E" in flags) for p in patterns]
    body = "|".join(f"(?:{s})" for s in sources)
    if "w" in flags:
        body = rf"(?<!\w)(?:{body})(?!\w)"
    if "x" in flags:
        body = rf"^(?:{body})$"
    try:
        # regex, not re: search_line bounds its time (see containment.search_line).
        regex = regex_engine.compile(body, regex_engine.IGNORECASE if "i" in flags else 0)
    except regex_engine.error as exc:
        return f"grep: {exc}\n"
    recursive = bool(flags & {"r", "R"})
    implicit = not operands
    if implicit:
        operands = ["."] if recursive else ["-"]
    if operands == ["-"]:
        return ""  # no standard input in the sandbox: grep reads nothing
    after = parse_number("-A", options.last("A") or options.last("C") or "0")
    before = parse_number("-B", options.last("B") or options.last("C") or "0")
    limit = options.last("m") or options.last("max-count")
    max_count = parse_number("-m", limit) if limit is not None else None
    includes, excludes = options.all("include"), options.all("exclude")
    exclude_dirs = options.all("exclude-dir")

    files: list[tuple[str, Path]] = []
    out: list[str] = []
    for operand in operands:
        path = view.path(operand)
        if not view.exists(path):
            if "s" not in flags:
                out.append(f"grep: {operand}: No such file or directory\n")
            continue
        if view.is_dir(path):
            if not recursive:
                out.append(f"grep: {operand}: Is a directory\n")
                continue
            name = "" if implicit else operand
            for shown, file, depth in view.walk(path, name):
                if view.is_dir(file):
                    if depth and any(fnmatch.fnmatchcase(file.name, g) for g in exclude_dirs):
                        continue
                    continue
                base = file.name
                if includes and not any(fnmatch.fnmatchcase(base, g) for g in includes):
                    continue
                if any(fnmatch.fnmatchcase(base, g) for g in excludes):
                    continue
                if exclude_dirs and _under_excluded(shown, exclude_dirs):
                    continue
                files.append((shown, file))
        else:
            files.append((operand, path))
    with_names = "h" not in flags and ("H" in flags or recursive or len(files) > 1)
    for shown, file in files:
        data = view.data(file)
        binary = b"\0" in data[:8192]
        text = data.decode("utf-8", errors="replace")
        if "\ufffd" in text and "\ufffd".encode() not in data:
            binary = True
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out += _grep_file(shown, lines, regex, flags, with_names, binary, before, after, max_count)
        if "q" in flags and out:
            return ""
    return "".join(out)


def _under_excluded(shown: str, globs: list[str]) -> bool:
    parts = shown.split("/")[:-1]
    return any(fnmatch.fnmatchcase(part, g) for part in parts for g in globs)


def _grep_file(
    shown: str,
    lines: list[str],
    regex: regex_engine.Pattern[str],
    flags: set[str],
    with_names: bool,
    binary: bool,
    before: int,
    after: int,
    max_count: int | None,
) -> list[str]:
    invert = "v" in flags
    hits = []
    for number, line in enumerate(lines, start=1):
        if (search_line(regex, line) is not None) != invert:
            hits.append(number)
            if max_count is not None and len(hits) >= max_count:
                break
    if "l" in flags:
        return [f"{shown}\n"] if hits else []
    if "L" in flags:
        return [] if hits else [f"{shown}\n"]
    if "c" in flags:
        return [f"{shown}:{len(hits)}\n" if with_names else f"{len(hits)}\n"]
    if not hits or "q" in flags:
        return ["match"] if hits else []
    if binary:
        return [f"grep: {shown}: binary file matches\n"]
    prefix = f"{shown}:" if with_names else ""
    out: list[str] = []
    if "o" in flags and not invert:
        for number in hits:
            line = lines[number - 1]
            try:  # the line matched in time once; all its matches get the same bound
                found_all = list(regex.finditer(line, timeout=LINE_SECONDS, concurrent=True))
            except TimeoutError:
                raise PatternTooSlow from None
            for found in found_all:
                if found.group():
                    where = f"{number}:" if "n" in flags else ""
                    out.append(f"{prefix}{where}{found.group()}\n")
        return out
    if not (before or after):
        for number in hits:
            where = f"{number}:" if "n" in flags else ""
            out.append(f"{prefix}{where}{lines[number - 1]}\n")
        return out
    shown_lines: dict[int, bool] = {}
    for number in hits:
        for context in range(max(1, number - before), min(len(lines), number + after) + 1):
            shown_lines.setdefault(context, False)
        shown_lines[number] = True
    previous = None
    for number in sorted(shown_lines):
        if previous is not None and number > previous + 1:
            out.append("--\n")
        mark = ":" if shown_lines[number] else "-"
        name = f"{shown}{mark}" if with_names else ""
        where = f"{number}{mark}" if "n" in flags else ""
        out.append(f"{name}{where}{lines[number - 1]}\n")
        previous = number
    return out
