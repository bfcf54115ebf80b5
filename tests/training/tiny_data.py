"""A small templated dataset in the row format part A's generators write.

Each row is one Code Mode exchange on the fixture project: a user prompt, an
``execute_code`` call whose program uses a typed tool, the tool's output, and a short
answer. Used until real generated data exists, and by the training benchmark for a
held-out templated set (different files in the prompts, same behaviour).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from tests.agent.tiny_model import EXECUTE_CODE_TOOL

TEMPLATES: list[tuple[str, str, str, str, str]] = [
    # (category, prompt, code, tool output, answer); {f} is a file path
    (
        "tool_discrimination",
        "check types in {f}",
        "r = typecheck('{f}')\nprint(r.error_count)",
        "1",
        "typecheck found 1 error.",
    ),
    (
        "tool_discrimination",
        "run ruff on {f}",
        "r = ruff_check('{f}')\nprint(r.violation_count)",
        "0",
        "ruff found 0 violations.",
    ),
    (
        "field_access",
        "list the errors in {f}",
        "for e in typecheck('{f}').errors:\n    print(e.line, e.message)",
        "3 bad return",
        "The error is on line 3.",
    ),
    (
        "lsp_navigation",
        "list the symbols in {f}",
        "print(document_symbols('{f}'))",
        "Point, area",
        "The symbols are Point and area.",
    ),
]
FILES = ["pkg/app.py", "pkg/shapes.py", "pkg/__init__.py"]
HELD_OUT_FILES = ["pkg/other.py"]


def row(
    category: str,
    prompt: str,
    code: str,
    output: str,
    answer: str,
    rid: str,
    *,
    system: str = "You are a coding agent.",
    tools: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {
                            "name": "execute_code",
                            "arguments": json.dumps({"code": code}),
                        },
                    }
                ],
            },
            {"role": "tool", "content": output},
            {"role": "assistant", "content": answer},
        ],
        "tools": [EXECUTE_CODE_TOOL] if tools is None else tools,
        "category": category,
        "id": rid,
    }


def rows(
    files: list[str], copies: int = 1, *, live: bool = False, **chat: Any
) -> list[dict[str, Any]]:
    """Each template on each file; ``chat`` (``system``, ``tools``) as in ``row``.

    ``live``: the tool message as the agent writes it after a run (``render_result``:
    the printed output as it is, as in Punie's rows).
    """
    out = []
    for n in range(copies):
        for i, (category, prompt, code, output, answer) in enumerate(TEMPLATES):
            for f in files:
                fill = {"f": f}
                out.append(
                    row(
                        category,
                        prompt.format(**fill),
                        code.format(**fill),
                        _as_run(code, output, f) if live else output,
                        answer,
                        f"{category}-{i}-{f}-{n}",
                        **chat,
                    )
                )
    return out


def template_tool(code: str) -> str:
    """The typed tool a template's program calls."""
    called = re.search(r"\b([a-z_]+)\('", code)
    assert called, code
    return called.group(1)


def _as_run(code: str, output: str, path: str) -> str:
    from agent.execute import render_result
    from sandbox import RunResult, ToolCall

    tool = template_tool(code)
    arg = "file_path" if tool == "document_symbols" else "path"
    call = ToolCall(tool=tool, args={arg: path}, duration_ms=0.0, success=True)
    return render_result(RunResult(stdout=output + "\n", calls=[call]))


def with_call_rows(full: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row plus its prefix ending at the tool call.

    mlx-lm's prompt masking scores only the last assistant turn, so a row ending in the
    answer never teaches the call: the prefix row does.
    """
    out = []
    for r in full:
        out.append({**r, "messages": r["messages"][:3], "id": r["id"] + "-call"})
        out.append(r)
    return out


def write_dataset(directory: Path, *, copies: int = 1, seed: int = 0) -> Path:
    """train/valid/test JSONL of the templates; valid and test are the held-out files."""
    directory.mkdir(parents=True, exist_ok=True)
    train = rows(FILES, copies)
    random.Random(seed).shuffle(train)
    held = rows(HELD_OUT_FILES)
    for name, data in (("train", train), ("valid", held), ("test", held)):
        (directory / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    return directory
