"""Precomputed BM25F weights of every posting, as float32, for one generation's statistics.

Computing a posting's weight costs more than everything else a query does with it (seven
passes of float arithmetic), and a common word has a hundred thousand postings. The weights
depend on the generation's statistics (document count, average field lengths, each term's
document frequency over all segments), which change only when the indexer publishes a new
generation; so it computes them then, once, recording the statistics used (the files are
:mod:`~searcher.fastpath.store`'s). A searcher uses them only while the statistics it sees are
the same.

float32 keeps them half the size of float64 and within 2**-24 of the exact value each; the
engine ranks with them and then recomputes the exact (float64, Whoosh's arithmetic) scores of
the few documents that can reach the page, so answers stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from searcher.fastpath.scoring import Statistics, idf, length_norms, term_weights

__all__ = ["Statistics", "compute", "global_df", "norms"]

_CHUNK = 1 << 22


class FieldArrays(Protocol):
    """What the weights read of one field of a segment (a :class:`~.store.FieldFiles`)."""

    hashes: np.ndarray
    hash_term: np.ndarray
    term_ptr: np.ndarray
    docs: np.ndarray
    freqs: np.ndarray
    lengths: np.ndarray

    def find(self, term: str) -> int | None: ...

    def term(self, ordinal: int) -> str: ...


class SegmentArrays(Protocol):
    """What the weights read of a segment (a :class:`~.store.SegmentFiles`)."""

    @property
    def doc_count(self) -> int: ...

    @property
    def fields(self) -> dict[str, FieldArrays]: ...


def norms(segments: Sequence[SegmentArrays], stats: Statistics, field: str) -> np.ndarray:
    """Each document's length norm in ``field``, over all segments in order."""
    lengths = np.concatenate([s.fields[field].lengths for s in segments])
    return length_norms(lengths, stats.avg_lengths[field], stats.B, stats.K1)


def global_df(segments: Sequence[SegmentArrays], field: str) -> list[np.ndarray]:
    """Per segment, each term's postings over all segments (Whoosh's doc_frequency)."""
    counts = [np.diff(s.fields[field].term_ptr) for s in segments]
    if len(segments) == 1:
        return counts
    totals = [c.copy() for c in counts]
    for i, mine in enumerate(segments):
        files = mine.fields[field]
        order = files.hash_term  # term ordinals in hash order
        for j, other in enumerate(segments):
            if i == j:
                continue
            theirs = other.fields[field]
            where = np.searchsorted(theirs.hashes, files.hashes)
            where[where == theirs.hashes.size] = 0
            for k in np.flatnonzero(theirs.hashes[where] == files.hashes).tolist():
                term = files.term(int(order[k]))
                ordinal = theirs.find(term)
                if ordinal is not None:
                    totals[i][order[k]] += int(counts[j][ordinal])
    return totals


def compute(segments: Sequence[SegmentArrays], stats: Statistics) -> list[dict[str, np.ndarray]]:
    """float32 weights of every posting, per segment and field (those of ``stats.boosts``),
    in posting order."""
    result: list[dict[str, np.ndarray]] = [{} for _ in segments]
    offsets = np.cumsum([0] + [s.doc_count for s in segments])
    for field, boost in stats.boosts.items():
        norm = norms(segments, stats, field)
        dfs = global_df(segments, field)
        for index, segment in enumerate(segments):
            files = segment.fields[field]
            idfs = np.array([idf(stats.doc_count_all, df) for df in dfs[index].tolist()])
            out = np.empty(files.docs.size, dtype=np.float32)
            term_of = np.repeat(np.arange(idfs.size), np.diff(files.term_ptr))
            for start in range(0, files.docs.size, _CHUNK):
                stop = min(start + _CHUNK, files.docs.size)
                docs = files.docs[start:stop].astype(np.int64) + offsets[index]
                out[start:stop] = term_weights(
                    files.freqs[start:stop], boost, idfs[term_of[start:stop]], norm[docs], stats.K1
                )
            result[index][field] = out
    return result
