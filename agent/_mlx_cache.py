"""KV caches kept between turns, so each turn prefills only the tokens it adds.

A conversation's prompt grows by appending: the next turn's prompt starts with the
previous prompt and the reply the model generated. Keeping the model's KV cache and
the tokens it holds, a turn needs to run only the tokens after their longest common
prefix through the model. When the prefix diverges (history trimmed or summarised, a
template that re-renders earlier turns differently) the cache is trimmed back to the
common prefix (``trim_prompt_cache``) rather than thrown away.

Caches are keyed by conversation id when the caller gives one; without one, an
anonymous cache is chosen by the longest prefix match, which is right for a single
conversation and for a few interleaved ones. Both kinds are bounded (least recently
used dropped): each holds the keys and values of every cached token.

Only the mlx worker thread touches this pool, so it needs no lock.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CacheEntry", "PromptCaches", "common_prefix_len"]


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class CacheEntry:
    """One KV cache and the tokens whose keys and values it holds, in order."""

    cache: list[Any]
    """The per-layer cache objects from ``make_prompt_cache`` (main model, then draft)."""
    tokens: list[int] = field(default_factory=list)
    """The tokens the cache holds: always ``cache offset`` long."""

    def reuse_for(self, prompt: Sequence[int]) -> int:
        """Trim to the longest prefix shared with ``prompt`` and return its length.

        At least one prompt token is left to prefill, since generation starts from the
        logits of the last prompt token. Returns -1 when the cache would hold tokens the
        prompt does not have and cannot be trimmed (recurrent layers): start afresh.
        """
        from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

        keep = min(common_prefix_len(self.tokens, prompt), len(prompt) - 1)
        extra = len(self.tokens) - keep
        if extra > 0:
            if not can_trim_prompt_cache(self.cache):
                return -1
            trim_prompt_cache(self.cache, extra)
            del self.tokens[keep:]
        return keep

    def settle(self, tokens: Sequence[int]) -> None:
        """Record what the cache holds after generating: a prefix of ``tokens``.

        The eos token and the last sampled token are never fed back, and a generator
        stopped early may have fed one token the caller never saw, so the cache's own
        offset says how many of prompt + reply it holds; anything past ``tokens`` is cut.
        """
        from mlx_lm.models.cache import trim_prompt_cache

        offset = min((c.offset for c in self.cache if hasattr(c, "offset")), default=0)
        if offset > len(tokens):
            trim_prompt_cache(self.cache, offset - len(tokens))
            offset = len(tokens)
        self.tokens = list(tokens[:offset])


class PromptCaches:
    """Recently used KV caches, by conversation id or by prefix match.

    ``max_entries=0`` keeps none: every request prefills its whole prompt (the baseline
    the benchmark compares reuse against).
    """

    def __init__(self, make_cache: Callable[[], list[Any]], *, max_entries: int = 4) -> None:
        self._make_cache = make_cache
        self._max = max(0, max_entries)
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._anonymous = itertools.count()

    def take(self, key: str | None, prompt: Sequence[int]) -> tuple[str, CacheEntry, int]:
        """The cache to generate with, its key, and how many prompt tokens it already holds.

        The entry is removed until ``put`` returns it, so a failed generation never
        leaves a cache whose contents are unknown.
        """
        if key is not None:
            entry = self._entries.pop(key, None)
        else:
            key, entry = self._best_anonymous(prompt)
        if entry is not None:
            reused = entry.reuse_for(prompt)
            if reused >= 0:
                return key, entry, reused
        return key, CacheEntry(self._make_cache()), 0

    def _best_anonymous(self, prompt: Sequence[int]) -> tuple[str, CacheEntry | None]:
        best: tuple[int, str] | None = None
        for key, entry in self._entries.items():
            if not key.startswith("\0"):
                continue
            shared = common_prefix_len(entry.tokens, prompt)
            if shared and (best is None or shared > best[0]):
                best = (shared, key)
        if best is None:
            return f"\0{next(self._anonymous)}", None
        return best[1], self._entries.pop(best[1])

    def put(self, key: str, entry: CacheEntry) -> None:
        """Keep ``entry`` as the most recent, dropping the least recent past the bound."""
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop(self, key: str | None = None) -> None:
        """Forget one conversation's cache, or all of them."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
