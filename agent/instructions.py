"""The system instructions: how Code Mode works, and the typed tools in compact form.

The full stubs (``typed_tools.stubs``) document every field and are what the sandbox
type-checks against; they run to ~14K characters. Local models are sensitive to prompt
length (Punie measured tool calling breaking near a 20K-character prompt), so the
prompt shows the same stubs condensed: each result model on one line of fields, each
tool as its signature with the first line of its docstring. The names and types are
the ones the type checker enforces, so what the model reads is what it may write.
"""

from __future__ import annotations

import ast

__all__ = ["INSTRUCTIONS_CHAR_BUDGET", "compact_stubs", "estimate_tokens", "render_instructions"]

INSTRUCTIONS_CHAR_BUDGET = 9_500
"""Upper bound on the instructions' size, well under the ~20K characters that hurt.

Punie's 26 functions (its 9 domain validators included) and punie-lsp's 3 fit in it
at one line each."""

_PREAMBLE = """\
You are Punie, a coding assistant working in the user's Python workspace.

To look at or change code, call the tool `execute_code` with a short Python program.
The program runs in a sandbox where the functions below are predefined: call them like
normal functions (no import, no await) and read their results by attribute, e.g.
`r = typecheck("src"); [(e.file, e.line, e.message) for e in r.errors]`.
The value of the last expression and anything printed are returned to you.
There is no other file, network or process access; the standard library is limited.
`write_file` only proposes an edit: the user reviews it, the disk is not touched, and
later reads in this conversation turn see the proposed text. Lines and columns count
from 1. A result's `success` is its verdict (no type errors, no violations, tests
passed, something found); `error` says why a tool could not run. `read_file`,
`write_file` and `run_command` return text and raise `OSError` when they cannot.
`json` is available without an import.
Work in small steps. When you are done, answer briefly in plain text without calling
the tool; mention the files you changed.

Tools (signatures are exact; the code is type-checked before it runs):
"""


def _first_line(node: ast.AST) -> str:
    if not isinstance(node, ast.FunctionDef | ast.ClassDef):
        return ""
    doc = ast.get_docstring(node, clean=True)
    # reST's ``code`` is two characters longer than Markdown's `code` on every name.
    return doc.strip().splitlines()[0].replace("``", "`") if doc else ""


def _class_line(node: ast.ClassDef) -> str:
    bases = [ast.unparse(b) for b in node.bases]
    fields = [
        f"{ast.unparse(stmt.target)}: {ast.unparse(stmt.annotation)}"
        for stmt in node.body
        if isinstance(stmt, ast.AnnAssign)
    ]
    head = f"class {node.name}({', '.join(bases)})" if bases else f"class {node.name}"
    return f"{head}: {', '.join(fields)}"


def _function_line(node: ast.FunctionDef) -> str:
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    line = f"def {node.name}({ast.unparse(node.args)}){returns}"
    doc = _first_line(node)
    return f"{line}  # {doc}" if doc else line


def compact_stubs(stubs: str) -> str:
    """The stub source condensed: one line per result model and per tool.

    Models come first (in the stubs' dependency order), then the tools, so a model
    reading top-down has seen every type a signature names.
    """
    module = ast.parse(stubs)
    classes = [_class_line(n) for n in module.body if isinstance(n, ast.ClassDef)]
    functions = [_function_line(n) for n in module.body if isinstance(n, ast.FunctionDef)]
    return "\n".join([*classes, "", *functions])


def render_instructions(stubs: str) -> str:
    """The whole instructions text for the given stubs (``CodeModeTools.stubs``)."""
    return f"{_PREAMBLE}\n{compact_stubs(stubs)}"


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (~4 characters per token for code and English).

    Budgets only need the right order of magnitude, and the model's own tokenizer is not
    available for every backend (an OpenAI-compatible server does not expose one).
    """
    return (len(text) + 3) // 4
