"""The embeddable front door: ``Searcher(index_dir).search(query, ...) -> Results``.

One ``Searcher`` opens the live index generation once and serves many searches. Before each
search it checks (one ``stat``) whether ``bantin index`` has published a new generation and
moves to it, so a long-running process never needs a restart. Whoosh searchers are not safe to
share between threads, so each search holds a lock while it touches Whoosh; results are plain
dataclasses built before the lock is released.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import pickle
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from whoosh import collectors, scoring, sorting
from whoosh import query as wq
from whoosh.reading import CorruptIndexError
from whoosh.searching import Searcher as WhooshSearcher

from searcher.analysis import analyze, fold
from searcher.errors import IndexUnavailableError
from searcher.fastpath import FastIndex, Unsupported, highlight_fast, snippet_fast
from searcher.highlight import Pattern, highlight, snippet
from searcher.query import ParsedQuery, Unit, parse_query
from searcher.results import Document, FacetValue, Hit, Results
from searcher.schema import FACET_FIELDS, SCHEMA_VERSION, TEXT_FIELDS, folded_name
from searcher.mapped import open_whoosh_index
from searcher.storage import Generation, current_stamp, default_index_dir, read_current
from searcher.suggest import Vocabulary, plausible_correction

MAX_PER_PAGE = 100
MAX_PAGE = 10_000
#: Bulletins whose stored fields stay decoded (about 8 KB each: a few megabytes).
STORED_CACHE_DOCS = 1024
#: Facet values listed per facet (the rest are summed up by nobody; the UI shows the top ones).
FACET_LIMIT = 50
#: Errors only damaged index bytes produce: a healthy index always decodes, and user input never
#: reaches these decoders. Seeing one marks the generation as corrupt (see Searcher._reading).
_CORRUPTION = (
    CorruptIndexError,
    struct.error,
    zlib.error,
    pickle.UnpicklingError,
    EOFError,
    UnicodeDecodeError,
)
#: Whoosh's layers that turn stored bytes into values. Any failure raised inside them is damage
#: too; query evaluation lives in other modules, so an odd query cannot mark a healthy index.
_DECODING_MODULES = ("whoosh.filedb.", "whoosh.codec.", "whoosh.columns")


def _weighting() -> scoring.WeightingModel:
    """BM25F: title weighted by its field boost, length-normalised per field."""
    return scoring.BM25F(B=0.75, K1=1.2)


@dataclass
class _Open:
    """Everything opened for one generation; replaced wholesale when a new one is published."""

    generation: Generation
    index: Any
    searcher: WhooshSearcher
    facet_codes: dict[str, np.ndarray] = field(default_factory=dict)
    facet_values: dict[str, list[str | None]] = field(default_factory=dict)
    #: Why this generation is known to be corrupt, once a read has shown it.
    damage: str | None = None
    #: The numpy fast path over the generation's side files; None serves it by plain Whoosh.
    fast: FastIndex | None = None
    _facet_ranks: dict[str, np.ndarray] = field(default_factory=dict)
    #: Stored fields of the bulletins shown last, most recent at the end (see ``stored``).
    _stored: OrderedDict[int, dict[str, Any]] = field(default_factory=OrderedDict)

    def stored(self, docnum: int) -> dict[str, Any]:
        """A bulletin's stored fields, kept for the next pages that show it: Whoosh inflates
        and unpickles the whole record (about 50 µs at 95k) at every read. Callers hold the
        searcher's lock and only read the dict; a new generation starts with an empty cache."""
        stored = self._stored.get(docnum)
        if stored is None:
            stored = self._stored[docnum] = self.searcher.stored_fields(docnum)
            if len(self._stored) > STORED_CACHE_DOCS:
                self._stored.popitem(last=False)
        else:
            self._stored.move_to_end(docnum)
        return stored

    def facet_rank(self, name: str) -> np.ndarray:
        """Each facet code's place in the alphabetical order of the values (code 0: none)."""
        rank = self._facet_ranks.get(name)
        if rank is None:
            values = self.facet_values[name]
            order = sorted(range(1, len(values)), key=lambda code: values[code] or "")
            rank = np.zeros(len(values), dtype=np.int64)
            rank[order] = np.arange(1, len(values))
            self._facet_ranks[name] = rank
        return rank

    @cached_property
    def facet_combinations(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Each bulletin's combination of facet codes (province, locality, year) as one code,
        and each combination's code per facet. Counting the matches' combinations is one
        gather and one ``bincount`` over the match set instead of one per facet: a few
        thousand combinations stand for the whole index."""
        names = list(self.facet_codes)
        if not names:
            return np.zeros(0, dtype=np.int32), {}
        key = np.zeros(self.facet_codes[names[0]].size, dtype=np.int64)
        for name in names:
            key = key * len(self.facet_values[name]) + self.facet_codes[name]
        unique, combination = np.unique(key, return_inverse=True)
        per_facet: dict[str, np.ndarray] = {}
        for name in reversed(names):
            unique, per_facet[name] = np.divmod(unique, len(self.facet_values[name]))
        return combination.astype(np.int32).ravel(), per_facet

    @cached_property
    def vocabulary(self) -> Vocabulary:
        if self.fast is not None:  # the same counts from the side files' term tables, faster
            return Vocabulary.from_terms(self.fast.document_frequencies(TEXT_FIELDS).items())
        return Vocabulary.from_terms(term_counts(self.searcher.reader()).items())

    def close(self) -> None:
        self.searcher.close()
        self.index.close() if hasattr(self.index, "close") else None


def term_counts(reader: Any) -> dict[str, int]:
    """Every term of the accented text fields with its document frequency, as Whoosh has it."""
    counts: dict[str, int] = {}
    for name in TEXT_FIELDS:
        for term, info in reader.iter_field(name):
            text = term.decode("utf-8")
            counts[text] = counts.get(text, 0) + info.doc_frequency()
    return counts


class Searcher:
    """Search one bantin index folder. Thread-safe; use as a context manager or call close()."""

    def __init__(self, index_dir: str | Path | None = None, *, fast: bool = True) -> None:
        """``fast=False`` answers every query through plain Whoosh (the reference path)."""
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self._fast = fast
        self._lock = threading.RLock()
        self._open: _Open | None = None
        with self._lock:
            self._current()

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Searcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the open index files."""
        with self._lock:
            if self._open is not None:
                self._open.close()
                self._open = None

    def _current(self) -> _Open:
        """The open generation, switching to a newly published one if there is one."""
        opened = self._open
        if opened is not None and current_stamp(self.index_dir) == opened.generation.stamp:
            if opened.damage:
                raise IndexUnavailableError(opened.damage)
            return opened
        try:
            fresh = self._open_generation(read_current(self.index_dir))
        except IndexUnavailableError:
            if opened is not None and not opened.damage and opened.generation.path.is_dir():
                return opened  # keep serving what we have rather than fail
            raise
        if opened is not None:
            opened.close()
        self._open = fresh
        return fresh

    def _open_generation(self, generation: Generation) -> _Open:
        hint = f"run `bantin index --index {self.index_dir}` to rebuild it"
        version = generation.meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise IndexUnavailableError(
                f"index at {self.index_dir} has schema version {version}, this bantin needs "
                f"{SCHEMA_VERSION}: {hint}"
            )
        ix: Any = None
        whoosh_searcher: WhooshSearcher | None = None
        try:
            ix = open_whoosh_index(generation.path)
            whoosh_searcher = ix.searcher(weighting=_weighting())
            opened = _Open(generation, ix, whoosh_searcher)
            self._load_facets(opened)
            if self._fast:
                opened.fast = FastIndex.open(generation.path, whoosh_searcher)
        except Exception as error:  # Whoosh raises many types for damaged files
            if whoosh_searcher is not None:
                whoosh_searcher.close()
            if ix is not None and hasattr(ix, "close"):
                ix.close()
            raise IndexUnavailableError(
                f"index at {self.index_dir} is damaged ({_error_name(error)}): {hint}"
            ) from None
        return opened

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Report a failure while reading the open generation as IndexUnavailableError.

        A segment can open cleanly and still be damaged further in (overwritten or garbled
        postings, stored fields, terms): reading it then fails with whatever the bytes lead
        to — Whoosh's CorruptIndexError, struct, zlib, pickle or decoding errors, IndexError,
        raised in Whoosh or in our code handed bad data. Queries are parsed leniently before
        they get here, so callers get one clear error saying how to rebuild, with the original
        chained for the log. An error that only corrupt bytes produce also marks the
        generation: it is not served again (its results could be silently wrong, and
        ``/healthz`` must say so) until a new one is published.
        """
        try:
            yield
        except IndexUnavailableError:
            raise
        except Exception as error:
            message = (
                f"index at {self.index_dir} is damaged or unreadable ({_error_name(error)}): "
                f"run `bantin index --index {self.index_dir}` to rebuild it"
            )
            if _is_corruption(error) and self._open is not None:
                self._open.damage = message
            raise IndexUnavailableError(message) from error

    @staticmethod
    def _load_facets(opened: _Open) -> None:
        reader = opened.searcher.reader()
        size = reader.doc_count_all()
        for name in FACET_FIELDS:
            column = reader.column_reader(name, translate=True)
            codes = np.zeros(size, dtype=np.int32)
            values: list[str | None] = [None]
            code_of: dict[str, int] = {}
            for docnum in range(size):
                value = column[docnum]
                if not value:
                    continue
                code = code_of.get(value)
                if code is None:
                    code = code_of[value] = len(values)
                    values.append(value)
                codes[docnum] = code
            opened.facet_codes[name] = codes
            opened.facet_values[name] = values
        _ = opened.facet_combinations  # computed at open rather than by the first search

    # --- public API ----------------------------------------------------------------------

    @property
    def generation(self) -> str:
        """Name of the index generation currently served."""
        with self._lock:
            return self._current().generation.name

    def doc_count(self) -> int:
        """Number of searchable bulletins."""
        with self._lock, self._reading():
            return self._current().searcher.doc_count()

    def search(
        self,
        query: str,
        *,
        locality: str | None = None,
        province: str | None = None,
        year: str | int | None = None,
        date_from: dt.date | str | None = None,
        date_to: dt.date | str | None = None,
        sort: str = "relevance",
        page: int = 1,
        per_page: int = 10,
        explain: bool = False,
    ) -> Results:
        """Search; never raises on user input (odd input gives warnings or no hits).

        ``locality``/``province`` match accent- and case-insensitively on whole words ("Sa Dec"
        finds "Thành phố Sa Đéc"); ``sort`` is "relevance" or "date" (newest first).
        """
        started = time.perf_counter()
        page = min(max(1, _as_int(page, 1)), MAX_PAGE)
        per_page = min(max(1, _as_int(per_page, 10)), MAX_PER_PAGE)
        sort = sort if sort in ("relevance", "date") else "relevance"
        parsed = parse_query(query if isinstance(query, str) else "")
        warnings = list(parsed.warnings)
        with self._lock, self._reading():
            opened = self._current()
            allowed, filter_warnings = self._filter(
                opened, locality, province, year, date_from, date_to
            )
            warnings.extend(filter_warnings)
            outcome = _Execution(opened, parsed, allowed)
            outcome.run()
            if outcome.partial:
                warnings.append(
                    "Không có bản tin nào chứa tất cả các từ; đây là các kết quả gần đúng nhất."
                )
            hits = outcome.page(sort, page, per_page, explain)
            facets = self._facets(opened, outcome.matched)
            suggestion = self._suggestion(opened, parsed, outcome)
        return Results(
            query=query if isinstance(query, str) else "",
            total=int(outcome.matched.size),
            page=page,
            per_page=per_page,
            took_ms=(time.perf_counter() - started) * 1000,
            suggestion=suggestion,
            hits=hits,
            facets=facets,
            warnings=warnings,
            partial=outcome.partial,
        )

    def doc(self, doc_id: str) -> Document | None:
        """One whole bulletin by id, or None."""
        if not isinstance(doc_id, str) or not doc_id:
            return None
        with self._lock, self._reading():
            stored = self._current().searcher.document(id=doc_id)
            if stored is None:
                return None
            return Document(
                id=stored["id"],
                title=stored.get("title", ""),
                body=stored.get("body", ""),
                date=stored.get("date") or None,
                locality=stored.get("locality") or None,
                province=stored.get("province") or None,
                province_current=stored.get("province_current") or None,
                author=stored.get("author") or None,
                source_unit=stored.get("source_unit") or None,
                url=stored.get("url") or None,
                source=stored.get("source") or None,
            )

    def highlight(self, text: str, query: str) -> str:
        """``text`` HTML-escaped with ``<mark>`` around the words ``query`` matches."""
        return highlight(text, _patterns(parse_query(query or "")))

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        """Completions for a partial query: frequent indexed words and phrases, any accents."""
        if not isinstance(prefix, str):
            return []
        prefix = " ".join(
            analyzed.text
            for analyzed in analyze(prefix[:200], segment=False)
            if analyzed.kind == "syllable"
        )
        if not prefix:
            return []
        with self._lock, self._reading():
            vocabulary = self._current().vocabulary
        return vocabulary.complete(prefix, max(1, min(limit, 20)))

    # --- pieces --------------------------------------------------------------------------

    def _filter(
        self,
        opened: _Open,
        locality: str | None,
        province: str | None,
        year: str | int | None,
        date_from: dt.date | str | None,
        date_to: dt.date | str | None,
    ) -> tuple[np.ndarray | None, list[str]]:
        """A boolean mask over document numbers, or None when nothing filters."""
        warnings: list[str] = []
        mask: np.ndarray | None = None

        def narrow(selected: np.ndarray) -> None:
            nonlocal mask
            mask = selected if mask is None else (mask & selected)

        for name, wanted in (("locality", locality), ("province", province)):
            if wanted is None or not str(wanted).strip():
                continue
            codes = _matching_codes(opened.facet_values[name], str(wanted))
            if not codes:
                warnings.append(f"Không có địa bàn nào khớp với “{wanted}”.")
            narrow(np.isin(opened.facet_codes[name], codes))
        if year is not None and str(year).strip():
            codes = [i for i, v in enumerate(opened.facet_values["year"]) if v == str(year).strip()]
            narrow(np.isin(opened.facet_codes["year"], codes))
        if date_from is not None or date_to is not None:
            narrow(self._date_mask(opened, date_from, date_to))
        return mask, warnings

    @staticmethod
    def _date_mask(
        opened: _Open, date_from: dt.date | str | None, date_to: dt.date | str | None
    ) -> np.ndarray:
        low = str(date_from)[:10] if date_from else ""
        high = str(date_to)[:10] if date_to else "9999-12-31"
        reader = opened.searcher.reader()
        column = reader.column_reader("date", translate=True)
        size = reader.doc_count_all()
        return np.fromiter(
            (bool(column[d]) and low <= column[d] <= high for d in range(size)),
            dtype=bool,
            count=size,
        )

    @staticmethod
    def _facets(opened: _Open, matched: np.ndarray) -> dict[str, list[FacetValue]]:
        facets: dict[str, list[FacetValue]] = {}
        combination, per_facet = opened.facet_combinations
        combinations = len(next(iter(per_facet.values()), ()))
        matches_of = np.bincount(combination[matched], minlength=combinations)
        for name in FACET_FIELDS:
            values = opened.facet_values[name]
            counts = np.bincount(per_facet[name], weights=matches_of, minlength=len(values))
            counts = counts.astype(np.int64)
            # Most bulletins first; ties by value (years newest first), all in numpy.
            present = np.flatnonzero(counts[1:]) + 1
            rank = opened.facet_rank(name)[present]
            tie = -rank if name == "year" else rank
            order = present[np.lexsort((tie, -counts[present]))][:FACET_LIMIT].tolist()
            facets[name] = [FacetValue(str(values[code]), int(counts[code])) for code in order]
        return facets

    @staticmethod
    def _suggestion(opened: _Open, parsed: ParsedQuery, outcome: _Execution) -> str | None:
        words = [w for unit in parsed.positive_units() for w in unit.alternatives[0]]
        if not words or len(words) > 12:
            return None
        vocabulary = opened.vocabulary
        folded = [fold(w) for w in words]
        if outcome.matched.size == 0 or outcome.partial:
            corrected = vocabulary.correct(folded)
            if (
                corrected is not None
                and plausible_correction(folded, corrected)
                and _Execution.count_all(opened, corrected)
            ):
                return " ".join(vocabulary.restore(corrected))
        if parsed.accented:
            return None
        restored = vocabulary.restore(folded)
        suggestion = " ".join(restored)
        return suggestion if suggestion != " ".join(words) else None


# --- query execution ----------------------------------------------------------------------


class _Execution:
    """One query against one open generation: match set, fallback, ranking, hits."""

    def __init__(self, opened: _Open, parsed: ParsedQuery, allowed: np.ndarray | None) -> None:
        self.opened = opened
        self.parsed = parsed
        self.allowed = allowed
        self.partial = False
        self.query: wq.Query | None = None
        self.matched = np.zeros(0, dtype=np.int64)
        #: Whether the fast path found ``matched`` (and so ranks the page).
        self.fast_matched = False

    def run(self) -> None:
        searcher = self.opened.searcher
        if self.parsed.is_empty:
            self.query = None if self.parsed.excluded else wq.Every()
            if self.query is None:
                return
            self.matched = self._match(self.query)
            return
        boosts = _compound_boosts(searcher, self.parsed, self.opened.fast)
        required = wq.And([_group_query(g, self.parsed.accented) for g in self.parsed.groups])
        self.query = self._finish(required, boosts)
        self.matched = self._match(self.query)
        if self.matched.size == 0 and len(self.parsed.groups) > 1:
            loose = wq.Or([_group_query(g, self.parsed.accented) for g in self.parsed.groups])
            self.query = self._finish(loose, boosts)
            self.matched = self._match(self.query)
            self.partial = self.matched.size > 0

    def _finish(self, required: wq.Query, boosts: list[wq.Query]) -> wq.Query:
        query: wq.Query = wq.AndMaybe(required, wq.Or(boosts)) if boosts else required
        if self.parsed.excluded:
            excluded = wq.Or([_unit_query(u, accented=False) for u in self.parsed.excluded])
            query = wq.AndNot(query, excluded)
        return query

    def _match(self, query: wq.Query) -> np.ndarray:
        """Matching documents under the filters (the fast path scores only the page's
        candidates, later)."""
        self.fast_matched = False
        fast = self.opened.fast
        if fast is not None:
            try:
                docnums = fast.match(query)
            except Unsupported:
                pass
            else:
                if self.allowed is not None:
                    docnums = docnums[self.allowed[docnums]]
                self.fast_matched = True
                return docnums
        return self._restrict(self._docs(query))

    def _docs(self, query: wq.Query) -> np.ndarray:
        if isinstance(query, wq.AndNot):
            # Whoosh's AndNot matcher keeps some documents its negative side matches (seen
            # with an Or of terms and phrases, as an excluded acronym makes): subtract here.
            return np.setdiff1d(self._docs(query.a), self._docs(query.b), assume_unique=True)
        return np.fromiter(self.opened.searcher.docs_for_query(query), dtype=np.int64)

    def _restrict(self, docnums: np.ndarray) -> np.ndarray:
        docnums.sort()
        if self.allowed is None or docnums.size == 0:
            return docnums
        return docnums[self.allowed[docnums]]

    @staticmethod
    def count_all(opened: _Open, folded_words: list[str]) -> int:
        """Whether every folded word occurs in some one bulletin (for corrections)."""
        units = [Unit(((w,),)) for w in folded_words]
        query = wq.And([_unit_query(u, accented=False) for u in units])
        if opened.fast is not None:
            with contextlib.suppress(Unsupported):
                return opened.fast.count(query)
        return sum(1 for _ in opened.searcher.docs_for_query(query))

    def page(self, sort: str, page: int, per_page: int, explain: bool) -> list[Hit]:
        if self.query is None or self.matched.size == 0:
            return []
        searcher = self.opened.searcher
        start = (page - 1) * per_page
        if start >= self.matched.size:
            return []
        by_date = sort == "date" or isinstance(self.query, wq.Every)
        if self.fast_matched and not by_date:
            return self._fast_page(start, per_page, explain)
        # Filters and exclusions are already applied to ``matched``; pass them on only when
        # they narrowed it, and rank by the positive side (an AndNot scores as its positive
        # side, and Whoosh's AndNot matcher is not exact: see _docs).
        query = self.query
        narrowed = self.allowed is not None or isinstance(query, wq.AndNot)
        allow = set(self.matched.tolist()) if narrowed else None
        if isinstance(query, wq.AndNot):
            query = query.a
        if by_date:
            ranked = searcher.search(
                query,
                limit=start + per_page,
                filter=allow,
                sortedby=[
                    sorting.FieldFacet("date", reverse=True),
                    sorting.FieldFacet("id"),
                ],
            )
        else:
            # Exhaustive top-k: Whoosh's scored collectors call ``matcher.replace(minscore)``
            # every few documents even with optimize=False, and replacing union/and-maybe
            # trees drops documents that belong in the top k; replace=0 turns that off.
            collector: collectors.Collector = collectors.TopCollector(
                start + per_page, usequality=False, replace=0
            )
            if allow is not None:
                collector = collectors.FilterCollector(collector, allow)
            searcher.search_with_collector(query, collector)
            ranked = collector.results()
        positions = range(start, min(len(ranked), start + per_page))
        docnums = [ranked.docnum(position) for position in positions]
        if not by_date:
            scores = {d: ranked.score(p) for d, p in zip(docnums, positions, strict=True)}
        elif self.opened.fast is not None and self.fast_matched:  # fast path's scores
            ordered = np.array(sorted(docnums), dtype=np.int64)
            exact = self.opened.fast.exact_scores(self.query, ordered)
            scores = dict(zip(ordered.tolist(), exact.tolist(), strict=True))
        else:  # sorted by date: the page's relevance scores come from a small scored search
            scored = searcher.search(query, limit=len(docnums), filter=set(docnums))
            scores = {hit.docnum: hit.score for hit in scored}
        return self._hits(docnums, scores, explain, fast=self.fast_matched)

    def _fast_page(self, start: int, per_page: int, explain: bool) -> list[Hit]:
        """The page ranked from the fast path's scores (score, then document number)."""
        assert self.fast_matched and self.opened.fast is not None and self.query
        ranked, exact = self.opened.fast.top(self.query, self.matched, start, start + per_page)
        docnums = ranked.tolist()
        scores = dict(zip(docnums, exact.tolist(), strict=True))
        return self._hits(docnums, scores, explain, fast=True)

    def _hits(
        self, docnums: list[int], scores: dict[int, float], explain: bool, fast: bool
    ) -> list[Hit]:
        mark, cut = (highlight_fast, snippet_fast) if fast else (highlight, snippet)
        patterns = _patterns(self.parsed)
        hits: list[Hit] = []
        for docnum in docnums:
            score = scores.get(docnum) or 0.0
            stored = self.opened.stored(docnum)
            title = stored.get("title", "")
            body = stored.get("body", "")
            hits.append(
                Hit(
                    id=stored["id"],
                    title=title,
                    title_html=mark(title, patterns),
                    snippet=cut(body, patterns),
                    date=stored.get("date") or None,
                    locality=stored.get("locality") or None,
                    province=stored.get("province") or None,
                    author=stored.get("author") or None,
                    url=stored.get("url") or None,
                    score=float(score) if math.isfinite(score) else 0.0,
                    explanation=self._explain(docnum) if explain else None,
                )
            )
        return hits

    def _explain(self, docnum: int) -> str:
        """Each matching term's BM25F contribution to this document's score."""
        searcher = self.opened.searcher
        lines: list[str] = []
        total = 0.0
        assert self.query is not None
        for term_query in _leaf_terms(self.query):
            matcher = term_query.matcher(searcher)
            if not matcher.is_active():
                continue
            matcher.skip_to(docnum)
            if matcher.is_active() and matcher.id() == docnum:
                contribution = matcher.score()
                total += contribution
                label = (
                    f"{term_query.fieldname}:{term_query.text}"
                    if isinstance(term_query, wq.Term)
                    else f'{term_query.fieldname}:"{" ".join(term_query.words)}"'
                )
                lines.append(f"{label} = {contribution:.3f}")
        lines.append(f"sum = {total:.3f}")
        return "; ".join(lines)


def _leaf_terms(query: wq.Query) -> list[wq.Query]:
    if isinstance(query, wq.Term | wq.Phrase):
        return [query]
    leaves: list[wq.Query] = []
    for child in query.children():
        leaves.extend(_leaf_terms(child))
    return leaves


def _unit_query(unit: Unit, accented: bool) -> wq.Query:
    """A unit matches any of its alternatives in any of its fields, folded or exact."""
    fields = [unit.field] if unit.field else list(TEXT_FIELDS)
    clauses: list[wq.Query] = []
    for words in unit.alternatives:
        folded = [fold(w) for w in words]
        for name in fields:
            if len(words) == 1:
                clauses.append(wq.Term(folded_name(name), folded[0]))
                if accented:
                    clauses.append(wq.Term(name, words[0]))
            else:
                clauses.append(wq.Phrase(folded_name(name), folded))
                if accented:
                    clauses.append(wq.Phrase(name, list(words)))
    if unit.protected:
        for name in fields:
            clauses.append(wq.Term(folded_name(name), fold(unit.protected)))
    return clauses[0] if len(clauses) == 1 else wq.Or(clauses)


def _group_query(group: tuple[Unit, ...], accented: bool) -> wq.Query:
    queries = [_unit_query(unit, accented) for unit in group]
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def _compound_boosts(
    searcher: WhooshSearcher, parsed: ParsedQuery, fast: FastIndex | None = None
) -> list[wq.Query]:
    """Optional terms for adjacent query syllables that the index holds as compound words.

    pyvi leaves unaccented or lower-cased queries unsegmented, so candidates come from every
    adjacent pair and triple, kept when the index has them; an accented query's own
    segmentation adds its compounds too.
    """
    reader = searcher.reader()

    def known(field: str, term: str) -> bool:  # the fast path's term tables answer quicker
        return fast.has_term(field, term) if fast is not None else (field, term) in reader

    candidates = {tuple(c) for c in parsed.compound_candidates}
    if parsed.accented:
        candidates |= {
            tuple(t.text.split("_")) for t in analyze(parsed.text) if t.kind == "compound"
        }
    boosts: list[wq.Query] = []
    for words in sorted(candidates):
        accented_term = "_".join(words)
        folded_term = fold(accented_term)
        for name in TEXT_FIELDS:
            if known(folded_name(name), folded_term):
                boosts.append(wq.Term(folded_name(name), folded_term))
            if parsed.accented and known(name, accented_term):
                boosts.append(wq.Term(name, accented_term))
    return boosts


def _patterns(parsed: ParsedQuery) -> list[Pattern]:
    patterns: list[Pattern] = []
    for unit in parsed.positive_units():
        for words in unit.alternatives:
            patterns.append(
                Pattern(tuple(fold(w) for w in words), tuple(words) if parsed.accented else None)
            )
    return patterns


def _matching_codes(values: list[str | None], wanted: str) -> list[int]:
    """Codes of facet values matching ``wanted``: exactly, else as a run of folded words."""
    exact = [i for i, v in enumerate(values) if v is not None and v.casefold() == wanted.casefold()]
    if exact:
        return exact
    target = fold(wanted).split()
    found: list[int] = []
    for code, value in enumerate(values):
        if value is None:
            continue
        words = fold(value).split()
        if any(words[i : i + len(target)] == target for i in range(len(words) - len(target) + 1)):
            found.append(code)
    return found


def _is_corruption(error: BaseException) -> bool:
    """Whether ``error`` can only come from damaged index bytes (see _CORRUPTION)."""
    if isinstance(error, _CORRUPTION):
        return True
    innermost = error.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    module = innermost.tb_frame.f_globals.get("__name__", "") if innermost else ""
    return module.startswith(_DECODING_MODULES)


def _error_name(error: BaseException) -> str:
    """ "CorruptIndexError", "struct.error": the kind of a read failure, for one-line messages."""
    kind = type(error)
    return kind.__name__ if kind.__name__[:1].isupper() else f"{kind.__module__}.{kind.__name__}"


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return default
