"""Scripted OpenAI-compatible servers that stream the way real local model servers do.

Each ``Shape`` is one server's habit for a tool call, reproduced chunk by chunk from a
public report of what it sent (the docstring names it). ``ShapeServer`` listens on
127.0.0.1 and plays the current shape: a tool call calling ``execute_code`` with
``CODE`` first, then, once it is sent the tool's result, an answer. It records every
request body, so a test can check what the agent sent back (the code as it was
understood, the tool result).

A fake only because these servers cannot run here (no Ollama, llama.cpp, vLLM or LM
Studio binaries, no GPU); ``mlx_lm server``, which can, is used for real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "ANSWER",
    "CODE",
    "CUT_ANSWER",
    "CUT_CALL",
    "FAULTS",
    "SHAPES",
    "Chunk",
    "Fault",
    "Shape",
    "ShapeServer",
    "shape_server",
    "silent_server",
]

CODE = 'markers = "</parameter> </function> </tool_call>"\nprint(6 * 7)'
"""The program every shape calls: its output is 42, and it holds the very markers that
delimit calls in the XML and hermes forms (a parser that cuts there loses the call)."""
ANSWER = "The answer is 42."

Chunk = dict[str, Any]
Shape = Callable[[str], list[Chunk]]
"""code -> the chunks (``choices[0]`` of each ``chat.completion.chunk``) of a tool call."""


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Chunk:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def content(text: str, finish: str = "stop") -> list[Chunk]:
    """Text streamed a few characters per chunk, as every server streams content."""
    return (
        [chunk({"role": "assistant", "content": ""})]
        + [chunk({"content": piece}) for piece in pieces(text)]
        + [chunk({}, finish=finish)]
    )


def ollama_json_content(code: str) -> list[Chunk]:
    """Ollama, qwen2.5-coder: the call is JSON text in ``content``, ``tool_calls`` null.

    ollama/ollama#12174: "model emits bare JSON in `content`, `tool_calls` is `null`"
    (``{"name": "calculator", "arguments": {"expr": "17 * 23"}}``), finish ``stop``.
    """
    return content(json.dumps({"name": "execute_code", "arguments": {"code": code}}))


def ollama_tool_calls(code: str) -> list[Chunk]:
    """Ollama's ``/v1``: the whole call in one chunk, then ``finish_reason: "stop"``.

    Ollama parses the call after generation and sends it complete (id ``call_…``,
    arguments a string); its streamed tool calls ended with ``stop`` until
    ollama/ollama#7963 ("openai: finish streaming tool calls as tool_calls").
    """
    call = {
        "index": 0,
        "id": "call_k2q8d1ma",
        "type": "function",
        "function": {"name": "execute_code", "arguments": json.dumps({"code": code})},
    }
    return [chunk({"role": "assistant", "content": "", "tool_calls": [call]}), chunk({}, "stop")]


def llama_cpp(code: str) -> list[Chunk]:
    """llama.cpp ``llama-server --jinja``: the name (and id) repeated in every chunk.

    ggml-org/llama.cpp#13774: "the deltas returned from the api contain the complete
    tool name in each delta, only the arguments part is chunked", so Pydantic AI built
    ``final_resultfinal_resultfinal_result``.
    """
    out = [chunk({"role": "assistant", "content": None})]
    for piece in ["", *pieces(json.dumps({"code": code}), 16)]:
        call = {
            "index": 0,
            "id": "AbCdEf123",
            "type": "function",
            "function": {"name": "execute_code", "arguments": piece},
        }
        out.append(chunk({"tool_calls": [call]}))
    return [*out, chunk({}, "tool_calls")]


def llama_cpp_object_arguments(code: str) -> list[Chunk]:
    """llama.cpp builds that sent ``arguments`` as a JSON object, not a string.

    ggml-org/llama.cpp#20198: "llama-server tool_calls returns arguments as JSON object
    instead of string, breaking OpenAI compatibility" (reverted by #20202 behind a flag).
    """
    call = {
        "index": 0,
        "id": "AbCdEf123",
        "type": "function",
        "function": {"name": "execute_code", "arguments": {"code": code}},
    }
    return [chunk({"role": "assistant", "tool_calls": [call]}), chunk({}, "tool_calls")]


def vllm_hermes(code: str) -> list[Chunk]:
    """vLLM ``--tool-call-parser hermes``: name and id first, then argument fragments.

    vllm-project/vllm#5649 (the streaming hermes parser) and #10395 (its argument
    deltas): the first delta carries ``id``, ``type`` and ``function.name`` with no
    arguments; later deltas carry only ``index`` and ``function.arguments`` pieces.
    """
    first = {"index": 0, "id": "chatcmpl-tool-9f1c", "type": "function"}
    out = [chunk({"role": "assistant", "content": ""})]
    out.append(chunk({"tool_calls": [{**first, "function": {"name": "execute_code"}}]}))
    for piece in pieces(json.dumps({"code": code}), 5):
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    return [*out, chunk({}, "tool_calls")]


def vllm_hermes_as_text(code: str) -> list[Chunk]:
    """vLLM whose hermes parser missed the call: raw ``<tool_call>`` text, finish ``stop``.

    vllm-project/vllm#32506 (fixing #31871): "Tool calls are returned as raw text
    `<tool_call>...</tool_call>` in the content field", "`finish_reason` is incorrectly
    set to `stop`".
    """
    body = json.dumps({"name": "execute_code", "arguments": {"code": code}})
    return content(f"<tool_call>\n{body}\n</tool_call>")


def lm_studio(code: str) -> list[Chunk]:
    """LM Studio: an empty id, an empty name after the first chunk, arguments in one piece.

    lmstudio-ai/lmstudio-bug-tracker#830 (``"id": ""`` on a tool call, then "Invalid
    'messages' in payload" when it comes back), #649 ("parts after the first given with
    an empty function name field") and #1868 (arguments "in one chunk instead of
    multiple chunks").
    """
    first = {"index": 0, "id": "", "type": "function"}
    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"tool_calls": [{**first, "function": {"name": "execute_code", "arguments": ""}}]}),
        chunk(
            {
                "tool_calls": [
                    {**first, "function": {"name": "", "arguments": json.dumps({"code": code})}}
                ]
            }
        ),
        chunk({}, "tool_calls"),
    ]


def qwen3_coder_as_text(code: str) -> list[Chunk]:
    """Qwen3-Coder's XML call left in ``content`` (a server without its parser).

    The form of ollama/ollama#17914 (``<function=…><parameter=…>``), with a value that
    contains the markers themselves, as in raullenchai/Rapid-MLX#1515 ("truncates tool
    ARGUMENTS at a literal </tool_call> or </parameter>").
    """
    call = f"<function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n</function>"
    return content(f"I will run it.\n<tool_call>\n{call}\n</tool_call>")


SHAPES: dict[str, Shape] = {
    "ollama-json-content": ollama_json_content,
    "ollama-tool-calls": ollama_tool_calls,
    "llama-cpp": llama_cpp,
    "llama-cpp-object-arguments": llama_cpp_object_arguments,
    "vllm-hermes": vllm_hermes,
    "vllm-hermes-as-text": vllm_hermes_as_text,
    "lm-studio": lm_studio,
    "qwen3-coder-as-text": qwen3_coder_as_text,
}


PARTIAL = "Let me look at "
"""What a faulty server sends before it breaks (the faults below that stream text)."""

Fault = Callable[[BaseHTTPRequestHandler], None]
"""Writes a whole faulty answer to a chat completion request (status, headers, body)."""


def _sse(item: dict[str, Any] | str) -> bytes:
    return f"data: {item if isinstance(item, str) else json.dumps(item)}\n\n".encode()


def closed_mid_answer(handler: BaseHTTPRequestHandler) -> None:
    """``mlx_lm server`` (HTTP/1.0: the body ends when the connection closes) killed or
    out of memory mid-answer: text chunks, then the connection closes, no
    ``finish_reason``, no ``[DONE]``. The failure vercel/ai#19165 ("truncated SSE
    finishes as other with no finish_reason") and can1357/oh-my-pi#8563 ("the partial
    message was finalized as a clean stop") describe."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    for item in content(PARTIAL)[:-1]:
        handler.wfile.write(_sse(item))


