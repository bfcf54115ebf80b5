"""The ``mlx:`` backend on a real (tiny, locally trained) mlx-lm model.

What the tiny model does is fixed by its training (see ``tiny_model``): after a user
turn it calls ``execute_code`` with ``TOOL_CODE``, after a tool result it says
``ANSWER`` and stops. Greedy decoding (temperature 0) makes that deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from mlx_lm.tokenizer_utils import load as load_tokenizer
from pydantic_ai import Agent, models
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition

from agent._mlx_chat import chat_messages
from agent._mlx_hosts import ProcessHost, ThreadHost
from agent._mlx_worker import NICENESS
from agent.mlx_model import (
    MlxModel,
    MlxModelLoadError,
    MlxModelSettings,
    MlxWorkerExited,
    mlx_conversation,
)
from tests.agent.tiny_model import ANSWER, EXECUTE_CODE_TOOL, TOOL_CODE, tiny_model_dir

pytestmark = pytest.mark.timeout(120)

CODE_TOOL = ToolDefinition(
    name="execute_code",
    description=EXECUTE_CODE_TOOL["function"]["description"],
    parameters_json_schema=EXECUTE_CODE_TOOL["function"]["parameters"],
)
PARAMS = ModelRequestParameters(function_tools=[CODE_TOOL], allow_text_output=True)


@pytest.fixture(autouse=True)
def allow_requests() -> Iterator[None]:
    """The agent tests forbid real model requests; these make them on purpose."""
    with models.override_allow_model_requests(True):
        yield


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return tiny_model_dir()


@pytest.fixture(scope="module")
def model(model_dir: Path) -> Iterator[MlxModel]:
    mlx = MlxModel(str(model_dir), temperature=0.0, max_tokens=64)
    yield mlx
    mlx.close()


def asked(prompt: str) -> list[ModelMessage]:
    return [ModelRequest(parts=[UserPromptPart(prompt)])]


def answered_tool(prompt: str) -> list[ModelMessage]:
    """A conversation whose last turn is a tool result: the model answers and stops."""
    return [
        *asked(prompt),
        ModelResponse(parts=[ToolCallPart("execute_code", {"code": TOOL_CODE}, tool_call_id="c1")]),
        ModelRequest(parts=[ToolReturnPart("execute_code", "42", tool_call_id="c1")]),
    ]


LONG_PROMPT = " ".join(f"word{i}" for i in range(2000))
"""About 11,000 tokens: the tiny model prefills them for ~10 s on 2 busy cores."""


async def busy(worker: psutil.Process, cpu_seconds: float = 1.0) -> None:
    """Wait until ``worker`` has spent ``cpu_seconds`` more CPU time: it is at work."""
    start = sum(worker.cpu_times()[:2])
    deadline = time.monotonic() + 60
    while sum(worker.cpu_times()[:2]) - start < cpu_seconds:
        assert time.monotonic() < deadline, "the worker never started working"
        await asyncio.sleep(0.05)


def workers() -> set[int]:
    """Process ids of this process's live mlx worker children (not those that exited)."""
    found = set()
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):  # gone, or a zombie not reaped yet
            if "agent._mlx_worker" in " ".join(child.cmdline()):
                found.add(child.pid)
    return found


