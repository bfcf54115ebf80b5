"""Dataset rows: one Code Mode conversation in the chat ``messages`` format.

A row is what mlx-lm's LoRA trainer reads (``{"messages": [...], "tools": [...]}``)
plus a category and a stable id. Rows are built from Pydantic AI messages through
``agent.chat_messages``, the very conversion the in-process backend applies
to a live run, so a row rendered with the model's chat template gives the tokens the
live agent was prompted with: training and inference see one format.

A dataset is a directory holding ``train.jsonl``, ``valid.jsonl`` and ``test.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_ai import Tool
from pydantic_ai.messages import ModelMessage, ModelRequest

from agent import chat_messages, chat_tools

__all__ = [
    "ROLES",
    "SPLITS",
    "Row",
    "code_mode_instructions",
    "dedupe",
    "execute_code_tools",
    "jsonl_lines",
    "read_dataset",
    "read_rows",
    "row_from_chat",
    "row_from_messages",
    "row_id",
    "split_rows",
    "write_dataset",
]

SPLITS = ("train", "valid", "test")
"""File stems of a dataset directory, as mlx-lm's trainer expects them."""

ROLES = ("system", "user", "assistant", "tool")
"""The chat roles a row's messages may have (OpenAI's, which Qwen's template renders)."""


def _chat_message(message: dict[str, Any]) -> dict[str, Any]:
    """A chat dict as the chat template reads it: a known ``role``, text or no ``content``,
    ``tool_calls`` a list. A row that breaks this would fail inside mlx-lm's template
    (or train on garbage), so it is refused where it is read, naming the line."""
    if message.get("role") not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {message.get('role')!r}")
    if not isinstance(message.get("content", ""), str | None):
        raise ValueError(f"content must be text, got {type(message['content']).__name__}")
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list) or not all(isinstance(call, dict) for call in calls):
        raise ValueError("tool_calls must be a list of objects")
    return message


class Row(BaseModel):
    """One training conversation: chat dicts, the tool schema, a category, a stable id."""

    model_config = ConfigDict(frozen=True)

    messages: list[Annotated[dict[str, Any], AfterValidator(_chat_message)]] = Field(min_length=1)
    """OpenAI/Qwen chat dicts: system, user, assistant (``tool_calls``), tool, answer."""
    tools: list[dict[str, Any]] = Field(default_factory=list)
    """Tool schemas for the template (``execute_code``); empty renders no tool block."""
    category: str = "uncategorized"
    """What the example teaches (``single_tool``, ``git``, ``trace``, …)."""
    id: str = ""
    """Hash of ``messages``: equal conversations share an id, so dedupe is by id."""

    def model_post_init(self, context: Any, /) -> None:
        if not self.id:
            object.__setattr__(self, "id", row_id(self.messages))

    def to_json(self) -> str:
        """One JSONL line."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False)


def row_id(messages: Sequence[dict[str, Any]]) -> str:
    """Stable hash of a conversation (key order does not matter)."""
    text = json.dumps(list(messages), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@cache
def execute_code_tools() -> list[dict[str, Any]]:
    """The agent's tool schema exactly as the ``mlx:`` backend hands it to the template."""
    # Here, not at the top: reading and writing datasets (``train data stats``, traces,
    # Punie's rows) needs no sandbox, and agent.execute loads it and typed_tools (~4 s
    # to import on this machine; agent.code_mode below likewise).
    from agent.execute import execute_code

    return chat_tools([Tool(execute_code).tool_def])


@cache
def code_mode_instructions() -> str:
    """The agent's system instructions for the built-in tools (what ``PunieAgent`` uses)."""
    from agent.code_mode import CodeModeTools  # the tools' stubs: typed_tools, as above
    from agent.instructions import render_instructions

    return render_instructions(CodeModeTools.load().stubs)


def _instructions_of(messages: Sequence[ModelMessage]) -> str | None:
    """The instructions the last request carried (Pydantic AI stores them per request)."""
    for message in reversed(messages):
        if isinstance(message, ModelRequest) and message.instructions:
            return message.instructions
    return None


