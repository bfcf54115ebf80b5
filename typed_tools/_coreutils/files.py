"""ls, cat, head, tail and wc: listing and reading files as GNU coreutils print to a pipe."""

from __future__ import annotations

import grp
import pwd
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from typed_tools._coreutils.options import Options, parse_number
from typed_tools._view import View, join
from typed_tools.workspace import ToolFailure

__all__ = ["cat", "head", "ls", "tail", "wc"]


def ls(view: View, args: list[str]) -> str:
    """GNU ls as to a pipe: one name per line; ``-a``, ``-A``, ``-1``, ``-l``, ``-R``, ``-p``."""
    options = Options(
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
    options = Options("cat", args, flags="n", long_flags={"number": "n"})
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


def _count_option(program: str, args: list[str]) -> tuple[Options, str]:
    """``-n N``, ``-nN``, ``--lines=N`` and the old ``-N`` form; the count as text."""
    rewritten = [f"-n{a[1:]}" if a[:1] == "-" and a[1:].isdigit() else a for a in args]
    options = Options(program, rewritten, flags="qv", valued="n", long_valued=frozenset({"lines"}))
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
            n = parse_number("-n", count)
            chosen = lines[:n] if n >= 0 else lines[: max(len(lines) + n, 0)]
        elif count.startswith("+"):
            chosen = lines[max(parse_number("-n", count[1:]) - 1, 0) :]
        else:
            n = abs(parse_number("-n", count))
            chosen = lines[-n:] if n else []
        out.append("".join(chosen))
    return "".join(out)


def wc(view: View, args: list[str]) -> str:
    """wc: lines, words, bytes (``-l``, ``-w``, ``-c``, ``-m``) in GNU's columns."""
    options = Options(
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