async def test_loads_once_in_a_worker_process_while_the_loop_runs(model_dir: Path) -> None:
    before = workers()
    mlx = MlxModel(str(model_dir))
    assert (mlx.loaded, mlx.loading, mlx.load_error) == (False, False, None)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not mlx.loaded:
            ticks += 1
            await asyncio.sleep(0.01)

    first = asyncio.ensure_future(mlx.ensure_loaded())
    await asyncio.sleep(0)
    assert mlx.loading
    await asyncio.gather(first, mlx.ensure_loaded(), mlx.ensure_loaded(), ticker())

    # Starting the worker imports mlx-lm (over a second): the loop kept running meanwhile.
    assert ticks > 10
    assert (mlx.loaded, mlx.loading, mlx.load_error) == (True, False, None)
    host = mlx._host_
    assert isinstance(host, ProcessHost)
    pid = host.pid
    assert pid is not None and pid not in before
    assert workers() - before == {pid}  # one worker for three callers
    # At a lower CPU priority than this process, so the editor's requests win the CPU.
    assert psutil.Process(pid).nice() == min(19, os.nice(0) + NICENESS)
    # And off one core, every thread of it (mlx's included), so a hover always finds one.
    ours = os.sched_getaffinity(0)
    if len(ours) > 1:
        for thread in psutil.Process(pid).threads():
            assert os.sched_getaffinity(thread.id) == ours - {min(ours)}, thread
    mlx.close()
    assert host.pid is None
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(timeout=10)  # closing the model ends its worker


async def test_a_workspace_module_named_like_the_standard_librarys_does_not_break_the_worker(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """punie-lsp runs in the workspace folder (editors start it there): the worker must not
    import the project's ``types.py`` (or its own ``agent/``) instead of the real ones, as
    ``python -m`` would with the working directory first on ``sys.path``. Found in VS Code:
    the model's worker exited with code 1 in a project with a ``types.py``."""
    (tmp_path / "types.py").write_text('raise ImportError("the workspace\'s types.py")\n')
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "__init__.py").write_text('raise ImportError("the workspace\'s agent")\n')
    monkeypatch.chdir(tmp_path)
    mlx = MlxModel(str(model_dir), temperature=0.0, max_tokens=8)
    try:
        await mlx.ensure_loaded()
        assert (mlx.loaded, mlx.load_error) == (True, None)
        assert isinstance(mlx._host_, ProcessHost)
    finally:
        mlx.close()


