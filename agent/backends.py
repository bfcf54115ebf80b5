"""Model backends, chosen by the ``model`` string: in-process mlx-lm, OpenAI-compatible, test.

``mlx:<repo-or-path>`` is the in-process backend (``agent.mlx_model.MlxModel``),
imported only when asked for: importing mlx-lm costs over a second and does not work
everywhere, and ``import agent`` must stay cheap. ``openai:<name>`` talks to any
OpenAI-compatible server (mlx_lm.server, LM Studio, Ollama, vLLM) through Pydantic
AI's own OpenAI model, so its request and streaming code is the library's, not ours.

Building a model never touches the network or loads weights; a model that cannot
load or a server that does not answer is reported by ``describe_model_error`` in
words that name the model and the URL.
"""

from __future__ import annotations

import os

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelTimeoutError,
)
from pydantic_ai.models import Model
from pydantic_ai.models.test import TestModel

from agent.config import (
    SETTING_NAMES,
    AgentConfig,
    Backend,
    ModelSpecError,
    error_line,
    parse_model,
)

__all__ = [
    "Backend",
    "ModelSpecError",
    "build_model",
    "describe_model_error",
    "error_line",
    "parse_model",
]


def build_model(config: AgentConfig) -> Model:
    """The Pydantic AI model for ``config.model``; cheap, no I/O, no weights loaded."""
    backend, name = parse_model(config.model)
    if backend == "mlx":
        # Lazy: mlx-lm is slow to import. The module is the mlx backend (built alongside).
        from agent.mlx_model import MlxModel

        return MlxModel(
            name, draft_model=_strip_mlx(config.draft_model), adapter_path=config.adapter
        )
    if config.adapter is not None:
        adapter = SETTING_NAMES[config.surface]["adapter"]
        raise ModelSpecError(
            f"{adapter} ({config.adapter}) needs an mlx: model, not {config.model!r}: fuse it "
            "(punie-lsp train fuse) and serve the fused model instead"
        )
    if backend == "openai":
        return _openai_model(name, config)
    return TestModel(call_tools=[], custom_output_text=name or "test answer")


def _strip_mlx(draft: str | None) -> str | None:
    """Accept the draft model with or without the ``mlx:`` prefix, like the main model."""
    if draft is None:
        return None
    return draft.removeprefix("mlx:")


def _openai_model(name: str, config: AgentConfig) -> Model:
    # Here, not at the top: the OpenAI client and Pydantic AI's OpenAI model take ~3 s
    # to import on this machine, paid only by an ``openai:`` model.
    import httpx2
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient, Timeout
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    from agent._stream_end import StreamEndCheck  # imports httpx2, as the client does

    api_key = config.api_key or os.environ.get("OPENAI_API_KEY")
    client = AsyncOpenAI(
        # Always the user's own: with None the client picks an endpoint itself.
        base_url=_base_url(name, config),
        # Local servers ignore the key, but the client refuses to start without one.
        api_key=api_key or "not-needed",
        # No retries: a local server that refused a connection is down, and a
        # user waiting in the editor should hear so in seconds, not after backoffs.
        max_retries=0,
        timeout=Timeout(config.request_timeout_seconds, connect=config.connect_timeout_seconds),
        # A stream that ends before the reply does fails, naming why (agent/_stream_end.py).
        http_client=DefaultAsyncHttpxClient(transport=StreamEndCheck(httpx2.AsyncHTTPTransport())),
    )
    return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))


def _base_url(name: str, config: AgentConfig) -> str:
    """The server an ``openai:`` model talks to: ``config.base_url``, never a default.

    Given None, the OpenAI client sends the prompt (and the user's code in it) to
    ``OPENAI_BASE_URL`` or else api.openai.com: with ``OPENAI_API_KEY`` set for another
    tool, a model meant for a local server (a ``baseUrl`` left out, or dropped as
    invalid) answered from OpenAI. So there is no default endpoint; OpenAI itself is
    ``https://api.openai.com/v1``, written like any other server."""
    if config.base_url is None:
        setting = SETTING_NAMES[config.surface]["base_url"]
        raise ModelSpecError(
            f"model 'openai:{name}' needs a base URL ({setting}): the server's address with "
            "its /v1 path, e.g. http://127.0.0.1:8080/v1 for mlx_lm.server, or "
            "https://api.openai.com/v1 for OpenAI itself; there is no default server"
        )
    return config.base_url


