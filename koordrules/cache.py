"""One process-wide cache with one memory budget, least recently used first out.

Everything koordrules keeps between calls that grows with use — compiled programs (one per
set object) and the outcome sentences of traced results — lives in this one cache, so the
memory it holds is bounded however many sets are served and however many distinct records
arrive. Each entry carries an estimate of its size in bytes; when the total passes the budget,
the least recently used entries go, whichever set they belong to.

The budget is :data:`DEFAULT_BUDGET` bytes (32 MiB); change it with :func:`set_cache_budget`
(``0`` keeps nothing). :func:`cache_info` says what is held. Per-record work keeps nothing:
a traced result holds its own values and builds its trace when asked, so there is no cache
of traces to fill. The other caches are bounded by their domain and not by use: each
compiled program's table of rule-value combinations (at most 3 to the power of its rules,
capped at 4,096), and fixed-size caches of span and path renderings (8,192 entries).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import NamedTuple, TypeVar

__all__ = ("DEFAULT_BUDGET", "CacheInfo", "cache_info", "cached", "clear_cache", "replace",
           "set_cache_budget")

DEFAULT_BUDGET = 32 * 1024 * 1024
"""The default budget in bytes (estimated sizes of the cached objects)."""

T = TypeVar("T")


class CacheInfo(NamedTuple):
    """What the process-wide cache holds (:func:`cache_info`)."""

    budget: int
    """The budget in bytes."""
    used: int
    """The estimated bytes held."""
    entries: int
    """How many entries are held (compiled programs and outcome sentences)."""
    hits: int
    misses: int
    evictions: int
    """Entries dropped to stay within the budget."""


class _Cache:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.hits = self.misses = self.evictions = 0
        self.entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self.lock:
            found = self.entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable, value: object, size: int) -> None:
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.used -= old[1]
            if size > self.budget:
                return
            self.entries[key] = (value, size)
            self.used += size
            self._shrink()

    def _shrink(self) -> None:
        while self.used > self.budget and self.entries:
            _, (_, size) = self.entries.popitem(last=False)
            self.used -= size
            self.evictions += 1


_CACHE = _Cache(DEFAULT_BUDGET)


def cached(key: Hashable, make: Callable[[], T], size: int | Callable[[T], int]) -> T:
    """The value cached under ``key``, or ``make()`` stored with its estimated ``size``
    in bytes (a number or a function of the value). Keys must not collide between users:
    start them with a tag and the owner (``("program", id(cs))``)."""
    found = _CACHE.get(key)
    if found is not None:
        return found  # type: ignore[return-value]
    value = make()
    _CACHE.put(key, value, size(value) if callable(size) else size)
    return value


def replace(key: Hashable, value: object, size: int) -> None:
    """Store ``value`` under ``key`` whether or not something is cached there."""
    _CACHE.put(key, value, size)


def set_cache_budget(budget: int) -> None:
    """Set the process-wide budget in bytes (default :data:`DEFAULT_BUDGET`, 32 MiB; ``0``
    keeps nothing); the least recently used entries beyond it are dropped at once. A
    program an application holds keeps working whatever the budget."""
    if budget < 0:
        raise ValueError("the cache budget cannot be negative")
    with _CACHE.lock:
        _CACHE.budget = budget
        _CACHE._shrink()


def clear_cache() -> None:
    """Drop every cached entry (compiled programs are compiled again when next used)."""
    with _CACHE.lock:
        _CACHE.entries.clear()
        _CACHE.used = 0


def cache_info() -> CacheInfo:
    """The budget, the estimated bytes used, and the counts of entries, hits, misses and
    evictions since the process started."""
    c = _CACHE
    return CacheInfo(c.budget, c.used, len(c.entries), c.hits, c.misses, c.evictions)
