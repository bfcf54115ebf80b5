"""Dataset files as users have them: a byte-order mark, a truncated last line, lines of
another shape. Every reader (``train data import-punie``, ``import-traces``, ``stats``,
``train finetune``) keeps every good row and names each bad line in one line, never a
traceback and never a garbage row."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.training.test_punie_format import PUNIE_ROW
from tests.training.test_traces import _trace
from training import cli as train_cli
from training.datasets_cli import main
from training.finetune import load_rows
from training.projects import copy_project

BOM = "\ufeff"

# Lines nobody wrote as a Punie row, each with the words its one-line refusal must have.
NOT_PUNIE_ROWS = [
    ("[1, 2]", "not a Punie row"),
    ('"a string"', "not a Punie row"),
    ('{"messages": "x"}', "messages: Input should be a valid list"),
    ('{"messages": [{"role": 5, "content": "hi"}]}', "messages.0.role"),
    ('{"messages": [{"role": "user", "content": ["a"]}]}', "messages.0.content"),
    ('{"messages": [{"role": "user", "content": "only a question"}]}', "no assistant turn"),
    ('{"messages": []}', "no assistant turn"),
]


def _rows_written(out: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for split in ("train", "valid", "test")
        for line in (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def test_import_punie_reads_a_file_with_a_byte_order_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = json.loads(json.dumps(PUNIE_ROW).replace("2 type errors", "two type errors"))
    source = tmp_path / "punie.jsonl"
    source.write_text(BOM + json.dumps(PUNIE_ROW) + "\n" + json.dumps(other) + "\n", "utf-8")
    assert main(["import-punie", str(source), "--out", str(tmp_path / "data")]) == 0
    assert "skipped" not in capsys.readouterr().err
    assert len(_rows_written(tmp_path / "data")) == 2


def test_import_punie_names_each_line_of_another_shape_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.dumps(PUNIE_ROW)
    lines = [good, *(line for line, _ in NOT_PUNIE_ROWS), good[:-40]]  # last one truncated
    source = tmp_path / "punie.jsonl"
    source.write_text("\n".join(lines), encoding="utf-8")
    assert main(["import-punie", str(source), "--out", str(tmp_path / "data")]) == 0
    err = capsys.readouterr().err.splitlines()
    skipped = [line for line in err if "skipped" in line]
    assert len(skipped) == len(NOT_PUNIE_ROWS) + 1, err
    for number, (_, words) in enumerate(NOT_PUNIE_ROWS, 2):
        assert f"punie.jsonl:{number}: skipped (" in skipped[number - 2]
        assert words in skipped[number - 2]
    assert f"punie.jsonl:{len(lines)}: skipped (Unterminated string" in skipped[-1]
    assert not any("Traceback" in line or "string indices" in line for line in err)
    rows = _rows_written(tmp_path / "data")
    assert len(rows) == 1
    assert all(m["role"] in {"system", "user", "assistant", "tool"} for m in rows[0]["messages"])


def test_import_traces_counts_lines_of_another_shape_as_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.dumps(_trace("ok", [{"file": "a.py", "before": 1, "after": 0}], "fine"))
    odd = [
        "[1, 2]",
        '"a string"',
        '{"outcome": "ok", "diagnosticsDelta": [5]}',
        '{"outcome": "ok", "diagnosticsDelta": "none"}',
        '{"outcome": "ok", "messages": 5}',
        good[:-30],
    ]
    source = tmp_path / "traces.jsonl"
    source.write_text(BOM + "\n".join([good, *odd]) + "\n", encoding="utf-8")
    assert main(["import-traces", str(source), "--out", str(tmp_path / "data")]) == 0
    captured = capsys.readouterr()
    assert "read 7, kept 1, skipped 0, unreadable 6" in captured.err
    assert "wrote 1 rows" in captured.out


def test_stats_and_finetune_read_a_dataset_with_a_byte_order_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["import-punie", _punie_file(tmp_path), "--out", str(data), "--no-check"]) == 0
    train = data / "train.jsonl"
    train.write_text(BOM + train.read_text(encoding="utf-8"), encoding="utf-8")
    capsys.readouterr()
    assert main(["stats", str(data)]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["rows"] == 1
    assert len(load_rows(train)) == 1


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("[1]", "train.jsonl:2: not a dataset row (Input should be an object)"),
        ('{"messages": [{"role": 5}]}', "train.jsonl:2: not a dataset row (messages.0: Value"),
        ('{"messages": []}', "train.jsonl:2: not a dataset row (messages: List should have"),
        ('{"messages": [{"role": "user", "tool_calls": [1]}]}', "tool_calls must be a list"),
    ],
)
def test_a_line_that_is_not_a_row_is_named_by_stats_and_finetune(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, words: str
) -> None:
    data = tmp_path / "data"
    assert main(["import-punie", _punie_file(tmp_path), "--out", str(data), "--no-check"]) == 0
    train = data / "train.jsonl"
    train.write_text(train.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["stats", str(data)]) == 2
    assert words in capsys.readouterr().err
    # finetune reads its rows before it loads a model: the same line, exit 2, no traceback
    status = train_cli.main(
        ["finetune", "--model", "mlx-community/none", "--data", str(data), "--output",
         str(tmp_path / "adapter"), "--batch-size", "1"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_finetune_names_a_call_whose_arguments_are_not_json(tmp_path: Path) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    row = {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [call]}]
    }
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"train.jsonl: row 1: a tool call's arguments are not JSON"
    ):
        load_rows(train)


def _punie_file(tmp_path: Path) -> str:
    source = tmp_path / "punie.jsonl"
    source.write_text(json.dumps(PUNIE_ROW) + "\n", encoding="utf-8")
    return str(source)


def test_a_second_step_into_the_same_out_never_replaces_the_dataset_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's pipeline: ``generate --out data/`` then ``import-traces … --out
    data/``. The second step replaced the first's rows; now it stops before any work
    unless told ``--merge`` or ``--overwrite``."""
    data = tmp_path / "data"
    assert main(["import-punie", _punie_file(tmp_path), "--out", str(data), "--no-check"]) == 0
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    traces = tmp_path / "traces.jsonl"
    good = _trace("ok", [{"file": "a.py", "before": 1, "after": 0}], "fine")
    traces.write_text(json.dumps(good) + "\n", encoding="utf-8")
    capsys.readouterr()

    assert main(["import-traces", str(traces), "--out", str(data)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "already holds a dataset (1 rows)" in err and "--merge" in err
    assert "read 1" not in err  # refused before anything was read
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before

    assert main(["import-traces", str(traces), "--out", str(data), "--merge"]) == 0
    assert "wrote 2 rows" in capsys.readouterr().out
    categories = sorted(row["category"] for row in _rows_written(data))
    assert categories == ["punie", "trace"]

    assert main(["import-traces", str(traces), "--out", str(data), "--overwrite"]) == 0
    assert [row["category"] for row in _rows_written(data)] == ["trace"]
    assert not [p for p in data.iterdir() if p.name.startswith(".")]


def test_a_step_with_no_rows_leaves_the_dataset_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["import-punie", _punie_file(tmp_path), "--out", str(data), "--no-check"]) == 0
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert main(["import-punie", str(empty), "--out", str(data), "--overwrite"]) == 1
    assert "no rows to write" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before


@pytest.mark.parametrize("step", ["import-punie", "import-traces"])
def test_odd_paths_for_in_and_out_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step: str
) -> None:
    assert main([step, str(tmp_path), "--out", str(tmp_path / "d")]) == 2
    assert f"{tmp_path}: is a folder, not a file" in capsys.readouterr().err
    a_file = Path(_punie_file(tmp_path))
    assert main([step, str(a_file), "--out", str(a_file)]) == 2
    assert f"--out {a_file} is a file; name a folder" in capsys.readouterr().err


