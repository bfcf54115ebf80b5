"""grep, find, ls, cat, head, tail and wc, emulated over ``View`` for ``run_command``.

Why emulated rather than executed: the programs must see the run's proposed files and
the editor's buffers (as ``read_file`` does), which a real ``grep`` cannot; every path
must stay inside the workspace, which is simplest to guarantee when no other program
opens files; and the output must not depend on which grep (GNU, BSD, busybox) a machine
has. Output follows GNU coreutils/grep/findutils as they print to a pipe (Punie's
terminal): ``file:line:text`` for ``grep -rn``, one name per line for ``ls``, GNU ``wc``
column widths, ``==> f <==`` headers for several files. Errors are printed as GNU
prints them (``grep: x: No such file or directory``), inside the output, as a terminal
shows them. Differences, deliberate: names are visited in sorted order (GNU uses the
folder's order), and ``.git``, ``.venv``, ``node_modules`` and ``__pycache__`` are not
walked into.

An option these programs do not emulate raises ``Unsupported``; nothing is guessed.
"""

from __future__ import annotations

import fnmatch
import grp
import pwd
import re
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import regex as regex_engine

from typed_tools._view import View, join
from typed_tools.containment import LINE_SECONDS, PatternTooSlow, search_line
from typed_tools.workspace import ToolFailure

__all__ = ["PROGRAMS", "Unsupported"]


class Unsupported(Exception):
    """A program or option ``run_command`` does not provide; the message says what it does."""


