"""Web UI tests with Flask's test client, against the index of the shipped corpus."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from webui import create_app

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
QUERY = "cai cach hanh chinh"

# Ids as real feeds have them: '/', spaces, ',', '@', '%', a leading '/', '//', unicode.
ODD_IDS = {
    "tin/2024/thong bao, so 1@ubnd": "kythuat",
    "/dau/gach//kep/": "hoasen",
    "ma%2Fgia 100%": "lantrang",
    "bản tin/số 7": "thuyenrong",
}


@pytest.fixture(scope="module")
def odd_client(tmp_path_factory: pytest.TempPathFactory):
    """An index whose ids need URL-encoding; each holds one made-up word to find it by."""
    from index import build_index

    folder = tmp_path_factory.mktemp("odd")
    lines = [
        {
            "id": doc_id,
            "title": f"Thông báo {word}",
            "body": f"Nội dung bản tin về {word} của xã.",
            "date": "2024-03-0" + str(n + 1),
            "locality": "Xã Thử Nghiệm",
            "province": "Đồng Tháp",
        }
        for n, (doc_id, word) in enumerate(ODD_IDS.items())
    ]
    source = folder / "odd.jsonl"
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    build_index([source], folder / "index")
    return create_app({"BANTIN_INDEX": str(folder / "index"), "TESTING": True}).test_client()


class LinkParser(HTMLParser):
    """Collects every <a> with its attributes and text, and the page's inline-code smells."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, Any]] = []
        self.inline_scripts = 0
        self.style_attributes = 0
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.style_attributes += 1
        if any(name.startswith("on") for name in attributes):
            self.inline_scripts += 1
        if tag == "script" and not attributes.get("src"):
            self.inline_scripts += 1
        if tag == "a":
            link = {**attributes, "text": ""}
            self.links.append(link)
            self._open.append(link)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for link in self._open:
            link["text"] += data


def parse(html: str) -> LinkParser:
    parser = LinkParser()
    parser.feed(html)
    return parser


def facet_links(html: str, name: str) -> list[dict[str, Any]]:
    """Facet links of one facet as {href, label, count, selected}."""
    out = []
    for link in parse(html).links:
        if link.get("data-facet") != name:
            continue
        words = link["text"].split()
        out.append(
            {
                "href": link["href"],
                "label": " ".join(words[:-1]),
                "count": int(words[-1].replace(".", "")),
                "selected": "is-selected" in link["class"],
            }
        )
    return out


def links_with_class(html: str, css_class: str) -> list[dict[str, Any]]:
    return [link for link in parse(html).links if css_class in (link.get("class") or "").split()]


def total_of(html: str) -> int:
    found = re.search(r"Tìm thấy <strong>([\d.]+)</strong> kết quả", html)
    return int(found.group(1).replace(".", "")) if found else 0