def closed_mid_chunked_answer(handler: BaseHTTPRequestHandler) -> None:
    """A chunked (HTTP/1.1) server that dies mid-answer (uvicorn under vLLM, llama.cpp's
    httplib): the client sees "peer closed connection without sending complete message
    body"; the server was reached, so it is not "cannot reach" (CommandCodeAI/command-code#785:
    "SSE stream ends silently mid-tool-call … (no [DONE], no finish_reason)")."""
    handler.protocol_version = "HTTP/1.1"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for item in content(PARTIAL)[:-1]:
        data = _sse(item)
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    handler.wfile.flush()
    handler.close_connection = True


def error_body_with_200(handler: BaseHTTPRequestHandler) -> None:
    """HTTP 200 with a JSON error body to a streamed request (runpod-workers/worker-vllm#57:
    ``HTTP/2 200`` and ``{"code":404,"message":"The model … does not exist.", "object":
    "error"}``): the server's message must reach the user."""
    body = json.dumps(
        {
            "code": 404,
            "message": "The model `qwen-coder` does not exist.",
            "object": "error",
            "param": None,
            "type": "NotFoundError",
        }
    ).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _json_error(status: int, error: dict[str, Any]) -> Fault:
    def fault(handler: BaseHTTPRequestHandler) -> None:
        body = json.dumps({"error": error}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return fault


_CONTEXT_EXCEEDED = {
    "code": 400,
    "message": "the request exceeds the available context size. try increasing the context "
    "size or enable context shift",
    "type": "exceed_context_size_error",
    "n_prompt_tokens": 2484,
    "n_ctx": 2048,
}
"""llama.cpp's error for a prompt over its context (ggml-org/llama.cpp#15780; sent with
HTTP 400, or inside a 200 stream: oobabooga/textgen#7257, ggml-org/llama.cpp#14566)."""


def _streamed(chunks: list[Chunk]) -> Fault:
    def fault(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for item in chunks:
            handler.wfile.write(_sse(item))
        handler.wfile.write(_sse("[DONE]"))

    return fault


CUT_ANSWER = "The answer is 4"
CUT_CALL = "<tool_call>\n<function=execute_code>\n<parameter=code>\nprint(6 *"
_cut_arguments = {
    "index": 0,
    "id": "call_cut",
    "type": "function",
    "function": {"name": "execute_code", "arguments": '{"code": "print(6 *'},
}

FAULTS: dict[str, Fault] = {
    "closed-mid-answer": closed_mid_answer,
    "closed-mid-chunked-answer": closed_mid_chunked_answer,
    "error-body-with-200": error_body_with_200,
    # Replies cut at max_tokens (finish_reason "length"): an answer, a call written as
    # text, and streamed tool_calls whose arguments are not JSON yet; vLLM keeps "length"
    # on a cut streamed call (vllm-project/vllm#46303), and clients learned not to run
    # it (XpressAI/xaibo#33, jaseci-labs/jac#6766).
    # llama-server --api-key without the key: 401 and its authentication_error.
    "api-key-refused": _json_error(
        401, {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}
    ),
    "context-exceeded": _json_error(400, _CONTEXT_EXCEEDED),
    "context-exceeded-in-stream": _streamed([{"error": _CONTEXT_EXCEEDED}]),
    "cut-answer": _streamed(content(CUT_ANSWER, finish="length")),
    "cut-call-as-text": _streamed(content(CUT_CALL, finish="length")),
    "cut-tool-call-arguments": _streamed(
        [chunk({"role": "assistant", "tool_calls": [_cut_arguments]}), chunk({}, "length")]
    ),
}


def ollama_empty_finish_reason(code: str) -> list[Chunk]:
    """Ollama's ``/v1`` once sent ``finish_reason: ""`` on every chunk, the last included
    (ollama/ollama#4357), and ends with ``[DONE]``: a complete reply, not a cut one."""
    return [
        {**item, "choices": [{**item["choices"][0], "finish_reason": ""}]}
        for item in ollama_tool_calls(code)
    ]


def punie_compact_xml(code: str) -> list[Chunk]:
    """A Punie-tuned model served without a tool parser (Ollama, LM Studio): the call as
    Punie's datasets write it (pauleveritt/punie ``data/phase33_merged``), the tags run
    together with no newlines between them, after a sentence of prose."""
    tags = (
        "<tool_call><function=execute_code><parameter=code>",
        "</parameter></function></tool_call>",
    )
    call = f"{tags[0]}\n{code}\n{tags[1]}"
    return content(f"I'll handle that using the appropriate tool.\n\n{call}")


def garbled_call(code: str) -> list[Chunk]:
    """A call a small model garbled: its markup opened, the program lost. What the tiny
    test model (``tests/agent/tiny_model.py``) wrote in-process for "What is six times
    seven?" at temperature 0 with the agent's whole instructions."""
    return content("<tool_call>\n<function=execute_code>\n)print(6) answer")


SHAPES["ollama-empty-finish-reason"] = ollama_empty_finish_reason
SHAPES["punie-compact-xml"] = punie_compact_xml


class ShapeServer(ThreadingHTTPServer):
    """Plays ``self.shape`` (or ``self.fault`` once set); ``bodies`` holds every request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.shape: Shape = ollama_tool_calls
        self.fault: Fault | None = None
        self.usage = True
        """Send the usage chunk at the end of each stream (some servers do not)."""
        self.script: list[list[Chunk]] | None = None
        """Replies in turn instead of the shape: the Nth request gets ``script[N]`` (a
        recorded conversation replayed; the last reply repeats)."""
        self.bodies: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def tool_messages(self) -> list[str]:
        """What the agent sent back as tool results, over all requests."""
        return [
            str(m["content"])
            for body in self.bodies
            for m in body["messages"]
            if m.get("role") == "tool"
        ]

    def codes_sent_back(self) -> list[str]:
        """The ``execute_code`` programs as the agent understood them (its history)."""
        out: list[str] = []
        for body in self.bodies:
            for message in body["messages"]:
                for call in message.get("tool_calls") or []:
                    out.append(json.loads(call["function"]["arguments"])["code"])
        return out


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server = self.server
        assert isinstance(server, ShapeServer)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.bodies.append(body)
        if server.fault is not None:
            server.fault(self)
            return
        answered = sum(m.get("role") == "tool" for m in body["messages"])
        if server.script is not None:
            chunks = server.script[min(len(server.bodies), len(server.script)) - 1]
        else:
            chunks = content(ANSWER) if answered else server.shape(CODE)
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        tail = [{**chunk({}), "choices": [], "usage": usage}] if server.usage else []
        for item in [*chunks, *tail]:
            self.wfile.write(f"data: {json.dumps(item)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``bodies``."""


@contextmanager
def shape_server() -> Generator[ShapeServer]:
    server = ShapeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def silent_server() -> Generator[str]:
    """The base URL of a server that takes connections and never answers (a hung server).

    A real listening socket that never calls ``accept``: the kernel completes each TCP
    handshake and queues it, the client sends its request, and no byte ever comes back
    (a model server stuck loading, or a proxy holding the connection).
    """
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        host, port = listener.getsockname()[:2]
        yield f"http://{host}:{port}/v1"
