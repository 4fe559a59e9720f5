"""The fast path's own selections (the pruning's k-th best score, the scorer's lookups, a sorted
union) equal numpy's plain definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from searcher.fastpath.phrases import lookup, sorted_unique
from searcher.fastpath.pruning import SAMPLED_SCORES, _kth_best


def plain_kth_best(scores: np.ndarray, k: int) -> float:
    positive = np.sort(scores[scores > 0])
    return float(positive[-k]) if positive.size >= k else 0.0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=4 * SAMPLED_SCORES),
    st.integers(min_value=1, max_value=40),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=0, max_value=2**32),
)
def test_kth_best_is_the_kth_best_positive_score(
    size: int, k: int, zeros: float, distinct: int, seed: int
) -> None:
    # Few distinct values (many ties) and many zeros are the cases a sample could get wrong.
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 2.0, distinct)
    scores = values[rng.integers(0, distinct, size)] * (rng.random(size) >= zeros)
    assert _kth_best(scores, k) == plain_kth_best(scores, k)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=3000),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=2**32),
)
def test_lookup_reads_each_documents_score(
    size: int, docs_share: float, within_share: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    docs = np.flatnonzero(rng.random(size) < docs_share**3).astype(np.int32)
    within = np.flatnonzero(rng.random(size) < within_share**3)
    scores = rng.random(docs.size) + 0.5
    dense = np.zeros(size)
    dense[docs] = scores
    assert np.array_equal(lookup(docs, scores, within, size), dense[within])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=300),
    st.integers(min_value=1, max_value=30),
    st.sampled_from((np.int32, np.int64)),
)
def test_sorted_unique_is_np_unique(values: list[int], spread: int, kind: type) -> None:
    # Sorted runs with repeats, as a union of posting lists comes: and any order.
    array = (np.asarray(values, dtype=np.int64) // (2**40 * spread)).astype(kind)
    for given_values in (array, np.concatenate([np.sort(array), np.sort(array[::2])])):
        unique, counts = np.unique(given_values, return_counts=True)
        assert np.array_equal(sorted_unique(given_values), unique)
        found, found_counts = sorted_unique(given_values, counts=True)
        assert found.dtype == given_values.dtype
        assert np.array_equal(found, unique) and np.array_equal(found_counts, counts)