def describe_model_error(config: AgentConfig, exc: BaseException) -> str:
    """What failed, named by model and URL, and what to change, in the user's own terms.

    Settings are named as ``config.surface`` names them (``punie.baseUrl`` in an editor,
    ``--base-url`` on the command line). A server that refuses the ``tools`` of the
    request (Ollama: "does not support tools"; vLLM without ``--enable-auto-tool-choice``;
    llama.cpp without ``--jinja``) is named as such: Code Mode needs its one tool.
    """
    backend, name = parse_model(config.model)
    names = SETTING_NAMES[config.surface]
    where = f"the OpenAI-compatible server at {config.base_url}"
    if backend == "openai":
        if isinstance(exc, ModelTimeoutError):
            timeout = names["request_timeout_seconds"]
            return (
                f"model 'openai:{name}': {where} sent nothing for "
                f"{config.request_timeout_seconds:g} s ({timeout}); check that it is running "
                f"and not overloaded, or raise {timeout} for a slow machine"
            )
        if isinstance(exc, ModelConnectionError) and (ended := _stream_ended(exc)):
            if ended.startswith("answered"):  # nothing of a reply came
                return f"model 'openai:{name}': {where} {ended}; check the server's log"
            return (
                f"model 'openai:{name}': {where} {ended}; what it sent is kept. Check the "
                "server's log (it may have crashed or run out of memory) and ask again"
            )
        if isinstance(exc, ModelConnectionError) and not _not_reached(exc):
            return (
                f"model 'openai:{name}': the connection to {where} broke while it answered "
                f"({_cause_line(exc)}); what it sent is kept. Check the server's log (it may "
                "have crashed or run out of memory) and ask again"
            )
        if isinstance(exc, ModelConnectionError):
            return (
                f"model 'openai:{name}': cannot reach {where} ({_cause_line(exc)}); start the "
                f"server (e.g. `mlx_lm.server --port 8080`) or fix {names['base_url']}"
            )
        if isinstance(exc, ModelNotFoundError):
            return (
                f"model 'openai:{name}': {where} does not serve this model "
                f"({_server_says(exc)}); set {names['model']} to one it lists at "
                f"{config.base_url}/models, or check that {names['base_url']} ends in the "
                "server's API path (usually /v1)"
            )
        if isinstance(exc, ModelHTTPError) and exc.status_code in (401, 403):
            return (
                f"model 'openai:{name}': {where} refused the API key (HTTP {exc.status_code}: "
                f"{_server_says(exc)}); set OPENAI_API_KEY to the server's key in the "
                "environment punie-lsp starts in (the editor's), or start the server without one"
            )
        if isinstance(exc, ModelHTTPError) and _context_exceeded(exc):
            return (
                f"model 'openai:{name}': {where} cannot fit the prompt in its context window "
                f"(HTTP {exc.status_code}: {_server_says(exc)}); start the server with a larger "
                "context (llama.cpp --ctx-size, Ollama num_ctx): the agent's instructions alone "
                "are about 2,400 tokens, and each turn adds its history"
            )
        if isinstance(exc, ModelHTTPError) and _refuses_tools(exc):
            return (
                f"model 'openai:{name}': {where} does not accept tool calls for this model "
                f"(HTTP {exc.status_code}: {_server_says(exc)}); choose a model with tool "
                "support, or start the server with it (vLLM: --enable-auto-tool-choice "
                "--tool-call-parser hermes; llama.cpp: --jinja)"
            )
        if isinstance(exc, ModelHTTPError):
            said = "sent an error in its stream" if exc.in_stream else "answered"
            return (
                f"model 'openai:{name}': {where} {said} (HTTP {exc.status_code}): "
                f"{_server_says(exc)}"
            )
        if isinstance(exc, ModelAPIError):
            return (
                f"model 'openai:{name}' at {config.base_url}: {error_line(exc)}; check that "
                f"{names['base_url']} is the server's OpenAI-compatible API (usually …/v1)"
            )
    if backend == "mlx":
        # Loaded already: the model was built from agent.mlx_model, so this costs nothing.
        from agent.mlx_model import MlxAdapterLoadError, MlxDraftLoadError, MlxWorkerExited

        if isinstance(exc, MlxAdapterLoadError):
            return (
                f"model 'mlx:{name}' with {names['adapter']} {config.adapter!r}: "
                f"{error_line(exc).rstrip('.')}; fix {names['adapter']}, or remove it to run "
                "the model without the adapter"
            )
        if isinstance(exc, MlxDraftLoadError):
            draft = names["draft_model"]
            return (
                f"model 'mlx:{name}' with {draft} {config.draft_model!r}: "
                f"{error_line(exc).rstrip('.')}; fix {draft}, or remove it (a draft model "
                "only speeds answers up)"
            )

        if isinstance(exc, MlxWorkerExited):
            return (
                f"model 'mlx:{name}' stopped: {error_line(exc).rstrip('.')}; ask again: the "
                "next command starts it again (if it ran out of memory, choose a smaller "
                f"model in {names['model']})"
            )
        return (
            f"model 'mlx:{name}' could not be used: {error_line(exc).rstrip('.')}. Check the "
            f"Hugging Face repo or local path in {names['model']}, or use an OpenAI-compatible "
            f"server ({names['model']} openai:<name> with {names['base_url']})"
        )
    return f"model {config.model!r} failed: {type(exc).__name__}: {error_line(exc)}"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (``raise … from``), outermost first."""
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _stream_ended(exc: BaseException) -> str | None:
    # Here: the module imports httpx2 (the OpenAI client's), loaded by an openai: model only.
    from agent._stream_end import StreamEnded

    return next((str(e) for e in _causes(exc) if isinstance(e, StreamEnded)), None)


def _not_reached(exc: BaseException) -> bool:
    """The connection was never made (refused, no route, connect timeout), as opposed to
    one that broke after the server began to answer."""
    import httpx2  # the OpenAI client's HTTP library: loaded by an openai: model only

    causes = _causes(exc)
    return any(
        isinstance(e, httpx2.ConnectError | httpx2.ConnectTimeout) for e in causes
    ) or not any(isinstance(e, httpx2.TransportError) for e in causes)


def _cause_line(exc: BaseException) -> str:
    """The transport's own words (``All connection attempts failed``), not the client's
    ``Connection error.``."""
    import httpx2  # the OpenAI client's HTTP library: loaded by an openai: model only

    cause = next((e for e in _causes(exc) if isinstance(e, httpx2.TransportError)), exc)
    return error_line(cause) or type(cause).__name__


def _server_says(exc: ModelAPIError) -> str:
    """The server's own message out of its error body (``{"error": {"message": …}}``,
    ``{"error": "…"}`` as Ollama writes it, ``{"message": …}``, or text), in one line;
    Pydantic AI's ``status_code: …, model_name: …, body: {…}`` otherwise."""
    body = exc.body
    if isinstance(body, dict) and "error" in body:
        body = body["error"]
    if isinstance(body, dict):
        body = body.get("message") or body.get("detail")
    if isinstance(body, str) and body.strip():
        return " ".join(body.split()).rstrip(".")
    return error_line(exc)


def _context_exceeded(exc: ModelHTTPError) -> bool:
    """llama.cpp's ``exceed_context_size_error`` (ggml-org/llama.cpp#15780: "the request
    exceeds the available context size…", HTTP 400 or 500, or in the stream), vLLM's
    "maximum context length", LM Studio's MLX "Context size has been exceeded"."""
    text = f"{exc.provider_error_type} {_server_says(exc)}".lower()
    return any(
        words in text
        for words in (
            "exceed_context_size",
            "context size",
            "maximum context length",
            "context length",
        )
    )


def _refuses_tools(exc: ModelHTTPError) -> bool:
    text = f"{exc} {getattr(exc, 'body', '')}".lower()
    return exc.status_code in (400, 422, 500, 501) and (
        "tool" in text or "--jinja" in text or "function" in text
    )
