"""The fast path's per-generation cache: bounded by bytes, keeping what is costly per byte and
used again (GreedyDual-Size-Frequency), with a heap that does not grow with use."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from searcher.fastpath.cache import ENTRY_OVERHEAD, Cache

#: What an entry of 100 bytes of arrays counts for.
SLOT = 100 + ENTRY_OVERHEAD


def costing(seconds: float, size: int, value: Any = None) -> Callable[[], tuple[Any, int, bool]]:
    """A computation that takes ``seconds`` and holds ``size`` bytes."""

    def compute() -> tuple[Any, int, bool]:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            pass
        return value, size, True

    return compute


def test_bytes_stay_within_capacity_and_values_come_back() -> None:
    cache = Cache(10 * SLOT)
    for i in range(50):
        assert cache.get(("k", i), costing(0, 100, i)) == i
        assert cache.bytes <= 10 * SLOT
    kept = [i for i in range(50) if cache.holds(("k", i))]
    assert 0 < len(kept) <= 10
    assert all(cache.get(("k", i), costing(0, 100, -1)) == i for i in kept)


def test_tiny_entries_count_what_they_hold_beyond_their_arrays() -> None:
    """A thousand 8-byte arrays would be 8 KB; each entry also holds its key and bookkeeping,
    so the capacity bounds how many are kept."""
    cache = Cache(20 * ENTRY_OVERHEAD)
    for i in range(1000):
        cache.get(i, costing(0, 8))
    assert len(cache._items) < 20


def test_an_entry_used_again_outlives_one_used_once() -> None:
    cache = Cache(3 * SLOT)
    cache.get("often", costing(0.002, 100))
    cache.get("once", costing(0.002, 100))
    for _ in range(5):
        cache.get("often", costing(0.002, 100))
    cache.get("new", costing(0.002, 100))
    cache.get("newer", costing(0.002, 100))  # one must go: one used once (the oldest goes
    assert cache.holds("often")  # first under insertion order)
    assert sum(cache.holds(key) for key in ("once", "new", "newer")) == 2


def test_a_big_cheap_array_goes_before_a_small_costly_one() -> None:
    cache = Cache(5 * SLOT + 1000)
    cache.get("small costly", costing(0.003, 10))
    for i in range(5):
        cache.get(("big cheap", i), costing(0.0, 1000))
    assert cache.holds("small costly")
    assert cache.bytes <= 5 * SLOT + 1000


def test_uses_do_not_grow_the_heap() -> None:
    """A use raises its entry's priority in place: thousands of uses leave one heap item per
    entry (the heap used to grow by one per use and be rebuilt now and then, a stall of tens
    of milliseconds inside some search)."""
    cache = Cache(100 * SLOT)
    for i in range(20):
        cache.get(i, costing(0, 100))
    largest = 0
    for n in range(5000):
        cache.get(n % 20, costing(0, 100))
        largest = max(largest, len(cache._heap))
    assert largest == len(cache._items) == 20


def test_evicting_says_whether_the_cache_has_had_to_make_room() -> None:
    """Policies that spend memory freely while there is room (see Scorer._dense_unit) ask."""
    cache = Cache(3 * SLOT)
    for i in range(3):
        cache.get(("k", i), costing(0, 100))
    assert not cache.evicting
    cache.get(("too big",), costing(0, 10 * SLOT))  # not kept: nothing had to go
    assert not cache.evicting
    cache.get(("k", 3), costing(0, 100))
    assert cache.evicting
    assert cache.bytes <= 3 * SLOT
