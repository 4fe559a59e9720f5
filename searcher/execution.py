"""Running one query plan against one open generation: match set, fallback, ranking, hits.

The fast path (numpy over the side files) answers what it supports and plain Whoosh the rest;
both give the same documents and scores. Hits, snippets and explanations are built here, while
the caller still holds the generation open, so no Whoosh object leaves this module.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import MutableMapping
from typing import Any

import numpy as np
from whoosh import collectors, sorting
from whoosh import query as wq

from searcher.fastpath import Unsupported
from searcher.fastpath.marks import page_marks
from searcher.generation import OpenGeneration
from searcher.highlight import Pattern, highlight, snippet
from searcher.plan import (
    PRODUCT_PLAN,
    PlanOptions,
    QueryPlan,
    all_words_query,
    leaf_terms,
)
from searcher.query import ParsedQuery
from searcher.restore import meant_patterns, suggest
from searcher.results import Hit
from searcher.schema import split_captions


class Execution:
    """One query against one open generation: match set, fallback, ranking, hits."""

    def __init__(
        self,
        opened: OpenGeneration,
        parsed: ParsedQuery,
        allowed: np.ndarray | None,
        options: PlanOptions = PRODUCT_PLAN,
        plans: MutableMapping[Any, Any] | None = None,
    ) -> None:
        """``plans`` keeps the Whoosh queries planned on this generation (see _planned), and
        what their pages mark (see patterns)."""
        self.opened = opened
        self.parsed = parsed
        self.allowed = allowed
        self.plan = QueryPlan(parsed, options)
        self.partial = False
        self.query: wq.Query | None = None
        self.matched = np.zeros(0, dtype=np.int64)
        #: Whether the fast path found ``matched`` (and so ranks the page).
        self.fast_matched = False
        self.plans = plans
        self._boosts: list[wq.Query] | None = None

    def run(self) -> None:
        """Find the matching documents: all groups, else (``partial``) any of them."""
        if self.parsed.is_empty:
            self.query = None if self.parsed.excluded else wq.Every()
            if self.query is None:
                return
            self.matched = self._match(self.query)
            return
        self.query = self._planned(loose=False)
        self.matched = self._match(self.query)
        if self.matched.size == 0 and len(self.parsed.groups) > 1:
            self.query = self._planned(loose=True)
            self.matched = self._match(self.query)
            self.partial = self.matched.size > 0

    def _planned(self, loose: bool) -> wq.Query:
        """The query's Whoosh tree (all groups, or any of them when ``loose``), taken from
        ``plans`` when it was planned before on this generation: planning looks compound
        words up in the index, and the same tree lets the fast path reuse its compiled form."""
        key = (loose, self.parsed, self.plan.options)
        if self.plans is not None and (query := self.plans.get(key)) is not None:
            return query
        if self._boosts is None:
            self._boosts = self.plan.boosts(self._known)
        query = self.plan.finish(self.plan.loose() if loose else self.plan.required(), self._boosts)
        if self.plans is not None:
            self.plans[key] = query
        return query

    def _known(self, field: str, term: str) -> bool:
        """Whether the index holds ``term`` (the fast path's term tables answer quicker)."""
        fast = self.opened.fast
        if fast is not None:
            return fast.has_term(field, term)
        return (field, term) in self.opened.searcher.reader()

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

    def suggestion(self) -> str | None:
        """The accented or corrected form of the query, if the index suggests one."""
        nothing = self.matched.size == 0 or self.partial
        return suggest(self.parsed, self.opened.restorer, nothing, self._count_all)

    def patterns(self) -> list[Pattern]:
        """What titles, snippets and the document page mark for this query, kept with its
        plans: restoring an unaccented query's words and grouping them into the index's
        compounds cost up to a tenth of a millisecond at every search of it."""
        if self.plans is None:
            return meant_patterns(self.parsed, self.opened.language_model, self._known)
        key = ("patterns", self.parsed)
        found = self.plans.get(key)
        if found is None:
            found = meant_patterns(self.parsed, self.opened.language_model, self._known)
            self.plans[key] = found
        return list(found)

    def _count_all(self, folded_words: list[str]) -> int:
        """Whether every folded word occurs in some one bulletin (for corrections)."""
        query = all_words_query(folded_words, self.plan.options)
        if self.opened.fast is not None:
            with contextlib.suppress(Unsupported):
                return self.opened.fast.count(query)
        return sum(1 for _ in self.opened.searcher.docs_for_query(query))

    def page(self, sort: str, page: int, per_page: int, explain: bool) -> list[Hit]:
        """The hits of one page, ranked by relevance or by date (newest first)."""
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
        stored = [self.opened.stored(docnum) for docnum in docnums]
        marks = self._page_marks(docnums, stored, fast)
        hits: list[Hit] = []
        for docnum, fields, (title_html, snippet_html) in zip(docnums, stored, marks, strict=True):
            score = scores.get(docnum) or 0.0
            hits.append(
                Hit(
                    id=fields["id"],
                    title=fields.get("title", ""),
                    title_html=title_html,
                    snippet=snippet_html,
                    date=fields.get("date") or None,
                    locality=fields.get("locality") or None,
                    province=fields.get("province") or None,
                    author=fields.get("author") or None,
                    url=fields.get("url") or None,
                    score=float(score) if math.isfinite(score) else 0.0,
                    explanation=self._explain(docnum) if explain else None,
                )
            )
        return hits

    def _page_marks(
        self, docnums: list[int], stored: list[dict], fast: bool
    ) -> list[tuple[str, str]]:
        """Each hit's highlighted title and snippet: on the fast path from the syllables stored
        at index time, all the page at once; else by re-analysing the stored text."""
        patterns = self.patterns()
        if fast and self.opened.fast is not None:
            return page_marks(self.opened.fast.passages, docnums, stored, patterns)
        return [
            (
                highlight(f.get("title", ""), patterns),
                snippet(f.get("body", ""), patterns, captions=split_captions(f.get("captions"))),
            )
            for f in stored
        ]

    def _explain(self, docnum: int) -> str:
        """Each matching term's BM25F contribution to this document's score."""
        searcher = self.opened.searcher
        lines: list[str] = []
        total = 0.0
        assert self.query is not None
        for term_query in leaf_terms(self.query):
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