def api(client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# --- every route ----------------------------------------------------------------------------

ROUTES = [
    ("/", 200, "text/html"),
    (f"/?q={QUERY}", 200, "text/html"),
    (f"/?q={QUERY}&sort=date&page=1", 200, "text/html"),
    (f"/doc/001_43642a5dc4415f17?q={QUERY}", 200, "text/html"),
    (f"/api/search?q={QUERY}", 200, "application/json"),
    ("/api/suggest?q=cai", 200, "application/json"),
    ("/api/suggest?q=cai&format=opensearch", 200, "application/x-suggestions+json"),
    (f"/feed?q={QUERY}", 200, "application/atom+xml"),
    ("/opensearch.xml", 200, "application/opensearchdescription+xml"),
    ("/healthz", 200, "application/json"),
    ("/static/style.css", 200, "text/css"),
    ("/static/suggest.js", 200, "text/javascript"),
    ("/doc/khong-co-ban-tin-nay", 404, "text/html"),
    ("/khong-co-trang-nay", 404, "text/html"),
    ("/api/khong-co", 404, "application/json"),
    ("/api/search?page=0", 400, "application/json"),
]


@pytest.mark.parametrize(("path", "status", "mimetype"), ROUTES)
def test_route_status_type_and_security_headers(client, path, status, mimetype):
    with client.get(path) as response:
        html = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == mimetype
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    if mimetype == "text/html":
        assert '<html lang="vi">' in html
        assert 'name="viewport"' in html
        found = parse(html)
        # The CSP would block these: there must be none.
        assert found.inline_scripts == 0
        assert found.style_attributes == 0
        assert "Traceback" not in html


@pytest.mark.parametrize("method", ["post", "put", "delete"])
@pytest.mark.parametrize(("path", "json_error"), [("/", False), ("/api/search", True)])
def test_other_methods_are_refused_politely(client, method, path, json_error):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    if json_error:
        assert "error" in response.get_json()
    else:
        assert "không được hỗ trợ" in response.get_data(as_text=True)


# --- search page ----------------------------------------------------------------------------


def test_landing_page_shows_count_examples_and_an_accessible_box(client):
    html = client.get("/").get_data(as_text=True)
    assert "Tìm trong <strong>5</strong> bản tin" in html
    assert '<label class="search-label" for="q">' in html
    assert re.search(r'<input id="q" name="q" type="search" value=""[^>]*autofocus', html)
    examples = [link for link in parse(html).links if link["href"].startswith("/?q=")]
    assert len(examples) >= 3
    for link in examples:
        assert client.get(link["href"]).status_code == 200
    assert 'rel="search" type="application/opensearchdescription+xml"' in html
    assert 'href="/opensearch.xml"' in html
    assert 'rel="alternate" type="application/atom+xml"' in html


def test_unaccented_query_finds_and_marks_accented_words(client):
    response = client.get("/", query_string={"q": QUERY})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert total_of(html) == 5
    assert re.search(r"\(\d+,\d ms\)", html)  # Vietnamese decimal comma
    marked = " ".join(re.findall(r"<mark>([^<]+)</mark>", html)).lower().split()
    assert {"cải", "cách", "hành", "chính"} <= set(marked)
    # The query stays in the box, escaped.
    assert f'value="{QUERY}"' in html
    assert "<title>cai cach hanh chinh — bantin" in html


def test_results_link_to_documents_with_the_query(client):
    html = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    titles = [link for link in parse(html).links if link["href"].startswith("/doc/")]
    assert len(titles) == 5
    for link in titles:
        parts = urlsplit(link["href"])
        assert parse_qs(parts.query)["q"] == [QUERY]
        assert client.get(link["href"]).status_code == 200


def test_suggestion_is_offered_for_an_unaccented_query(client):
    # SPEC.md's own example: the accented form of an unaccented query.
    assert api(client, q=QUERY)["suggestion"] == "cải cách hành chính"
    html = client.get("/", query_string={"q": QUERY, "year": "2021"}).get_data(as_text=True)
    assert "Có phải bạn muốn tìm:" in html
    link = next(link for link in parse(html).links if link["text"] == "cải cách hành chính")
    # The suggested search keeps the filters.
    assert parse_qs(urlsplit(link["href"]).query) == {
        "q": ["cải cách hành chính"],
        "year": ["2021"],
    }


@pytest.mark.parametrize("facet", ["province", "locality", "year"])
def test_facet_links_narrow_the_results_and_counts_agree(client, facet):
    html = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    values = facet_links(html, facet)
    assert values, f"no {facet} facet"
    assert not any(value["selected"] for value in values)
    assert sum(value["count"] for value in values) <= total_of(html)
    for value in values:
        narrowed = client.get(value["href"]).get_data(as_text=True)
        assert total_of(narrowed) == value["count"]
        params = parse_qs(urlsplit(value["href"]).query)
        assert params[facet] == [value["label"]]
        assert params["q"] == [QUERY]
        # The same search through the API agrees, and every hit carries the value.
        data = api(client, q=QUERY, **{facet: value["label"]})
        assert data["total"] == value["count"]
        for hit in data["hits"]:
            if facet == "year":
                assert hit["date"].startswith(value["label"])
            else:
                assert hit[facet] == value["label"]
        # Now the value is selected; its link turns the filter off again.
        selected = [v for v in facet_links(narrowed, facet) if v["selected"]]
        assert [(v["label"], v["count"]) for v in selected] == [(value["label"], value["count"])]
        assert facet not in parse_qs(urlsplit(selected[0]["href"]).query)


def test_chips_show_active_filters_and_remove_them(client):
    html = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    everything = total_of(html)
    locality = facet_links(html, "locality")[0]
    year = facet_links(client.get(locality["href"]).get_data(as_text=True), "year")[0]
    both = client.get(year["href"]).get_data(as_text=True)
    chips = links_with_class(both, "chip")
    removable = [chip for chip in chips if "chip--clear" not in chip["class"]]
    assert [" ".join(chip["text"].split()) for chip in removable] == [
        f"Địa phương: {locality['label']} ×",
        f"Năm: {year['label']} ×",
    ]
    without_locality = parse_qs(urlsplit(removable[0]["href"]).query)
    assert without_locality == {"q": [QUERY], "year": [year["label"]]}
    clear = next(chip for chip in chips if "chip--clear" in chip["class"])
    assert parse_qs(urlsplit(clear["href"]).query) == {"q": [QUERY]}
    assert total_of(client.get(clear["href"]).get_data(as_text=True)) == everything
    # A new search from the box keeps the filters (hidden fields).
    assert f'<input type="hidden" name="locality" value="{locality["label"]}">' in both


def test_loose_filter_value_shows_as_a_selected_facet(client):
    html = client.get("/", query_string={"q": QUERY, "locality": "sa dec"}).get_data(as_text=True)
    selected = [v for v in facet_links(html, "locality") if v["selected"]]
    assert [(v["label"], v["count"]) for v in selected] == [("sa dec", total_of(html))]


def test_sort_switch(client):
    html = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    assert '<span class="sort-option is-selected" aria-current="true">Liên quan nhất</span>' in html
    newest = next(link for link in parse(html).links if link["text"] == "Mới nhất")
    assert parse_qs(urlsplit(newest["href"]).query) == {"q": [QUERY], "sort": ["date"]}
    by_date = client.get(newest["href"]).get_data(as_text=True)
    assert '<span class="sort-option is-selected" aria-current="true">Mới nhất</span>' in by_date
    dates = [hit["date"] for hit in api(client, q=QUERY, sort="date")["hits"] if hit["date"]]
    assert dates == sorted(dates, reverse=True)


def test_pagination_links_and_bounds(client):
    html = client.get("/", query_string={"q": QUERY, "per_page": 2}).get_data(as_text=True)
    assert 'aria-label="Phân trang"' in html
    assert '<span class="page-link is-current" aria-current="page">1</span>' in html
    following = next(link for link in parse(html).links if link.get("rel") == "next")
    assert parse_qs(urlsplit(following["href"]).query) == {
        "q": [QUERY],
        "page": ["2"],
        "per_page": ["2"],
    }
    second = client.get(following["href"]).get_data(as_text=True)
    assert '<ol class="results" start="3">' in second
    # Past the end: the last page, not an empty one.
    last = client.get("/", query_string={"q": QUERY, "per_page": 2, "page": 999})
    assert last.status_code == 200
    assert '<span class="page-link is-current" aria-current="page">3</span>' in last.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "-3"},
        {"page": "0"},
        {"page": "10**9"},
        {"page": "99999999999999999999999"},
        {"per_page": "0"},
        {"per_page": "1000"},
        {"sort": "bogus"},
        {"year": "20x2"},
        {"locality": "x" * 5000},
        {"q": "a" * 5000},
    ],
)
def test_invalid_parameters_fall_back_on_the_page(client, params):
    response = client.get("/", query_string={"q": QUERY, **params})
    assert response.status_code == 200