def row_from_messages(
    messages: Sequence[ModelMessage],
    *,
    instructions: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    category: str = "uncategorized",
) -> Row:
    """A row from a run's Pydantic AI messages, converted as the mlx backend converts them.

    ``instructions`` defaults to those recorded on the messages, else the agent's own;
    ``tools`` to the ``execute_code`` schema.
    """
    system = instructions or _instructions_of(messages) or code_mode_instructions()
    chat = chat_messages(list(messages), [system])
    return row_from_chat(chat, tools=tools, category=category)


def row_from_chat(
    chat: Sequence[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    category: str = "uncategorized",
) -> Row:
    """A row from chat dicts already in the template's format."""
    return Row(
        messages=list(chat),
        tools=execute_code_tools() if tools is None else tools,
        category=category,
    )


def dedupe(rows: Iterable[Row]) -> list[Row]:
    """Rows with duplicate conversations dropped, first occurrence kept, order preserved."""
    seen: set[str] = set()
    out: list[Row] = []
    for row in rows:
        if row.id not in seen:
            seen.add(row.id)
            out.append(row)
    return out


def split_rows(
    rows: Sequence[Row], *, seed: int = 0, fractions: tuple[float, float] = (0.8, 0.1)
) -> dict[str, list[Row]]:
    """Seeded train/valid/test split (the rest after train and valid is test).

    Rows are ordered by id before shuffling, so the split depends on the seed and the
    set of rows, not on the order they were generated in. With at least three rows each
    split gets one, because mlx-lm refuses an empty validation set.
    """
    ordered = sorted(dedupe(rows), key=lambda row: row.id)
    random.Random(seed).shuffle(ordered)
    total = len(ordered)
    n_train = int(total * fractions[0])
    n_valid = int(total * fractions[1])
    if total >= 3:
        n_valid = max(n_valid, 1)
        n_train = min(max(n_train, 1), total - n_valid - 1)
    else:
        n_train, n_valid = total, 0
    return {
        "train": ordered[:n_train],
        "valid": ordered[n_train : n_train + n_valid],
        "test": ordered[n_train + n_valid :],
    }


def write_dataset(
    rows: Sequence[Row], out: Path, *, seed: int = 0, fractions: tuple[float, float] = (0.8, 0.1)
) -> dict[str, int]:
    """Dedupe, split and write ``out/{train,valid,test}.jsonl``; returns rows per split.

    Each file is written beside its place and renamed over it, so a run stopped midway
    (Ctrl-C, a full disk) leaves every split whole: the old one or the new one.
    """
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, part in split_rows(rows, seed=seed, fractions=fractions).items():
        target = out / f"{name}.jsonl"
        partial = target.with_name(f".{name}.jsonl.partial")
        try:
            with partial.open("w", encoding="utf-8") as handle:
                for row in part:
                    handle.write(row.to_json() + "\n")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        counts[name] = len(part)
    return counts


def jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSONL file with their 1-based numbers.

    Every reader of a dataset, a trace file or Punie's rows goes through here, so they
    agree: the text is UTF-8, and a leading byte-order mark (Windows editors write one)
    is dropped as Python drops it from source files (``utf-8-sig``) instead of making
    line 1 "not JSON". Raises ``ValueError`` naming the file when it is not UTF-8 text.
    """
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield number, line
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None


def read_rows(path: Path) -> list[Row]:
    """Rows of one JSONL file (blank lines skipped; see ``jsonl_lines``).

    Raises ``ValueError`` naming the file (and line) when it is not UTF-8 text or a line
    is not a row, so ``train data stats`` and ``train finetune`` can say so in one line.
    """
    rows = []
    for number, line in jsonl_lines(path):
        try:
            rows.append(Row.model_validate_json(line))
        except ValidationError as exc:
            raise ValueError(f"{path}:{number}: not a dataset row ({_first_error(exc)})") from None
    return rows


def _first_error(exc: ValidationError) -> str:
    """Pydantic's first complaint in one line: ``messages.0: Input should be …``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def read_dataset(directory: Path) -> dict[str, list[Row]]:
    """Each split of a dataset directory (missing files are empty splits)."""
    return {
        name: read_rows(directory / f"{name}.jsonl")
        if (directory / f"{name}.jsonl").exists()
        else []
        for name in SPLITS
    }
