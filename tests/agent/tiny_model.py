"""A tiny mlx-lm model made on the spot: the real loading and generation code on CPU.

No weights can be downloaded here and mlx's CPU matmul is slow, so tests and benchmarks
use a 2-layer qwen2 (hidden 64) with a byte-level BPE tokenizer trained locally and a
Qwen3-Coder-style chat template (``<tool_call>\\n<function=…>``, which mlx-lm maps to
its ``qwen3_coder`` tool parser).

Why it is *trained* rather than steered by a logits processor: the same directory is
served by ``mlx_lm server`` for the ``openai:`` path and the in-process/server
benchmark, and a server cannot be handed a logits processor. A few hundred Adam steps
overfit two rules the tests rely on, read off the last turn at greedy decoding
(temperature 0):

- after a user turn: a Qwen3-Coder tool call of ``execute_code`` running ``TOOL_CODE``;
- after a tool response: ``ANSWER`` and the stop token.

First, a short pre-training (next-token prediction over a corpus holding the agent's
real instructions, some Python and the chat markup) gives every token a trained
embedding, as a real base model has; that checkpoint is kept in ``base/``
(``tiny_base_model_dir()``), where fine-tuning starts. Then the rules: training scores
only the reply tokens, on windows that end at the reply (the rules are local), and the
tool-call markup is made of single added tokens, so a 2-layer model learns it in a few
hundred steps on CPU. Long contexts (hundreds of tokens of history) can still derail it: tests
keep conversations short, and assert token counts, not text, where a reply's content
does not matter.

Building takes two to four minutes on CPU, so the result is kept under the system temp
dir keyed by a hash of this recipe (``tiny_model_dir()``), and reused by later sessions.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TOOL_CODE = "print(6 * 7)"
ANSWER = "The answer is 42."
EXECUTE_CODE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "execute_code",
        "description": "Run Python code in the sandbox; the typed tools are functions in it.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "Python source to run."}},
            "required": ["code"],
            "additionalProperties": False,
        },
    },
}
"""The tool as the template sees it: what ``MlxModel`` renders for an ``execute_code(code)``."""

CHAT_TEMPLATE = """\
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}
{{- '# Tools\\n\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}
{{- '\\n</tools>\\n\\nTo call a function reply with\\n<tool_call>\\n<function=NAME>\\n\
<parameter=ARG>\\nVALUE\\n</parameter>\\n</function>\\n</tool_call><|im_end|>\\n' }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'user' or message.role == 'system' %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}
{%- for tool_call in message.tool_calls or [] %}
{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}
{{- '\\n<tool_call>\\n<function=' + tool_call.name + '>\\n' }}
{%- for name, value in tool_call.arguments | items %}
{{- '<parameter=' + name + '>\\n' + (value | string) + '\\n</parameter>\\n' }}
{%- endfor %}
{{- '</function>\\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}
{%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""
"""Qwen3-Coder's chat format, trimmed: tools listed in the system turn, XML tool calls,
tool results gathered in one user turn. Assistant content is placed right after the
header, so a reply the model generates re-renders to the same tokens next turn."""

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MARKUP = [
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<function=execute_code>\n",
    "<parameter=code>\n",
    "\n</parameter>\n",
    "</function>\n",
]
"""Tool-call markup as single (non-special) tokens: a shorter reply to learn, same text."""
CONFIG: dict[str, Any] = {
    "model_type": "qwen2",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": True,
}
VOCAB_SIZE = 1536
PRETRAIN_STEPS = 300
PRETRAIN_WINDOW = 96
TRAIN_STEPS = 400
BATCH = 8
WINDOW_LR = 5e-3
SEED = 7
RECIPE = 4
"""Bump when the build changes in a way the hashed constants do not show."""
BASE = "base"
"""The sub-folder holding the pre-trained checkpoint (``tiny_base_model_dir``)."""

_WORDS = [
    "what",
    "does",
    "this",
    "function",
    "return",
    "fix",
    "the",
    "failing",
    "test",
    "explain",
    "the",
    "error",
    "in",
    "main.py",
    "run",
    "the",
    "tests",
    "please",
    "check",
    "types",
    "rename",
    "the",
    "variable",
    "add",
    "a",
    "docstring",
    "why",
    "is",
    "ruff",
    "complaining",
    "list",
    "the",
    "files",
    "find",
    "references",
    "to",
    "parse",
    "hello",
    "there",
    "compute",
    "six",
    "times",
    "seven",
]


def tiny_model_dir(root: Path | None = None) -> Path:
    """The tiny model's directory, built once per recipe and reused across sessions.

    Built in a sibling temp folder and renamed into place, so a crash mid-build (or
    two sessions at once) never leaves a half-written model that ``mlx_lm.load`` would
    half-read.
    """
    root = root or Path(os.environ.get("PUNIE_TINY_MODEL_CACHE", tempfile.gettempdir()))
    digest = hashlib.sha256(
        json.dumps(
            [
                RECIPE,
                CHAT_TEMPLATE,
                CONFIG,
                VOCAB_SIZE,
                PRETRAIN_STEPS,
                PRETRAIN_WINDOW,
                TRAIN_STEPS,
                BATCH,
                WINDOW_LR,
                SEED,
                _WORDS,
                _recipe(),
            ]
        ).encode()
    ).hexdigest()[:12]
    target = root / f"punie-tiny-mlx-{digest}"
    if (target / "model.safetensors").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="building-", dir=root))
    try:
        build_tiny_model(work)
        try:
            work.rename(target)
        except OSError:
            if not (target / "model.safetensors").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def tiny_base_model_dir(root: Path | None = None) -> Path:
    """The tiny model as it was after pre-training, before the rules: a base to fine-tune.

    The rules make the model reply the same whatever the prompt says, so a fine-tune
    that must tell prompts apart starts from this checkpoint (same tokenizer and chat
    template), as a real fine-tune starts from a base or instruct model.
    """
    return tiny_model_dir(root) / BASE


def _recipe() -> list[str]:
    """The training conversations' fixed texts: part of the cache key."""
    return [TOOL_CODE, ANSWER, json.dumps(EXECUTE_CODE_TOOL), *_agent_prompt()]


def _agent_prompt() -> list[str]:
    """The live agent's instructions and tool schema, as the tokenizer's corpus holds them.

    A real model's tokenizer, trained on English and Python, spends about a token per
    word of them; one trained on a few strings spends one per 1.7 characters (3,700
    tokens for the instructions instead of 1,600), and training on agent-format rows
    costs the square of that (attention), ~4x the time per step.
    """
    from training.rows import code_mode_instructions, execute_code_tools

    tools = "\n".join(json.dumps(tool) for tool in execute_code_tools())
    return [code_mode_instructions(), tools]


def _corpus() -> list[str]:
    python = [
        "def add(a: int, b: int) -> int:\n    return a + b\n",
        "import os\nfrom pathlib import Path\n\nprint(Path('.').resolve())\n",
        "result = typecheck('src/app.py')\nif not result.success:\n    print(result.errors)\n",
        "for v in ruff_check('.').violations:\n    print(v.file, v.line, v.code, v.message)\n",
        "class Point:\n    x: float\n    y: float\n\n    def norm(self) -> float:\n"
        "        return (self.x ** 2 + self.y ** 2) ** 0.5\n",
        TOOL_CODE,
    ]
    chat = [
        "<|im_start|>system\nYou are a coding agent.<|im_end|>\n<|im_start|>user\n",
        "<|im_start|>assistant\n<tool_call>\n<function=execute_code>\n<parameter=code>\n"
        f"{TOOL_CODE}\n</parameter>\n</function>\n</tool_call><|im_end|>\n",
        "<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n",
        ANSWER,
        json.dumps(EXECUTE_CODE_TOOL),
        '{"name": "execute_code", "arguments": {"code": "print(1)"}}',
        "# Tools\n\n<tools>\n</tools>\n\nTo call a function reply with\n",
        " ".join(_WORDS),
    ]
    return (python + chat + _agent_prompt()) * 20


def _train_tokenizer(directory: Path) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKUP])
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "Qwen2Tokenizer",
                "eos_token": "<|im_end|>",
                "pad_token": "<|endoftext|>",
                "bos_token": None,
                "add_bos_token": False,
                "model_max_length": 4096,
                "chat_template": CHAT_TEMPLATE,
            },
            indent=1,
        )
    )


