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

Every conversation of an agent starts with the same instructions and tool schemas
(~1,300 tokens for punie-lsp's). A *shared prefix* keeps the cache of just those
tokens; a new conversation starts from a copy of it (``copy.deepcopy``, as mlx-lm's
own ``LRUPromptCache`` hands out its entries) and prefills only what follows. Where
the instructions end is found the way ``mlx_lm server`` finds its "system" segment.

Only the mlx worker thread touches this pool, so it needs no lock.

mlx-lm is imported inside the functions that use it: ``import mlx_lm`` costs ~1.3 s
(ARCHITECTURE, upstream traps), paid only by a process that runs an ``mlx:`` model.
"""

from __future__ import annotations

import copy
import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CacheEntry", "PromptCaches", "Taken", "common_prefix_len"]


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


@dataclass(frozen=True)
class Taken:
    """What ``PromptCaches.take`` hands out for one request."""

    key: str
    """Where ``put`` returns the entry: the conversation id, or an anonymous key."""
    entry: CacheEntry
    """The cache to generate with; it holds ``prompt[:reused]``."""
    reused: int
    """Prompt tokens the entry already holds."""
    shared_prefix: int
    """Of ``reused``, tokens copied from a shared prefix (0 unless the entry is new)."""


class PromptCaches:
    """Recently used KV caches, by conversation id or by prefix match.

    ``max_entries=0`` keeps none: every request prefills its whole prompt (the baseline
    the benchmark compares reuse against). ``max_prefixes=0`` shares no instructions
    prefix: a new conversation prefills its instructions again.
    """

    def __init__(
        self,
        make_cache: Callable[[], list[Any]],
        *,
        max_entries: int = 4,
        max_prefixes: int = 2,
    ) -> None:
        self._make_cache = make_cache
        self._max = max(0, max_entries)
        self._max_prefixes = max(0, max_prefixes)
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._prefixes: OrderedDict[tuple[int, ...], CacheEntry] = OrderedDict()
        self._anonymous = itertools.count()

    @property
    def shares_prefixes(self) -> bool:
        """Whether ``keep_prefix`` keeps anything."""
        return self._max_prefixes > 0

    def take(self, key: str | None, prompt: Sequence[int]) -> Taken:
        """The cache to generate with, its key, and how many prompt tokens it already holds.

        The entry is removed until ``put`` returns it, so a failed generation never
        leaves a cache whose contents are unknown. A conversation with no cache of its
        own starts from a copy of a shared prefix its prompt begins with, if there is one.
        """
        if key is not None:
            entry = self._entries.pop(key, None)
        else:
            key, entry = self._best_anonymous(prompt)
        if entry is not None:
            reused = entry.reuse_for(prompt)
            if reused >= 0:
                return Taken(key, entry, reused, 0)
        prefix = self.prefix_for(prompt)
        if prefix is not None:
            copied = CacheEntry(copy.deepcopy(prefix.cache), list(prefix.tokens))
            return Taken(key, copied, len(prefix.tokens), len(prefix.tokens))
        return Taken(key, CacheEntry(self._make_cache()), 0, 0)

    def prefix_for(self, prompt: Sequence[int]) -> CacheEntry | None:
        """The longest shared prefix ``prompt`` starts with, leaving a token to prefill."""
        best: CacheEntry | None = None
        for tokens, entry in self._prefixes.items():
            longer = best is None or len(tokens) > len(best.tokens)
            if longer and len(tokens) < len(prompt) and tuple(prompt[: len(tokens)]) == tokens:
                best = entry
        if best is not None:
            self._prefixes.move_to_end(tuple(best.tokens))
        return best

    def keep_prefix(self, entry: CacheEntry) -> None:
        """Keep a copy of ``entry`` (a cache holding exactly its ``tokens``) to share.

        Bounded by ``max_prefixes``, least recently used dropped: one agent's
        instructions make one prefix, a second agent (another instructions text or tool
        set) a second.
        """
        if not self._max_prefixes or not entry.tokens:
            return
        tokens = tuple(entry.tokens)
        self._prefixes[tokens] = CacheEntry(copy.deepcopy(entry.cache), list(tokens))
        self._prefixes.move_to_end(tokens)
        while len(self._prefixes) > self._max_prefixes:
            self._prefixes.popitem(last=False)

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
        """Forget one conversation's cache, or all of them and the shared prefixes."""
        if key is None:
            self._entries.clear()
            self._prefixes.clear()
        else:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
