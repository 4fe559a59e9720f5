"""A compiled query's exact score as a few whole-matrix steps over its leaves' weights.

:class:`~searcher.fastpath.scorer.Exact` scores a page's few candidates with Whoosh's float64
arithmetic. Walking the tree node by node cost a handful of numpy calls per leaf, and a
page's query has some fifty leaves (a word in six fields, pairs and proximity phrases). Here
the tree is worked out once per node (:meth:`ExactTree.of`): every term leaf is a row of the
weights matrix, every phrase leaf a row computed for all phrases together, and an ``Or`` of
leaves one gather and one sum. The additions are the same, in the same order, as the walk's:
the scores are equal to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from searcher.fastpath.compiled import Node

Phrase = tuple[str, tuple[str, ...]]  # (field, words)
#: A step of the evaluation: ("row", r), ("sum", rows), or (kind, [steps]) for an inner node.
Step = tuple[str, Any]


@dataclass
class ExactTree:
    """A node's leaves and the steps that add them up.

    ``keys`` are the (field, word) pairs whose exact weights the score reads (rows of the
    weights matrix), ``phrases`` the distinct phrases to verify; phrase leaf ``i`` (a phrase
    with its boost) adds the weights of rows ``words[i]`` (padded with ``len(keys)``, a row
    of zeros), times ``boosts[i]``, where phrase ``held_rows[i]`` is held.
    """

    keys: list[tuple[str, str]]
    phrases: list[Phrase]
    words: np.ndarray
    boosts: np.ndarray
    held_rows: np.ndarray
    step: Step

    @classmethod
    def of(cls, node: Node) -> ExactTree:
        keys: dict[tuple[str, str], int] = {}
        phrases: dict[Phrase, int] = {}
        phrase_leaves: dict[Node, int] = {}
        leaf_words: list[list[int]] = []

        def compile_step(n: Node) -> Step:
            if n.kind == "term":
                return ("row", keys.setdefault((n.field, n.words[0]), len(keys)))
            if n.kind == "phrase":
                rows = [keys.setdefault((n.field, word), len(keys)) for word in n.words]
                phrases.setdefault((n.field, n.words), len(phrases))
                if n not in phrase_leaves:
                    phrase_leaves[n] = len(phrase_leaves)
                    leaf_words.append(rows)
                return ("phrase", phrase_leaves[n])
            steps = [compile_step(child) for child in n.children]
            if n.kind == "or" and steps and all(s[0] in ("row", "phrase") for s in steps):
                return ("sum", steps)
            return (n.kind, steps)

        step = compile_step(node)
        # Phrase leaves come after the term rows: resolve their places now that all are known.
        step = _placed(step, len(keys))
        longest = max((len(rows) for rows in leaf_words), default=0)
        words = np.full((len(leaf_words), longest), len(keys), dtype=np.intp)
        for i, rows in enumerate(leaf_words):
            words[i, : len(rows)] = rows
        leaves = list(phrase_leaves)
        boosts = np.array([[leaf.boost] for leaf in leaves], dtype=np.float64).reshape(-1, 1)
        held_rows = np.array([phrases[(leaf.field, leaf.words)] for leaf in leaves], dtype=np.intp)
        return cls(list(keys), list(phrases), words, boosts, held_rows, step)

    def scores(self, weights: np.ndarray, held: np.ndarray) -> np.ndarray:
        """The scores, given the keys' exact ``weights`` (rows: keys) and whether each of the
        documents holds each phrase (``held``, rows: phrases)."""
        size = weights.shape[1]
        if self.words.size:
            padded = np.concatenate([weights, np.zeros((1, size))])
            # 0 + w1 + w2 + ...: the walk's order, a padding row adding 0.
            total = padded[self.words[:, 0]]
            for column in range(1, self.words.shape[1]):
                total += padded[self.words[:, column]]
            total *= self.boosts
            total *= held[self.held_rows]
            leaves = np.concatenate([weights, total])
        else:
            leaves = weights
        return _evaluate(self.step, leaves, size)


def _placed(step: Step, terms: int) -> Step:
    """``step`` with phrase leaves as rows after the ``terms`` term rows, and an ``Or`` of
    leaves as the rows it sums."""
    kind, what = step
    if kind == "row":
        return step
    if kind == "phrase":
        return ("row", terms + what)
    if kind == "sum":
        rows = [row for _, row in (_placed(s, terms) for s in what)]
        return ("sum", np.array(rows, dtype=np.intp))
    return (kind, [_placed(s, terms) for s in what])


def _evaluate(step: Step, leaves: np.ndarray, size: int) -> np.ndarray:
    """Whoosh's matchers' sums: ``Or`` and ``And`` add their matching children, ``AndMaybe``
    its optional side where the required one matches, ``AndNot`` keeps the positive side."""
    kind, what = step
    if kind == "row":
        return leaves[what]
    if kind == "sum":  # the same (children, documents) array np.sum of the children stacks
        return leaves[what].sum(axis=0)
    children = [_evaluate(child, leaves, size) for child in what]
    if kind == "or":
        return np.sum(children, axis=0) if children else np.zeros(size)
    if kind == "and":
        present = np.logical_and.reduce([c > 0 for c in children])
        return np.sum(children, axis=0) * present
    if kind == "andmaybe":
        return (children[0] + children[1]) * (children[0] > 0)
    if kind == "andnot":
        return children[0] * (children[1] == 0)
    return np.zeros(size)
