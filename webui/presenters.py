"""What each page renders, as plain data (Datasette style).

Every facet value, chip, page link and sort option arrives with its URL already built, so
templates only render. These are pure functions of the searcher's results and the search
arguments; URLs come from a ``Links`` (``url_for`` in the app, plain strings in tests), so
no request is needed to call them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from searcher.results import Document, FacetValue, Hit, Results
from webui.params import FILTERS, SORTS, SearchArgs

FACET_LABELS = {"province": "Tỉnh/thành phố", "locality": "Địa phương", "year": "Năm"}
#: Tag URI authority for feed and entry ids: stable whatever host serves the app.
TAG_PREFIX = "tag:bantin,2024:"


@dataclass(frozen=True, slots=True)
class Links:
    """How presenters turn query parameters into URLs."""

    search: Callable[..., str]  # keyword parameters → the search page
    doc: Callable[..., str]  # doc_id and keyword parameters → a bulletin's page
    feed: Callable[..., str]  # keyword parameters → the Atom feed

    def search_with(self, args: SearchArgs, **changes: Any) -> str:
        """The search page for ``args`` with ``changes``."""
        return self.search(**args.params(**changes))

    def doc_with(self, doc_id: str, args: SearchArgs) -> str:
        """A bulletin's page that carries the search along (highlighting, the way back)."""
        return self.doc(doc_id=doc_id, **args.params())

    def feed_of(self, args: SearchArgs) -> str:
        """The feed of a search's query and filters."""
        return self.feed(**feed_params(args))


def feed_params(args: SearchArgs) -> dict[str, str]:
    """A feed follows the query and filters; sort and paging are the feed's own."""
    params: dict[str, str] = {"q": args.q} if args.q else {}
    params.update(args.filters)
    return params


def facets(
    args: SearchArgs, counts: Mapping[str, list[FacetValue]], total: int, links: Links, size: int
) -> list[dict[str, Any]]:
    """Each facet as ``{name, label, results: [{value, label, count, toggle_url, selected}],
    truncated}``; a selected value toggles its filter off, any other value sets it."""
    out = []
    for name in FILTERS:
        active = getattr(args, name)
        results = []
        for facet_value in counts.get(name, []):
            value = str(facet_value.value)
            selected = value == active
            toggle = None if selected else value
            results.append(
                {
                    "value": value,
                    "label": value,
                    "count": facet_value.count,
                    "toggle_url": links.search_with(args, **{name: toggle, "page": 1}),
                    "selected": selected,
                }
            )
        if active and not any(item["selected"] for item in results):
            # The searcher matches filters loosely ("Sa Dec" finds "Thành phố Sa Đéc"), so the
            # typed value may not be a facet value: list it anyway, so it can be turned off
            # here too. Every result passes the filter, hence the count.
            results.insert(
                0,
                {
                    "value": active,
                    "label": active,
                    "count": total,
                    "toggle_url": links.search_with(args, **{name: None, "page": 1}),
                    "selected": True,
                },
            )
        shown = [item for i, item in enumerate(results) if i < size or item["selected"]]
        if shown:
            out.append(
                {
                    "name": name,
                    "label": FACET_LABELS[name],
                    "results": shown,
                    "truncated": len(shown) < len(results),
                }
            )
    return out


def chips(args: SearchArgs, links: Links) -> list[dict[str, str]]:
    """Active filters as removable chips."""
    return [
        {
            "name": name,
            "label": FACET_LABELS[name],
            "value": value,
            "remove_url": links.search_with(args, **{name: None, "page": 1}),
        }
        for name, value in args.filters.items()
    ]


def sort_options(args: SearchArgs, links: Links) -> list[dict[str, Any]]:
    """The sort switch: each order with its link, the current one selected."""
    return [
        {
            "value": value,
            "label": label,
            "url": links.search_with(args, sort=value, page=1),
            "selected": value == args.sort,
        }
        for value, label in SORTS.items()
    ]


def pagination(args: SearchArgs, pages: int, links: Links, max_page: int) -> dict[str, Any] | None:
    """Previous/next links and a window of page numbers (None stands for a gap)."""
    pages = min(pages, max_page)
    if pages <= 1:
        return None
    current = args.page
    numbers = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    items: list[dict[str, Any] | None] = []
    previous = 0
    for number in numbers:
        if number - previous > 1:
            items.append(None)
        url = links.search_with(args, page=number)
        items.append({"number": number, "url": url, "current": number == current})
        previous = number
    return {
        "prev_url": links.search_with(args, page=current - 1) if current > 1 else None,
        "next_url": links.search_with(args, page=current + 1) if current < pages else None,
        "pages": items,
    }


