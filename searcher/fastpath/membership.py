"""Which documents match a compiled query, found without scoring them.

Totals and facets need no scores: a search finds its matches on cached bit sets of the
query's units (a bit per document where their scores cost twelve bytes per match), and only then
scores what can reach the page (:mod:`~searcher.fastpath.pruning`).
"""

from __future__ import annotations

import numpy as np

from searcher.fastpath.compiled import Node, is_unit
from searcher.fastpath.phrases import isin_sorted, sorted_unique
from searcher.fastpath.scorer import SPARSE_UNION, Scorer
from searcher.fastpath.terms import TermIndex


class Membership:
    """Which documents match a node tree, without scoring them.

    An ``And`` starts from its cheapest child's documents and keeps those every other child
    holds; a unit (a word or phrase in every field) answers "holds" from a bit set of all
    documents, built once and cached per generation when it is worth it, or by binary search
    in its lists when only a few documents are asked about.
    """

    def __init__(self, index: TermIndex) -> None:
        self.index = index
        self.scorer = Scorer(index)  # for costs and posting pieces

    def matches(self, root: Node) -> np.ndarray:
        index = self.index
        docs = self.docs(root)
        if index.live is not None and docs.size:
            docs = docs[index.live[docs]]
        return docs.astype(np.int64, copy=False)

    def docs(self, node: Node) -> np.ndarray:
        """The node's matching documents, ascending."""
        kind = node.kind
        if kind == "term":
            return self.index.term(node.field, node.words[0]).docs
        if kind == "phrase":
            return self.index.phrase_docs(node.field, node.words)
        if kind == "or" and is_unit(node):
            rare = self.scorer.cost(node) * SPARSE_UNION < self.index.size
            if rare and not self.index.cache.holds(("mask", node)):
                # merging a rare unit's lists beats a pass over every document
                return sorted_unique(np.concatenate([self.docs(c) for c in node.children]))
            return np.flatnonzero(self.mask(node))
        if kind == "and":
            children = sorted(node.children, key=self.scorer.cost)
            docs = self.docs(children[0])
            for child in children[1:]:
                if docs.size == 0:
                    break
                docs = docs[self.holds(child, docs)]
            return docs
        if kind == "andmaybe":
            return self.docs(node.children[0])
        if kind == "andnot":
            docs = self.docs(node.children[0])
            return docs[~self.holds(node.children[1], docs)] if docs.size else docs
        if kind == "or":
            found = np.zeros(self.index.size, dtype=bool)
            for child in node.children:
                if child.kind == "or" and is_unit(child):
                    found |= self.mask(child)
                else:
                    found[self.docs(child)] = True
            return np.flatnonzero(found)
        if kind == "every":
            return np.arange(self.index.size, dtype=np.int64)
        return np.zeros(0, dtype=np.int64)

    def holds(self, node: Node, within: np.ndarray) -> np.ndarray:
        """Whether each of the ``within`` documents (ascending) matches the node."""
        kind = node.kind
        if kind in ("term", "phrase"):
            return isin_sorted(within, self.docs(node))
        if kind == "or" and is_unit(node):
            dense = self.index.cache.peek(("dense", node))
            if dense is not None:  # its scores of every document are at hand
                return dense[within] > 0
            if within.size * 16 >= self.scorer.cost(node) or self.index.cache.holds(
                ("mask", node)
            ):  # many documents asked about, or the bit set at hand (else: each child)
                bits = self._bits(node)
                return (bits[within >> 3] << (within & 7).astype(np.uint8)) >= 128
        if kind == "and":
            found = np.ones(within.size, dtype=bool)
            for child in sorted(node.children, key=self.scorer.cost):
                found &= self.holds(child, within)
            return found
        if kind == "or":
            found = np.zeros(within.size, dtype=bool)
            for child in node.children:
                found |= self.holds(child, within)
            return found
        if kind == "andmaybe":
            return self.holds(node.children[0], within)
        if kind == "andnot":
            return self.holds(node.children[0], within) & ~self.holds(node.children[1], within)
        if kind == "every":
            return np.ones(within.size, dtype=bool)
        return np.zeros(within.size, dtype=bool)

    def mask(self, node: Node) -> np.ndarray:
        """A unit's documents as booleans over all documents: from its scores of every
        document when those are kept (see ``Scorer._dense``: a unit scores above 0 exactly
        where it matches), else from its bit set."""
        dense = self.index.cache.peek(("dense", node))
        if dense is not None:
            return dense > 0
        return np.unpackbits(self._bits(node), count=self.index.size).view(bool)

    def _bits(self, node: Node) -> np.ndarray:
        """A unit's documents as a bit set over all documents, eight to a byte (cached when
        worth it: common units are in most queries, and a byte a document crowded the
        cache of a large index)."""

        def compute() -> tuple[np.ndarray, int, bool]:
            found = np.zeros(self.index.size, dtype=bool)
            for child in node.children:
                for offset, docs, _ in self.scorer.pieces(child):
                    (found[offset:] if offset else found)[docs] = True
            bits = np.packbits(found)
            return bits, bits.nbytes, self.scorer.cost(node) >= self.index.worth_caching

        return self.index.cache.get(("mask", node), compute)
