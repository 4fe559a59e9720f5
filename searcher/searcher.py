"""The embeddable front door: ``Searcher(index_dir).search(query, ...) -> Results``.

One ``Searcher`` opens the live index generation once and serves many searches, following
``bantin index``'s publishes (:mod:`searcher.generation`). Whoosh searchers are not safe to
share between threads, so each search holds a lock while it touches Whoosh; results are plain
dataclasses built before the lock is released. The work itself is elsewhere: filters and facets
in :mod:`searcher.facets`, the Whoosh clauses in :mod:`searcher.plan`, running them in
:mod:`searcher.execution`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from searcher.analysis import analyze
from searcher.execution import Execution
from searcher.facets import filter_mask
from searcher.generation import STORED_CACHE_DOCS, LiveGeneration, OpenGeneration
from searcher.highlight import highlight
from searcher.plan import PRODUCT_PLAN, PlanOptions
from searcher.query import MAX_QUERY_CHARS, ParsedQuery, parse_query
from searcher.results import Document, Results
from searcher.schema import split_captions
from searcher.storage import Generation, default_index_dir

MAX_PER_PAGE = 100
MAX_PAGE = 10_000
#: Distinct queries whose analysis and plan a ``Searcher`` keeps (a few kilobytes each).
PLANNED_QUERIES = 4096


class Planned(OrderedDict):
    """The Whoosh queries planned on one generation, and what their pages mark, the least
    recently used dropped first (see ``Execution._planned`` and ``Execution.patterns``)."""

    def __init__(
        self, generation: Generation | None = None, size: int = 2 * PLANNED_QUERIES
    ) -> None:
        """``size`` entries: a query's plan and what its pages mark are one each."""
        super().__init__()
        self.generation = generation
        self.size = size

    def get(self, key: Any, default: Any = None) -> Any:
        value = super().get(key, default)
        if value is not default:
            self.move_to_end(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


class Searcher:
    """Search one bantin index folder. Thread-safe; use as a context manager or call close()."""

    def __init__(
        self,
        index_dir: str | Path | None = None,
        *,
        fast: bool = True,
        stored_cache_docs: int = STORED_CACHE_DOCS,
        plan: PlanOptions = PRODUCT_PLAN,
    ) -> None:
        """``fast=False`` answers every query through plain Whoosh (the reference path);
        ``stored_cache_docs`` bulletins stay decoded for the next pages that show them;
        ``plan`` changes how queries become Whoosh clauses (for experiments)."""
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self._plan = plan
        # Analysing a query (pyvi, acronyms) depends on its text alone; planning it also
        # on the generation's terms: both are kept, for the queries people ask again.
        self._parse_kept = lru_cache(maxsize=PLANNED_QUERIES)(parse_query)
        self._planned = Planned()
        self._lock = threading.RLock()
        self._live = LiveGeneration(self.index_dir, fast=fast, stored_cache_docs=stored_cache_docs)
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
            self._live.close()

    def _current(self) -> OpenGeneration:
        """The open generation, switching to a newly published one if there is one."""
        return self._live.current()

    def _parse(self, text: str) -> ParsedQuery:
        """``parse_query(text)``, kept for texts no longer than a query is read (a longer
        paste is cut anyway: keeping it would only hold its bytes)."""
        if len(text) > MAX_QUERY_CHARS:
            return parse_query(text)
        return self._parse_kept(text)

    def _plans(self, opened: OpenGeneration) -> Planned:
        """The queries planned on ``opened`` (a new generation starts with none)."""
        if self._planned.generation is not opened.generation:
            self._planned = Planned(opened.generation)
        return self._planned

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Read failures become one clear IndexUnavailableError (see LiveGeneration.reading)."""
        with self._live.reading():
            yield

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
        parsed = self._parse(query if isinstance(query, str) else "")
        warnings = list(parsed.warnings)
        with self._lock, self._reading():
            opened = self._current()
            allowed, filter_warnings = filter_mask(
                opened.facets,
                opened.searcher.reader(),
                locality,
                province,
                year,
                date_from,
                date_to,
            )
            warnings.extend(filter_warnings)
            outcome = Execution(opened, parsed, allowed, self._plan, self._plans(opened))
            outcome.run()
            if outcome.partial:
                warnings.append(
                    "Không có bản tin nào chứa tất cả các từ; đây là các kết quả gần đúng nhất."
                )
            hits = outcome.page(sort, page, per_page, explain)
            facets = opened.facets.count(outcome.matched)
            suggestion = outcome.suggestion()
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
                captions=split_captions(stored.get("captions")),
            )

    def highlight(self, text: str, query: str) -> str:
        """``text`` HTML-escaped with ``<mark>`` around the words ``query`` matches (the words
        it was restored to, when the index's language model is sure of them)."""
        parsed = self._parse(query or "")
        with self._lock, self._reading():
            patterns = Execution(self._current(), parsed, None, self._plan).patterns()
        return highlight(text, patterns)

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
            restorer = self._current().restorer
            return restorer.complete(prefix, max(1, min(limit, 20)))


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return default
