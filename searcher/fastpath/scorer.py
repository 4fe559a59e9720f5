"""Scores of compiled query nodes, as Whoosh's matchers add them up.

``Or`` and ``And`` add the scores of their matching children, ``AndMaybe`` adds the optional
side where it matches, ``AndNot`` keeps the positive side's score; a ``Phrase`` (slop 1)
scores the sum of its words' term scores where they stand side by side (times its boost, if
any). :class:`Scorer` works
on the (float32 when precomputed) term weights to rank; :class:`Exact` recomputes a page's
scores with Whoosh's float64 arithmetic.
"""

from __future__ import annotations

import numpy as np

from searcher.fastpath.compiled import Node, is_unit
from searcher.fastpath.exact_tree import ExactTree
from searcher.fastpath.exact_weights import ExactPlan, exact_weights
from searcher.fastpath.phrases import isin_sorted, lookup
from searcher.fastpath.terms import FEW, Phrase, TermIndex

#: Unions of fewer postings than documents / this are merged sparsely (see Scorer._sum).
SPARSE_UNION = 8
#: A recurring unit walking at least this share of the documents' postings is kept as
#: float32 scores of every document (see Scorer._dense): 4 bytes a document, no more than
#: the 12 a posting of its sparse form.
DENSE_UNIT_SHARE = 1 / 3
#: ... once asked for again for at least its postings / this many documents; fewer
#: (the array is then worth it for fewer readers) until the cache first has to make room.
DENSE_UNIT_READS = 64
DENSE_UNIT_READS_WHEN_FULL = 16

Sparse = tuple[np.ndarray, np.ndarray]  # ascending documents, their (positive) scores
#: Documents counted from an offset (a segment's first global number), their scores.
Piece = tuple[int, np.ndarray, np.ndarray]


