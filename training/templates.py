"""Prompt, program and reply templates for each Code Mode category.

A template picks a target in a prepared workspace and returns an ``Example``: the
user's prompt (several phrasings), the program the model should write, and a function
that turns the program's *real* value into the reply (or None when the result does not
fit the template, and the example is skipped).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from training.projects import PreparedProject

__all__ = ["CATEGORIES", "DIRECT_ANSWERS", "Example", "templates_for"]

CATEGORIES = (
    "single_tool",
    "multi_step",
    "field_access",
    "check_and_fix",
    "lsp_navigation",
    "git",
    "direct_answer",
)
"""The Punie roadmap's categories, in generation order."""

Answer = Callable[[Any, str], "str | None"]


@dataclass(frozen=True)
class Example:
    prompt: str
    """What the user asks."""
    code: str
    """The program the model writes."""
    answer: Answer
    """The reply, from the run's value and stdout."""


Template = Callable[[PreparedProject, random.Random], "Example | None"]


def _ask(rng: random.Random, *phrasings: str, **values: str) -> str:
    return rng.choice(phrasings).format(**values)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# single tool: one call, the whole result object back


def _typecheck_file(project: PreparedProject, rng: random.Random) -> Example:
    file = rng.choice(project.files)
    prompt = _ask(
        rng,
        "Does {f} type-check?",
        "Run the type checker on {f}.",
        "Are there type errors in {f}?",
        "Check {f} with ty.",
        f=file,
    )

    def answer(value: Any, _: str) -> str:
        n = value["error_count"]
        if n == 0:
            return f"{file} type-checks cleanly: no errors."
        first = value["errors"][0]
        return (
            f"{file} has {_plural(n, 'type error')}. The first is on line {first['line']}: "
            f"{first['message']} ({first['code']})."
        )

    return Example(prompt, f'typecheck("{file}")', answer)


def _ruff_file(project: PreparedProject, rng: random.Random) -> Example:
    file = rng.choice(project.files)
    prompt = _ask(rng, "Lint {f} with ruff.", "Any ruff violations in {f}?", f=file)

    def answer(value: Any, _: str) -> str:
        n = value["violation_count"]
        if n == 0:
            return f"ruff reports no violations in {file}."
        codes = sorted({v["code"] for v in value["violations"]})
        return f"ruff reports {_plural(n, 'violation')} in {file} ({', '.join(codes)})."

    return Example(prompt, f'ruff_check("{file}")', answer)


def _list_python(project: PreparedProject, rng: random.Random) -> Example:
    prompt = _ask(
        rng,
        "Which Python files are in this project?",
        "List the .py files.",
        "Show me the modules.",
    )

    def answer(value: Any, _: str) -> str:
        return f"There are {value['file_count']} Python files: {', '.join(value['files'])}."

    return Example(prompt, 'list_files("**/*.py")', answer)


# field access: the program reads the fields it needs


def _error_lines(project: PreparedProject, rng: random.Random) -> Example:
    file = rng.choice(project.files)
    prompt = _ask(
        rng,
        "On which lines of {f} are the type errors?",
        "Give me just the line numbers and codes of type errors in {f}.",
        f=file,
    )
    code = f'result = typecheck("{file}")\n[(e.line, e.code) for e in result.errors]'

    def answer(value: Any, _: str) -> str:
        if not value:
            return f"There are no type errors in {file}."
        spots = ", ".join(f"line {line} ({code})" for line, code in value)
        return f"Type errors in {file}: {spots}."

    return Example(prompt, code, answer)


def _symbol_names(project: PreparedProject, rng: random.Random) -> Example:
    file = rng.choice(project.files)
    prompt = _ask(rng, "What does {f} define at top level?", "Name the symbols in {f}.", f=file)
    code = f'symbols = document_symbols("{file}").symbols\n[(s.name, s.kind_name) for s in symbols]'

    def answer(value: Any, _: str) -> str:
        if not value:
            return f"{file} defines no top-level symbols."
        return f"{file} defines " + ", ".join(f"{name} ({kind})" for name, kind in value) + "."

    return Example(prompt, code, answer)