def _conversations(rng: random.Random) -> list[tuple[list[dict[str, Any]], bool, str]]:
    """(messages, tools offered?, the reply to learn) for the three rules, varied."""

    def prompt() -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12)))

    def system() -> list[dict[str, Any]]:
        return [{"role": "system", "content": prompt()}] if rng.random() < 0.7 else []

    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "execute_code", "arguments": {"code": TOOL_CODE}}}],
    }
    tool_reply = (
        "<tool_call>\n<function=execute_code>\n<parameter=code>\n"
        f"{TOOL_CODE}\n</parameter>\n</function>\n</tool_call>"
    )
    out: list[tuple[list[dict[str, Any]], bool, str]] = []
    for _ in range(48):
        history: list[dict[str, Any]] = []
        for _ in range(rng.randint(0, 2)):
            history += [
                {"role": "user", "content": prompt()},
                call,
                {"role": "tool", "content": rng.choice(["42", prompt()])},
                {"role": "assistant", "content": ANSWER},
            ]
        user = {"role": "user", "content": prompt()}
        tool = {"role": "tool", "content": rng.choice(["42", "", prompt()])}
        out.append(([*system(), *history, user], True, tool_reply))
        out.append(([*system(), *history, user, call, tool], True, ANSWER))
    return out


def build_tiny_model(directory: Path) -> None:
    """Tokenizer, config and trained weights into ``directory`` (what ``mlx_lm.load`` reads)."""
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx.utils import tree_flatten
    from mlx_lm.models import qwen2
    from transformers import AutoTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    _train_tokenizer(directory)
    # config.json first: transformers picks the tokenizer class (and its pre-tokenizer)
    # from the model type, and training must tokenize exactly as mlx_lm.load will.
    (directory / "config.json").write_text(json.dumps(CONFIG))
    hf: Any = AutoTokenizer.from_pretrained(directory)  # transformers' stubs allow None
    eos = hf.convert_tokens_to_ids("<|im_end|>")
    config = {**CONFIG, "vocab_size": len(hf), "eos_token_id": eos}
    (directory / "config.json").write_text(json.dumps(config, indent=1))

    rng = random.Random(SEED)
    mx.random.seed(SEED)
    rows: list[tuple[list[int], int]] = []
    for messages, with_tools, reply in _conversations(rng):
        prompt = hf.apply_chat_template(
            messages,
            tools=[EXECUTE_CODE_TOOL] if with_tools else None,
            add_generation_prompt=True,
            tokenize=False,
        )
        prompt_ids = hf.encode(prompt, add_special_tokens=False)
        reply_ids = [*hf.encode(reply, add_special_tokens=False), eos]
        rows.append(([*prompt_ids, *reply_ids], len(prompt_ids)))

    model = qwen2.Model(qwen2.ModelArgs.from_dict(config))
    optimizer = optim.AdamW(learning_rate=WINDOW_LR, weight_decay=0.0)

    def loss(model: nn.Module, inputs: mx.array, targets: mx.array, at: mx.array) -> mx.array:
        # Only reply positions are scored, so the vocabulary projection runs on those alone.
        hidden = model.model(inputs)
        picked = hidden.reshape(-1, hidden.shape[-1])[at]
        logits = model.model.embed_tokens.as_linear(picked)
        return nn.losses.cross_entropy(logits, targets.reshape(-1)[at]).mean()

    # Pre-training: next-token prediction over the corpus (the agent's instructions,
    # Python, chat markup), so every token the tokenizer knows gets a trained embedding.
    # With random ones, the tied output layer makes a fine-tune learn each new token the
    # hard way, and the training benchmark would measure that instead of fine-tuning.
    text_ids = [[*hf.encode(t, add_special_tokens=False), eos] for t in dict.fromkeys(_corpus())]
    stream = [i for ids in text_ids for i in ids]

    def lm_loss(model: nn.Module, inputs: mx.array, targets: mx.array) -> mx.array:
        return nn.losses.cross_entropy(model(inputs), targets).mean()

    lm_step = nn.value_and_grad(model, lm_loss)
    for _ in range(PRETRAIN_STEPS):
        starts = [rng.randrange(len(stream) - PRETRAIN_WINDOW - 1) for _ in range(BATCH)]
        windows = [stream[s : s + PRETRAIN_WINDOW + 1] for s in starts]
        _, grads = lm_step(
            model, mx.array([w[:-1] for w in windows]), mx.array([w[1:] for w in windows])
        )
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)

    # The pre-trained checkpoint is a base model with no fixed behaviour, as a real one
    # is: what fine-tuning starts from (``tiny_base_model_dir``). The rules below teach
    # the model to ignore what the user wrote, which a fine-tune must first unlearn.
    base = directory / BASE
    base.mkdir()
    for item in directory.iterdir():
        if item.is_file():
            shutil.copy2(item, base / item.name)
    mx.save_safetensors(str(base / "model.safetensors"), dict(tree_flatten(model.parameters())))

    step = nn.value_and_grad(model, loss)
    for _ in range(TRAIN_STEPS):
        chosen = [rng.choice(rows) for _ in range(BATCH)]
        windows = []
        for ids, start in chosen:
            # The rules are read off the last turn, so a window ending at the reply is
            # enough to learn them; varied lengths keep longer contexts from distracting.
            first = max(0, start - rng.choice((8, 16, 24, 32, 48, 96, 160)))
            windows.append((ids[first:], start - first))
        width = max(len(ids) for ids, _ in windows) - 1
        inputs, targets, positions = [], [], []
        for row, (ids, start) in enumerate(windows):
            pad = width - (len(ids) - 1)
            inputs.append(ids[:-1] + [0] * pad)
            targets.append(ids[1:] + [0] * pad)
            positions += [row * width + p for p in range(start - 1, len(ids) - 1)]
        _, grads = step(model, mx.array(inputs), mx.array(targets), mx.array(positions))
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)
    mx.save_safetensors(
        str(directory / "model.safetensors"), dict(tree_flatten(model.parameters()))
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlx_server(model_dir: Path, hub_cache: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``mlx_lm server`` on a free loopback port, answering ``/v1/models``; or it fails.

    ``HF_HUB_CACHE`` must name an existing folder or ``/v1/models`` fails (it lists the
    cache), and offline mode keeps the hub client from trying the network.
    """
    port = free_port()
    log = (hub_cache / "server.log").open("wb")
    env = {**os.environ, "HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "mlx_lm", "server", "--model", str(model_dir)]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=1.0) as answer:
                if answer.status == 200:
                    return process, base_url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            # Bounded wait that also notices a server that died.
            code = process.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"mlx_lm server exited {code}: {(hub_cache / 'server.log').read_text()}")
    process.kill()
    raise RuntimeError(f"mlx_lm server never answered: {(hub_cache / 'server.log').read_text()}")


def stop_mlx_server(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it does not exit within ten seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
