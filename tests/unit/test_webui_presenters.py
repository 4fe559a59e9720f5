"""The web pages' data, computed without an app or a request (Datasette style: whole dicts)."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import MultiDict

from searcher.results import Document, FacetValue, Hit, Results
from webui import presenters
from webui.app import DEFAULT_CONFIG
from webui.params import ArgumentError, SearchArgs, parse_search_args
from webui.presenters import Links


def url(path: str, **params: Any) -> str:
    query = urlencode(params)
    return path + ("?" + query if query else "")


LINKS = Links(
    search=lambda **params: url("/", **params),
    doc=lambda doc_id, **params: url("/doc/" + doc_id, **params),
    feed=lambda **params: url("/feed", **params),
)


def hit(doc_id: str, date: str | None) -> Hit:
    return Hit(
        id=doc_id,
        title=f"Tin {doc_id}",
        title_html=f"Tin <mark>{doc_id}</mark>",
        snippet="…",
        date=date,
        locality="Xã A",
        province="Đồng Tháp",
        author=None,
        url=None,
        score=1.0,
    )


def results(total: int, page: int = 1, per_page: int = 10, **facets: list[FacetValue]) -> Results:
    return Results(
        query="q",
        total=total,
        page=page,
        per_page=per_page,
        took_ms=1.0,
        suggestion=None,
        hits=[],
        facets=facets,
    )


def test_facets_toggle_values_and_keep_a_loose_filter_selected() -> None:
    args = SearchArgs(q="tin", locality="Sa Dec", page=3)
    counts = {
        "province": [FacetValue("Đồng Tháp", 4), FacetValue("An Giang", 1)],
        "locality": [FacetValue("Thành phố Sa Đéc", 3)],
    }
    assert presenters.facets(args, counts, 3, LINKS, size=1) == [
        {
            "name": "province",
            "label": "Tỉnh/thành phố",
            "results": [
                {
                    "value": "Đồng Tháp",
                    "label": "Đồng Tháp",
                    "count": 4,
                    "toggle_url": url("/", q="tin", province="Đồng Tháp", locality="Sa Dec"),
                    "selected": False,
                }
            ],
            "truncated": True,
        },
        {
            "name": "locality",
            "label": "Địa phương",
            "results": [
                {
                    "value": "Sa Dec",
                    "label": "Sa Dec",
                    "count": 3,
                    "toggle_url": url("/", q="tin"),
                    "selected": True,
                }
            ],
            "truncated": True,
        },
    ]


def test_chips_and_sort_options() -> None:
    args = SearchArgs(q="tin", year="2021", sort="date", page=2)
    assert presenters.chips(args, LINKS) == [
        {
            "name": "year",
            "label": "Năm",
            "value": "2021",
            "remove_url": url("/", q="tin", sort="date"),
        }
    ]
    assert presenters.sort_options(args, LINKS) == [
        {
            "value": "relevance",
            "label": "Liên quan nhất",
            "url": url("/", q="tin", year="2021"),
            "selected": False,
        },
        {
            "value": "date",
            "label": "Mới nhất",
            "url": url("/", q="tin", year="2021", sort="date"),
            "selected": True,
        },
    ]


def test_pagination_window_with_gaps_and_a_page_cap() -> None:
    args = SearchArgs(q="x", page=5, per_page=2, default_per_page=10)
    page = {n: url("/", q="x", **({"page": n} if n > 1 else {}), per_page=2) for n in range(1, 9)}
    assert presenters.pagination(args, 40, LINKS, max_page=8) == {
        "prev_url": page[4],
        "next_url": page[6],
        "pages": [
            {"number": 1, "url": page[1], "current": False},
            None,
            {"number": 3, "url": page[3], "current": False},
            {"number": 4, "url": page[4], "current": False},
            {"number": 5, "url": page[5], "current": True},
            {"number": 6, "url": page[6], "current": False},
            {"number": 7, "url": page[7], "current": False},
            {"number": 8, "url": page[8], "current": False},
        ],
    }
    assert presenters.pagination(args, 1, LINKS, max_page=8) is None


def test_search_page_context() -> None:
    args = SearchArgs(q="tin", page=2, per_page=1, default_per_page=1)
    found = Results(
        query="tin",
        total=2,
        page=2,
        per_page=1,
        took_ms=1.0,
        suggestion="tín",
        hits=[hit("b", None)],
        facets={},
        warnings=["note from the searcher"],
    )
    context = presenters.search_page(args, found, LINKS, ["cut"], facet_size=10, max_page=1000)
    assert context == {
        "args": args,
        "landing": False,
        "results": found,
        "hits": [
            {
                "id": "b",
                "url": url("/doc/b", q="tin", page=2),
                "title_html": "Tin <mark>b</mark>",
                "snippet": "…",
                "date": None,
                "locality": "Xã A",
                "province": "Đồng Tháp",
                "author": None,
            }
        ],
        "notes": ["cut", "note from the searcher"],
        "suggestion_url": url("/", q="tín"),
        "facets": [],
        "chips": [],
        "clear_filters_url": url("/", q="tin"),
        "sort_options": presenters.sort_options(args, LINKS),
        "pagination": {
            "prev_url": url("/", q="tin"),
            "next_url": None,
            "pages": [
                {"number": 1, "url": url("/", q="tin"), "current": False},
                {"number": 2, "url": url("/", q="tin", page=2), "current": True},
            ],
        },
        "feed_url": url("/feed", q="tin"),
        "first_rank": 2,
    }


def test_document_page_links_and_refuses_unsafe_sources() -> None:
    document = Document(
        id="d1",
        title="Tiêu đề",
        body="Đoạn một.\n\n  \n\nĐoạn <hai>.",
        date="2021-05-04",
        locality="Xã A",
        province=None,
        province_current=None,
        author=None,
        source_unit=None,
        url="javascript:alert(1)",
        source=None,
        captions=("Ảnh: <b>đoạn</b> đê",),
    )
    args = SearchArgs(q="đoạn")
    assert presenters.document_page(document, args, LINKS, escape) == {
        "args": args,
        "document": document,
        "title_html": "Tiêu đề",
        "paragraphs": ["Đoạn một.", "Đoạn &lt;hai&gt;."],
        "captions": ["Ảnh: &lt;b&gt;đoạn&lt;/b&gt; đê"],
        "back_url": url("/", q="đoạn"),
        "home_url": "/",
        "locality_url": url("/", locality="Xã A"),
        "province_url": None,
        "year_url": url("/", year="2021"),
        "source_url": None,
        "feed_url": url("/feed", q="đoạn"),
    }


def test_feed_dates_undated_entries_with_the_oldest_date() -> None:
    args = SearchArgs(q="tin", province="Đồng Tháp", sort="date", per_page=20)
    found = results(3)
    found.hits.extend([hit("a/1", "2024-03-02"), hit("b", "2023-01-09"), hit("c", "not a date")])
    feed = presenters.feed(args, found, LINKS, now="2030-01-01T00:00:00Z")
    assert [(entry["id"], entry["updated"], entry["url"]) for entry in feed["entries"]] == [
        ("tag:bantin,2024:doc:a%2F1", "2024-03-02T00:00:00Z", "/doc/a/1"),
        ("tag:bantin,2024:doc:b", "2023-01-09T00:00:00Z", "/doc/b"),
        ("tag:bantin,2024:doc:c", "2023-01-09T00:00:00Z", "/doc/c"),
    ]
    assert {key: value for key, value in feed.items() if key != "entries"} == {
        "feed_id": "tag:bantin,2024:feed?" + urlencode({"q": "tin", "province": "Đồng Tháp"}),
        "title": "bantin — «tin» · Đồng Tháp",
        "updated": "2024-03-02T00:00:00Z",
        "self_url": url("/feed", q="tin", province="Đồng Tháp"),
        "alternate_url": url("/", q="tin", province="Đồng Tháp"),
    }
    assert (
        presenters.feed(SearchArgs(), results(0), LINKS, now="2030-01-01T00:00:00Z")["updated"]
        == "2030-01-01T00:00:00Z"
    )


def test_lenient_arguments_fall_back_and_strict_ones_refuse() -> None:
    raw = MultiDict({"q": " tin ", "year": "21", "sort": "odd", "page": "9999", "per_page": "x"})
    args, notes = parse_search_args(raw, DEFAULT_CONFIG, strict=False)
    assert (args, notes) == (SearchArgs(q="tin", page=1000, per_page=10), [])
    with pytest.raises(ArgumentError, match="year"):
        parse_search_args(raw, DEFAULT_CONFIG, strict=True)
