"""A streamed reply split into text, thinking and whole tool-call spans (the ``mlx:`` backend).

mlx-lm's ``TextStateMachine`` (its server's reading of a stream) strips the markers of
the model's chat template and tells text from reasoning and tool spans; ``ReplySplitter``
drives it character by character with one workaround, Qwen3-Coder markers inside a
value (``agent.tool_calls``, which reads the spans it emits, explains it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.tool_calls import XML_END, XML_START

__all__ = ["ReplySplitter", "Segment"]


Segment = tuple[Literal["text", "thinking", "tool"], str]


@dataclass
class ReplySplitter:
    """Streaming split of decoded text into text, thinking and complete tool spans.

    Wraps mlx-lm's ``TextStateMachine`` as its server drives it: markers are stripped,
    text that may be the start of a marker is held back until it is known not to be,
    and a tool span is emitted whole when its end marker arrives (or the reply ends
    inside it). One difference, the marker workaround: an end marker that arrives while
    the span is an unfinished call (a Qwen3-Coder ``<function=`` without its
    ``</function>``, a JSON object still open) is part of the code, not the end, so the
    span goes on. Text is fed one character at a time to see where that happens. A
    value holding ``</function>`` right before ``</tool_call>`` still ends the span: a
    stream cannot tell that from the real end without reading ahead.
    """

    machine: Any
    """``mlx_lm.generate.make_text_state_machine(tokenizer)``: its static ``split``,
    ``flush`` and ``discard`` are called through it, so this module never imports mlx-lm."""
    tool_call_end: str | None = None
    """The tokenizer's end marker (``tokenizer.tool_call_end``), for the workaround."""
    _state: Any = field(init=False)
    _tool: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._state = self.machine.make_state("normal")

    def feed(self, text: str) -> list[Segment]:
        """Segments completed by this chunk of decoded text."""
        out: list[Segment] = []
        for char in text:
            before = self._state[0]
            self._state, segments = self.machine.split(self._state, char)
            if before == "tool" and self._state[0] != "tool" and self._unfinished():
                # The end marker was code: keep it, stay in the span.
                tool_text = "".join(t for s, t in segments if s == "tool")
                self._tool.append(tool_text + (self.tool_call_end or ""))
                self._state = self.machine.make_state("tool")
                continue
            out.extend(self._route(segments))
        return _merge(out)

    def _unfinished(self) -> bool:
        if not self.tool_call_end:
            return False
        span = "".join(self._tool).strip()
        if span.startswith(XML_START):
            return XML_END.search(span) is None
        if span.startswith("{"):
            try:
                json.JSONDecoder().raw_decode(span)
            except json.JSONDecodeError:
                return True
        return False

    def finish(self, reason: str | None) -> list[Segment]:
        """The rest: held-back text is kept when the reply was cut off, dropped on a stop."""
        if reason == "stop":
            self._state, current = self.machine.discard(self._state)
            segments = [(current, "")]
        else:
            self._state, flushed, current = self.machine.flush(self._state)
            segments = [(current, flushed)]
        out = self._route(segments)
        if self._tool:
            out.append(("tool", "".join(self._tool)))
            self._tool = []
        return _merge(out)

    def _route(self, segments: Iterable[tuple[str | None, str]]) -> list[Segment]:
        out: list[Segment] = []
        for state, text in segments:
            if state == "tool":
                self._tool.append(text)
                continue
            if self._tool:
                out.append(("tool", "".join(self._tool)))
                self._tool = []
            if text:
                out.append(("thinking" if state == "reasoning" else "text", text))
        return out


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join neighbouring text (or thinking) pieces: one segment per run, as a chunk gave."""
    out: list[Segment] = []
    for kind, text in segments:
        if out and kind != "tool" and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))
    return out
