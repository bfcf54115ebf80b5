"""Trace import keeps good runs only and redacts secrets everywhere in the row."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_ai.messages import ModelMessagesTypeAdapter

from training.generate import example_messages
from training.traces import REDACTED, import_traces, redact

SECRETS = [
    "sk-proj-abcdefghijklmnopqrstuvwx",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
]


def _trace(outcome: str, delta: list[dict[str, object]], tool_text: str) -> dict[str, object]:
    messages = example_messages(
        "what is in config.py?", 'read_file("config.py")', tool_text, "It sets a password."
    )
    return {
        "version": 1,
        "outcome": outcome,
        "prompt": "what is in config.py?",
        "diagnosticsDelta": delta,
        "messages": ModelMessagesTypeAdapter.dump_python(messages, mode="json"),
    }


def test_planted_secrets_are_redacted_and_bad_runs_dropped(tmp_path: Path) -> None:
    leaked = "value: " + json.dumps("\n".join([*SECRETS, "password = 'hunter22'", "x = 1"]))
    lines = [
        _trace("ok", [{"file": "config.py", "before": 1, "after": 0}], leaked),
        _trace("ok", [{"file": "config.py", "before": 0, "after": 2}], "worse"),
        _trace("cancelled", [], "cancelled"),
    ]
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    rows, stats = import_traces(path)
    assert dict(stats) == {"read": 4, "kept": 1, "skipped": 2, "unreadable": 1}
    text = json.dumps(rows[0].model_dump())
    for secret in [*SECRETS, "hunter22"]:
        assert json.dumps(secret)[1:-1] not in text
        assert secret not in text
    assert REDACTED in rows[0].messages[3]["content"] and "x = 1" in text
    assert rows[0].category == "trace"


def test_redact_leaves_ordinary_code_alone() -> None:
    code = "token_count = len(tokens)\nprint(task_key)"
    assert redact(code) == code
    assert redact("token='abc123def'") == f"token='{REDACTED}'"
