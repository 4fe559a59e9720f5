"""Arrays of an open generation worth keeping between searches, bounded by their bytes.

One :class:`Cache` lives as long as a generation's :class:`~searcher.fastpath.engine.FastIndex`
(a new generation starts empty): term weights, whole units of queries, phrase matches and bit
sets, keyed by what they were computed from.
"""

from __future__ import annotations

import heapq
import threading
import time
from typing import Any


class Cache:
    """Arrays worth keeping, bounded by their bytes (thread-safe).

    Eviction is GreedyDual-Size-Frequency: an entry's priority is the time it took to compute
    per byte it holds, times how often it was used, plus an ageing floor; the lowest priority
    goes first. A plain LRU thrashes when a stream of distinct queries cycles through more
    than it holds; this keeps what is expensive and recurring (phrase matches, the common
    words' units) and lets big one-off arrays go.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.bytes = 0
        self._items: dict[Any, list[Any]] = {}  # key -> [value, bytes, cost, uses, priority]
        self._heap: list[tuple[float, int, Any]] = []
        self._floor = 0.0
        self._sequence = 0
        self._lock = threading.Lock()

    def holds(self, key: Any) -> bool:
        return key in self._items

    def get(self, key: Any, compute: Any) -> Any:
        """The value for ``key``; ``compute()`` gives (value, bytes, worth keeping?)."""
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                entry[3] += 1
                self._prioritize(key, entry)
                return entry[0]
        started = time.perf_counter()
        value, size, keep = compute()
        cost = time.perf_counter() - started
        with self._lock:
            if keep and key not in self._items and size <= self.capacity:
                entry = [value, max(size, 1), cost, 1, 0.0]
                self._items[key] = entry
                self.bytes += entry[1]
                self._prioritize(key, entry)
                self._evict()
        return value

    def _prioritize(self, key: Any, entry: list[Any]) -> None:
        entry[4] = self._floor + entry[3] * entry[2] / entry[1]
        self._sequence += 1
        heapq.heappush(self._heap, (entry[4], self._sequence, key))
        if len(self._heap) > 4 * len(self._items) + 64:  # drop superseded heap entries
            self._heap = [item for item in self._heap if self._current(item)]
            heapq.heapify(self._heap)

    def _current(self, item: tuple[float, int, Any]) -> bool:
        entry = self._items.get(item[2])
        return entry is not None and entry[4] == item[0]

    def _evict(self) -> None:
        while self.bytes > self.capacity and self._heap:
            item = heapq.heappop(self._heap)
            if not self._current(item):
                continue
            self._floor = item[0]
            self.bytes -= self._items.pop(item[2])[1]
