"""ExactTree adds a query's leaves up exactly as walking the tree node by node does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from searcher.fastpath.compiled import Node
from searcher.fastpath.exact_tree import ExactTree

WORDS = ("ha", "noi", "ho", "chi", "minh", "uy", "ban")
FIELDS = ("title", "body")

terms = st.builds(
    lambda field, word: Node("term", field, (word,)),
    st.sampled_from(FIELDS),
    st.sampled_from(WORDS),
)
phrases = st.builds(
    lambda field, words, boost: Node("phrase", field, tuple(words), boost=boost),
    st.sampled_from(FIELDS),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=9),  # a word may come twice
    st.sampled_from((1.0, 2.0, 0.7)),
)


def _inner(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(lambda c: Node("or", children=tuple(c)), st.lists(children, max_size=12)),
        st.builds(lambda c: Node("and", children=tuple(c)), st.lists(children, min_size=1)),
        st.builds(lambda a, b: Node("andmaybe", children=(a, b)), children, children),
        st.builds(lambda a, b: Node("andnot", children=(a, b)), children, children),
    )


trees = st.recursive(st.one_of(terms, phrases), _inner, max_leaves=40)


def walked(node: Node, weights: dict, held: dict, size: int) -> np.ndarray:
    """The node-by-node walk the fast path used before ExactTree (Whoosh's sums)."""
    if node.kind == "term":
        return weights[(node.field, node.words[0])]
    if node.kind == "phrase":
        total = np.zeros(size)
        for word in node.words:
            total += weights[(node.field, word)]
        if node.boost != 1.0:
            total *= node.boost
        return total * held[(node.field, node.words)]
    children = [walked(child, weights, held, size) for child in node.children]
    if node.kind == "or":
        return np.sum(children, axis=0) if children else np.zeros(size)
    if node.kind == "and":
        return np.sum(children, axis=0) * np.logical_and.reduce([c > 0 for c in children])
    if node.kind == "andmaybe":
        return (children[0] + children[1]) * (children[0] > 0)
    return children[0] * (children[1] == 0)


@settings(max_examples=300, deadline=None)
@given(trees, st.integers(min_value=1, max_value=13), st.integers(min_value=0, max_value=2**32))
def test_the_tree_equals_the_walk_to_the_last_bit(node: Node, size: int, seed: int) -> None:
    tree = ExactTree.of(node)
    rng = np.random.default_rng(seed)
    # Weights of many magnitudes, a few documents without the key, so that any change in
    # the order of the additions shows in the last bits.
    weights = rng.lognormal(0.0, 3.0, (len(tree.keys), size)) * (
        rng.random((len(tree.keys), size)) > 0.2
    )
    held = rng.random((len(tree.phrases), size)) > 0.4
    expected = walked(
        node,
        dict(zip(tree.keys, weights, strict=True)),
        dict(zip(tree.phrases, held, strict=True)),
        size,
    )
    got = tree.scores(weights, held)
    assert got.shape == (size,)
    assert np.array_equal(got.view(np.int64), np.asarray(expected, dtype=np.float64).view(np.int64))
