"""Exact BM25F matching and ranking of bantin's Whoosh queries over the side-file arrays.

The searcher builds the same ``whoosh.query`` tree either way; this module evaluates it with
numpy instead of Whoosh's per-posting matchers, reproducing Whoosh's arithmetic:

* a term scores ``idf * tf*(K1+1) / (tf + K1*((1-B) + B*fl/avgfl))`` (``whoosh.scoring.bm25``)
  with ``tf`` the stored weight (frequency times the field boost), ``fl`` the document's
  quantized field length (``byte_to_length`` of Whoosh's length byte), ``avgfl`` the field's
  total length over ``doc_count_all`` and ``idf = log(doc_count_all / (df + 1)) + 1`` where
  ``df`` counts postings of deleted documents too, as Whoosh's term info does;
* ``Or`` and ``And`` add the scores of their matching children, ``AndMaybe`` adds the optional
  side where it matches, ``AndNot`` keeps the positive side's score;
* a ``Phrase`` (slop 1) matches where its words stand at consecutive positions and scores the
  sum of its words' term scores (Whoosh's span matcher wraps their intersection).

A search first finds its matches without scoring them (cached bit sets of the query's
units; totals and facets need no scores), then scores them clause by clause on sparse
(documents, scores) arrays, dropping after each clause the documents whose score can no
longer reach the page, and ranks the few left by exact score, then document number, like
Whoosh's collectors. Term weights, bit sets and whole units are cached per generation.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.util.numeric import byte_to_length

from searcher.fastpath import weights as weights_module
from searcher.fastpath.phrases import isin_sorted, phrase_docs_in
from searcher.fastpath.store import FIELDS, SegmentFiles, load_segments

_log = logging.getLogger(__name__)
#: Bytes of computed arrays kept per open generation (common words recur in most queries),
#: and more for larger indexes, whose arrays are longer.
CACHE_BYTES = 128 << 20
CACHE_BYTES_PER_DOC = 320
#: Up to this many documents, a term's weights for them are found by binary search.
FEW = 64
#: Unions of fewer postings than documents / this are merged sparsely (see _Scorer._sum).
SPARSE_UNION = 8
_BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


class Unsupported(Exception):
    """The query holds something the fast path does not evaluate; use plain Whoosh."""


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # term, phrase, and, or, andmaybe, andnot, every, null
    field: str = ""
    words: tuple[str, ...] = ()
    children: tuple[_Node, ...] = ()


class _Cache:
    """Arrays worth keeping, bounded by their bytes (thread-safe).

    Eviction is GreedyDual-Size-Frequency: an entry's priority is the time it took to compute
    per byte it holds, times how often it was used, plus an ageing floor; the lowest priority
    goes first. A plain LRU thrashes when a stream of distinct queries cycles through more
    than it holds; this keeps what is expensive and recurring (phrase matches, the common
    words' units) and lets big one-off arrays go.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.bytes = 0
        self._items: dict[Any, list[Any]] = {}  # key -> [value, bytes, cost, uses, priority]
        self._heap: list[tuple[float, int, Any]] = []
        self._floor = 0.0
        self._sequence = 0
        self._lock = threading.Lock()

    def holds(self, key: Any) -> bool:
        return key in self._items

    def get(self, key: Any, compute: Any) -> Any:
        """The value for ``key``; ``compute()`` gives (value, bytes, worth keeping?)."""
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                entry[3] += 1
                self._prioritize(key, entry)
                return entry[0]
        started = time.perf_counter()
        value, size, keep = compute()
        cost = time.perf_counter() - started
        with self._lock:
            if keep and key not in self._items and size <= self.capacity:
                entry = [value, max(size, 1), cost, 1, 0.0]
                self._items[key] = entry
                self.bytes += entry[1]
                self._prioritize(key, entry)
                self._evict()
        return value

    def _prioritize(self, key: Any, entry: list[Any]) -> None:
        entry[4] = self._floor + entry[3] * entry[2] / entry[1]
        self._sequence += 1
        heapq.heappush(self._heap, (entry[4], self._sequence, key))
        if len(self._heap) > 4 * len(self._items) + 64:  # drop superseded heap entries
            self._heap = [item for item in self._heap if self._current(item)]
            heapq.heapify(self._heap)

    def _current(self, item: tuple[float, int, Any]) -> bool:
        entry = self._items.get(item[2])
        return entry is not None and entry[4] == item[0]

    def _evict(self) -> None:
        while self.bytes > self.capacity and self._heap:
            item = heapq.heappop(self._heap)
            if not self._current(item):
                continue
            self._floor = item[0]
            self.bytes -= self._items.pop(item[2])[1]


@dataclass
class _Term:
    """One term across all segments: global document numbers (ascending) and BM25F weights."""

    docs: np.ndarray  # int32 (or int64 beyond 2**31 documents)
    weights: np.ndarray  # float64

    @property
    def nbytes(self) -> int:
        return int(self.docs.nbytes + self.weights.nbytes)


class FastIndex:
    """The side-file arrays of one open generation, with Whoosh's global statistics."""

    def __init__(
        self,
        segments: list[SegmentFiles],
        offsets: list[int],
        doc_count_all: int,
        live: np.ndarray | None,
        avg_lengths: dict[str, float],
        boosts: dict[str, float],
        B: float,
        K1: float,
        weights: list[dict[str, np.ndarray]] | None = None,
    ) -> None:
        self.segments = segments
        #: Precomputed float32 weights per segment and field (for ranking; None: compute).
        self.weights = weights
        self.offsets = offsets
        self.size = doc_count_all
        self.live = live
        self.boosts = boosts
        self.B = B
        self.K1 = K1
        self.norms: dict[str, np.ndarray] = {}
        for name in FIELDS:
            lengths = np.concatenate([s.fields[name].lengths for s in segments])
            fl = _BYTE_TO_LENGTH[lengths]
            # The same operations, in the same order, as whoosh.scoring.bm25's denominator.
            self.norms[name] = K1 * ((1 - B) + B * fl / avg_lengths[name])
        # Term weights, whole-unit results and phrase matches of this generation; arrays
        # cheaper to recompute than to keep (fewer entries than this) are not kept.
        self.cache = _Cache(max(CACHE_BYTES, CACHE_BYTES_PER_DOC * doc_count_all))
        self.worth_caching = max(1024, doc_count_all // 64)
        self._asked: dict[Any, int] = {}
        #: Each looked-up term's posting range per segment (hash lookups add up: a query's
        #: leaves are looked up for ordering, matching and exact scoring alike).
        self._where: dict[tuple[str, str], tuple[tuple[int, int, int], ...]] = {}
        self._compiled: tuple[wq.Query, _Node] | None = None
        #: Each looked-up term's largest weight (bounds what it can add to a score).
        self._max_weight: dict[tuple[str, str], float] = {}

    # --- opening -----------------------------------------------------------------------------

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
        schema = searcher.schema
        boosts = {name: float(schema[name].format.field_boost) for name in FIELDS}
        avg = {name: searcher.avg_field_length(name) or 1 for name in FIELDS}
        if any(getattr(weighting, "_field_B", {}).get(name) for name in FIELDS):
            return None  # per-field B is not modelled
        stats = weights_module.Statistics(
            tuple(segment_id for segment_id, _ in ids),
            size,
            avg,
            boosts,
            float(weighting.B),
            float(weighting.K1),
        )
        return cls(
            segments,
            [offset for _, offset in leaves],
            size,
            live,
            avg,
            boosts,
            float(weighting.B),
            float(weighting.K1),
            weights_module.load(Path(generation_path), segments, stats),
        )

    @property
    def nbytes(self) -> int:
        """Bytes of side-file arrays mapped, plus the per-document arrays built at open."""
        mapped = sum(s.nbytes for s in self.segments)
        return mapped + sum(a.nbytes for a in self.norms.values())

    # --- terms -------------------------------------------------------------------------------

    def document_frequencies(self, fields: Iterable[str]) -> dict[str, int]:
        """Every term of ``fields`` with its postings summed over fields and segments (what
        Whoosh's term infos give, read from the term tables at a fraction of the cost)."""
        counts: dict[str, int] = {}
        for name in fields:  # in Whoosh's order: field by field, terms by their bytes
            merged: dict[bytes, int] = {}
            for segment in self.segments:
                files = segment.fields[name]
                blob, offsets = bytes(files.terms), files.term_off.tolist()
                for ordinal, df in enumerate(np.diff(files.term_ptr).tolist()):
                    raw = blob[offsets[ordinal] : offsets[ordinal + 1]]
                    merged[raw] = merged.get(raw, 0) + df
            for raw in sorted(merged) if len(self.segments) > 1 else merged:
                text = raw.decode("utf-8")
                counts[text] = counts.get(text, 0) + merged[raw]
        return counts

    def recurring(self, key: Any) -> bool:
        """Whether ``key`` was asked for before (counted in a bounded table)."""
        with self.cache._lock:
            if len(self._asked) > 1 << 16:
                self._asked.clear()
            count = self._asked.get(key, 0)
            self._asked[key] = count + 1
        return count > 0

    def has_term(self, field: str, term: str) -> bool:
        return self.df(field, term) > 0

    def term(self, field: str, term: str) -> _Term:
        """A term's documents and BM25F weights (precomputed float32 ones when the generation
        has them; else computed and cached for the life of the generation)."""
        if self.weights is not None:
            if len(self.segments) == 1:
                return self._stored_term(field, term)
            return self.cache.get(
                ("stored", field, term), lambda: self._stored_term(field, term, keep=True)
            )

        def compute() -> tuple[_Term, int, bool]:
            docs, freqs = self._postings(field, term)
            found = _Term(docs, self._weights(field, docs, freqs))
            owned = found.weights.nbytes + (docs.nbytes if len(self.segments) > 1 else 0)
            return found, owned, docs.size >= self.worth_caching

        return self.cache.get(("term", field, term), compute)

    def _stored_term(self, field: str, term: str, keep: bool = False) -> Any:
        assert self.weights is not None
        docs: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for k, a, b in self.ranges(field, term):
            files, offset = self.segments[k].fields[field], self.offsets[k]
            stored = self.weights[k]
            docs.append(files.docs[a:b] + np.int32(offset) if offset else files.docs[a:b])
            weights.append(stored[field][a:b])
        if not docs:
            found = _Term(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        elif len(docs) == 1:
            found = _Term(docs[0], weights[0])
        else:
            found = _Term(np.concatenate(docs), np.concatenate(weights))
        if keep:
            return found, found.nbytes, found.docs.size >= self.worth_caching
        return found

    def term_pieces(self, field: str, term: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """A term's (segment offset, segment-local documents, stored weights) per segment."""
        assert self.weights is not None
        return [
            (self.offsets[k], self.segments[k].fields[field].docs[a:b], self.weights[k][field][a:b])
            for k, a, b in self.ranges(field, term)
        ]

    def max_weight(self, field: str, term: str) -> float:
        """The largest weight ``term`` gives any document in ``field`` (0 if it is absent)."""
        key = (field, term)
        found = self._max_weight.get(key)
        if found is None:
            if self.weights is not None:
                slices = [self.weights[k][field][a:b] for k, a, b in self.ranges(field, term)]
                found = max((float(w.max()) for w in slices if w.size), default=0.0)
            else:
                weights = self.term(field, term).weights
                found = float(weights.max()) if weights.size else 0.0
            if len(self._max_weight) > 1 << 18:
                self._max_weight.clear()
            self._max_weight[key] = found
        return found

    def df(self, field: str, term: str) -> int:
        """Postings of a term (deleted documents included, as in Whoosh's term info)."""

        return sum(b - a for _, a, b in self.ranges(field, term))

    def ranges(self, field: str, term: str) -> tuple[tuple[int, int, int], ...]:
        """(segment index, first, last posting) of a term in each segment that holds it."""
        key = (field, term)
        found = self._where.get(key)
        if found is None:
            where = []
            for k, segment in enumerate(self.segments):
                files = segment.fields[field]
                ordinal = files.find(term)
                if ordinal is not None:
                    where.append(
                        (k, int(files.term_ptr[ordinal]), int(files.term_ptr[ordinal + 1]))
                    )
            found = tuple(where)
            if len(self._where) > 1 << 18:  # bounded; a few hundred bytes an entry
                self._where.clear()
            self._where[key] = found
        return found

    def term_at(
        self,
        field: str,
        term: str,
        within: np.ndarray,
        ranks: np.ndarray | None = None,
        exact: bool = False,
    ) -> np.ndarray:
        """A term's weights for the ``within`` documents (0 where absent), computing weights
        only for those: a few candidates are found by binary search, many through ``ranks``
        (each document's place in ``within``, -1 elsewhere). ``exact`` computes Whoosh's
        float64 weights even where precomputed float32 ones exist."""
        df = self.df(field, term)
        if not exact and self.weights is not None:
            found = self.term(field, term)
            return _lookup(found.docs, found.weights, within, self.size)
        if (
            (exact or self.weights is not None)
            and within.size * 16 >= df
            and ranks is None
            and within.size > FEW
        ):  # (a few documents, such as a page's candidates, are found by binary search)
            ranks = np.full(self.size, -1, dtype=np.int32)
            ranks[within] = np.arange(within.size, dtype=np.int32)
        if self.weights is None and self.cache.holds(("term", field, term)):
            found = self.term(field, term)
            return _lookup(found.docs, found.weights, within, self.size)
        if within.size * 16 >= df and ranks is not None:
            docs, freqs = self._postings(field, term)
            place = ranks[docs]
            hit = np.flatnonzero(place >= 0)
            weights = np.zeros(within.size)
            weights[place[hit]] = self._weights(field, docs[hit], freqs[hit], df=df)
            return weights
        if within.size * 16 >= df and self.weights is None:
            found = self.term(field, term)
            return _lookup(found.docs, found.weights, within, self.size)
        weights = np.zeros(within.size)
        for k, a, b in self.ranges(field, term):
            segment, offset = self.segments[k], self.offsets[k]
            files = segment.fields[field]
            if len(self.segments) == 1:  # (fewer numpy calls: this runs for every leaf)
                lo, local = 0, within
            else:
                lo, hi = np.searchsorted(within, [offset, offset + segment.doc_count])
                local = within[lo:hi] - offset
            docs = files.docs[a:b]
            where = np.searchsorted(docs, local)
            where[where == docs.size] = 0
            hit = np.flatnonzero(docs[where] == local)
            pick = where[hit]
            found_docs = docs[pick].astype(np.int64) + offset if offset else docs[pick]
            freqs = files.freqs[a:b][pick]
            weights[lo + hit if lo else hit] = self._weights(field, found_docs, freqs, df=df)
        return weights

    def _postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        docs: list[np.ndarray] = []
        freqs: list[np.ndarray] = []
        for k, a, b in self.ranges(field, term):
            files, offset = self.segments[k].fields[field], self.offsets[k]
            docs.append(files.docs[a:b] + np.int32(offset) if offset else files.docs[a:b])
            freqs.append(files.freqs[a:b])
        if not docs:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16)
        if len(docs) == 1:
            return docs[0], freqs[0]
        return np.concatenate(docs), np.concatenate(freqs)

    def _weights(
        self, field: str, docs: np.ndarray, freqs: np.ndarray, df: int | None = None
    ) -> np.ndarray:
        """BM25F weights of postings, with Whoosh's formula and operation order."""
        tf = freqs.astype(np.float64)
        tf *= self.boosts[field]
        # idf counts postings of deleted documents too, like Whoosh's term info.
        idf = math.log(self.size / ((docs.size if df is None else df) + 1)) + 1
        return idf * ((tf * (self.K1 + 1)) / (tf + self.norms[field][docs]))

    # --- phrases -----------------------------------------------------------------------------

    def phrase_docs(self, field: str, words: tuple[str, ...]) -> np.ndarray:
        """Documents (global, ascending) where ``words`` stand at consecutive positions."""

        def compute() -> tuple[np.ndarray, int, bool]:
            found = self._verify_phrase(field, words)
            return found, found.nbytes, True

        return self.cache.get(("phrase", field, words), compute)

    def _verify_phrase(self, field: str, words: tuple[str, ...]) -> np.ndarray:
        found: list[np.ndarray] = []
        for segment, offset in zip(self.segments, self.offsets, strict=True):
            files = segment.fields[field]
            local = files.phrases.get(words)
            if local is None:
                local = phrase_docs_in(files, words)
            if local.size:
                found.append(local.astype(np.int64) + offset)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    # --- queries -----------------------------------------------------------------------------

    def compile(self, query: wq.Query) -> _Node:
        """The query as evaluation nodes, or :class:`Unsupported` (the last query's nodes are
        kept: a search compiles its query to match, then again to score its page)."""
        last = self._compiled
        if last is not None and last[0] is query:
            return last[1]
        node = self._compile(query)
        self._compiled = (query, node)
        return node

    def _compile(self, query: wq.Query) -> _Node:
        if getattr(query, "boost", 1.0) != 1.0:
            raise Unsupported("boosted query")
        if isinstance(query, wq.Term):
            if query.fieldname not in FIELDS or not isinstance(query.text, str):
                raise Unsupported(f"term on {query.fieldname}")
            return _Node("term", query.fieldname, (query.text,))
        if isinstance(query, wq.Phrase):
            if query.fieldname not in FIELDS or query.slop != 1:
                raise Unsupported("phrase")
            words = tuple(query.words)
            if len(words) == 1:
                return _Node("term", query.fieldname, words)
            return _Node("phrase", query.fieldname, words)
        if isinstance(query, wq.Or):
            if query.scale is not None or query.minmatch:
                raise Unsupported("Or with scale/minmatch")
            return _Node("or", children=tuple(self._compile(q) for q in query.subqueries))
        if isinstance(query, wq.And):
            return _Node("and", children=tuple(self._compile(q) for q in query.subqueries))
        if isinstance(query, wq.AndMaybe):
            return _Node("andmaybe", children=(self._compile(query.a), self._compile(query.b)))
        if isinstance(query, wq.AndNot):
            return _Node("andnot", children=(self._compile(query.a), self._compile(query.b)))
        if isinstance(query, wq.Every) and query.fieldname in (None, "*"):
            return _Node("every")
        if query is wq.NullQuery:
            return _Node("null")
        raise Unsupported(type(query).__name__)

    def match(self, query: wq.Query) -> np.ndarray:
        """Matching live documents (ascending), without scores: :meth:`top` scores only what
        can reach the page. Membership is tested on cached bit sets of the query's units, which
        cost a byte per document where their scores cost twelve per match."""
        return _Membership(self).matches(self.compile(query))

    def exact_scores(self, query: wq.Query, docs: np.ndarray) -> np.ndarray:
        """Whoosh's BM25F scores (float64, its arithmetic) of ``docs`` (ascending, matching)."""
        if docs.size == 0:
            return np.zeros(0)
        return _Exact(self).scores(self.compile(query), np.asarray(docs, dtype=np.int64))

    def top(
        self, query: wq.Query, docs: np.ndarray, start: int, stop: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ranks [start, stop) of ``docs`` (:meth:`match`'s documents) by exact score, then
        document number, with those scores.

        The documents are scored clause by clause (see :class:`_Pruning`) until only those
        that can still reach rank ``stop`` are left; their exact scores decide.
        """
        stop = min(stop, docs.size)
        if start >= stop:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        candidates = _Pruning(self, self.compile(query)).candidates(docs, stop)
        exact = self.exact_scores(query, candidates)
        order = rank(candidates, exact, start, stop)
        return candidates[order], exact[order]

    def count(self, query: wq.Query) -> int:
        """Number of live documents matching."""
        return int(self.match(query).size)


_Sparse = tuple[np.ndarray, np.ndarray]  # ascending documents, their (positive) scores
#: Documents counted from an offset (a segment's first global number), their scores.
_Piece = tuple[int, np.ndarray, np.ndarray]


class _Scorer:
    """Scores of query nodes for given documents, from the (approximate) term weights.

    Scores are sparse: ascending documents with positive scores (term weights are always
    positive since idf > 0 whenever df < e * doc_count_all, so a sum of matching children is
    positive exactly where something matched). An ``And`` starts from its cheapest child and
    looks the others up only for the documents still matching; a unit of the query (one word
    or phrase in every field: an ``Or`` of terms and phrases) asked for again is computed whole
    once per generation and cached, so the common words of most queries cost a lookup, not a
    walk of their posting lists.
    """

    def __init__(self, index: FastIndex) -> None:
        self.index = index
        self._rank_of: tuple[np.ndarray, np.ndarray] | None = None

    def sparse(self, node: _Node) -> _Sparse:
        kind = node.kind
        if kind == "term":
            term = self.index.term(node.field, node.words[0])
            return term.docs, term.weights
        if kind in ("or", "phrase") and _is_unit(node):
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

    def _unit(self, node: _Node) -> tuple[_Sparse, int, bool]:
        if node.kind == "phrase":
            docs = self.index.phrase_docs(node.field, node.words)
            scores = np.zeros(docs.size)
            for word in node.words:
                scores += self.index.term_at(node.field, word, docs)
            result = (docs, scores)
        else:
            result = self._sum(node.children)
        size = result[0].nbytes + result[1].nbytes
        return result, size, self.cost(node) >= self.index.worth_caching

    def _sum(self, children: tuple[_Node, ...]) -> _Sparse:
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
        dense = _dense_sum(pieces, self.index.size)
        # Scores are positive wherever a child matched; a boolean array is scanned many times
        # faster than a float one.
        docs = np.flatnonzero(dense > 0)
        return docs.astype(kind), dense[docs]

    def aligned(self, node: _Node, within: np.ndarray) -> np.ndarray:
        """Scores of ``node`` for the ``within`` documents (0 where it does not match)."""
        size = self.index.size
        if node.kind == "or" and _is_unit(node):
            key = ("unit", node)
            cost = self.cost(node)
            # Unless the whole unit is kept (or asked for again for many documents: then it
            # is built and kept), score its children for the candidates only.
            if not self.index.cache.holds(key) and (
                within.size * 16 < cost or not self.index.recurring(key)
            ):
                if self.index.weights is not None and within.size * 16 >= cost:
                    # Many candidates: add the children's stored weights into one dense
                    # array and read the candidates' sums from it.
                    pieces = [self.pieces(child) for child in node.children]
                    return _dense_sum(pieces, size)[within]
                total = np.zeros(within.size)
                for child in node.children:
                    total += self.aligned(child, within)
                return total
        if node.kind == "term":
            ranks = self._ranks(within) if within.size * 16 >= self.cost(node) else None
            return self.index.term_at(node.field, node.words[0], within, ranks)
        docs, scores = self.sparse(node)
        return _lookup(docs, scores, within, size)

    def pieces(self, node: _Node) -> list[_Piece]:
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

    def cost(self, node: _Node) -> int:
        """Postings a node walks (an estimate for ordering and narrowing)."""
        if node.kind in ("term", "phrase"):
            return sum(self.index.df(node.field, word) for word in node.words)
        if node.kind == "and":
            return min((self.cost(c) for c in node.children), default=0)
        if node.kind in ("andmaybe", "andnot"):
            return self.cost(node.children[0])
        return sum(self.cost(c) for c in node.children)


class _Membership:
    """Which documents match a node tree, without scoring them.

    An ``And`` starts from its cheapest child's documents and keeps those every other child
    holds; a unit (a word or phrase in every field) answers "holds" from a bit set of all
    documents, built once and cached per generation when it is worth it, or by binary search
    in its lists when only a few documents are asked about.
    """

    def __init__(self, index: FastIndex) -> None:
        self.index = index
        self.scorer = _Scorer(index)  # for costs and posting pieces

    def matches(self, root: _Node) -> np.ndarray:
        index = self.index
        docs = self.docs(root)
        if index.live is not None and docs.size:
            docs = docs[index.live[docs]]
        return docs.astype(np.int64, copy=False)

    def docs(self, node: _Node) -> np.ndarray:
        """The node's matching documents, ascending."""
        kind = node.kind
        if kind == "term":
            return self.index.term(node.field, node.words[0]).docs
        if kind == "phrase":
            return self.index.phrase_docs(node.field, node.words)
        if kind == "or" and _is_unit(node):
            rare = self.scorer.cost(node) * SPARSE_UNION < self.index.size
            if rare and not self.index.cache.holds(("mask", node)):
                # merging a rare unit's lists beats a pass over every document
                return np.unique(np.concatenate([self.docs(c) for c in node.children]))
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
                if child.kind == "or" and _is_unit(child):
                    found |= self.mask(child)
                else:
                    found[self.docs(child)] = True
            return np.flatnonzero(found)
        if kind == "every":
            return np.arange(self.index.size, dtype=np.int64)
        return np.zeros(0, dtype=np.int64)

    def holds(self, node: _Node, within: np.ndarray) -> np.ndarray:
        """Whether each of the ``within`` documents (ascending) matches the node."""
        kind = node.kind
        if kind in ("term", "phrase"):
            return isin_sorted(within, self.docs(node))
        if (
            kind == "or"
            and _is_unit(node)
            and (
                within.size * 16 >= self.scorer.cost(node) or self.index.cache.holds(("mask", node))
            )
        ):  # many documents asked about, or the bit set at hand (else: each child in turn)
            return self.mask(node)[within]
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

    def mask(self, node: _Node) -> np.ndarray:
        """A unit's documents as a bit set over all documents (cached when worth it)."""

        def compute() -> tuple[np.ndarray, int, bool]:
            found = np.zeros(self.index.size, dtype=bool)
            for child in node.children:
                for offset, docs, _ in self.scorer.pieces(child):
                    (found[offset:] if offset else found)[docs] = True
            return found, found.nbytes, self.scorer.cost(node) >= self.index.worth_caching

        return self.index.cache.get(("mask", node), compute)


class _Pruning:
    """The documents that can reach a page, found by scoring the query clause by clause.

    A matching document's score is the sum of its clauses' scores: the required units, the
    optional compound boosts, the alternatives of a fallback. Each clause adds at most its
    largest weights, so after scoring the clauses that can add most, a document whose partial
    score plus what the rest could add stays below the ``stop``-th best partial score cannot
    reach the page (that partial score is no more than the ``stop``-th best exact score):
    the rest are scored only for the documents still in the running, usually a few hundred
    of the hundreds of thousands a query of common words matches.
    """

    #: Candidates few enough to score exactly at once (each by binary search, see FEW).
    ENOUGH = FEW
    #: Relative slack for float32 weights and summation order.
    SLACK = 2.0**-18

    def __init__(self, index: FastIndex, root: _Node) -> None:
        self.index = index
        self.scorer = _Scorer(index)
        self.clauses = _clauses(root, required=True)

    def candidates(self, docs: np.ndarray, stop: int) -> np.ndarray:
        if docs.size <= max(self.ENOUGH, stop):
            return docs
        bounds = [self.bound(clause) for clause in self.clauses]
        order = sorted(range(len(self.clauses)), key=lambda i: -bounds[i])
        rest = sum(bounds)
        partial = np.zeros(docs.size)
        for step, i in enumerate(order):
            rest -= bounds[i]
            if step == 0 and self.scorer.cost(self.clauses[i]) * 16 < docs.size:
                # A rare first clause (an alternative of a fallback, say): when the page's
                # documents all hold it, no other document needs a score.
                own = self._within(self.clauses[i], docs, stop, rest)
                if own is not None:
                    docs, partial = own
                    continue
            partial += self.scorer.aligned(self.clauses[i], docs)
            best = _kth_best(partial, stop)
            keep = partial + max(rest, 0.0) * (1 + self.SLACK) >= best * (1 - self.SLACK)
            docs, partial = docs[keep], partial[keep]
            if docs.size <= max(self.ENOUGH, stop):
                break
        return docs

    def _within(
        self, clause: _Node, docs: np.ndarray, stop: int, rest: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``docs`` that hold ``clause``, with its scores, if every document without it
        is certainly below the ``stop``-th best of those (else None)."""
        own, scores = self.scorer.sparse(clause)
        inside = isin_sorted(own, docs)
        own, scores = own[inside], scores[inside]
        if own.size < stop:
            return None
        best = _kth_best(scores, stop)
        if max(rest, 0.0) * (1 + self.SLACK) >= best * (1 - self.SLACK):
            return None
        return own.astype(np.int64), scores.astype(np.float64)

    def bound(self, node: _Node) -> float:
        """The most a node can add to a document's score."""
        index = self.index
        if node.kind == "term":
            return index.max_weight(node.field, node.words[0])
        if node.kind == "phrase":
            return sum(index.max_weight(node.field, word) for word in node.words)
        if node.kind == "andnot":
            return self.bound(node.children[0])
        return sum(self.bound(child) for child in node.children)


def _kth_best(scores: np.ndarray, k: int) -> float:
    """A lower bound of the ``k``-th best score: the ``k``-th best of the positive ones (the
    exact value unless fewer are positive, then 0), found among those alone since most
    documents of a fallback's match score nothing on its first clauses."""
    positive = scores[scores > 0]
    if positive.size < k:
        return 0.0
    return float(np.partition(positive, positive.size - k)[positive.size - k])


def _clauses(node: _Node, required: bool) -> list[_Node]:
    """The parts whose scores add up to the node's score on a document matching the query:
    an ``And`` that must match splits into its children, an ``Or`` always (a child adds its
    score where it matches), optional sides and exclusions as their scores say."""
    if node.kind == "andnot":
        return _clauses(node.children[0], required)
    if node.kind == "andmaybe":
        return _clauses(node.children[0], required) + _clauses(node.children[1], False)
    if node.kind == "and" and required:
        return [c for child in node.children for c in _clauses(child, True)]
    if node.kind == "or" and not _is_unit(node):
        return [c for child in node.children for c in _clauses(child, False)]
    return [node]


class _Exact:
    """Exact BM25F scores of given documents: the query tree evaluated on them alone, every
    weight computed in float64 with Whoosh's formula."""

    def __init__(self, index: FastIndex) -> None:
        self.index = index

    def scores(self, node: _Node, within: np.ndarray) -> np.ndarray:
        kind = node.kind
        if kind == "term":
            return self.index.term_at(node.field, node.words[0], within, exact=True)
        if kind == "phrase":
            present = isin_sorted(within, self.index.phrase_docs(node.field, node.words))
            total = np.zeros(within.size)
            for word in node.words:
                total += self.index.term_at(node.field, word, within, exact=True)
            return total * present
        children = [self.scores(child, within) for child in node.children]
        if kind == "or":
            return np.sum(children, axis=0) if children else np.zeros(within.size)
        if kind == "and":
            present = np.logical_and.reduce([c > 0 for c in children])
            return np.sum(children, axis=0) * present
        if kind == "andmaybe":
            return (children[0] + children[1]) * (children[0] > 0)
        if kind == "andnot":
            return children[0] * (children[1] == 0)
        return np.zeros(within.size)


def _dense_sum(parts: list[list[_Piece]], size: int) -> np.ndarray:
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


def _glue(pieces: list[_Piece], kind: type) -> _Sparse:
    """One part's pieces as global (documents, scores)."""
    if not pieces:
        return np.zeros(0, dtype=kind), np.zeros(0, dtype=np.float32)
    if len(pieces) == 1 and not pieces[0][0]:
        return pieces[0][1], pieces[0][2]
    docs = [d.astype(kind) + offset if offset else d.astype(kind) for offset, d, _ in pieces]
    return np.concatenate(docs), np.concatenate([w for _, _, w in pieces])


def _is_unit(node: _Node) -> bool:
    return node.kind == "phrase" or all(c.kind in ("term", "phrase") for c in node.children)


def _lookup(docs: np.ndarray, scores: np.ndarray, within: np.ndarray, size: int) -> np.ndarray:
    """``scores`` of the ``within`` documents (0 for those not in ``docs``)."""
    if docs.size == 0 or within.size == 0:
        return np.zeros(within.size)
    if within.size * 16 < docs.size or docs.size * 16 < within.size:
        # One list much shorter than the other: binary search.
        where = np.searchsorted(docs, within)
        where[where == docs.size] = 0
        hit = docs[where] == within
        return np.where(hit, scores[where], 0.0)
    dense = np.zeros(size)
    dense[docs] = scores
    return dense[within]


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