def _file_count(project: PreparedProject, rng: random.Random) -> Example:
    prompt = _ask(rng, "How many Python files does the project have?", "Count the .py files.")
    return Example(
        prompt,
        'list_files("**/*.py").file_count',
        lambda value, _: f"The project has {_plural(value, 'Python file')}.",
    )


# multi-step: several calls in one program


def _errors_per_file(project: PreparedProject, rng: random.Random) -> Example:
    prompt = _ask(
        rng,
        "Which files have type errors, and how many each?",
        "Type-check every Python file and tell me which ones fail.",
    )
    code = (
        "counts = {}\n"
        'for path in list_files("**/*.py").files:\n'
        "    result = typecheck(path)\n"
        "    if result.error_count:\n"
        "        counts[path] = result.error_count\n"
        "counts"
    )

    def answer(value: Any, _: str) -> str:
        if not value:
            return "Every Python file type-checks cleanly."
        parts = ", ".join(f"{path} ({n})" for path, n in sorted(value.items()))
        return f"{_plural(len(value), 'file')} with type errors: {parts}."

    return Example(prompt, code, answer)


def _defs_then_hover(project: PreparedProject, rng: random.Random) -> Example | None:
    target = project.target(rng)
    if not target.symbol:
        return None
    prompt = _ask(
        rng,
        "Find where {s} is defined and show its signature.",
        "Where is {s}, and what is its type?",
        s=target.symbol,
    )
    code = (
        f'hits = search("def {target.symbol}|class {target.symbol}").matches\n'
        "first = hits[0]\n"
        f'info = hover(first.file, line=first.line, symbol="{target.symbol}")\n'
        "print(first.file, first.line)\n"
        "print(info.content)"
    )

    def answer(value: Any, stdout: str) -> str | None:
        # The model reads the printed text only (as in Punie's rows): answer from that.
        head, _, content = stdout.strip().partition("\n")
        where = head.split()
        if len(where) != 2 or not content:
            return None
        return f"{target.symbol} is defined in {where[0]} at line {where[1]}:\n{content}"

    return Example(prompt, code, answer)


# check and fix: typecheck, write the fix, typecheck again


def _check_and_fix(project: PreparedProject, rng: random.Random) -> Example | None:
    if not project.buggy:
        return None
    file, wrong, right = rng.choice(project.buggy)
    prompt = _ask(
        rng,
        "Fix the type error in {f}.",
        "{f} fails type checking; please fix it.",
        "Make {f} pass ty.",
        f=file,
    )
    code = (
        f'before = typecheck("{file}")\n'
        f'text = read_file("{file}")\n'
        f"write_file({file!r}, text.replace({wrong!r}, {right!r}))\n"
        f'after = typecheck("{file}")\n'
        "(before.error_count, after.error_count)"
    )

    def answer(value: Any, _: str) -> str | None:
        before, after = value
        if before == 0 or after != 0:
            return None
        return (
            f"Fixed {file}: `{wrong.strip()}` became `{right.strip()}`. ty went from "
            f"{_plural(before, 'error')} to none; the edit is proposed for you to apply."
        )

    return Example(prompt, code, answer)


# LSP navigation


def _goto(project: PreparedProject, rng: random.Random) -> Example | None:
    target = project.target(rng)
    if not target.symbol:
        return None
    prompt = _ask(rng, "Go to the definition of {s}.", "Where is {s} defined?", s=target.symbol)
    code = f'goto_definition("{target.file}", symbol="{target.symbol}").locations'

    def answer(value: Any, _: str) -> str | None:
        if not value:
            return None
        first = value[0]
        where = f"{first['file']} line {first['line']}"
        return f"{target.symbol} is defined in {where}: `{first['preview']}`."

    return Example(prompt, code, answer)


