"""The model in a long editor session: settings change, models fail, workers die.

A user changes ``punie.model`` mid-session (and back), names a model that cannot be
built or loaded, fixes what the error said, or loses the model's worker (killed, out of
memory). Each run must use the model the settings name now, report a failure as a
result (never a JSON-RPC error carrying an exception's class), try again once the cause
may be gone, and leave no worker of a replaced model behind. A real server, pygls
client and tiny mlx-lm model; ``test:`` models where the model's words do not matter.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types

from tests.agent.tiny_model import tiny_model_dir
from tests.conftest import FIXTURE_PROJECT, Client, initialize_params, make_client
from tests.model_servers import ANSWER, Chunk, content, shape_server


def warnings(client: Client) -> list[types.ShowMessageParams]:
    """What the server showed as warnings (answers are shown as Info: no Punie plug-in)."""
    return [m for m in client.messages if m.type == types.MessageType.Warning]


def content_answer(code: str) -> list[Chunk]:
    """A server shape that answers in words at once (no tool call)."""
    return content(ANSWER)


pytestmark = pytest.mark.timeout(240)


@asynccontextmanager
async def editor(project: Path, punie: dict[str, Any]) -> AsyncGenerator[Client]:
    client = make_client()
    client.root = project
    env = {k: v for k, v in os.environ.items() if k != "PUNIE_LSP_MODEL_FACTORY"}
    await client.start_io(sys.executable, "-m", "punie_lsp", "--stdio", env=env)
    await client.initialize_session(initialize_params("neovim", project, {"punie": punie}))
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


def configure(client: Client, punie: Any) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"punie": punie})
    )


async def command(client: Client, name: str, argument: dict[str, Any]) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=[argument])
    )
    assert isinstance(result, dict), result
    return result


async def ask(client: Client) -> dict[str, Any]:
    return await command(client, "punie.ask", {"prompt": "hi"})


def mlx_workers() -> list[psutil.Process]:
    """The live mlx workers among this test's descendants (the server's children)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with suppress(psutil.Error):  # gone, or a zombie not reaped yet
            if "agent._mlx_worker" in " ".join(child.cmdline()):
                found.append(child)
    return found