class Scorer:
    """Scores of query nodes for given documents, from the (approximate) term weights.

    Scores are sparse: ascending documents with positive scores (term weights are always
    positive since idf > 0 whenever df < e * doc_count_all, so a sum of matching children is
    positive exactly where something matched). An ``And`` starts from its cheapest child and
    looks the others up only for the documents still matching; a unit of the query (one word
    or phrase in every field: an ``Or`` of terms and phrases) asked for again is computed whole
    once per generation and cached, so the common words of most queries cost a lookup, not a
    walk of their posting lists.
    """

    def __init__(self, index: TermIndex) -> None:
        self.index = index
        self._rank_of: tuple[np.ndarray, np.ndarray] | None = None

    def sparse(self, node: Node) -> Sparse:
        kind = node.kind
        if kind == "term":
            term = self.index.term(node.field, node.words[0])
            return term.docs, term.weights
        if kind in ("or", "phrase") and is_unit(node):
            return self.index.cache.get(("unit", node), lambda: self._unit(node))
        if kind == "or":
            return self._sum(node.children)
        if kind == "and":
            children = sorted(node.children, key=self.cost)
            docs, scores = self.sparse(children[0])
            for child in children[1:]:
                if docs.size == 0:
                    break
                other = self.aligned(child, docs)
                keep = other > 0
                docs, scores = docs[keep], scores[keep] + other[keep]
            return docs, scores
        if kind == "andmaybe":
            docs, scores = self.sparse(node.children[0])
            return docs, scores + self.aligned(node.children[1], docs)
        if kind == "andnot":
            docs, scores = self.sparse(node.children[0])
            keep = self.aligned(node.children[1], docs) == 0
            return docs[keep], scores[keep]
        return np.zeros(0, dtype=np.int64), np.zeros(0)

    def _unit(self, node: Node) -> tuple[Sparse, int, bool]:
        if node.kind == "phrase":
            docs = self.index.phrase_docs(node.field, node.words)
            scores = np.zeros(docs.size)
            for word in node.words:
                scores += self.index.term_at(node.field, word, docs)
            result = (docs, scores * node.boost if node.boost != 1.0 else scores)
        else:
            result = self._sum(node.children)
        size = result[0].nbytes + result[1].nbytes
        return result, size, True  # (small ones too: rebuilt at every search, they cost more)

    def _sum(self, children: tuple[Node, ...]) -> Sparse:
        """Union of the children's documents, scores added in the children's order.

        Short lists are merged by sorting their concatenation; long ones by a dense pass over
        all documents. Either way each document's score is the same float sum.
        """
        pieces = [self.pieces(child) for child in children]
        total = sum(docs.size for child in pieces for _, docs, _ in child)
        kind = np.int32 if self.index.size < 1 << 31 else np.int64
        if not pieces:
            return np.zeros(0, dtype=kind), np.zeros(0)
        if total * SPARSE_UNION < self.index.size:
            parts = [_glue(child, kind) for child in pieces]
            if len(parts) == 1:
                return parts[0][0].astype(kind, copy=False), parts[0][1].astype(np.float64)
            docs = np.concatenate([d for d, _ in parts]).astype(kind, copy=False)
            scores = np.concatenate([w for _, w in parts]).astype(np.float64)
            order = np.argsort(docs, kind="stable")  # children's order kept among equals
            docs, scores = docs[order], scores[order]
            if docs.size == 0:
                return docs, scores
            first = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
            return docs[first], np.add.reduceat(scores, first)
        dense = dense_sum(pieces, self.index.size)
        # Scores are positive wherever a child matched; a boolean array is scanned many times
        # faster than a float one.
        docs = np.flatnonzero(dense > 0)
        return docs.astype(kind), dense[docs]

    def aligned(self, node: Node, within: np.ndarray) -> np.ndarray:
        """Scores of ``node`` for the ``within`` documents (0 where it does not match)."""
        size = self.index.size
        if node.kind == "or" and is_unit(node):
            key = ("unit", node)
            cost = self.cost(node)
            dense = self._dense_unit(node, within.size, cost)
            if dense is not None:
                return dense[within]
            # Unless the whole unit is kept (or asked for again for many documents: then it
            # is built and kept), score its children for the candidates only.
            if not self.index.cache.holds(key) and (
                within.size * 16 < cost or not self.index.recurring(key)
            ):
                if self.index.weights is not None and within.size * 16 >= cost:
                    # Many candidates: add the children's stored weights into one dense
                    # array and read the candidates' sums from it.
                    pieces = [self.pieces(child) for child in node.children]
                    return dense_sum(pieces, size)[within]
                total = np.zeros(within.size)
                for child in node.children:
                    total += self.aligned(child, within)
                return total
        if node.kind == "term":
            # (Stored weights are looked up, not computed: ranks are for computing them.)
            many = self.index.weights is None and within.size * 16 >= self.cost(node)
            ranks = self._ranks(within) if many else None
            return self.index.term_at(node.field, node.words[0], within, ranks)
        docs, scores = self.sparse(node)
        return lookup(docs, scores, within, size)

    def _dense_unit(self, node: Node, readers: int, cost: int) -> np.ndarray | None:
        """A common unit's scores of every document if they are kept, or built now that it
        is asked for again for enough documents (see DENSE_UNIT_READS); else None."""
        if cost < self.index.size * DENSE_UNIT_SHARE:
            return None
        key = ("dense", node)
        cache = self.index.cache
        dense = cache.peek(key)
        if dense is not None:
            return dense
        reads = DENSE_UNIT_READS_WHEN_FULL if cache.evicting else DENSE_UNIT_READS
        if readers * reads >= cost and self.index.recurring(key):
            return cache.get(key, lambda: self._dense(node))
        return None

    def _dense(self, node: Node) -> tuple[np.ndarray, int, bool]:
        """A unit's scores of every document, rounded to float32 (the pruning's slack covers
        the rounding): a common unit is read for many documents by most queries, and
        reading a few hundred of them from this is a gather, where the sparse unit was
        spread over all documents each time."""
        pieces = [self.pieces(child) for child in node.children]
        dense = dense_sum(pieces, self.index.size).astype(np.float32)
        return dense, dense.nbytes, True

    def phrase_bound(self, node: Node, within: np.ndarray) -> np.ndarray:
        """A phrase's score for the ``within`` documents were its words side by side in all
        that hold them: the most it can add to each, found without reading positions."""
        total = np.zeros(within.size)
        held = np.ones(within.size, dtype=bool)
        for word in node.words:
            weights = self.aligned(Node("term", node.field, (word,)), within)
            total += weights
            held &= weights > 0
        if node.boost != 1.0:  # as Whoosh: the words' sum, times the boost
            total *= node.boost
        return total * held

    def pieces(self, node: Node) -> list[Piece]:
        """A node's documents and scores as pieces: a term of several segments with stored
        weights as its segments' slices (a dense sum needs no concatenated copy), anything
        else as one piece."""
        index = self.index
        if (
            node.kind == "term"
            and index.weights is not None
            and len(index.segments) > 1
            and not index.cache.holds(("stored", node.field, node.words[0]))
        ):
            return index.term_pieces(node.field, node.words[0])
        docs, scores = self.sparse(node)
        return [(0, docs, scores)]

    def _ranks(self, within: np.ndarray) -> np.ndarray:
        """Each document's place in ``within`` (-1 elsewhere), for the last ``within`` asked."""
        if self._rank_of is None or self._rank_of[0] is not within:
            ranks = np.full(self.index.size, -1, dtype=np.int32)
            ranks[within] = np.arange(within.size, dtype=np.int32)
            self._rank_of = (within, ranks)
        return self._rank_of[1]

    def cost(self, node: Node) -> int:
        """Postings a node walks (an estimate for ordering and narrowing; orderings ask
        again and again)."""
        return self.index.facts.get("cost", node, lambda: self._cost(node))

    def _cost(self, node: Node) -> int:
        if node.kind in ("term", "phrase"):
            return sum(self.index.df(node.field, word) for word in node.words)
        if node.kind == "and":
            return min((self.cost(c) for c in node.children), default=0)
        if node.kind in ("andmaybe", "andnot"):
            return self.cost(node.children[0])
        return sum(self.cost(c) for c in node.children)