async def test_a_worker_that_fails_to_start_says_why(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's last stderr line (its exception) is in the error the editor shows, and
    its output in punie-lsp's log: with ``--log-file`` an inherited stderr went elsewhere,
    and the message pointed at a log that did not have it."""
    # A module the worker imports before it can report anything over its pipe.
    (tmp_path / "types.py").write_text('raise ImportError("a broken install")\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    mlx = MlxModel(str(model_dir), temperature=0.0, max_tokens=8)
    try:
        with pytest.raises(Exception, match="code 1: ImportError: a broken install"):
            await mlx.ensure_loaded()
        assert mlx.load_error is not None and "a broken install" in mlx.load_error
    finally:
        mlx.close()


async def test_a_worker_that_dies_fails_its_request_and_the_next_one_gets_a_new_worker(
    model_dir: Path,
) -> None:
    """Killed mid-request (out of memory, a user's ``kill``): that request fails with the
    exit code; the next one starts a new worker, as ty is restarted, instead of every
    later request failing until the editor restarts."""
    mlx = MlxModel(str(model_dir), temperature=0.0, max_tokens=64)
    await mlx.ensure_loaded()
    host = mlx._host_
    assert isinstance(host, ProcessHost) and host.pid is not None
    worker = psutil.Process(host.pid)
    request = asyncio.ensure_future(mlx.request(asked(LONG_PROMPT), None, PARAMS))
    await busy(worker)
    worker.kill()  # reaped by the model's reader, which reads the code

    with pytest.raises(MlxWorkerExited, match="exited with code -9"):
        await asyncio.wait_for(request, 30)
    assert not mlx.loaded

    reply = await asyncio.wait_for(mlx.request(answered_tool("still there?"), None, PARAMS), 60)
    assert reply.parts == [TextPart(ANSWER)]
    assert mlx.loaded
    assert isinstance(mlx._host_, ProcessHost) and mlx._host_.pid not in (None, worker.pid)
    mlx.close()


@pytest.mark.parametrize("process", [True, False], ids=["worker", "thread"])
async def test_a_request_cancelled_while_its_long_prompt_prefills_ends_at_once(
    model_dir: Path, process: bool
) -> None:
    """A big selection makes a prompt the model reads for minutes on a CPU; cancelling
    (the editor's cancel, through Pydantic AI) must end the request within a second, and
    the engine must stop reading too, so the next request is not stuck behind it."""
    mlx = MlxModel(str(model_dir), temperature=0.0, max_tokens=8, process=process)
    await mlx.ensure_loaded()
    host = mlx._host_
    me = psutil.Process()
    worker = psutil.Process(host.pid) if isinstance(host, ProcessHost) and host.pid else me
    request = asyncio.ensure_future(mlx.request(asked(LONG_PROMPT), None, PARAMS))
    await busy(worker)
    cancelled_at = time.perf_counter()
    request.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await request
    assert time.perf_counter() - cancelled_at < 1.0

    reply = await asyncio.wait_for(mlx.request(answered_tool("next"), None, PARAMS), 60)
    assert reply.parts == [TextPart(ANSWER)]
    stopped, answered = list(mlx.requests)[-2:]
    assert (stopped.generated_tokens, stopped.finish_reason) == (0, None)
    assert 0 < stopped.prefilled_tokens < stopped.prompt_tokens - stopped.reused_tokens
    assert answered.finish_reason == "stop"
    mlx.close()


async def test_a_thread_host_gives_the_same_reply(model_dir: Path, model: MlxModel) -> None:
    here = MlxModel(str(model_dir), temperature=0.0, max_tokens=64, process=False)
    try:
        reply = await here.request(answered_tool("same?"), None, PARAMS)
        assert isinstance(here._host_, ThreadHost)
    finally:
        here.close()
    assert reply.parts == (await model.request(answered_tool("same?"), None, PARAMS)).parts


async def test_answers_and_stops_on_the_stop_token(model: MlxModel, model_dir: Path) -> None:
    response = await model.request(answered_tool("why does it fail?"), None, PARAMS)

    assert response.parts == [TextPart(ANSWER)]
    assert response.finish_reason == "stop"
    stats = model.requests[-1]
    assert stats.finish_reason == "stop"
    tokenizer = load_tokenizer(model_dir)
    # The reply's own tokens plus the stop token, nothing after it.
    assert stats.generated_tokens == len(tokenizer.encode(ANSWER, add_special_tokens=False)) + 1
    assert response.usage.output_tokens == stats.generated_tokens


async def test_max_tokens_cuts_the_reply(model: MlxModel) -> None:
    settings = MlxModelSettings(max_tokens=3)
    response = await model.request(answered_tool("why?"), settings, PARAMS)

    assert response.finish_reason == "length"
    assert model.requests[-1].generated_tokens == 3
    text = response.parts[0]
    assert isinstance(text, TextPart)
    assert ANSWER.startswith(text.content)
    assert text.content != ANSWER


async def streamed_deltas(model: MlxModel) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    async with model.request_stream(answered_tool("stream it"), None, PARAMS) as stream:
        async for event in stream:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                deltas.append(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                deltas.append(event.delta.content_delta)
    return deltas, stream.get()


async def test_streams_text_as_it_is_generated(model_dir: Path) -> None:
    every_token = MlxModel(str(model_dir), temperature=0.0, max_tokens=64, stream_interval=0)
    try:
        deltas, response = await streamed_deltas(every_token)
    finally:
        every_token.close()

    assert len(deltas) >= 3
    assert "".join(deltas) == ANSWER
    assert response.parts == [TextPart(ANSWER)]


async def test_a_stream_arrives_in_batches_and_whole(model_dir: Path) -> None:
    # The first output goes at once, the rest waits for the interval or the end.
    batched = MlxModel(str(model_dir), temperature=0.0, max_tokens=64, stream_interval=60)
    try:
        deltas, response = await streamed_deltas(batched)
    finally:
        batched.close()

    assert 1 <= len(deltas) <= 2
    assert "".join(deltas) == ANSWER
    assert response.parts == [TextPart(ANSWER)]


async def test_a_tool_call_it_emits_becomes_an_execute_code_call(model: MlxModel) -> None:
    response = await model.request(asked("run the tests please"), None, PARAMS)

    assert len(response.parts) == 1
    call = response.parts[0]
    assert isinstance(call, ToolCallPart)
    assert (call.tool_name, call.args_as_dict()) == ("execute_code", {"code": TOOL_CODE})
    assert response.finish_reason == "tool_call"


async def test_an_agent_runs_the_code_and_answers(model: MlxModel) -> None:
    ran: list[str] = []
    agent = Agent(model, instructions="You are Punie.")

    @agent.tool_plain
    def execute_code(code: str) -> str:
        """Run Python code in the sandbox; the typed tools are functions in it."""
        ran.append(code)
        return "42"

    result = await agent.run("what is six times seven?")

    assert ran == [TOOL_CODE]
    assert result.output == ANSWER


async def test_each_turn_prefills_only_its_new_tokens(model: MlxModel) -> None:
    agent = Agent(model, instructions="You are Punie, a coding agent.")

    @agent.tool_plain
    def execute_code(code: str) -> str:
        """Run Python code in the sandbox; the typed tools are functions in it."""
        return "42"

    settings = MlxModelSettings(mlx_conversation_id="prefill-test")
    before = len(model.requests)
    first = await agent.run("why does my test fail?", model_settings=settings)
    await agent.run("rename it", message_history=first.all_messages(), model_settings=settings)
    stats = list(model.requests)[before:]

    # Turn 1 is a tool call and an answer; what the tiny model says in turn 2 (after
    # ~200 tokens of history) is not guaranteed, and does not matter for the counts.
    assert len(stats) >= 3
    assert stats[0].reused_tokens == 0
    for previous, current in itertools.pairwise(stats):
        # The cache holds the previous prompt and reply (stop token included), so only
        # the tokens this request adds are prefilled. All of the previous prompt is
        # reused; the reply too, unless the model spelt it in tokens other than the ones
        # its text encodes to (the re-rendered history then differs from there on).
        held = previous.prompt_tokens + previous.generated_tokens
        assert previous.prompt_tokens <= current.reused_tokens <= held
        assert current.prefilled_tokens == current.prompt_tokens - current.reused_tokens
        assert current.prefilled_tokens < current.prompt_tokens / 4
    assert any(
        current.reused_tokens == previous.prompt_tokens + previous.generated_tokens
        for previous, current in itertools.pairwise(stats)
    )


async def test_caches_are_per_conversation_and_trimmed_when_history_changes(
    model: MlxModel,
) -> None:
    history = answered_tool("explain the error in main.py")
    with mlx_conversation("a"):
        await model.request(history, None, PARAMS)
    with mlx_conversation("b"):
        await model.request(history, None, PARAMS)
    a_first, b_first = model.requests[-2], model.requests[-1]
    assert b_first.reused_tokens == 0  # another conversation's cache is not borrowed

    # The same conversation with its first user turn rewritten (history summarised):
    # the cache is trimmed back to the shared system/tools prefix, not thrown away.
    rewritten = answered_tool("list the files")
    with mlx_conversation("a"):
        await model.request(rewritten, None, PARAMS)
    trimmed = model.requests[-1]
    assert 0 < trimmed.reused_tokens < a_first.prompt_tokens
    assert trimmed.prefilled_tokens == trimmed.prompt_tokens - trimmed.reused_tokens


def instructed(prompt: str) -> list[ModelMessage]:
    """A first turn under instructions long enough to be worth sharing."""
    return [
        ModelRequest(
            parts=[UserPromptPart(prompt)],
            instructions="You are Punie, a coding agent. Read the code before changing it.",
        )
    ]


async def test_new_conversations_start_from_the_shared_instructions_prefix(
    model: MlxModel, model_dir: Path
) -> None:
    with mlx_conversation("shared-1"):
        await model.request(instructed("explain main.py"), None, PARAMS)
    first = model.requests[-1]
    # The first conversation with these instructions prefills everything.
    assert (first.reused_tokens, first.shared_prefix_tokens) == (0, 0)
    assert first.prefilled_tokens == first.prompt_tokens

    replies = []
    for cid in ("shared-2", "shared-3"):
        with mlx_conversation(cid):
            replies.append(await model.request(instructed("list the files"), None, PARAMS))
        later = model.requests[-1]
        # Everything up to the user's own text comes from the shared prefix.
        assert later.reused_tokens == later.shared_prefix_tokens > 0
        assert later.prefilled_tokens < 12
        assert later.prefilled_tokens == later.prompt_tokens - later.reused_tokens

    # A copy of the prefix gives the same greedy reply as prefilling it all again, and
    # generating from one copy leaves the shared prefix as it was.
    alone = MlxModel(str(model_dir), temperature=0.0, max_tokens=64, share_instructions=False)
    with mlx_conversation("alone"):
        fresh = await alone.request(instructed("list the files"), None, PARAMS)
    alone.close()
    assert alone.requests[-1].shared_prefix_tokens == 0

    def said(response: ModelResponse) -> list[tuple[str, object]]:
        return [
            (part.tool_name, part.args_as_dict())
            if isinstance(part, ToolCallPart)
            else (part.part_kind, getattr(part, "content", None))
            for part in response.parts
        ]

    assert [said(r) for r in replies] == [said(fresh), said(fresh)]
    assert model.requests[-1].generated_tokens == alone.requests[-1].generated_tokens


async def test_a_dataset_row_renders_to_the_same_tokens(model: MlxModel) -> None:
    await model.ensure_loaded()
    history = answered_tool("fix the failing test")
    row = [
        {"role": "system", "content": "You are Punie."},
        {"role": "user", "content": "fix the failing test"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "execute_code", "arguments": {"code": TOOL_CODE}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "execute_code", "content": "42"},
    ]

    rendered = model.render_prompt(chat_messages(history, ["You are Punie."]), [EXECUTE_CODE_TOOL])

    assert rendered == model.render_prompt(row, [EXECUTE_CODE_TOOL])


async def test_a_missing_directory_is_named_and_loaded_once_it_is_there(
    tmp_path: Path, model_dir: Path
) -> None:
    """The user fixes what the error named (copies the model there, downloads it): the
    next request loads it, without restarting the editor; the failed worker is gone."""
    missing = tmp_path / "no-model-here"
    mlx = MlxModel(str(missing), temperature=0.0, max_tokens=64)
    before = workers()

    with pytest.raises(MlxModelLoadError, match="no such directory") as error:
        await mlx.ensure_loaded()

    assert str(missing) in str(error.value)
    assert mlx.load_error == str(error.value)
    assert not mlx.loaded
    failed = mlx._host_
    assert isinstance(failed, ProcessHost) and failed.pid is None  # closed: it exits
    deadline = time.monotonic() + 30
    while workers() - before:  # the failed worker leaves, not at shutdown
        assert time.monotonic() < deadline, "the worker that failed to load is still there"
        await asyncio.sleep(0.05)

    shutil.copytree(model_dir, missing)
    reply = await mlx.request(answered_tool("there now?"), None, PARAMS)
    assert reply.parts == [TextPart(ANSWER)]
    assert (mlx.loaded, mlx.load_error) == (True, None)
    mlx.close()


async def test_a_directory_that_is_not_a_model_is_named(tmp_path: Path) -> None:
    mlx = MlxModel(str(tmp_path))

    with pytest.raises(MlxModelLoadError, match=r"config\.json") as error:
        await mlx.ensure_loaded()

    assert str(tmp_path) in str(error.value)
    mlx.close()


async def test_a_repo_id_that_cannot_be_downloaded_says_to_pass_a_path() -> None:
    mlx = MlxModel("punie-tests/no-such-model")

    with pytest.raises(MlxModelLoadError) as error:
        await mlx.ensure_loaded()

    message = str(error.value)
    assert "punie-tests/no-such-model" in message
    assert "cannot be downloaded" in message
    assert "pass a local model directory" in message
    mlx.close()
