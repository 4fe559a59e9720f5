"""One open generation's terms over all its segments: postings, weights, phrase matches.

Every term is looked up by hash in each segment's side files (:mod:`~searcher.fastpath.store`)
and its postings read as global document numbers (a segment's local numbers plus its offset).
A term's weights are its idf times the precomputed float32 parts (see
:mod:`~searcher.fastpath.weights`) when the generation has them, else computed with
:mod:`~searcher.fastpath.scoring`'s formulas; exact scores are always computed in float64.
What is worth it is cached for the life of the generation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from searcher.fastpath.cache import Cache
from searcher.fastpath.checked import CheckedPhrases, Phrase
from searcher.fastpath.compiled import NodeFacts
from searcher.fastpath.exact_weights import ExactPlan, exact_weights
from searcher.fastpath.phrases import (
    StartsOf,
    find_sorted,
    isin_sorted,
    lookup,
    phrase_docs_in,
    posting_starts,
    sorted_unique,
)
from searcher.fastpath.scoring import idf, length_norms, term_weights
from searcher.fastpath.store import FIELDS, SegmentFiles

#: Bytes of computed arrays kept per open generation (common words recur in most queries),
#: and more for larger indexes, whose arrays are longer.
CACHE_BYTES = 128 << 20
CACHE_BYTES_PER_DOC = 320
#: Up to this many documents, a term's weights for them are found by binary search.
FEW = 64
#: A phrase asked for again is verified whole when its rarest word is in no more than this
#: share of the documents (see ``TermIndex.whole_phrase_docs``).
WHOLE_PHRASE_SHARE = 1 / 5
#: Lookup tables (terms' posting ranges, largest weights) are emptied past this many entries
#: (a few hundred bytes an entry).
TABLE_ENTRIES = 1 << 18
#: Facts about compiled query nodes kept before they are all dropped (see NodeFacts).
NODE_FACTS = 1 << 16


@dataclass
class Term:
    """One term across all segments: global document numbers (ascending) and BM25F weights."""

    docs: np.ndarray  # int32 (or int64 beyond 2**31 documents)
    weights: np.ndarray  # float64

    @property
    def nbytes(self) -> int:
        return int(self.docs.nbytes + self.weights.nbytes)


class TermIndex:
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
        weight_error: float = 0.0,
    ) -> None:
        self.segments = segments
        #: Precomputed float32 weight parts per segment and field, each posting's weight over
        #: its term's idf (for ranking; None: compute).
        self.weights = weights
        #: The largest relative error of a weight from the stored parts (statistics drift
        #: since they were computed; float32 rounding aside): widens the pruning slack.
        self.weight_error = weight_error
        self.offsets = offsets
        self.size = doc_count_all
        self.live = live
        self.boosts = boosts
        self.B = B
        self.K1 = K1
        self.norms: dict[str, np.ndarray] = {}
        for name in FIELDS:
            lengths = np.concatenate([s.fields[name].lengths for s in segments])
            self.norms[name] = length_norms(lengths, avg_lengths[name], B, K1)
        # Term weights, whole-unit results and phrase matches of this generation; arrays
        # cheaper to recompute than to keep (fewer entries than this) are not kept.
        self.cache = Cache(max(CACHE_BYTES, CACHE_BYTES_PER_DOC * doc_count_all))
        self.worth_caching = max(1024, doc_count_all // 64)
        #: A phrase asked for again is verified on every document holding its words (and
        #: kept) when its rarest word is in no more documents than this (see Pruning).
        self.whole_phrase_docs = int(doc_count_all * WHOLE_PHRASE_SHARE)
        self._asked: dict[Any, int] = {}
        self._asked_lock = threading.Lock()
        #: Each looked-up term's posting range per segment (hash lookups add up: a query's
        #: leaves are looked up for ordering, matching and exact scoring alike).
        self._where: dict[tuple[str, str], tuple[tuple[int, int, int], ...]] = {}
        #: Each term's ordinal in a segment's field, once looked up for its positions.
        self._ordinals: dict[tuple[int, str, str], int | None] = {}
        #: Each looked-up term's largest weight (bounds what it can add to a score).
        self._max_weight: dict[tuple[str, str], float] = {}
        #: What this generation's compiled query nodes cost, add at most, read (fewer
        #: entries than the tables above: each keeps its node, and a root its whole tree).
        self.facts = NodeFacts(NODE_FACTS)
        #: Phrases verified on some documents only, and which of those hold them.
        self.checked = CheckedPhrases(self.worth_caching, doc_count_all)

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
        with self._asked_lock:
            if len(self._asked) > 1 << 16:
                self._asked.clear()
            count = self._asked.get(key, 0)
            self._asked[key] = count + 1
        return count > 0

    def has_term(self, field: str, term: str) -> bool:
        return self.df(field, term) > 0

    def term(self, field: str, term: str) -> Term:
        """A term's documents and BM25F weights (precomputed float32 ones when the generation
        has them; else computed and cached for the life of the generation)."""
        if self.weights is not None:
            if len(self.segments) == 1:
                return self._stored_term(field, term)
            return self.cache.get(
                ("stored", field, term), lambda: self._stored_term(field, term, keep=True)
            )

        def compute() -> tuple[Term, int, bool]:
            docs, freqs = self._postings(field, term)
            found = Term(docs, self._weights(field, docs, freqs))
            owned = found.weights.nbytes + (docs.nbytes if len(self.segments) > 1 else 0)
            return found, owned, docs.size >= self.worth_caching

        return self.cache.get(("term", field, term), compute)

    def _stored_term(self, field: str, term: str, keep: bool = False) -> Any:
        assert self.weights is not None
        docs: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        scale = self._idf(field, term)
        for k, a, b in self.ranges(field, term):
            files, offset = self.segments[k].fields[field], self.offsets[k]
            stored = self.weights[k]
            docs.append(files.docs[a:b] + np.int32(offset) if offset else files.docs[a:b])
            weights.append(stored[field][a:b] * scale)
        if not docs:
            found = Term(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        elif len(docs) == 1:
            found = Term(docs[0], weights[0])
        else:
            found = Term(np.concatenate(docs), np.concatenate(weights))
        if keep:  # (small ones too: rebuilding them was a tenth of the pruning's time)
            return found, found.nbytes, True
        return found

    def term_pieces(self, field: str, term: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """A term's (segment offset, segment-local documents, stored weights) per segment."""
        assert self.weights is not None
        scale = self._idf(field, term)
        return [
            (
                self.offsets[k],
                self.segments[k].fields[field].docs[a:b],
                self.weights[k][field][a:b] * scale,
            )
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
                found *= self._idf(field, term)
            else:
                weights = self.term(field, term).weights
                found = float(weights.max()) if weights.size else 0.0
            if len(self._max_weight) > TABLE_ENTRIES:
                self._max_weight.clear()
            self._max_weight[key] = found
        return found

    def _idf(self, field: str, term: str) -> np.float32:
        """The factor of a term's stored weight parts: its idf in this generation."""
        return np.float32(idf(self.size, self.df(field, term)))

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
            if len(self._where) > TABLE_ENTRIES:
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
        if df == 0:
            return np.zeros(within.size)
        if not exact and self.weights is not None:
            found = self.term(field, term)
            return lookup(found.docs, found.weights, within, self.size)
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
            return lookup(found.docs, found.weights, within, self.size)
        if within.size * 16 >= df and ranks is not None:
            docs, freqs = self._postings(field, term)
            place = ranks[docs]
            hit = np.flatnonzero(place >= 0)
            weights = np.zeros(within.size)
            weights[place[hit]] = self._weights(field, docs[hit], freqs[hit], df=df)
            return weights
        if within.size * 16 >= df and self.weights is None:
            found = self.term(field, term)
            return lookup(found.docs, found.weights, within, self.size)
        return self.exact_at([(field, term)], within)[0]

    def parts(self, within: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """``within`` (global, ascending) split by segment: each part's first index into it
        and its segment-local documents."""
        if len(self.segments) == 1:  # (fewer numpy calls)
            return [(0, within)]
        bounds = np.searchsorted(within, [*self.offsets, self.size]).tolist()
        return [
            (lo, within[lo:hi] - offset)
            for lo, hi, offset in zip(bounds, bounds[1:], self.offsets, strict=False)
        ]

    def exact_at(self, keys: Sequence[tuple[str, str]], within: np.ndarray) -> np.ndarray:
        """Exact weights of several (field, term) keys for a few ``within`` documents (rows:
        keys): see :func:`~searcher.fastpath.exact_weights.exact_weights` (a page's scores
        keep their query's plan with its nodes, see ``Exact``)."""
        if within.size == 0 or not keys:
            return np.zeros((len(keys), within.size))
        return exact_weights(self, ExactPlan.of(self, keys), within)

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
        weight = idf(self.size, docs.size if df is None else df)
        return term_weights(freqs, self.boosts[field], weight, self.norms[field][docs], self.K1)

    # --- phrases -----------------------------------------------------------------------------

    def phrase_docs(self, field: str, words: tuple[str, ...]) -> np.ndarray:
        """Documents (global, ascending) where ``words`` stand at consecutive positions."""

        def compute() -> tuple[np.ndarray, int, bool]:
            found = self._verify_phrase(field, words)
            return found, found.nbytes, True

        return self.cache.get(("phrase", field, words), compute)

    def phrase_reach(self, field: str, words: tuple[str, ...]) -> int:
        """Documents whose positions verifying the phrase on all of them reads: those
        holding its rarest word."""
        return min(self.df(field, word) for word in words)

    def phrase_known(self, field: str, words: tuple[str, ...]) -> bool:
        """Whether the phrase's documents are at hand (cached, or stored with the side files)
        rather than to be found from positions."""
        if self.cache.holds(("phrase", field, words)):
            return True
        return all(words in segment.fields[field].phrases for segment in self.segments)

    def phrases_held(self, phrases: Sequence[Phrase], within: np.ndarray) -> np.ndarray:
        """Whether each of the ``within`` documents (global, ascending) holds each phrase
        (rows: phrases): from a phrase's documents when at hand, else from the positions of
        those documents alone (a pair of common words is held by most documents, a page's
        candidates are a few hundred). All phrases of a field are read in one gather."""
        held = np.zeros((len(phrases), within.size), dtype=bool)
        if within.size == 0:
            return held
        unknown: dict[str, list[int]] = {}
        # Per phrase, which of ``within`` an earlier search verified it on (see CheckedPhrases).
        seen: dict[int, np.ndarray] = {}
        for j, (field, words) in enumerate(phrases):
            if self.phrase_known(field, words):
                held[j] = isin_sorted(within, self.phrase_docs(field, words))
                continue
            at, holds = self.checked.find((field, words), within)
            held[j, at[holds]] = True
            if at.size == within.size:
                continue
            seen[j] = np.zeros(within.size, dtype=bool)
            seen[j][at] = True
            unknown.setdefault(field, []).append(j)
        for field, rows in unknown.items():
            # The documents some phrase of the field was not verified on, read in one gather.
            todo = np.flatnonzero(~np.logical_and.reduce([seen[j] for j in rows]))
            for k, (lo, local) in enumerate(self.parts(within[todo])):
                if local.size == 0:
                    continue
                found = self._held_in(k, field, [phrases[j][1] for j in rows], local)
                for j, ranks in zip(rows, found, strict=True):
                    held[j, todo[lo + ranks]] = True
            for j in rows:
                self.checked.remember(phrases[j], within, within[held[j]])
        return held

    def _held_in(
        self, k: int, field: str, phrases: list[tuple[str, ...]], local: np.ndarray
    ) -> list[np.ndarray]:
        """For each phrase, the indexes into ``local`` (segment ``k``'s documents) of those
        holding it: every word's positions in those documents gathered at once, each keyed
        by (phrase, document, position the phrase would start at); a start counted as often
        as the phrase has words is a match."""
        files = self.segments[k].fields[field]
        starts = self._starts_of(k, field)
        read: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        begins: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        labels: list[int] = []  # phrase * len(local) + rank: the first of each part
        shifts: list[int] = []
        size = local.size
        for j, words in enumerate(phrases):
            for i, word in enumerate(words):
                if word not in read:
                    read[word] = self._positions_of(k, field, word, local, starts)
                found = read[word]
                if found is not None:
                    begins.append(found[0])
                    counts.append(found[1])
                    labels.append(j)
                    shifts.append(i)
        if not begins:
            return [np.zeros(0, dtype=np.int64) for _ in phrases]
        count = np.concatenate(counts)
        begin = np.concatenate(begins)
        parts = np.repeat(np.arange(len(labels)), size)
        label = np.asarray(labels, dtype=np.int64)[parts] * size + np.tile(
            np.arange(size, dtype=np.int64), len(labels)
        )
        shift = np.asarray(shifts, dtype=np.int64)[parts]
        ends = np.cumsum(count)
        flat = np.arange(int(ends[-1]) if ends.size else 0) - np.repeat(ends - count, count)
        positions = files.positions[np.repeat(begin, count) + flat].astype(np.int64)
        positions -= np.repeat(shift, count)
        usable = positions >= 0
        keys = (np.repeat(label, count)[usable] << 32) | positions[usable]
        keys, times = sorted_unique(keys, counts=True)
        groups = keys >> 32
        lengths = np.asarray([len(words) for words in phrases], dtype=np.int64)
        groups = sorted_unique(groups[times == lengths[groups // size]])
        which = groups // size
        return [groups[which == j] % size for j in range(len(phrases))]

    def _positions_of(
        self, k: int, field: str, word: str, local: np.ndarray, starts: StartsOf
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Where each of the ``local`` documents' positions of ``word`` begin in segment
        ``k``'s positions of the field, and how many there are (0 for a document without
        it)."""
        files = self.segments[k].fields[field]
        key = (k, field, word)
        ordinal = self._ordinals.get(key, -1)
        if ordinal == -1:
            ordinal = files.find(word)
            if len(self._ordinals) > TABLE_ENTRIES:
                self._ordinals.clear()
            self._ordinals[key] = ordinal
        if ordinal is None:
            return None
        a, b = int(files.term_ptr[ordinal]), int(files.term_ptr[ordinal + 1])
        found, where = find_sorted(files.docs[a:b], local)
        term_freqs = files.freqs[a:b]
        count = np.where(found, term_freqs[where], 0).astype(np.int64)
        return int(files.pos_ptr[ordinal]) + starts(ordinal, term_freqs)[where], count

    def _starts_of(self, k: int, field: str) -> StartsOf:
        """Where each posting of a term of segment ``k`` starts in its positions: computed
        once per term and kept for the common words (a pass over its whole posting list)."""

        def starts(ordinal: int, term_freqs: np.ndarray) -> np.ndarray:
            def compute() -> tuple[np.ndarray, int, bool]:
                found = posting_starts(term_freqs)
                return found, found.nbytes, term_freqs.size >= self.worth_caching

            return self.cache.get(("starts", k, field, ordinal), compute)

        return starts

    def _verify_phrase(self, field: str, words: tuple[str, ...]) -> np.ndarray:
        found: list[np.ndarray] = []
        for k, (segment, offset) in enumerate(zip(self.segments, self.offsets, strict=True)):
            files = segment.fields[field]
            local = files.phrases.get(words)
            if local is None:
                local = phrase_docs_in(files, words, starts=self._starts_of(k, field))
            if local.size:
                found.append(local.astype(np.int64) + offset)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