def test_long_query_is_cut_with_a_note(client):
    html = client.get("/", query_string={"q": "cải cách " * 100}).get_data(as_text=True)
    assert "Câu tìm kiếm quá dài nên chỉ dùng 500 ký tự đầu tiên." in html


def test_empty_state_says_what_to_try(client):
    response = client.get("/", query_string={"q": "qqxyzzy", "locality": "Sa Đéc"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Không tìm thấy bản tin nào khớp với “qqxyzzy”" in html
    for advice in ("chính tả", "ít từ hơn", "bỏ các bộ lọc", "không dấu"):
        assert advice in html
    assert '<ol class="results"' not in html


def test_filters_without_query_list_bulletins(client):
    response = client.get("/", query_string={"year": "2021"})
    assert response.status_code == 200
    assert "Năm: 2021" in " ".join(response.get_data(as_text=True).split())


@pytest.mark.parametrize(
    "payload",
    ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "</title><b>x</b>"],
)
def test_user_text_is_escaped_everywhere(client, payload):
    for path, params in [
        ("/", {"q": payload}),
        ("/", {"q": QUERY, "locality": payload}),
        ("/doc/001_43642a5dc4415f17", {"q": payload}),
        ("/doc/" + quote(payload, safe=""), {}),
        ("/feed", {"q": payload}),
        ("/api/suggest", {"q": payload}),
    ]:
        body = client.get(path, query_string=params).get_data(as_text=True)
        assert payload not in body, path
        assert "<script>alert" not in body


# --- document page --------------------------------------------------------------------------


def test_document_page_highlights_and_leads_back(client):
    params = {"q": QUERY, "locality": "Thành phố Sa Đéc", "page": "1"}
    response = client.get("/doc/001_43642a5dc4415f17", query_string=params)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Sa Đéc" in html
    assert re.search(r'<h1 class="doc-title">[^\n]*<mark>', html)
    body = html.split('<div class="doc-body">', 1)[1]
    assert body.count("<mark>") >= 3
    assert "Xuất bản thông tin" not in body  # portal boilerplate is gone
    back = next(link for link in links_with_class(html, "back-link"))
    assert parse_qs(urlsplit(back["href"]).query) == {
        "q": [QUERY],
        "locality": ["Thành phố Sa Đéc"],
    }


def test_document_page_without_query_marks_nothing(client):
    html = client.get("/doc/001_43642a5dc4415f17").get_data(as_text=True)
    assert "<mark>" not in html
    assert "Trang tìm kiếm" in html


@pytest.mark.parametrize(
    "path",
    [
        "/doc/khong-co",
        "/doc/../corpus/001_43642a5dc4415f17",
        "/doc/..%2F..%2Fetc%2Fpasswd",
        "/doc/%2e%2e/%2e%2e/etc/passwd",
        "/doc/001_43642a5dc4415f17%00",
        "/doc/001_43642a5dc4415f17/",
    ],
)
def test_unknown_documents_are_a_vietnamese_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Không tìm thấy" in html
    assert "root:" not in html


@pytest.mark.parametrize(("doc_id", "word"), ODD_IDS.items())
def test_ids_with_slashes_and_spaces_round_trip(odd_client, doc_id, word):
    html = odd_client.get("/", query_string={"q": word}).get_data(as_text=True)
    links = [link["href"] for link in parse(html).links if link["href"].startswith("/doc/")]
    assert len(links) == 1
    path = urlsplit(links[0]).path
    # One encoded path segment: browsers cannot collapse '//' or resolve '..' in it.
    assert path == "/doc/" + quote(doc_id, safe="")
    page = odd_client.get(links[0]).get_data(as_text=True)
    assert f"<code>{doc_id.replace('&', '&amp;')}</code>" in page
    # The raw form (slashes unencoded) reaches the same bulletin when it has no '//'.
    if "//" not in doc_id and not doc_id.startswith("/"):
        assert odd_client.get("/doc/" + quote(doc_id, safe="/")).status_code == 200
    # The feed links to it too.
    feed = ET.fromstring(odd_client.get("/feed", query_string={"q": word}).data)
    (entry,) = feed.findall(f"{ATOM}entry")
    assert urlsplit(entry.find(f"{ATOM}link").get("href")).path == path


# --- JSON API -------------------------------------------------------------------------------


def test_api_search_returns_the_contract(client):
    data = api(client, q=QUERY, per_page=2, unknown="ignored")
    assert set(data) == {
        "query",
        "total",
        "page",
        "per_page",
        "took_ms",
        "suggestion",
        "hits",
        "facets",
    }
    assert data["query"] == QUERY
    assert (data["total"], data["page"], data["per_page"]) == (5, 1, 2)
    assert len(data["hits"]) == 2
    assert set(data["hits"][0]) >= {
        "id",
        "title",
        "title_html",
        "snippet",
        "date",
        "locality",
        "province",
        "author",
        "url",
        "score",
    }
    assert set(data["facets"]) == {"province", "locality", "year"}
    assert "<mark>" in data["hits"][0]["snippet"]


def test_api_search_with_empty_query_lists_newest_first(client):
    data = api(client)
    assert data["total"] == 5
    dates = [hit["date"] for hit in data["hits"] if hit["date"]]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "1001"},
        {"page": "abc"},
        {"page": "1.5"},
        {"per_page": "0"},
        {"per_page": "51"},
        {"per_page": "ten"},
        {"sort": "newest"},
        {"year": "two thousand"},
        {"q": "x" * 501},
    ],
)
def test_api_refuses_bad_parameters_with_json(client, params):
    response = client.get("/api/search", query_string={"q": QUERY, **params})
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"error"}


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "(",
        ")",
        "AND",
        "OR NOT",
        "*",
        "?",
        "~2",
        "title:",
        "a:b:c",
        "\x00",
        "🙂" * 50,
        "-",
        "đ",
    ],
)
def test_odd_queries_never_become_server_errors(client, q):
    for path in ("/", "/api/search", "/api/suggest", "/feed"):
        assert client.get(path, query_string={"q": q}).status_code < 500, path


