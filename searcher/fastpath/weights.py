"""Precomputed BM25F term-frequency parts of every posting, as float32, one file per segment.

Computing a posting's weight costs more than everything else a query does with it (seven
passes of float arithmetic), and a common word has a hundred thousand postings. A weight is
``idf(term) * tf*(K1+1) / (tf + norm(doc))``: the idf depends on the whole collection (document
count, the term's document frequency over all segments) but is one number per term, which the
searcher computes per query; the rest depends on the posting, its document's length and the
field's average length only. So the indexer stores that rest (:func:`compute`), per segment,
with the average lengths it used, and an update writes it for its new segments only: the
older segments' files stay valid (they are shared with the previous generation) while the
average lengths drift by less than :data:`TOLERANCE`. The searcher ranks candidates with them
and a pruning slack that covers the drift (:func:`drift`), then recomputes the exact (float64,
Whoosh's arithmetic) scores of the few documents that can reach the page, so answers stay exact.

float32 keeps them half the size of float64 and within 2**-24 of the value each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from searcher.fastpath.scoring import Statistics, length_norms

__all__ = ["TOLERANCE", "Statistics", "compute", "drift", "norms"]

_CHUNK = 1 << 22
#: Relative drift of a field's average length beyond which a segment's stored parts are
#: recomputed: larger lets more updates share the files, and widens the searcher's pruning
#: slack (about three times the drift) so it scores a few more candidates exactly.
TOLERANCE = 0.01


class FieldArrays(Protocol):
    """What the weights read of one field of a segment (a :class:`~.store.FieldFiles`)."""

    term_ptr: np.ndarray
    docs: np.ndarray
    freqs: np.ndarray
    lengths: np.ndarray


class SegmentArrays(Protocol):
    """What the weights read of a segment (a :class:`~.store.SegmentFiles`)."""

    @property
    def doc_count(self) -> int: ...

    @property
    def fields(self) -> dict[str, FieldArrays]: ...


def norms(segment: SegmentArrays, stats: Statistics, field: str) -> np.ndarray:
    """Each document's length norm in ``field`` within one segment."""
    return length_norms(segment.fields[field].lengths, stats.avg_lengths[field], stats.B, stats.K1)


def compute(segment: SegmentArrays, stats: Statistics) -> dict[str, np.ndarray]:
    """float32 ``tf*(K1+1) / (tf + norm)`` of every posting of one segment, per field (those
    of ``stats.boosts``), in posting order: a posting's weight is this times its term's idf."""
    result: dict[str, np.ndarray] = {}
    for field, boost in stats.boosts.items():
        files = segment.fields[field]
        norm = norms(segment, stats, field)
        out = np.empty(files.docs.size, dtype=np.float32)
        for start in range(0, files.docs.size, _CHUNK):
            stop = min(start + _CHUNK, files.docs.size)
            tf = files.freqs[start:stop].astype(np.float64)
            tf *= boost
            out[start:stop] = (tf * (stats.K1 + 1)) / (tf + norm[files.docs[start:stop]])
        result[field] = out
    return result


def drift(computed_for: Mapping[str, float], now: Mapping[str, float]) -> float:
    """The largest relative error of stored parts computed for the average lengths
    ``computed_for`` when the averages are ``now``: a norm's length term scales by their
    ratio, and ``tf / (tf + norm)`` changes by no more than the norm does."""
    return max((abs(computed_for[name] / now[name] - 1.0) for name in now), default=0.0)
