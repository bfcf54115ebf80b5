"""Captured session traces (``punie_lsp.agent_run.traces``) → dataset rows.

Only runs worth imitating are kept: the run finished (``outcome`` ``ok``) and no file
it touched ended with more type errors than before (``diagnosticsDelta``). Secrets are
redacted in every string of the row, because traces hold whatever the user's code and
tools printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_ai.messages import ModelMessagesTypeAdapter

from training.rows import Row, jsonl_lines, row_from_messages

__all__ = ["REDACTED", "TraceStats", "import_traces", "keep_trace", "redact", "row_from_trace"]

REDACTED = "[REDACTED]"
# No leading word boundary: in a tool result the text is often JSON-escaped, and a
# secret right after an escaped newline follows the letter ``n``.
_SECRETS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
]
_ASSIGNMENT = re.compile(
    r"(?i)\b(\w*(?:password|passwd|secret|token|api_?key|access_?key)\s*[=:]\s*)"
    r"(?:(['\"])[^'\"\n]{4,}\2|[^\s'\"(),;]{8,}(?=[\s,;]|$))"
)
"""A literal assigned to a secret-looking name (``password = '…'``, ``GITHUB_TOKEN=…``);
a computed value (``token = len(tokens)``) is left alone."""


def redact(text: str) -> str:
    """``text`` with API keys, tokens, AWS keys, private keys and secret assignments masked."""
    for pattern in _SECRETS:
        text = pattern.sub(REDACTED, text)
    return _ASSIGNMENT.sub(
        lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}{m.group(2) or ''}", text
    )


def _redact_all(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_all(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact_all(item) for key, item in value.items()}
    return value


class _Delta(BaseModel):
    """One file's ty error counts in a trace's ``diagnosticsDelta``."""

    before: int = 0
    after: int = 0


class _Verdict(BaseModel):
    """What ``keep_trace`` reads of a trace line (the rest is the run's messages)."""

    outcome: str | None = None
    diagnostics_delta: list[_Delta] = Field(default_factory=list, alias="diagnosticsDelta")


def keep_trace(record: object) -> bool:
    """A succeeded run whose diagnostics did not get worse.

    Raises ``ValueError`` (pydantic's ``ValidationError``) when ``record`` is not a
    trace line (a list, a delta that is not an object), which the import counts as
    unreadable.
    """
    verdict = _Verdict.model_validate(record)
    if verdict.outcome != "ok":
        return False
    return all(d.after <= d.before for d in verdict.diagnostics_delta)


def row_from_trace(record: dict[str, Any], *, category: str = "trace") -> Row:
    """One trace line as a redacted row (instructions as recorded on its messages)."""
    messages = ModelMessagesTypeAdapter.validate_python(record["messages"])
    row = row_from_messages(messages, category=category)
    return Row(messages=_redact_all(row.messages), tools=row.tools, category=category)


class TraceStats(dict[str, int]):
    """Counts of lines read, kept, skipped (filtered) and unreadable."""


def _records(path: Path, stats: TraceStats) -> Iterator[object]:
    for _, line in jsonl_lines(path):
        stats["read"] += 1
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            stats["unreadable"] += 1


def import_traces(path: Path) -> tuple[list[Row], TraceStats]:
    """Rows from a trace file, with what was kept and why the rest was not.

    Raises ``ValueError`` naming the file when it is not UTF-8 text; a line that is not
    a trace (not JSON, truncated, another shape) is counted as unreadable.
    """
    stats = TraceStats(read=0, kept=0, skipped=0, unreadable=0)
    rows: list[Row] = []
    for record in _records(path, stats):
        try:
            if not keep_trace(record):
                stats["skipped"] += 1
                continue
            assert isinstance(record, dict)  # keep_trace validated it as an object
            rows.append(row_from_trace(record))
        except (KeyError, ValueError):
            stats["unreadable"] += 1
            continue
        stats["kept"] += 1
    return rows, stats