async def until(what: str, predicate: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_model_that_cannot_be_built_is_a_result_and_never_an_older_model(
    project: Path,
) -> None:
    async with editor(project, {"model": "test:the first model"}) as client:
        assert (await ask(client))["answer"] == "the first model"

        configure(client, {"model": "openai:some-model"})  # no baseUrl: cannot be built
        for _ in range(2):  # and the second time is not the first model's answer either
            failed = await ask(client)
            assert failed["outcome"] == "model_error", failed
            assert "needs a base URL (punie.baseUrl)" in failed["error"]
            assert "ModelSpecError" not in failed["error"]
            assert failed.get("answer", "") == ""
        model = (await command(client, "punie.status", {}))["model"]
        assert model["model"] == "openai:some-model"
        assert "needs a base URL" in model["error"]

        configure(client, {"model": "test:the second model"})
        assert (await ask(client))["answer"] == "the second model"


async def test_a_bad_model_setting_is_refused_by_name_and_never_the_default_model(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in ``punie.model`` fell back to the default 7B model: a surprise multi-GB
    download, then another model answering. The model is the one setting whose default is
    never used instead: the warning names it, ``punie.status`` shows it unusable, agent
    commands fail naming it, and no model runs until the user fixes it."""
    # Offline, so the default model (what the bad value used to become) can never download.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    typo = "mxl:mlx-community/Qwen2.5-Coder-1.5B-Instruct-4bit"
    async with editor(project, {"model": typo, "maxTokens": 0}) as client:
        # Named twice: from initializationOptions, then from this client's answer to
        # workspace/configuration, which carries the model but not maxTokens (another set
        # of problems). Waiting for both keeps the count below free of a race.
        await until("both settings warnings", lambda: len(warnings(client)) == 2)
        warning, answered = warnings(client)
        assert f"invalid 'punie.model': unknown model {typo!r}" in warning.message
        assert "agent commands fail until it is fixed" in warning.message
        assert "'punie.maxTokens'" in warning.message  # the other settings keep the rule
        assert "in workspace/configuration" in answered.message and typo in answered.message
        status = (await command(client, "punie.status", {}))["model"]
        assert status["model"] == typo and status["loaded"] is False
        assert "backend" not in status
        assert status["error"].startswith(f"invalid 'punie.model': unknown model {typo!r}")

        for bad, named in [(typo, repr(typo)), (5, "got 5"), ("", "unknown model ''")]:
            configure(client, {"model": bad})
            failed = await ask(client)
            assert failed["outcome"] == "model_error", failed
            assert failed["error"].startswith("invalid 'punie.model': "), failed
            assert named in failed["error"]
            assert "\n" not in failed["error"] and failed.get("answer", "") == ""
            assert not mlx_workers()  # nothing loaded, nothing downloaded
        named_again = [w for w in warnings(client) if "until it is fixed" in w.message]
        # Each new set of problems named once more: the typo again is the set already shown.
        assert len(named_again) == 4, [w.message for w in named_again]

        configure(client, {"model": "test:fixed"})  # the user fixes the setting
        assert (await ask(client))["answer"] == "fixed"
        status = (await command(client, "punie.status", {}))["model"]
        assert status["model"] == "test:fixed" and status.get("error") is None


async def test_a_bad_base_url_is_refused_by_name_and_nothing_goes_to_another_server(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``baseUrl`` that is not an http(s) URL was dropped as "its default used": none.
    With ``OPENAI_API_KEY`` in the editor's environment the OpenAI client then picked its
    own endpoint (``OPENAI_BASE_URL``, else api.openai.com) and the prompt, with the user's
    code, went there instead of the local server the user meant. api.openai.com cannot be
    reached here, so ``OPENAI_BASE_URL`` points the client's own choice at a local
    listener, ``elsewhere``: it must never hear a word, and neither must it when
    ``baseUrl`` is left out (there is no default server)."""
    with shape_server() as elsewhere, shape_server() as meant:
        elsewhere.shape = meant.shape = content_answer
        monkeypatch.setenv("OPENAI_API_KEY", "sk-the-users-own-key")
        monkeypatch.setenv("OPENAI_BASE_URL", elsewhere.base_url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the default model can never download
        wrong = "127.0.0.1:8080/v1"  # no scheme: the usual slip
        async with editor(project, {"model": "openai:coder", "baseUrl": wrong}) as client:
            await until("the settings warning", lambda: warnings(client))
            [warning] = warnings(client)
            assert (
                f"invalid 'punie.baseUrl': must be an http:// or https:// URL, got {wrong!r}"
                in (warning.message)
            )
            assert "no other model or server is used" in warning.message
            status = (await command(client, "punie.status", {}))["model"]
            assert status["model"] == "openai:coder" and status["loaded"] is False
            assert status["error"].startswith("invalid 'punie.baseUrl'")

            for url, named in [
                (wrong, repr(wrong)),
                (8080, "got 8080"),
                ("ftp://127.0.0.1/v1", "'ftp://127.0.0.1/v1'"),
            ]:
                configure(client, {"model": "openai:coder", "baseUrl": url})
                failed = await ask(client)
                assert failed["outcome"] == "model_error", failed
                assert failed["error"].startswith("invalid 'punie.baseUrl': "), failed
                assert named in failed["error"] and "\n" not in failed["error"]
                assert failed.get("answer", "") == ""
            configure(client, {"model": "openai:coder"})  # left out: no default server either
            failed = await ask(client)
            assert failed["outcome"] == "model_error", failed
            assert "needs a base URL (punie.baseUrl)" in failed["error"]
            assert "there is no default server" in failed["error"]
            configure(client, {"model": "openai:coder", "baseURL": meant.base_url})
            failed = await ask(client)  # a misspelt key: named, not ignored
            assert failed["outcome"] == "model_error", failed
            assert (
                "unknown setting 'punie.baseURL': did you mean 'punie.baseUrl'?"
                in (failed["error"])
            )
            configure(client, "openai:coder")  # not an object: nothing in it can be read
            failed = await ask(client)
            assert failed["outcome"] == "model_error", failed
            assert failed["error"].startswith("the 'punie' settings must be an object, got ")
            assert not mlx_workers()  # and not the default model either
            assert elsewhere.bodies == []

            configure(client, {"model": "openai:coder", "baseUrl": meant.base_url})
            assert (await ask(client))["answer"] == ANSWER
        assert elsewhere.bodies == [] and len(meant.bodies) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="mlx[cpu] on Linux; psutil's view of workers")
async def test_an_adapter_that_cannot_be_used_is_refused_by_name_never_the_base_model(
    project: Path, tmp_path: Path
) -> None:
    """``punie.adapter`` decides which model answers: a bad one (a number) was dropped and
    the base model answered without the user's training; a missing folder was named as
    ``punie.model``'s fault, and an adapter that does not fit its model as a broken model
    directory. Each is one ``model_error`` naming ``punie.adapter`` and the path."""
    tiny = tiny_model_dir()
    punie = {"model": f"mlx:{tiny}", "temperature": 0, "maxTokens": 4}
    async with editor(project, {**punie, "adapter": 5}) as client:
        await until("the settings warning", lambda: warnings(client))
        assert "invalid 'punie.adapter': expected a string or null, got 5" in (
            warnings(client)[0].message
        )
        failed = await ask(client)
        assert failed["outcome"] == "model_error", failed
        assert failed["error"].startswith("invalid 'punie.adapter': "), failed
        assert failed.get("answer", "") == "" and not mlx_workers()  # no model ran

        missing = tmp_path / "adapters" / "my-project"  # a typo, or not trained yet
        not_fitting = tmp_path / "not-fitting"  # a folder, but no adapter of this model
        not_fitting.mkdir()
        (not_fitting / "adapter_config.json").write_text('{"fine_tune_type": "lora"}')
        for adapter, says in [
            (missing, "does not exist"),
            (not_fitting, "could not be applied to mlx model"),
        ]:
            configure(client, {**punie, "adapter": str(adapter)})
            failed = await ask(client)
            assert failed["outcome"] == "model_error", failed
            error = failed["error"]
            assert f"with punie.adapter {str(adapter)!r}" in error, error
            assert says in error and "fix punie.adapter" in error and "\n" not in error
            assert "punie.model" not in error  # the model is fine
            assert failed.get("answer", "") == "" and failed["turns"] == 0
            status = (await command(client, "punie.status", {}))["model"]
            assert status["loaded"] is False and str(adapter) in status["error"]

        configure(client, punie)  # the user removes the adapter: the base model, as asked
        answered = await ask(client)
        assert answered["outcome"] in ("ok", "usage_limit"), answered
        assert answered["turns"] == 1


@pytest.mark.skipif(sys.platform != "linux", reason="mlx[cpu] on Linux; psutil's view of workers")
async def test_a_failed_or_dead_mlx_model_is_loaded_again_and_replaced_workers_leave(
    project: Path, tmp_path: Path
) -> None:
    later = tmp_path / "model-copied-later"
    punie = {"model": f"mlx:{later}", "temperature": 0, "maxTokens": 8}
    async with editor(project, punie) as client:
        missing = await ask(client)
        assert missing["outcome"] == "model_error"
        assert "no such directory" in missing["error"]
        await until("the worker that failed to load to leave", lambda: not mlx_workers())

        shutil.copytree(tiny_model_dir(), later)  # the user fixes what the error named
        loaded = await ask(client)
        assert loaded["outcome"] != "model_error", loaded
        assert loaded["usage"]["outputTokens"] > 0
        [worker] = mlx_workers()

        worker.kill()  # out of memory, or the user's kill
        worker.wait(10)
        again = await ask(client)
        assert again["outcome"] != "model_error", again
        [restarted] = mlx_workers()
        assert restarted.pid != worker.pid

        configure(client, {"model": "test:another model"})
        assert (await ask(client))["answer"] == "another model"
        await until("the replaced model's worker to leave", lambda: not mlx_workers())


async def test_a_conversation_survives_a_settings_change_and_a_stale_id_is_told(
    tmp_path: Path,
) -> None:
    """A follow-up after the temperature changed kept its earlier turns (the agent rebuilt
    for the new settings started with no history, so the model answered without them and
    nobody was told); a follow-up with an id this server never ran (the editor kept it
    across a restart of punie-lsp) goes ahead under that id with a warning saying the
    earlier turns are gone, never silently."""
    project = Path(shutil.copytree(FIXTURE_PROJECT, tmp_path / "project"))
    with shape_server() as server:
        server.shape = content_answer  # plain answers: only the history matters here
        punie = {"model": "openai:scripted", "baseUrl": server.base_url}
        async with editor(project, punie) as client:
            first = await command(client, "punie.ask", {"prompt": "Remember the word teal."})
            configure(client, {**punie, "temperature": 0.7})
            follow = {"prompt": "Which word?", "conversationId": first["conversationId"]}
            second = await command(client, "punie.ask", follow)
            assert not warnings(client)  # a known conversation: no warning
            stale = {"prompt": "And now?", "conversationId": "from-before-a-restart"}
            third = await command(client, "punie.ask", stale)

    assert [r["outcome"] for r in (first, second, third)] == ["ok", "ok", "ok"]
    assert second["conversationId"] == first["conversationId"]
    rebuilt = server.bodies[1]
    assert rebuilt["temperature"] == 0.7  # the agent was rebuilt for the new setting
    said = [m["content"] for m in rebuilt["messages"] if m["role"] == "user"]
    assert said == ["Remember the word teal.", "Which word?"]
    assert third["conversationId"] == "from-before-a-restart"
    assert [m["content"] for m in server.bodies[2]["messages"] if m["role"] == "user"] == [
        "And now?"
    ]
    [warning] = warnings(client)
    assert "conversation from-before-a-restart is not known to this punie-lsp" in warning.message
    assert "without the earlier turns" in warning.message