def test_api_suggest_lists_completions(client):
    response = client.get("/api/suggest", query_string={"q": "cai c"})
    completions = response.get_json()
    assert isinstance(completions, list)
    assert completions and all(isinstance(text, str) for text in completions)
    assert client.get("/api/suggest", query_string={"q": " "}).get_json() == []
    assert client.get("/api/suggest").get_json() == []
    assert client.get("/api/suggest", query_string={"q": "x" * 501}).status_code == 400


def test_opensearch_suggestions_format(client):
    response = client.get("/api/suggest", query_string={"q": "cai", "format": "opensearch"})
    query, completions = json.loads(response.data)
    assert query == "cai"
    assert completions == client.get("/api/suggest", query_string={"q": "cai"}).get_json()


# --- feed, OpenSearch, health -------------------------------------------------------------


def test_feed_is_valid_atom_with_entries(client):
    response = client.get("/feed", query_string={"q": QUERY})
    feed = ET.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    for child in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{child}").text
    assert feed.find(f"{ATOM}title").text == f"bantin — «{QUERY}»"
    self_link = feed.find(f"{ATOM}link[@rel='self']").get("href")
    assert parse_qs(urlsplit(self_link).query) == {"q": [QUERY]}
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 5
    updated = []
    for entry in entries:
        assert entry.find(f"{ATOM}id").text.startswith("tag:bantin,")
        assert entry.find(f"{ATOM}title").text
        stamp = entry.find(f"{ATOM}updated").text
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", stamp)
        updated.append(stamp)
        link = entry.find(f"{ATOM}link").get("href")
        assert urlsplit(link).path.startswith("/doc/")
        summary = entry.find(f"{ATOM}summary")
        assert summary.get("type") == "html"
        assert "<mark>" in summary.text  # escaped once in XML, HTML once parsed
    # Newest first; an undated bulletin (last in a date sort) carries the oldest date shown.
    assert updated == sorted(updated, reverse=True)
    assert feed.find(f"{ATOM}updated").text == updated[0]


