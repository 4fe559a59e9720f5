"""Exact BM25F matching and ranking of bantin's Whoosh queries over the side-file arrays.

The searcher builds the same ``whoosh.query`` tree either way; :class:`FastIndex` evaluates it
with numpy instead of Whoosh's per-posting matchers, reproducing Whoosh's arithmetic
(:mod:`~searcher.fastpath.scoring`). The query is compiled to plain nodes
(:mod:`~searcher.fastpath.compiled`); a search first finds its matches without scoring them
(:mod:`~searcher.fastpath.membership`), then scores them clause by clause, dropping after each
clause the documents whose score can no longer reach the page
(:mod:`~searcher.fastpath.pruning`, :mod:`~searcher.fastpath.scorer`), and ranks the few left
by exact score, then document number, like Whoosh's collectors. Term weights, bit sets and
whole units are cached per generation (:mod:`~searcher.fastpath.terms`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq

from searcher.fastpath.compiled import Node, Unsupported, compile_query
from searcher.fastpath.membership import Membership
from searcher.fastpath.pages import PageFields
from searcher.fastpath.passages import Passages
from searcher.fastpath.pruning import Pruning, rank
from searcher.fastpath.scorer import Exact
from searcher.fastpath.scoring import collection_statistics
from searcher.fastpath.store import FIELDS, load_segments, load_weights, side_dir
from searcher.fastpath.terms import FEW, TermIndex

__all__ = ["FastIndex", "Unsupported"]

_log = logging.getLogger(__name__)
#: Compiled queries kept (the searcher keeps the planned query trees of recurring queries).
COMPILED_QUERIES = 4096


class FastIndex(TermIndex):
    """The fast path of one open generation: its terms (see :class:`TermIndex`) and the
    searches the searcher runs on them.

    ``prune_above``: searches with no more matches than this (or the page's end) score every
    match exactly; more are pruned first (see :class:`~searcher.fastpath.pruning.Pruning`).
    """

    def __init__(self, *args: Any, prune_above: int = FEW, **kwargs: Any) -> None:
        """``args`` and ``kwargs``: :class:`TermIndex`'s."""
        super().__init__(*args, **kwargs)
        self.prune_above = prune_above
        #: The stored syllables of titles and bodies, for the page's marks (None: not written).
        self.passages: Passages | None = None
        #: The stored fields of hits, by document number (None: not written).
        self.pages: PageFields | None = None
        self._compiled: OrderedDict[int, tuple[wq.Query, Node]] = OrderedDict()

    @classmethod
    def open(cls, generation_path: Path, searcher: Any) -> FastIndex | None:
        """The fast path for an open Whoosh searcher's index, or None without valid side files.

        Never raises: whatever goes wrong leaves the generation to plain Whoosh (and is logged).
        """
        try:
            return cls._open(generation_path, searcher)
        except Exception:  # an accelerator must not make a healthy index unavailable
            _log.warning("fast path disabled for %s", generation_path, exc_info=True)
            return None

    @classmethod
    def _open(cls, generation_path: Path, searcher: Any) -> FastIndex | None:
        reader = searcher.reader()
        leaves = [(reader, 0)] if reader.is_atomic() else list(reader.leaf_readers())
        ids = [(leaf.segment().segment_id(), leaf.doc_count_all()) for leaf, _ in leaves]
        segments = load_segments(Path(generation_path), ids)
        if segments is None:
            return None
        size = reader.doc_count_all()
        live: np.ndarray | None = None
        if reader.has_deletions():
            live = np.ones(size, dtype=bool)
            for leaf, offset in leaves:
                deleted = np.fromiter(leaf.segment().deleted_docs(), dtype=np.int64)
                live[deleted + offset] = False
        weighting = searcher.weighting
        if any(getattr(weighting, "_field_B", {}).get(name) for name in FIELDS):
            return None  # per-field B is not modelled
        ids_only = tuple(segment_id for segment_id, _ in ids)
        B, K1 = float(weighting.B), float(weighting.K1)
        stats = collection_statistics(searcher, ids_only, FIELDS, B, K1)
        stored = load_weights(Path(generation_path), segments, stats)
        offsets = [offset for _, offset in leaves]
        fast = cls(
            segments,
            offsets,
            size,
            live,
            stats.avg_lengths,
            stats.boosts,
            B,
            K1,
            stored[0] if stored else None,
            weight_error=stored[1] if stored else 0.0,
        )
        fast.passages = Passages.open(Path(generation_path), ids, offsets)
        fast.pages = PageFields.open(side_dir(Path(generation_path)), ids, offsets)
        return fast

    # --- queries -----------------------------------------------------------------------------

    def compile(self, query: wq.Query) -> Node:
        """The query as evaluation nodes, or :class:`Unsupported`. Nodes are kept per query
        object: a search compiles its query to match, then again to score its page, and the
        searcher reuses the query trees it planned before."""
        compiled = self._compiled
        known = compiled.get(id(query))
        if known is not None and known[0] is query:
            compiled.move_to_end(id(query))
            return known[1]
        node = compile_query(query)
        compiled[id(query)] = (query, node)  # the query is kept, so its id stays its own
        if len(compiled) > COMPILED_QUERIES:
            compiled.popitem(last=False)
        return node

    def match(self, query: wq.Query) -> np.ndarray:
        """Matching live documents (ascending), without scores: :meth:`top` scores only what
        can reach the page. Membership is tested on cached bit sets of the query's units, which
        cost a bit per document where their scores cost twelve bytes per match."""
        return Membership(self).matches(self.compile(query))

    def exact_scores(self, query: wq.Query, docs: np.ndarray) -> np.ndarray:
        """Whoosh's BM25F scores (float64, its arithmetic) of ``docs`` (ascending, matching)."""
        if docs.size == 0:
            return np.zeros(0)
        return Exact(self).scores(self.compile(query), np.asarray(docs, dtype=np.int64))

    def top(
        self, query: wq.Query, docs: np.ndarray, start: int, stop: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ranks [start, stop) of ``docs`` (:meth:`match`'s documents) by exact score, then
        document number, with those scores.

        The documents are scored clause by clause (see
        :class:`~searcher.fastpath.pruning.Pruning`) until only those that can still reach rank
        ``stop`` are left; their exact scores decide.
        """
        stop = min(stop, docs.size)
        if start >= stop:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        node = self.compile(query)
        pruning = Pruning(self, node, self.prune_above)
        candidates = pruning.candidates(docs, stop)
        exact = Exact(self, pruning.verified).scores(node, candidates)
        order = rank(candidates, exact, start, stop)
        return candidates[order], exact[order]

    def count(self, query: wq.Query) -> int:
        """Number of live documents matching."""
        return int(self.match(query).size)
