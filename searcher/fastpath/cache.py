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

#: Bytes an entry holds beyond its arrays (its key, bookkeeping, the arrays' headers): counted
#: so that many tiny entries cannot hold far more memory than the capacity says.
ENTRY_OVERHEAD = 1024


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
        # key -> [value, bytes, cost, uses, priority, ticket of its place in the heap]
        self._items: dict[Any, list[Any]] = {}
        #: One (priority when queued, ticket, key) per entry. A use raises the entry's priority
        #: in place only: the heap catches up when the entry comes up for eviction (priorities
        #: only rise), so a use costs no push and the heap never outgrows the entries.
        self._heap: list[tuple[float, int, Any]] = []
        self._floor = 0.0
        self._evicted = False
        self._sequence = 0
        self._lock = threading.Lock()

    def holds(self, key: Any) -> bool:
        return key in self._items

    def peek(self, key: Any) -> Any:
        """The value for ``key`` if it is kept (a use, as :meth:`get`), else None."""
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            entry[3] += 1
            entry[4] = self._floor + entry[3] * entry[2] / entry[1]
            return entry[0]

    @property
    def evicting(self) -> bool:
        """Whether the cache has had to drop something to make room (it is full: what is
        added now pushes something else out)."""
        return self._evicted

    def get(self, key: Any, compute: Any) -> Any:
        """The value for ``key``; ``compute()`` gives (value, bytes, worth keeping?) and the
        value is never None."""
        found = self.peek(key)
        if found is not None:
            return found
        started = time.perf_counter()
        value, size, keep = compute()
        cost = time.perf_counter() - started
        with self._lock:
            if keep and key not in self._items and size <= self.capacity:
                entry = [value, size + ENTRY_OVERHEAD, cost, 1, 0.0, 0]
                entry[4] = self._floor + cost / entry[1]
                self._items[key] = entry
                self.bytes += entry[1]
                self._queue(key, entry)
                self._evict()
        return value

    def _queue(self, key: Any, entry: list[Any]) -> None:
        self._sequence += 1
        entry[5] = self._sequence
        heapq.heappush(self._heap, (entry[4], self._sequence, key))

    def _evict(self) -> None:
        while self.bytes > self.capacity and self._heap:
            priority, ticket, key = heapq.heappop(self._heap)
            entry = self._items.get(key)
            if entry is None or entry[5] != ticket:
                continue
            if entry[4] > priority:  # used since it was queued: back in at its priority now
                self._queue(key, entry)
                continue
            self._floor = priority
            self._evicted = True
            self.bytes -= self._items.pop(key)[1]