@pytest.fixture
def hostile_source(tmp_path: Path) -> Path:
    """A project with what a real checkout can hold: a link to a secret outside it, a
    link to ``/``, a symlink loop, a FIFO, a folder linked from inside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("-----TOPSECRET-----\n")
    source = tmp_path / "project"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "__init__.py").write_text("")
    (source / "pkg" / "app.py").write_text("def total(n: int) -> int:\n    return n\n")
    (source / "key").symlink_to(outside / "id_rsa")
    (source / "everything").symlink_to("/")
    (source / "loop_a").symlink_to("loop_b")
    (source / "loop_b").symlink_to("loop_a")
    (source / "pkg_link").symlink_to(source / "pkg")
    os.mkfifo(source / "pipe")
    return source


def _regular_files(root: Path) -> list[Path]:
    found = []
    for folder, _, names in os.walk(root):  # os.walk does not follow links
        found += [Path(folder) / n for n in names if (Path(folder) / n).is_file()]
    return [p for p in found if not p.is_symlink()]


def test_a_project_copy_keeps_links_as_links_and_leaves_fifos_out(
    hostile_source: Path, tmp_path: Path
) -> None:
    """copytree's default followed every link: ``/`` was copied whole, a link to a key
    outside became a file holding the key (then read into rows), and the FIFO blocked
    the copy forever."""
    copy = copy_project(hostile_source, tmp_path / "copy", leave_out=(".git",))
    assert (copy / "key").is_symlink() and (copy / "everything").is_symlink()
    assert (copy / "loop_a").is_symlink() and not (copy / "pipe").exists()
    assert not any("TOPSECRET" in p.read_text() for p in _regular_files(copy))
    assert (copy / "pkg" / "app.py").is_file()


@pytest.mark.timeout(120)
def test_generate_on_a_hostile_project_finishes_and_records_nothing_from_outside(
    hostile_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    args = ["generate", "--out", str(out), "--source", str(hostile_source), "--per-category", "1"]
    assert main(args) == 0
    assert "wrote 7 rows" in capsys.readouterr().out
    text = "".join((out / f"{split}.jsonl").read_text() for split in ("train", "valid", "test"))
    assert "TOPSECRET" not in text
