"""The pruning's k-th best score and the scorer's lookups equal their plain definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from searcher.fastpath.phrases import lookup
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
