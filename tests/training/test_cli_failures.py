"""``punie-lsp train`` when something is wrong: one line saying what and what to do, no traceback.

Run as a user runs it (a subprocess, from a folder outside the repository), so what an
installed punie-lsp does is what is checked: the evaluation's workspace ships with the
package, not with the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.agent.conftest import closed_port
from training.evaluate import prepare_workspace
from training.suites import SAMPLE_PROJECT

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).parents[2]


def train(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "punie_lsp", "train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("punie-lsp train")]
    assert "Traceback" not in done.stderr
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_eval_that_reaches_no_model_fails_and_says_so(tmp_path: Path) -> None:
    output = tmp_path / "run.json"
    url = f"http://127.0.0.1:{closed_port()}/v1"

    done = train(
        "eval", "--model", "openai:qwen", "--base-url", url, "--suite", "git",
        "--output", str(output), cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 1
    line = one_line(done)
    assert "no case reached the model" in line
    assert "cannot reach" in line and "--base-url" in line
    assert not output.exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--max-tokens", "0"], "invalid --max-tokens: must be at least 1"),
        (["--request-timeout-seconds", "-1"], "invalid --request-timeout-seconds: must be above 0"),
        (["--model", "gpt-4"], "invalid --model: unknown model 'gpt-4'"),
    ],
)
def test_eval_flags_outside_the_settings_are_one_line(
    tmp_path: Path, flags: list[str], named: str
) -> None:
    """Checked against the agent settings' own ranges, named as flags (it used to print
    pydantic's multi-line ``1 validation error for AgentConfig``)."""
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = train(
        "eval", "--model", "openai:qwen", "--base-url", url, "--output", str(tmp_path / "r.json"),
        *flags, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert named in one_line(done)
    assert "validation error" not in done.stderr


@pytest.mark.parametrize(
    ("step", "flags", "named"),
    [
        ("finetune", ["--batch-size", "0"], "--batch-size: must be at least 1 and at most 65536"),
        ("finetune", ["--rank", "-3"], "--rank: must be at least 1"),
        ("finetune", ["--learning-rate", "nan"], "--learning-rate: must be above 0"),
        ("finetune", ["--learning-rate", "-1"], "--learning-rate: must be above 0"),
        ("finetune", ["--dropout", "2"], "--dropout: must be at least 0 and at most 0.99"),
        ("finetune", ["--iters", "-5"], "--iters/--iterations: must be at least 1"),
        (
            "finetune",
            ["--num-layers", "-2"],
            "--num-layers: must be at least 1 and at most 10000 (or -1)",
        ),
        ("finetune", ["--seed", "-1"], "--seed: must be at least 0"),
        ("quantize", ["--group-size", "7"], "--group-size: invalid choice: 7"),
        ("data", ["generate", "--per-category", "0"], "--per-category: must be at least 1"),
    ],
)
def test_number_flags_outside_their_range_are_usage_errors(
    tmp_path: Path, step: str, flags: list[str], named: str
) -> None:
    """Refused by argparse before anything loads (they used to reach mlx-lm, or be
    silently accepted: ``--batch-size 0`` passed the dataset-size check)."""
    required = {
        "finetune": ["--model", "m", "--data", str(tmp_path), "--output", str(tmp_path / "a")],
        "quantize": ["--model", "m", "--output", str(tmp_path / "q")],
        "data": [],
    }[step]
    extra = ["--out", str(tmp_path / "d")] if step == "data" else []
    done = train(step, *flags, *required, *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr


def test_unreadable_inputs_are_one_line(tmp_path: Path) -> None:
    """Found by a fresh user's pass: each of these ended in a traceback or in pydantic's
    multi-line dump (a non-UTF-8 Punie file, rows that are not rows, a run that is not
    JSON)."""
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"caf\xe9": 1}\n')
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "train.jsonl").write_text('{"x": 1}\n')
    cases = [
        (("data", "import-punie", str(latin1), "--out", str(tmp_path / "o")), "not UTF-8 text"),
        (("data", "stats", str(rows)), "train.jsonl:1: not a dataset row (messages: Field"),
        (("report", str(latin1)), "is not an eval run written by `train eval`"),
    ]
    for args, said in cases:
        done = train(*args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert said in one_line(done)
        assert "errors.pydantic.dev" not in done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("finetune", "--model", "m", "--data", "/no/data", "--output", "o"),
            "--data /no/data: no such folder",
        ),
        (
            ("fuse", "--model", "m", "--adapter", "/no/adapter", "--output", "o"),
            "--adapter /no/adapter: no such folder",
        ),
        (
            ("quantize", "--model", "/no/model", "--output", "q"),
            "--model /no/model: no such model folder",
        ),
    ],
)
def test_a_folder_that_is_not_there_is_named_before_any_model_loads(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    """They said ``FileNotFoundError: … train.jsonl``, tried to fetch the model first, or
    called a local path a bad Hugging Face repo id (found by a fresh user's pass)."""
    done = train(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert said in one_line(done)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("generate", "--package", "no_such_package"),
            "generate: --package: 'no_such_package' is not",
        ),
        (("generate", "--source", "/no/src"), "generate: --source /no/src: no such folder"),
        (("stats", "/no/dataset"), "stats: /no/dataset: no such dataset folder"),
    ],
)
def test_data_steps_name_themselves_and_the_flag(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    """They said "error: not a directory: …" unlike every other step's one line."""
    out = ("--out", str(tmp_path / "d")) if args[0] == "generate" else ()
    done = train("data", *args, *out, cwd=tmp_path)
    assert done.returncode == 2
    assert one_line(done).startswith(f"punie-lsp train data {said}")


def test_a_training_log_folder_without_a_log_is_named(tmp_path: Path) -> None:
    """``--training-log /tmp`` was accepted and the report left the loss plot out."""
    run = tmp_path / "run.json"
    run.write_text("{}")
    done = train("report", str(run), "--training-log", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "no saved training log there" in one_line(done)


def test_generate_skips_a_module_that_is_not_utf8(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(SAMPLE_PROJECT, source)
    (source / "pkg" / "latin1.py").write_bytes(b"# caf\xe9\nvalue = 1\n")
    done = train(
        "data", "generate", "--out", str(tmp_path / "data"), "--source", str(source),
        "--per-category", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "data" / "train.jsonl").read_text().strip()


def test_the_sample_project_ships_in_the_wheel(tmp_path: Path) -> None:
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)],
        capture_output=True,
        check=True,
        timeout=240,
    )
    [wheel] = tmp_path.glob("punie_lsp-*.whl")

    names = zipfile.ZipFile(wheel).namelist()

    shipped = {n for n in names if n.startswith("training/sample_project/")}
    local = {
        f"training/sample_project/{p.relative_to(SAMPLE_PROJECT).as_posix()}"
        for p in SAMPLE_PROJECT.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert local <= shipped
    assert "training/sample_project/pkg/app.py" in shipped


def test_a_clean_git_repository_can_be_evaluated_on(tmp_path: Path) -> None:
    source = tmp_path / "clean"
    source.mkdir()
    (source / "main.py").write_text("print('hi')\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=source, check=True
        )

    root = prepare_workspace(source, tmp_path / "eval")

    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=root, capture_output=True, text=True, check=True
    )
    assert log.stdout.splitlines() == ["Add the project"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["report", "missing.json"], "RUN missing.json: no such file"),
        (["data", "import-traces", "missing.jsonl", "--out", "d"], "missing.jsonl: no such file"),
        (["data", "import-punie", "missing.jsonl", "--out", "d"], "missing.jsonl: no such file"),
    ],
)
def test_a_missing_file_is_named(args: list[str], said: str, tmp_path: Path) -> None:
    done = train(*args, cwd=tmp_path)

    assert done.returncode == 2
    assert said in one_line(done)