def _number(option: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Unsupported(f"{option} needs a number, got {value!r}") from None


class _Options:
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


# --- grep ---------------------------------------------------------------------------------

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
    options = _Options(
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
    after = _number("-A", options.last("A") or options.last("C") or "0")
    before = _number("-B", options.last("B") or options.last("C") or "0")
    limit = options.last("m") or options.last("max-count")
    max_count = _number("-m", limit) if limit is not None else None
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


# --- find ---------------------------------------------------------------------------------

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
            value = _number(word, expression[position + 1])
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


# --- ls, cat, head, tail, wc ----------------------------------------------------------------


def ls(view: View, args: list[str]) -> str:
    """GNU ls as to a pipe: one name per line; ``-a``, ``-A``, ``-1``, ``-l``, ``-R``, ``-p``."""
    options = _Options(
        "ls", args, flags="aA1lRpFh", long_flags={"all": "a", "almost-all": "A", "color": "1"}
    )
    flags = options.set
    operands = options.operands or ["."]
    out: list[str] = []
    files = [o for o in operands if not view.is_dir(view.path(o))]
    folders = [o for o in operands if view.is_dir(view.path(o))]
    missing = [o for o in files if not view.exists(view.path(o))]
    for name in missing:
        out.append(f"ls: cannot access '{name}': No such file or directory\n")
    present = [o for o in files if o not in missing]
    out += _ls_entries(view, [(name, view.path(name)) for name in sorted(present)], flags)
    headers = len(operands) > 1 or "R" in flags
    pending = [(name, view.path(name)) for name in sorted(folders)]
    first = not present
    while pending:
        name, folder = pending.pop(0)
        if headers:
            out.append(("" if first else "\n") + f"{name}:\n")
        first = False
        entries = view.children(folder)
        if "a" not in flags and "A" not in flags:
            entries = [(n, p) for n, p in entries if not n.startswith(".")]
        listed = ([(".", folder), ("..", folder.parent)] if "a" in flags else []) + entries
        if "l" in flags:
            out.append(f"total {sum(_blocks(view, p) for _, p in listed)}\n")
        out += _ls_entries(view, listed, flags)
        if "R" in flags:
            below = [
                (join(name, n), p) for n, p in entries if view.is_dir(p) and not p.is_symlink()
            ]
            pending = below + pending
    return "".join(out)


def _blocks(view: View, path: Path) -> int:
    if view.proposed(path) is not None:
        return (len(view.data(path)) + 4095) // 4096 * 4  # 4 KiB blocks, in KiB
    try:
        return path.lstat().st_blocks // 2
    except OSError:
        return 0


def _ls_entries(view: View, entries: list[tuple[str, Path]], flags: set[str]) -> list[str]:
    """One line per entry; with ``-l``, GNU's long format with its columns aligned."""
    marked = [
        (f"{name}/" if flags & {"p", "F"} and view.is_dir(path) else name, path)
        for name, path in entries
    ]
    if "l" not in flags:
        return [f"{name}\n" for name, _ in marked]
    rows = [_long_fields(view, name, path) for name, path in marked]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(5)]
    return [
        f"{mode} {links:>{widths[1]}} {owner:<{widths[2]}} {group:<{widths[3]}} "
        f"{size:>{widths[4]}} {stamp} {name}\n"
        for mode, links, owner, group, size, stamp, name in rows
    ]


def _long_fields(view: View, name: str, path: Path) -> tuple[str, str, str, str, str, str, str]:
    """Mode, links, owner, group, size, date and name; a proposed file as it would be."""
    proposed = view.proposed(path)
    if proposed is not None or (view.is_dir(path) and not path.exists()):
        is_dir = proposed is None
        size = 4096 if is_dir else len(proposed.encode() if proposed is not None else b"")
        mode = "drwxr-xr-x" if is_dir else "-rw-r--r--"
        return mode, "1", "-", "-", str(size), time.strftime("%b %e %H:%M"), name
    info = path.lstat()
    recent = abs(time.time() - info.st_mtime) < 180 * 86400
    stamp = time.strftime("%b %e %H:%M" if recent else "%b %e  %Y", time.localtime(info.st_mtime))
    owner, group = _owner(info.st_uid), _group(info.st_gid)
    return (
        stat.filemode(info.st_mode),
        str(info.st_nlink),
        owner,
        group,
        str(info.st_size),
        stamp,
        name,
    )


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _readable(view: View, program: str, name: str) -> tuple[Path | None, str]:
    """The path to read, or None and the error line GNU prints."""
    path = view.path(name)
    if view.is_dir(path):
        return None, f"{program}: {name}: Is a directory\n"
    if not view.is_file(path):
        return None, f"{program}: {name}: No such file or directory\n"
    return path, ""


def _text_of(view: View, path: Path) -> str:
    try:
        return view.text(path)
    except ToolFailure:
        return view.data(path).decode("utf-8", errors="replace")


def cat(view: View, args: list[str]) -> str:
    """cat of files (``-n`` numbers lines as GNU does: six columns and a tab)."""
    options = _Options("cat", args, flags="n", long_flags={"number": "n"})
    out = []
    number = 0
    for name in options.operands:
        path, error = _readable(view, "cat", name)
        if path is None:
            out.append(error)
            continue
        text = _text_of(view, path)
        if "n" not in options.set:
            out.append(text)
            continue
        for line in _pieces(text):
            number += 1
            out.append(f"{number:6d}\t{line}")
    return "".join(out)


def _pieces(text: str) -> Iterator[str]:
    """Lines with their ``\\n`` kept, split only at ``\\n`` (as coreutils count lines)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end == -1:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _count_option(program: str, args: list[str]) -> tuple[_Options, str]:
    """``-n N``, ``-nN``, ``--lines=N`` and the old ``-N`` form; the count as text."""
    rewritten = [f"-n{a[1:]}" if a[:1] == "-" and a[1:].isdigit() else a for a in args]
    options = _Options(program, rewritten, flags="qv", valued="n", long_valued=frozenset({"lines"}))
    return options, options.last("n") or options.last("lines") or "10"


def head(view: View, args: list[str]) -> str:
    """head: the first N lines (``-n -N``: all but the last N)."""
    return _ends(view, args, "head")


def tail(view: View, args: list[str]) -> str:
    """tail: the last N lines (``-n +N``: from line N on)."""
    return _ends(view, args, "tail")


def _ends(view: View, args: list[str], program: str) -> str:
    options, count = _count_option(program, args)
    out = []
    names = options.operands
    for index, name in enumerate(names):
        path, error = _readable(view, program, name)
        if path is None:
            out.append(error)
            continue
        if len(names) > 1 and "q" not in options.set:
            out.append(("\n" if index else "") + f"==> {name} <==\n")
        lines = list(_pieces(_text_of(view, path)))
        if program == "head":
            n = _number("-n", count)
            chosen = lines[:n] if n >= 0 else lines[: max(len(lines) + n, 0)]
        elif count.startswith("+"):
            chosen = lines[max(_number("-n", count[1:]) - 1, 0) :]
        else:
            n = abs(_number("-n", count))
            chosen = lines[-n:] if n else []
        out.append("".join(chosen))
    return "".join(out)


def wc(view: View, args: list[str]) -> str:
    """wc: lines, words, bytes (``-l``, ``-w``, ``-c``, ``-m``) in GNU's columns."""
    options = _Options(
        "wc", args, flags="lwcm", long_flags={"lines": "l", "words": "w", "bytes": "c"}
    )
    chosen = [f for f in "lwmc" if f in options.set] or ["l", "w", "c"]
    rows: list[tuple[list[int], str]] = []
    errors = []
    for name in options.operands:
        path, error = _readable(view, "wc", name)
        if path is None:
            errors.append(error)
            continue
        data = view.data(path)
        text = data.decode("utf-8", errors="replace")
        counts = {"l": data.count(b"\n"), "w": len(text.split()), "c": len(data), "m": len(text)}
        rows.append(([counts[f] for f in chosen], name))
    if not rows:
        return "".join(errors)
    if len(rows) > 1:
        rows.append(([sum(r[0][i] for r in rows) for i in range(len(chosen))], "total"))
    # GNU sizes every column for the largest possible count: the total bytes read.
    single = len(chosen) == 1 and len(options.operands) == 1
    total_bytes = sum(len(view.data(view.path(name))) for _, name in rows if name != "total")
    width = 1 if single else len(str(total_bytes))
    lines = [" ".join(f"{v:>{width}}" for v in values) + f" {name}\n" for values, name in rows]
    return "".join(errors) + "".join(lines)


PROGRAMS: dict[str, Callable[[View, list[str]], str]] = {
    "grep": grep,
    "find": find,
    "ls": ls,
    "cat": cat,
    "head": head,
    "tail": tail,
    "wc": wc,
}
"""The emulated programs by name."""