def test_feed_of_filters_and_of_nothing(client):
    everything = ET.fromstring(client.get("/feed").data)
    assert len(everything.findall(f"{ATOM}entry")) == 5
    nothing = ET.fromstring(client.get("/feed", query_string={"q": "qqxyzzy"}).data)
    assert nothing.findall(f"{ATOM}entry") == []
    assert nothing.find(f"{ATOM}updated").text
    assert client.get("/feed", query_string={"q": "x" * 501}).status_code == 400


def test_opensearch_description(client):
    response = client.get("/opensearch.xml")
    root = ET.fromstring(response.data)
    assert root.find(f"{OPENSEARCH}ShortName").text == "bantin"
    templates = {url.get("type"): url.get("template") for url in root.findall(f"{OPENSEARCH}Url")}
    assert templates["text/html"].endswith("/?q={searchTerms}")
    suggest = urlsplit(templates["application/x-suggestions+json"])
    assert suggest.path == "/api/suggest"
    assert parse_qs(suggest.query) == {"format": ["opensearch"], "q": ["{searchTerms}"]}


def test_healthz_reports_documents(client):
    response = client.get("/healthz")
    assert response.get_json() == {"status": "ok", "documents": 5}


def test_missing_index_is_a_503_not_a_crash(empty_client):
    health = empty_client.get("/healthz")
    assert health.status_code == 503
    data = health.get_json()
    assert data["status"] == "unavailable"
    assert data["error"] and "\n" not in data["error"]
    page = empty_client.get("/", query_string={"q": QUERY})
    assert page.status_code == 503
    assert "Chỉ mục tìm kiếm chưa sẵn sàng" in page.get_data(as_text=True)
    assert empty_client.get("/api/search", query_string={"q": QUERY}).status_code == 503
    assert "error" in empty_client.get("/api/suggest?q=cai").get_json()