def test_finetune_of_a_model_that_cannot_be_fetched_names_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}
    (data / "train.jsonl").write_text("\n".join(json.dumps(row) for _ in range(4)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    done = train(
        "finetune", "--model", "someone/not-a-model", "--data", str(data), "--output",
        str(tmp_path / "adapter"), cwd=tmp_path, env=env,
    )  # fmt: skip

    assert done.returncode == 2
    line = one_line(done)
    assert "--model someone/not-a-model: cannot load it" in line
    assert "terminate called" not in done.stderr


def test_data_generate_without_a_source_uses_the_shipped_sample_project(tmp_path: Path) -> None:
    done = train("data", "generate", "--out", "data", "--per-category", "1", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "data" / "train.jsonl").read_text().splitlines()
    assert rows
    assert any("pkg/" in row for row in rows)  # the sample project's package


def test_paths_that_cannot_work_are_named_before_any_work_and_nothing_is_written_over(
    tmp_path: Path,
) -> None:
    """Found by a fresh user's pass: ``fuse --output`` wrote its model files into an
    existing folder (a base model's config.json replaced), a second ``finetune`` without
    ``--resume`` replaced a trained adapter, ``eval --output`` failed only after the
    whole suite had run, and other folders of the wrong kind were named by an errno or
    blamed on ``--model``."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapters.safetensors").write_bytes(b"trained")
    data = tmp_path / "data"
    data.mkdir()
    not_adapter = tmp_path / "not_adapter"
    not_adapter.mkdir()
    a_file = tmp_path / "file.json"
    a_file.write_text("{}")
    m, d, a = str(model), str(data), str(adapter)
    cases = [
        (("fuse", "--model", m, "--adapter", a, "--output", str(precious)), "already exists"),
        (("quantize", "--model", m, "--output", str(precious)), "already exists"),
        (("finetune", "--model", m, "--data", d, "--output", "o"), "no train.jsonl there"),
        (
            ("fuse", "--model", m, "--adapter", str(not_adapter), "--output", "new"),
            "not an adapter folder (no adapter_config.json)",
        ),
        (("quantize", "--model", str(data), "--output", "q"), "not an mlx-lm model folder"),
        (("eval", "--model", "mlx:x", "--output", str(tmp_path)), "is a folder; name the file"),
        (("eval", "--model", "mlx:x", "--output", f"{a_file}/x/run.json"), "cannot write there"),
        (("report", str(a_file), "--output", str(tmp_path)), "is a folder; name the file"),
    ]
    for args, said in cases:
        done = train(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert said in one_line(done), args
    (data / "train.jsonl").write_text("")  # what follows needs a dataset
    cases = [
        (
            ("finetune", "--model", m, "--data", d, "--output", str(adapter)),
            "holds a trained adapter; add --resume",
        ),
        (
            ("finetune", "--model", m, "--data", d, "--output", str(a_file)),
            "is a file; name a folder",
        ),
    ]
    for args, said in cases:
        done = train(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert said in one_line(done), args
    assert (precious / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in precious.iterdir()) == ["notes.txt"]
    assert (adapter / "adapters.safetensors").read_bytes() == b"trained"
