"""BM25F as Whoosh computes it: each formula once, for the indexer and the searcher alike.

The indexer precomputes every posting's weight with these functions (see
:mod:`~searcher.fastpath.weights`) and the engine recomputes the exact scores of a page's
candidates with them, so both must do the same float operations in the same order as
``whoosh.scoring.bm25``:

* ``weight = idf * tf*(K1+1) / (tf + norm)`` with ``tf`` the stored frequency times the field
  boost (:func:`term_weights`);
* ``norm = K1 * ((1-B) + B*fl/avgfl)`` with ``fl`` the document's quantized field length
  (:data:`BYTE_TO_LENGTH` of Whoosh's length byte) and ``avgfl`` the field's average length
  (:func:`length_norms`);
* ``idf = log(doc_count_all / (df + 1)) + 1`` where ``df`` counts postings of deleted documents
  too, as Whoosh's term info does (:func:`idf`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.util.numeric import byte_to_length

#: The Searcher's BM25F parameters (its weighting); the engine reads them from the weighting.
B, K1 = 0.75, 1.2
#: Whoosh's quantized field length of each length byte.
BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


@dataclass(frozen=True)
class Statistics:
    """Everything a posting's weight depends on besides the posting itself."""

    segments: tuple[str, ...]
    doc_count_all: int
    avg_lengths: dict[str, float]
    boosts: dict[str, float]
    B: float
    K1: float


def collection_statistics(
    searcher: Any, segments: tuple[str, ...], fields: Iterable[str], B: float, K1: float
) -> Statistics:
    """The statistics of an open Whoosh searcher's index over ``fields`` (an empty field
    counts as length 1, as the searcher's weighting does)."""
    schema = searcher.schema
    return Statistics(
        segments,
        searcher.doc_count_all(),
        {name: searcher.avg_field_length(name) or 1 for name in fields},
        {name: float(schema[name].format.field_boost) for name in fields},
        B,
        K1,
    )


def idf(doc_count_all: int, df: int) -> float:
    """Whoosh's BM25 idf of a term with ``df`` postings."""
    return math.log(doc_count_all / (df + 1)) + 1


def length_norms(length_bytes: np.ndarray, avg_length: float, B: float, K1: float) -> np.ndarray:
    """``K1 * ((1 - B) + B * fl / avgfl)`` per document: the denominator's length part."""
    fl = BYTE_TO_LENGTH[length_bytes]
    return K1 * ((1 - B) + B * fl / avg_length)


def term_weights(
    freqs: np.ndarray,
    boost: float | np.ndarray,
    idf: float | np.ndarray,
    norms: np.ndarray,
    K1: float,
) -> np.ndarray:
    """BM25F weights (float64) of postings: their frequencies, the field boost and the term's
    idf (one for all, or a column of them for a terms × documents matrix) and each document's
    length norm."""
    # Whoosh stores a posting's weight (frequency times field boost) as float32: a boost such
    # as 0.8 is not exact in float32, so round as it does (a no-op for boosts 1.0 and 2.5).
    tf = (freqs.astype(np.float64) * boost).astype(np.float32).astype(np.float64)
    return idf * ((tf * (K1 + 1)) / (tf + norms))