def hits(args: SearchArgs, found: Iterable[Hit], links: Links) -> list[dict[str, Any]]:
    """The result list: each hit with the link to its page."""
    return [
        {
            "id": hit.id,
            "url": links.doc_with(hit.id, args),
            "title_html": hit.title_html,  # HTML-safe from the searcher: |safe in the template
            "snippet": hit.snippet,
            "date": hit.date,
            "locality": hit.locality,
            "province": hit.province,
            "author": hit.author,
        }
        for hit in found
    ]


def landing_page(
    args: SearchArgs, doc_count: int, examples: Iterable[str], links: Links, notes: list[str]
) -> dict[str, Any]:
    """The page before any search: the index's size and example queries."""
    return {
        "args": args,
        "landing": True,
        "doc_count": doc_count,
        "examples": [{"query": example, "url": links.search(q=example)} for example in examples],
        "feed_url": links.feed_of(args),
        "notes": notes,
    }


def search_page(
    args: SearchArgs,
    results: Results,
    links: Links,
    notes: list[str],
    *,
    facet_size: int,
    max_page: int,
) -> dict[str, Any]:
    """The results page: hits, facets, chips, sort switch, pagination and the notes."""
    suggestion = results.suggestion
    return {
        "args": args,
        "landing": False,
        "results": results,
        "hits": hits(args, results.hits, links),
        "notes": notes + list(results.warnings),
        "suggestion_url": links.search_with(args, q=suggestion, page=1) if suggestion else None,
        "facets": facets(args, results.facets, results.total, links, facet_size),
        "chips": chips(args, links),
        "clear_filters_url": links.search_with(
            args, province=None, locality=None, year=None, page=1
        ),
        "sort_options": sort_options(args, links),
        "pagination": pagination(args, results.pages, links, max_page),
        "feed_url": links.feed_of(args),
        "first_rank": (args.page - 1) * args.per_page + 1,
    }


def safe_external_url(url: str | None) -> str | None:
    """Only http(s) links leave the site: a stored javascript: URL must never become a link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def document_page(
    document: Document, args: SearchArgs, links: Links, mark: Callable[[str], str]
) -> dict[str, Any]:
    """A whole bulletin: ``mark`` turns text into HTML-safe text with the query's words marked."""
    paragraphs = [mark(part.strip()) for part in document.body.split("\n\n") if part.strip()]
    in_results = bool(args.q or args.filters)

    def filter_url(name: str, value: str | None) -> str | None:
        return links.search(**{name: value}) if value else None

    return {
        "args": args,
        "document": document,
        "title_html": mark(document.title),
        "paragraphs": paragraphs,
        "captions": [mark(caption) for caption in document.captions],
        "back_url": links.search_with(args) if in_results else None,
        "home_url": links.search(),
        "locality_url": filter_url("locality", document.locality),
        "province_url": filter_url("province", document.province),
        "year_url": filter_url("year", (document.date or "")[:4] or None),
        "source_url": safe_external_url(document.url),
        "feed_url": links.feed_of(args),
    }


def atom_datetime(iso_date: str | None) -> str | None:
    """An ISO date as an Atom timestamp (midnight UTC); None when there is no valid date."""
    if not iso_date:
        return None
    try:
        day = date.fromisoformat(iso_date[:10])
    except ValueError:
        return None
    return f"{day.isoformat()}T00:00:00Z"


def feed(args: SearchArgs, results: Results, links: Links, now: str) -> dict[str, Any]:
    """The Atom feed of a search; ``links`` build absolute URLs, ``now`` dates an undated feed."""
    entries = [
        {
            "id": TAG_PREFIX + "doc:" + quote(hit.id, safe=""),
            "title": hit.title,
            "updated": atom_datetime(hit.date),
            "url": links.doc(doc_id=hit.id),
            "summary": hit.snippet,
            "author": hit.author,
            "categories": [value for value in (hit.province, hit.locality) if value],
        }
        for hit in results.hits
    ]
    dated = [entry["updated"] for entry in entries if entry["updated"]]
    updated = max(dated) if dated else now
    for entry in entries:
        # Atom requires a date. Undated bulletins come last in a date sort; the oldest date
        # shown keeps them there in readers that re-sort, instead of posing as news.
        entry["updated"] = entry["updated"] or (min(dated) if dated else updated)
    described = [args.q and f"«{args.q}»", *args.filters.values()]
    title = " · ".join(part for part in described if part) or "Bản tin mới nhất"
    query = urlencode(feed_params(args))
    search_args = replace(args, sort="relevance", per_page=args.default_per_page)
    return {
        "feed_id": TAG_PREFIX + "feed" + ("?" + query if query else ""),
        "title": f"bantin — {title}",
        "updated": updated,
        "self_url": links.feed_of(args),
        "alternate_url": links.search_with(search_args),
        "entries": entries,
    }