def _references(project: PreparedProject, rng: random.Random) -> Example | None:
    target = project.target(rng)
    if not target.symbol:
        return None
    prompt = _ask(
        rng, "How many references to {s} are there?", "Where is {s} used?", s=target.symbol
    )
    code = (
        f'refs = find_references("{target.file}", symbol="{target.symbol}")\n'
        "sorted({r.file for r in refs.references}), refs.reference_count"
    )

    def answer(value: Any, _: str) -> str:
        files, count = value
        places = ", ".join(files) or "no files"
        return f"{target.symbol} has {_plural(count, 'reference')}, in {places}."

    return Example(prompt, code, answer)


# git


def _status(project: PreparedProject, rng: random.Random) -> Example:
    prompt = _ask(
        rng, "What is the git status?", "Do I have uncommitted changes?", "Show git status."
    )

    def answer(value: Any, _: str) -> str:
        if value["clean"]:
            return f"The working tree on {value['branch']} is clean."
        names = ", ".join(f"{f['file']} ({f['status']})" for f in value["files"])
        return f"On {value['branch']}, {_plural(value['file_count'], 'file')} changed: {names}."

    return Example(prompt, "git_status()", answer)


def _log(project: PreparedProject, rng: random.Random) -> Example:
    count = rng.choice([1, 2, 3, 5])
    prompt = _ask(
        rng, "Show the last {n} commits.", "What were the latest {n} commit messages?", n=str(count)
    )
    code = f"[c.message for c in git_log(count={count}).commits]"
    return Example(prompt, code, lambda value, _: "Latest commits: " + "; ".join(value) + ".")


def _diff(project: PreparedProject, rng: random.Random) -> Example:
    prompt = _ask(rng, "What changed since the last commit?", "Show me the unstaged diff.")
    code = "diff = git_diff()\n[(f.file, f.additions, f.deletions) for f in diff.files]"

    def answer(value: Any, _: str) -> str:
        if not value:
            return "Nothing changed since the last commit."
        parts = ", ".join(f"{file} (+{a} -{d})" for file, a, d in value)
        return f"Uncommitted changes: {parts}."

    return Example(prompt, code, answer)


_TEMPLATES: dict[str, list[Template]] = {
    "single_tool": [_typecheck_file, _ruff_file, _list_python],
    "field_access": [_error_lines, _symbol_names, _file_count],
    "multi_step": [_errors_per_file, _defs_then_hover],
    "check_and_fix": [_check_and_fix],
    "lsp_navigation": [_goto, _references],
    "git": [_status, _log, _diff],
}


def templates_for(category: str) -> list[Template]:
    """The templates of a tool category (``direct_answer`` has none: see DIRECT_ANSWERS)."""
    return _TEMPLATES[category]


DIRECT_ANSWERS = [
    (
        "What is the difference between a list and a tuple in Python?",
        "A list is mutable (you can append, remove and reassign items); a tuple is "
        "immutable and hashable when its items are, so it can be a dict key.",
    ),
    (
        "What does `if __name__ == '__main__':` do?",
        "It runs the block only when the file is executed as a script, not when it is imported.",
    ),
    (
        "When should I use a dataclass?",
        "When a class mainly holds data: `@dataclass` writes `__init__`, `__repr__` and "
        "`__eq__` from the annotated fields.",
    ),
    (
        "What is a type hint?",
        "An annotation such as `x: int` or `-> str` that type checkers like ty read; "
        "Python itself does not enforce it at run time.",
    ),
    (
        "Explain what `*args` and `**kwargs` mean.",
        "`*args` collects extra positional arguments into a tuple and `**kwargs` extra "
        "keyword arguments into a dict.",
    ),
    ("Thanks, that helped!", "Glad it helped. Ask me anything else about your code."),
    (
        "What is the difference between `is` and `==`?",
        "`==` compares values; `is` checks that both names refer to the same object.",
    ),
]
"""Questions that need no tool, with their replies: the model should answer in words."""
