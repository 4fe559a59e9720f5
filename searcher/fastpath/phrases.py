"""Phrase matching on one segment's postings: where do the words stand side by side?

Whoosh's ``Phrase`` (slop 1) matches a document when its words occur at consecutive positions;
its score is just the sum of the words' term scores, so only the set of matching documents has
to be found here. The indexer also runs this for the phrases of the acronym table ("ủy ban nhân
dân" for UBND, which nearly every query of the domain expands to) and stores the answers with
the side files, so those never cost a search anything. The sorted-list helpers every part of
the fast path uses (:func:`find_sorted`, :func:`isin_sorted`, :func:`lookup`) live here too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from searcher.analysis import fold

#: ``starts(ordinal, term_freqs)``: where each posting's positions start (see
#: :func:`posting_starts`).
StartsOf = Callable[[int, np.ndarray], np.ndarray]


class PostingsView(Protocol):
    """What phrase matching reads of a field (see :class:`searcher.fastpath.store.FieldFiles`)."""

    term_ptr: np.ndarray
    docs: np.ndarray
    freqs: np.ndarray
    pos_ptr: np.ndarray
    positions: np.ndarray

    def find(self, term: str) -> int | None: ...


def phrase_docs_in(
    files: PostingsView,
    words: tuple[str, ...],
    starts: StartsOf | None = None,
) -> np.ndarray:
    """Segment-local documents (ascending) where ``words`` occur at consecutive positions.

    ``starts(ordinal, term_freqs)``: where each posting's positions start, relative to the
    term's (a cache of it saves a pass over a common word's whole posting list).
    """
    ordinals = [files.find(word) for word in words]
    if any(o is None for o in ordinals):
        return np.zeros(0, dtype=np.int64)
    ranges = [(int(files.term_ptr[o]), int(files.term_ptr[o + 1])) for o in ordinals]
    # Candidates hold every word; positions are then compared from the rarest word on, and
    # each word's positions are read only for the candidates still alive.
    order = sorted(range(len(words)), key=lambda i: ranges[i][1] - ranges[i][0])
    candidates = np.asarray(files.docs[slice(*ranges[order[0]])], dtype=np.int64)
    for i in order[1:]:
        candidates = candidates[isin_sorted(candidates, files.docs[slice(*ranges[i])])]
        if candidates.size == 0:
            return candidates
    keys: np.ndarray | None = None
    for i in order:
        if keys is not None:
            alive = sorted_unique(keys >> 32)
            if alive.size < candidates.size:
                candidates = candidates[alive]
                keys = (np.searchsorted(alive, keys >> 32) << 32) | (keys & 0xFFFFFFFF)
        ordinal = ordinals[i]
        a, b = ranges[i]
        term_freqs = files.freqs[a:b]
        pool = files.docs[a:b]
        where = np.searchsorted(pool, probe_for(candidates, pool))
        first = starts(ordinal, term_freqs) if starts else posting_starts(term_freqs)
        begin = int(files.pos_ptr[ordinal]) + first[where]
        counts = term_freqs[where].astype(np.int64)
        flat = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        positions = files.positions[np.repeat(begin, counts) + flat].astype(np.int64)
        ranks = np.repeat(np.arange(candidates.size, dtype=np.int64), counts)
        # Key: candidate rank and the position the phrase would start at (ascending).
        usable = positions >= i
        word_keys = (ranks[usable] << 32) | (positions[usable] - i)
        keys = word_keys if keys is None else keys[isin_sorted(keys, word_keys)]
        if keys.size == 0:
            return np.zeros(0, dtype=np.int64)
    assert keys is not None
    return candidates[sorted_unique(keys >> 32)]


def posting_starts(term_freqs: np.ndarray) -> np.ndarray:
    """Where each posting's positions start, from the term's first position."""
    ends = np.cumsum(term_freqs, dtype=np.int64)
    return ends - term_freqs


def find_sorted(sorted_pool: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each of ``values`` is in the ascending ``sorted_pool``, and where (an index
    into the pool; meaningless where absent), by binary search."""
    if sorted_pool.size == 0:
        return np.zeros(values.shape, dtype=bool), np.zeros(values.shape, dtype=np.intp)
    where = np.searchsorted(sorted_pool, probe_for(values, sorted_pool))
    where[where == sorted_pool.size] = 0
    return sorted_pool[where] == values, where


def probe_for(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``values`` to search for in ``pool``. numpy searches in the wider of the two types,
    copying the pool when it is the narrower: a term's int32 postings searched for a few int64
    document numbers were copied whole at every search. Fewer values are narrowed instead;
    one that does not fit wraps and lands anywhere, but is found only where the pool equals
    the value itself (the comparison is made with the originals)."""
    dtype = pool.dtype
    if (
        values.dtype == dtype
        or values.size >= pool.size
        or dtype.kind not in "iu"
        or values.dtype.kind not in "iu"
        or dtype.itemsize >= values.dtype.itemsize
    ):
        return values
    return values.astype(dtype)


def sorted_unique(values: np.ndarray, counts: bool = False) -> Any:
    """``np.unique`` of integers (with how often each occurs, if ``counts``), by a stable
    sort (timsort merges the sorted runs that posting lists and positions come in) and a
    comparison with the neighbour: numpy 2's ``np.unique`` hashes integers first, ten times
    slower for the few thousand a search has."""
    ordered = np.sort(values, kind="stable")
    first = np.empty(ordered.size, dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    unique = ordered[first]
    if not counts:
        return unique
    return unique, np.diff(np.flatnonzero(first), append=ordered.size)


def isin_sorted(values: np.ndarray, sorted_pool: np.ndarray) -> np.ndarray:
    """``np.isin`` for an ascending pool (and any values), by binary search."""
    return find_sorted(sorted_pool, values)[0]


def lookup(docs: np.ndarray, scores: np.ndarray, within: np.ndarray, size: int) -> np.ndarray:
    """``scores`` of the ``within`` documents (ascending and distinct, as ``docs``; 0 for
    those not in ``docs``)."""
    if docs.size == 0 or within.size == 0:
        return np.zeros(within.size)
    if within.size * 16 < docs.size:  # a few documents: each searched among ``docs``
        hit, where = find_sorted(docs, within)
        return np.where(hit, scores[where], 0.0)
    if docs.size * 16 < within.size:
        # A rare unit among many candidates: its few documents searched among them (the
        # other way round, each candidate's search and the gathers walk all of them).
        hit, where = find_sorted(within, docs)
        found = np.zeros(within.size)
        found[where[hit]] = scores[hit]
        return found
    dense = np.zeros(size)
    dense[docs] = scores
    return dense[within]


@lru_cache(maxsize=1)
def acronym_phrases() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(accented, folded) word sequences of every multi-word form in the acronym table."""
    from searcher.query import acronyms

    forms = {form for pair in acronyms().values() for form in pair if len(form) > 1}
    return tuple(sorted((form, tuple(fold(w) for w in form)) for form in forms))