def test_index_built_after_start_is_picked_up(tmp_path: Path, corpus_index: Path):
    import shutil

    folder = tmp_path / "later"
    client = create_app({"BANTIN_INDEX": str(folder), "TESTING": True}).test_client()
    assert client.get("/healthz").status_code == 503
    shutil.copytree(corpus_index, folder)
    assert client.get("/healthz").get_json() == {"status": "ok", "documents": 5}


# --- configuration ------------------------------------------------------------------------


def test_factory_reads_the_index_location_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BANTIN_INDEX", str(tmp_path / "from-env"))
    app = create_app()
    assert app.extensions["bantin"].index_dir == tmp_path / "from-env"
    assert not app.debug
    # A config mapping wins over the environment.
    app = create_app({"BANTIN_INDEX": str(tmp_path / "given")})
    assert app.extensions["bantin"].index_dir == tmp_path / "given"


def test_factory_defaults_to_the_per_user_folder(monkeypatch):
    from searcher import default_index_dir

    monkeypatch.delenv("BANTIN_INDEX", raising=False)
    assert create_app().extensions["bantin"].index_dir == default_index_dir()


def test_nothing_is_opened_before_the_first_request(tmp_path):
    app = create_app({"BANTIN_INDEX": str(tmp_path / "missing")})
    assert app.extensions["bantin"]._searcher is None


# --- the views' own error paths, with a stand-in searcher --------------------------------


class BrokenSearcher:
    """Fails on every call, as a searcher bug would."""

    def search(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom: internal detail")

    def doc(self, doc_id: str) -> Any:
        raise RuntimeError("boom: internal detail")

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        raise RuntimeError("boom: internal detail")

    def doc_count(self) -> int:
        raise RuntimeError("boom: internal detail")

    def close(self) -> None:
        pass


@pytest.fixture
def broken_client(tmp_path: Path):
    app = create_app({"BANTIN_INDEX": str(tmp_path), "TESTING": True})
    app.extensions["bantin"]._searcher = BrokenSearcher()
    return app.test_client()


def test_a_failing_search_is_a_friendly_400_without_details(broken_client):
    page = broken_client.get("/", query_string={"q": QUERY})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "Không thể xử lý câu tìm kiếm này" in html
    assert "boom" not in html and "Traceback" not in html
    api_answer = broken_client.get("/api/search", query_string={"q": QUERY})
    assert api_answer.status_code == 400
    assert "boom" not in api_answer.get_json()["error"]
    assert broken_client.get("/feed", query_string={"q": QUERY}).status_code == 400
    # Completion is optional: a failure gives no completions, not an error.
    assert broken_client.get("/api/suggest", query_string={"q": "cai"}).get_json() == []
    assert broken_client.get("/doc/x").status_code == 404


def test_an_unexpected_error_is_a_friendly_500(broken_client):
    page = broken_client.get("/")  # the landing page asks for the document count
    assert page.status_code == 500
    assert "Đã có lỗi xảy ra" in page.get_data(as_text=True)
    health = broken_client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "unavailable", "error": "index unreadable: RuntimeError"}