class Exact:
    """Exact BM25F scores of given documents: the query tree evaluated on them alone, every
    weight computed in float64 with Whoosh's formula (see
    :class:`~searcher.fastpath.exact_tree.ExactTree`)."""

    def __init__(self, index: TermIndex, verified: dict[Phrase, np.ndarray] | None = None) -> None:
        """``verified``: phrases' documents among a superset of the documents to score (the
        pruning's, see :class:`~searcher.fastpath.pruning.Pruning`)."""
        self.index = index
        self.verified = verified or {}

    def scores(self, node: Node, within: np.ndarray) -> np.ndarray:
        """The node's scores of the ``within`` documents (ascending)."""
        index = self.index
        # The tree and the plan of its keys' weights, worked out once per query node.
        tree, plan = index.facts.get("exact", node, lambda: _exact_plan(index, node))
        # The phrases are verified first, all at once, on these documents' positions.
        held = np.zeros((len(tree.phrases), within.size), dtype=bool)
        unverified = [j for j, phrase in enumerate(tree.phrases) if phrase not in self.verified]
        if unverified:
            held[unverified] = index.phrases_held([tree.phrases[j] for j in unverified], within)
        if len(unverified) < len(tree.phrases):
            for j, phrase in enumerate(tree.phrases):
                if phrase in self.verified:
                    held[j] = isin_sorted(within, self.verified[phrase])
        if tree.keys and 0 < within.size <= FEW:  # a page's candidates: all weights at once
            weights = exact_weights(index, plan, within)
        else:
            weights = np.zeros((len(tree.keys), within.size))
            for row, (field, word) in enumerate(tree.keys):
                weights[row] = index.term_at(field, word, within, exact=True)
        return tree.scores(weights, held)


def _exact_plan(index: TermIndex, node: Node) -> tuple[ExactTree, ExactPlan]:
    tree = ExactTree.of(node)
    return tree, ExactPlan.of(index, tree.keys)


def dense_sum(parts: list[list[Piece]], size: int) -> np.ndarray:
    """Scores of all ``size`` documents: the parts added in order (each part's documents are
    distinct, so one gather, add and scatter per piece: numpy's in-place fancy-indexed ``+=``
    takes a buffered path twice as slow, ``np.bincount`` slower still). The first part is
    stored, not added: 0 + w is w."""
    dense = np.zeros(size)
    for i, pieces in enumerate(parts):
        for offset, docs, scores in pieces:
            view = dense[offset:] if offset else dense
            view[docs] = view[docs] + scores if i else scores
    return dense


def _glue(pieces: list[Piece], kind: type) -> Sparse:
    """One part's pieces as global (documents, scores)."""
    if not pieces:
        return np.zeros(0, dtype=kind), np.zeros(0, dtype=np.float32)
    if len(pieces) == 1 and not pieces[0][0]:
        return pieces[0][1], pieces[0][2]
    docs = [d.astype(kind) + offset if offset else d.astype(kind) for offset, d, _ in pieces]
    return np.concatenate(docs), np.concatenate([w for _, _, w in pieces])
