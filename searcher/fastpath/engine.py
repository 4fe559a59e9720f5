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

Each node becomes one array of scores over all documents (0: no match); a term's weights are
computed once per generation and cached. Results are ranked by score, then document number,
like Whoosh's collectors.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.util.numeric import byte_to_length

from searcher.fastpath.phrases import isin_sorted, phrase_docs_in
from searcher.fastpath.store import FIELDS, SegmentFiles, load_segments

_log = logging.getLogger(__name__)
#: Bytes of phrase results kept per open generation (common acronym phrases repeat a lot).
PHRASE_CACHE_BYTES = 32 << 20
#: Bytes of term weights kept per open generation (common words recur in most queries).
TERM_CACHE_BYTES = 96 << 20
_BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


class Unsupported(Exception):
    """The query holds something the fast path does not evaluate; use plain Whoosh."""


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # term, phrase, and, or, andmaybe, andnot, every, null
    field: str = ""
    words: tuple[str, ...] = ()
    children: tuple[_Node, ...] = ()


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
    ) -> None:
        self.segments = segments
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
        self._phrases: OrderedDict[tuple[str, tuple[str, ...]], np.ndarray] = OrderedDict()
        self._phrase_bytes = 0
        self._terms: OrderedDict[tuple[str, str], _Term] = OrderedDict()
        self._term_bytes = 0
        self._lock = threading.Lock()

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
        return cls(
            segments,
            [offset for _, offset in leaves],
            size,
            live,
            avg,
            boosts,
            float(weighting.B),
            float(weighting.K1),
        )

    @property
    def nbytes(self) -> int:
        """Bytes of side-file arrays mapped, plus the per-document arrays built at open."""
        mapped = sum(s.nbytes for s in self.segments)
        return mapped + sum(a.nbytes for a in self.norms.values())

    # --- terms -------------------------------------------------------------------------------

    def has_term(self, field: str, term: str) -> bool:
        return any(s.fields[field].find(term) is not None for s in self.segments)

    def term(self, field: str, term: str) -> _Term:
        """A term's documents and BM25F weights, cached for the life of this generation."""
        key = (field, term)
        with self._lock:
            cached = self._terms.get(key)
            if cached is not None:
                self._terms.move_to_end(key)
                return cached
        found = self._term(field, term)
        with self._lock:
            if key not in self._terms:
                self._terms[key] = found
                self._term_bytes += found.nbytes
                while self._term_bytes > TERM_CACHE_BYTES and len(self._terms) > 1:
                    _, dropped = self._terms.popitem(last=False)
                    self._term_bytes -= dropped.nbytes
        return found

    def _term(self, field: str, term: str) -> _Term:
        docs: list[np.ndarray] = []
        freqs: list[np.ndarray] = []
        for segment, offset in zip(self.segments, self.offsets, strict=True):
            files = segment.fields[field]
            ordinal = files.find(term)
            if ordinal is None:
                continue
            a, b = int(files.term_ptr[ordinal]), int(files.term_ptr[ordinal + 1])
            docs.append(files.docs[a:b] + np.int32(offset) if offset else files.docs[a:b])
            freqs.append(files.freqs[a:b])
        if not docs:
            return _Term(np.zeros(0, dtype=np.int32), np.zeros(0))
        all_docs = docs[0] if len(docs) == 1 else np.concatenate(docs)
        tf = (freqs[0] if len(freqs) == 1 else np.concatenate(freqs)).astype(np.float64)
        tf *= self.boosts[field]
        # idf counts postings of deleted documents too, like Whoosh's term info.
        idf = math.log(self.size / (all_docs.size + 1)) + 1
        weights = idf * ((tf * (self.K1 + 1)) / (tf + self.norms[field][all_docs]))
        return _Term(all_docs, weights)

    # --- phrases -----------------------------------------------------------------------------

    def phrase_docs(self, field: str, words: tuple[str, ...]) -> np.ndarray:
        """Documents (global, ascending) where ``words`` stand at consecutive positions."""
        key = (field, words)
        with self._lock:
            cached = self._phrases.get(key)
            if cached is not None:
                self._phrases.move_to_end(key)
                return cached
        found = self._verify_phrase(field, words)
        with self._lock:
            if key not in self._phrases:
                self._phrases[key] = found
                self._phrase_bytes += found.nbytes
                while self._phrase_bytes > PHRASE_CACHE_BYTES and len(self._phrases) > 1:
                    _, dropped = self._phrases.popitem(last=False)
                    self._phrase_bytes -= dropped.nbytes
        return found

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
        """The query as evaluation nodes, or :class:`Unsupported`."""
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
            return _Node("or", children=tuple(self.compile(q) for q in query.subqueries))
        if isinstance(query, wq.And):
            return _Node("and", children=tuple(self.compile(q) for q in query.subqueries))
        if isinstance(query, wq.AndMaybe):
            return _Node("andmaybe", children=(self.compile(query.a), self.compile(query.b)))
        if isinstance(query, wq.AndNot):
            return _Node("andnot", children=(self.compile(query.a), self.compile(query.b)))
        if isinstance(query, wq.Every) and query.fieldname in (None, "*"):
            return _Node("every")
        if query is wq.NullQuery:
            return _Node("null")
        raise Unsupported(type(query).__name__)

    def search(self, query: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        """Matching live documents (ascending) and their BM25F scores."""
        run = _Run(self, self.compile(query))
        return run.matched, run.scores

    def count(self, query: wq.Query) -> int:
        """Number of live documents matching."""
        return int(_Run(self, self.compile(query)).matched.size)


class _Run:
    """One evaluation of a node tree into per-document scores, 0 meaning "does not match".

    Term weights are always positive (idf > 0 since df < e * doc_count_all), so a sum of
    matching children is positive exactly where something matched. A node is evaluated either
    over every document (a dense array) or, once an ``And`` has found a small set of
    candidates, only over those (an array aligned with the candidates): a rare word then spares
    the common words of the query from being walked in full.
    """

    def __init__(self, index: FastIndex, root: _Node) -> None:
        self.index = index
        self._rank_of: tuple[np.ndarray, np.ndarray] | None = None
        if root.kind == "every":
            matched = np.ones(index.size, dtype=bool)
            if index.live is not None:
                matched &= index.live
            self.matched = np.flatnonzero(matched)
            self.scores = np.zeros(self.matched.size)
            return
        docs, scores = self._evaluate(root, None)
        if docs is None:
            if index.live is not None:
                scores *= index.live
            docs = np.flatnonzero(scores)
            scores = scores[docs]
        else:
            keep = scores > 0
            if index.live is not None:
                keep &= index.live[docs]
            docs, scores = docs[keep], scores[keep]
        self.matched = docs.astype(np.int64, copy=False)
        self.scores = scores

    # Results are (None, dense scores over all documents) or (candidates, aligned scores).

    def _evaluate(
        self, node: _Node, within: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray]:
        kind = node.kind
        if kind == "and":
            return self._and(node, within)
        if kind == "andmaybe":
            docs, required = self._evaluate(node.children[0], within)
            optional = self._scores(node.children[1], docs)
            present = required > 0
            required += optional
            required *= present
            return docs, required
        if kind == "andnot":
            docs, positive = self._evaluate(node.children[0], within)
            positive *= self._scores(node.children[1], docs) == 0
            return docs, positive
        return within, self._scores(node, within)

    def _and(self, node: _Node, within: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
        children = sorted(node.children, key=self._cost)
        docs, total = self._evaluate(children[0], within)
        for child in children[1:]:
            if docs is None and self._cost(child) > _SELECTIVE * self.index.size:
                # Narrow to the documents matched so far before walking a long posting list.
                candidates = np.flatnonzero(total)
                if candidates.size * _SELECTIVE < self.index.size:
                    docs, total = candidates, total[candidates]
            scores = self._scores(child, docs)
            total *= scores > 0
            total += scores * (total > 0)
        return docs, total

    def _cost(self, node: _Node) -> int:
        """Postings a node walks (an estimate for ordering and narrowing)."""
        if node.kind in ("term", "phrase"):
            return sum(self.index.term(node.field, word).docs.size for word in node.words)
        if node.kind == "and":
            return min((self._cost(c) for c in node.children), default=0)
        if node.kind in ("andmaybe", "andnot"):
            return self._cost(node.children[0])
        return sum(self._cost(c) for c in node.children)

    def _scores(self, node: _Node, within: np.ndarray | None) -> np.ndarray:
        """Scores of ``node`` over all documents, or over the ``within`` documents."""
        size = self.index.size if within is None else within.size
        kind = node.kind
        if kind == "term":
            scores = np.zeros(size)
            self._add_term(scores, node.field, node.words[0], within)
            return scores
        if kind == "phrase":
            scores = np.zeros(size)
            for word in node.words:
                self._add_term(scores, node.field, word, within)
            docs = self.index.phrase_docs(node.field, node.words)
            if within is None:
                present = np.zeros(size, dtype=bool)
                present[docs] = True
            else:
                present = isin_sorted(within, docs)
            scores *= present
            return scores
        if kind == "or":
            scores = np.zeros(size)
            for child in node.children:
                if child.kind == "term":  # add in place, no array per term
                    self._add_term(scores, child.field, child.words[0], within)
                else:
                    scores += self._scores(child, within)
            return scores
        if kind in ("and", "andmaybe", "andnot"):
            docs, scores = self._evaluate(node, within)
            if docs is within:
                return scores
            assert within is None and docs is not None
            dense = np.zeros(size)
            dense[docs] = scores
            return dense
        return np.zeros(size)

    def _add_term(
        self, scores: np.ndarray, field: str, word: str, within: np.ndarray | None
    ) -> None:
        term = self.index.term(field, word)
        if within is None:
            scores[term.docs] += term.weights
        elif within.size * 16 < term.docs.size:  # few candidates: binary search for them
            where = np.searchsorted(term.docs, within)
            where[where == term.docs.size] = 0
            hit = term.docs[where] == within
            scores[hit] += term.weights[where[hit]]
        else:  # many candidates: map every posting to its candidate rank
            ranks = self._ranks(within)[term.docs]
            hit = ranks >= 0
            scores[ranks[hit]] += term.weights[hit]

    def _ranks(self, within: np.ndarray) -> np.ndarray:
        if self._rank_of is None or self._rank_of[0] is not within:
            ranks = np.full(self.index.size, -1, dtype=np.int32)
            ranks[within] = np.arange(within.size, dtype=np.int32)
            self._rank_of = (within, ranks)
        return self._rank_of[1]


#: An And narrows to its candidates when they are fewer than 1/_SELECTIVE of all documents.
_SELECTIVE = 8


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
