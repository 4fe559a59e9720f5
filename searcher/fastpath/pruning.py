"""Max-score pruning: the few matching documents that can reach a page, then their order.

Whoosh's collectors rank by score, then document number; :func:`rank` does the same for the
candidates :class:`Pruning` leaves, once their exact scores are known.
"""

from __future__ import annotations

import numpy as np

from searcher.fastpath.compiled import Node, is_unit
from searcher.fastpath.phrases import isin_sorted
from searcher.fastpath.scorer import Scorer
from searcher.fastpath.terms import FEW, TermIndex


class Pruning:
    """The documents that can reach a page, found by scoring the query clause by clause.

    A matching document's score is the sum of its clauses' scores: the required units, the
    optional compound boosts, the alternatives of a fallback. Each clause adds at most its
    largest weights, so after scoring the clauses that can add most, a document whose partial
    score plus what the rest could add stays below the ``stop``-th best partial score cannot
    reach the page (that partial score is no more than the ``stop``-th best exact score):
    the rest are scored only for the documents still in the running, usually a few hundred
    of the hundreds of thousands a query of common words matches.

    A phrase whose documents are not at hand (the proximity clause of a pair of common words:
    most documents hold both), asked for the first time, is not verified on every document
    that holds its words (asked for again, it is, once, and kept). Until
    the end it adds to each document only what it could add, its words' scores where both
    occur (an upper bound, as exact as the phrase's own score where it holds); then it is
    verified on the positions of the documents still in the running, and those are pruned
    again on their real scores.

    ``enough``: candidates few enough to score exactly at once (each by binary search, see
    FEW); no more than this many matches (or the page's end) are not pruned at all.
    """

    #: Relative slack for float32 weights, units kept as float32 (a rounding of 2**-24 each,
    #: see Scorer._dense) and summation order.
    SLACK = 2.0**-18

    def __init__(self, index: TermIndex, root: Node, enough: int = FEW) -> None:
        self.index = index
        self.enough = enough
        # Stored weights computed for slightly different statistics are within a relative
        # error e of the true ones: keeping what is within 2e/(1+e) of the threshold keeps
        # every document that can reach the page (three times e, with room for rounding).
        self.slack = self.SLACK + 3 * index.weight_error
        self.scorer = Scorer(index)
        #: The deferred phrases verified, each with the documents found to hold it among
        #: those it was verified on (a superset of the candidates: see :class:`Exact`).
        self.verified: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self.clauses: list[Node] = []
        #: Phrases left to verify on the last candidates (see the class's docstring).
        self.deferred: list[Node] = []
        for clause in _clauses(root, required=True):
            self._defer(clause)

    def _defer(self, clause: Node) -> None:
        """Add ``clause``, its phrases whose documents are not at hand set apart."""
        if self._deferrable(clause):
            self.deferred.append(clause)
            return
        if clause.kind != "or" or not is_unit(clause):
            self.clauses.append(clause)
            return
        kept: list[Node] = []
        for child in clause.children:
            if self._deferrable(child):
                self.deferred.append(child)
            else:
                kept.append(child)
        if len(kept) == len(clause.children):
            self.clauses.append(clause)
        elif kept:  # an Or's score is the sum of its matching children's
            self.clauses.append(kept[0] if len(kept) == 1 else Node("or", children=tuple(kept)))

    def _deferrable(self, node: Node) -> bool:
        """Whether ``node`` is a phrase to verify on the last candidates only: its documents
        are not at hand and it was not asked for before (one asked for again is verified on
        every document holding its words, once, and kept, as whole units are)."""
        if node.kind != "phrase" or self.index.phrase_known(node.field, node.words):
            return False
        if not self.index.recurring(("phrase", node.field, node.words)):
            return True
        # Verifying a pair whole reads the positions of every document holding its rarer
        # word: for two common words that is most of the index, tens of milliseconds once,
        # while the candidates' positions cost a fraction of one each time.
        return self.index.phrase_reach(node.field, node.words) > self.index.whole_phrase_docs

    def candidates(self, docs: np.ndarray, stop: int) -> np.ndarray:
        if docs.size <= max(self.enough, stop):
            return docs
        clauses = self.clauses + self.deferred
        bounds = [self.bound(clause) for clause in clauses]
        order = sorted(range(len(clauses)), key=lambda i: -bounds[i])
        rest = sum(bounds)
        partial = np.zeros(docs.size)  # the scores of the clauses scored so far
        # The most each deferred phrase met so far can add to each document (the phrases
        # in the order they were met), and what it may still add: nothing where an earlier
        # search verified it, since there its score is known and already in ``partial``.
        pending: list[tuple[Node, np.ndarray, np.ndarray]] = []
        for step, i in enumerate(order):
            clause = clauses[i]
            rest -= bounds[i]
            if i >= len(self.clauses):
                upper = self.scorer.phrase_bound(clause, docs)
                at, holds = self.index.checked.find((clause.field, clause.words), docs)
                still = upper
                if at.size:
                    partial[at[holds]] += upper[at[holds]]
                    still = upper.copy()
                    still[at] = 0.0
                pending.append((clause, upper, still))
            else:
                if step == 0 and self.scorer.cost(clause) * 16 < docs.size:
                    # A rare first clause (an alternative of a fallback, say): when the
                    # page's documents all hold it, no other document needs a score.
                    own = self._within(clause, docs, stop, rest)
                    if own is not None:
                        docs, partial = own
                        continue
                partial += self.scorer.aligned(clause, docs)
            most = partial + sum(still for _, _, still in pending) if pending else partial
            keep = self._keep(partial, most + max(rest, 0.0) * (1 + self.slack), stop)
            if keep.all():  # (nothing to drop yet: no copies)
                continue
            docs, partial = docs[keep], partial[keep]
            pending = [(phrase, upper[keep], still[keep]) for phrase, upper, still in pending]
            if docs.size <= max(self.enough, stop):
                return docs
        # Every clause is scored or bounded: verify the deferred phrases on what is left
        # (all at once: reading positions costs little per document, much per call), then
        # keep what can reach the page on the real scores.
        if not pending:
            return docs
        bounds_of = np.vstack([upper for _, upper, _ in pending])
        some = bounds_of.any(axis=0)  # documents where some phrase's words all occur
        held = np.zeros(bounds_of.shape, dtype=bool)
        phrases = [(phrase.field, phrase.words) for phrase, _, _ in pending]
        held[:, some] = self.index.phrases_held(phrases, docs[some])
        for key, row in zip(phrases, held, strict=True):
            self.verified[key] = docs[row]
        partial += (np.vstack([still for _, _, still in pending]) * held).sum(axis=0)
        return docs[self._keep(partial, partial, stop)]

    def _keep(self, partial: np.ndarray, most: np.ndarray, stop: int) -> np.ndarray:
        """Which documents can still reach rank ``stop``: at most ``most``, against the
        ``stop``-th best of the scores ``partial`` they have for certain."""
        return most >= _kth_best(partial, stop) * (1 - self.slack)

    def _within(
        self, clause: Node, docs: np.ndarray, stop: int, rest: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``docs`` that hold ``clause``, with its scores, if every document without it
        is certainly below the ``stop``-th best of those (else None)."""
        own, scores = self.scorer.sparse(clause)
        inside = isin_sorted(own, docs)
        own, scores = own[inside], scores[inside]
        if own.size < stop:
            return None
        best = _kth_best(scores, stop)
        if max(rest, 0.0) * (1 + self.slack) >= best * (1 - self.slack):
            return None
        return own.astype(np.int64), scores.astype(np.float64)

    def bound(self, node: Node) -> float:
        """The most a node can add to a document's score."""
        return self.index.facts.get("bound", node, lambda: self._bound(node))

    def _bound(self, node: Node) -> float:
        index = self.index
        if node.kind == "term":
            return index.max_weight(node.field, node.words[0])
        if node.kind == "phrase":
            return sum(index.max_weight(node.field, word) for word in node.words) * node.boost
        if node.kind == "andnot":
            return self.bound(node.children[0])
        return sum(self.bound(child) for child in node.children)


#: Scores, from this many on, that :func:`_kth_best` narrows with every ``SAMPLE_STRIDE``-th.
SAMPLED_SCORES = 1024
SAMPLE_STRIDE = 16


def _kth_best(scores: np.ndarray, k: int) -> float:
    """A lower bound of the ``k``-th best score: the ``k``-th best of the positive ones (the
    exact value unless fewer are positive, then 0), found among those alone since most
    documents of a fallback's match score nothing on its first clauses.

    Among many scores, a sample's ``k``-th best positive one comes first: at least ``k``
    scores are at or above it, so the ``k`` best are all among those, a few dozen where
    partitioning them all took most of a pruning step. (They are sorted: ``np.partition``
    slows down tenfold on many equal values.)"""
    if scores.size >= SAMPLED_SCORES:
        sample = scores[::SAMPLE_STRIDE]
        sample = sample[sample > 0]
        if sample.size >= k:
            best = scores[scores >= np.sort(sample)[sample.size - k]]
            if best.size <= 4 * SAMPLED_SCORES // SAMPLE_STRIDE:
                return float(np.sort(best)[best.size - k])
            return float(np.partition(best, best.size - k)[best.size - k])
    positive = scores[scores > 0]
    if positive.size < k:
        return 0.0
    return float(np.partition(positive, positive.size - k)[positive.size - k])


def _clauses(node: Node, required: bool) -> list[Node]:
    """The parts whose scores add up to the node's score on a document matching the query:
    an ``And`` that must match splits into its children, an ``Or`` always (a child adds its
    score where it matches), optional sides and exclusions as their scores say."""
    if node.kind == "andnot":
        return _clauses(node.children[0], required)
    if node.kind == "andmaybe":
        return _clauses(node.children[0], required) + _clauses(node.children[1], False)
    if node.kind == "and" and required:
        return [c for child in node.children for c in _clauses(child, True)]
    if node.kind == "or" and not is_unit(node):
        return [c for child in node.children for c in _clauses(child, False)]
    return [node]


def rank(docs: np.ndarray, scores: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Indexes into ``docs`` of ranks [start, stop) by score descending, then document number."""
    count = docs.size
    stop = min(stop, count)
    if start >= stop:
        return np.zeros(0, dtype=np.int64)
    if stop < count // 4:
        # Keep everything scoring at least the stop-th best score (ties included), then sort.
        threshold = np.partition(scores, count - stop)[count - stop]
        keep = np.flatnonzero(scores >= threshold)
    else:
        keep = np.arange(count)
    order = keep[np.lexsort((docs[keep], -scores[keep]))]
    return order[start:stop]
