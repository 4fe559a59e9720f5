"""Hostile and odd input: markup in bulletins, huge files, legacy encodings, fuzzed requests.

What must hold whatever arrives: a bulletin's text is shown as text on every surface, reading
input takes bounded memory, every encoding a portal may have used ends up as the same NFC text,
and no query or request gets an exception, a 5xx, a stack trace or a path back.
"""

from __future__ import annotations

import codecs
import gc
import json
import re
import tracemalloc
import unicodedata
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from index import build_index
from index.cli import main as cli_main
from index.encoding import TCVN3_TABLE, VNI
from index.readers import MAX_BULLETIN_CHARS, MAX_DOCUMENT_BYTES, read_file
from searcher import Document, Results, Searcher
from searcher.analysis import fold
from webui import create_app

ATOM = "{http://www.w3.org/2005/Atom}"
INTERNALS = ("Traceback", "/work", "site-packages", '.py"', "/tmp/", "whoosh", "Werkzeug Debugger")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def assert_no_internals(body: str) -> None:
    for leak in INTERNALS:
        assert leak not in body, leak


# --- markup inside bulletins is text everywhere ---------------------------------------------

TITLE = '<script>alert("t")</script> Thông báo cải cách hành chính <b>mới</b>'
BODY = (
    'Ủy ban nhân dân xã họp về cải cách hành chính <img src=x onerror="alert(1)">.\n\n'
    "Đoạn hai </textarea><script>alert(2)</script> và &lt;i&gt; đã thoát sẵn.\n\n"
    '<a href="javascript:alert(3)">bấm vào</a> cải cách'
)
CAPTURE = (
    "Chi tiết bài viết\n\n"
    "Hội nghị <script>alert(5)</script> cải cách hành chính ở xã Tân Phú\n\n"
    "Ngày 05/7/2022, xã Tân Phú tổ chức hội nghị <iframe src=//evil></iframe> về cải cách "
    "hành chính, có đại diện các ban ngành tham dự và phát biểu ý kiến.\n\n"
    "Thanh Nghĩa\n"
)
PAGE = (
    "<html><head><title>Hội nghị về cải cách hành chính năm 2023</title></head><body><article>"
    "<h1>Hội nghị về cải cách hành chính năm 2023</h1>"
    "<p>Ngày 18/3/2023, huyện tổ chức hội nghị &lt;script&gt;alert(6)&lt;/script&gt; về cải "
    "cách hành chính với sự tham gia của nhiều cơ quan, đơn vị trên địa bàn huyện.</p>"
    "<p>Các đại biểu đã thảo luận sôi nổi &lt;img src=x onerror=alert(7)&gt; và thống nhất "
    "nhiều giải pháp nâng cao chất lượng phục vụ người dân, doanh nghiệp trong năm tới.</p>"
    "</article></body></html>"
)


@pytest.fixture(scope="module")
def markup_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("markup")
    write_jsonl(
        folder / "a.jsonl",
        [
            {
                "id": "<b>id</b>",
                "title": TITLE,
                "body": BODY,
                "date": "2024-05-01",
                "author": "<i>Phóng viên</i>",
                "locality": '<svg onload="alert(8)">Xã Tân Phú',
                "province": "Đồng Tháp",
                "url": "javascript:alert(9)",
            }
        ],
    )
    (folder / "capture.txt").write_text(CAPTURE, encoding="utf-8")
    (folder / "page.html").write_text(PAGE, encoding="utf-8")
    report = build_index([folder], folder / "ix")
    assert report.indexed == 3, report.skipped
    return folder / "ix"


class ActiveContent(HTMLParser):
    """Collects what a browser would run or load from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "img", "svg", "object", "embed") and not (
            tag == "script" and (dict(attrs).get("src") or "").startswith("/static/")
        ):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag}[{name}]")


def active_content(html: str) -> list[str]:
    parser = ActiveContent()
    parser.feed(html)
    return parser.found


def test_markup_in_bulletins_is_text_on_every_page(markup_index: Path) -> None:
    client = create_app({"BANTIN_INDEX": str(markup_index), "TESTING": True}).test_client()
    pages = [
        client.get("/", query_string={"q": "cải cách hành chính"}),
        client.get("/", query_string={"q": "cai cach", "sort": "date"}),
        client.get("/", query_string={"locality": "Tân Phú"}),
        client.get("/doc/" + quote("<b>id</b>", safe=""), query_string={"q": "cải cách"}),
        client.get("/doc/capture", query_string={"q": "hội nghị"}),
        client.get("/doc/page"),
    ]
    for response in pages:
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html[:300]
        assert active_content(html) == [], response.request.url
        assert "alert" in html  # the text is there, shown as text
    results = pages[0].get_data(as_text=True)
    assert "&lt;script&gt;alert(" in results and "&lt;b&gt;mới&lt;/b&gt;" in results
    document = pages[3].get_data(as_text=True)
    assert "&lt;/textarea&gt;&lt;script&gt;alert(2)" in document
    assert "&amp;lt;i&amp;gt;" in document  # an entity in the text stays that text


def test_markup_in_bulletins_is_data_in_the_json_api(markup_index: Path) -> None:
    client = create_app({"BANTIN_INDEX": str(markup_index), "TESTING": True}).test_client()
    data = client.get("/api/search", query_string={"q": "cải cách", "per_page": 50}).get_json()
    by_id = {hit["id"]: hit for hit in data["hits"]}
    assert set(by_id) == {"<b>id</b>", "capture", "page"}
    hit = by_id["<b>id</b>"]
    assert hit["title"] == TITLE  # plain text, exactly as given
    for html in (hit["title_html"], hit["snippet"], by_id["capture"]["snippet"]):
        # Escaped text plus <mark>…</mark>, nothing else that is markup.
        assert "<" not in re.sub(r"</?mark>", "", html), html
    assert "&lt;script&gt;" in hit["title_html"]


def test_markup_in_bulletins_is_text_in_the_atom_feed(markup_index: Path) -> None:
    client = create_app({"BANTIN_INDEX": str(markup_index), "TESTING": True}).test_client()
    raw = client.get("/feed", query_string={"q": "cải cách"}).get_data(as_text=True)
    assert "<script" not in raw and "<img" not in raw
    feed = ET.fromstring(raw)
    titles = {entry.find(f"{ATOM}title").text for entry in feed.findall(f"{ATOM}entry")}
    assert TITLE in titles  # a reader shows the title as the text it is
    for entry in feed.findall(f"{ATOM}entry"):
        summary = entry.find(f"{ATOM}summary").text  # type="html": parsed once more by readers
        assert active_content(summary) == []
        assert "<" not in re.sub(r"</?mark>", "", summary)


def test_markup_in_bulletins_is_plain_text_in_the_cli(markup_index: Path) -> None:
    result = CliRunner().invoke(
        cli_main, ["search", "cải cách", "--index", str(markup_index)], catch_exceptions=False
    )
    assert result.exit_code == 0
    # Unescaped exactly once: what the bulletin says, markup and entities alike.
    assert TITLE in result.output and "&lt;i&gt; đã thoát sẵn" in result.output
    assert "&amp;" not in result.output and "&lt;script" not in result.output
    assert "<mark>" not in result.output
    data = json.loads(
        CliRunner()
        .invoke(cli_main, ["search", "cải cách", "--json", "--index", str(markup_index)])
        .output
    )
    assert TITLE in [hit["title"] for hit in data["hits"]]


# --- huge input, bounded memory ---------------------------------------------------------------


def traced_peak(run: Any) -> int:
    """Peak bytes allocated by Python while ``run()`` runs (after a warm-up outside)."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_jsonl_is_read_in_memory_independent_of_its_size(tmp_path: Path) -> None:
    """100,000 lines (33 MB) are read with the memory of one line: under 1 MB at any time
    (measured: 15 kB).

    A million lines take the same bound (3 s without tracing); the lines here are cheap to
    turn down after parsing, so the test measures the reading, not the metadata extraction.
    """
    padding = "Ủy ban nhân dân xã tổ chức hội nghị về cải cách hành chính. " * 4
    path = tmp_path / "many.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        line = json.dumps({"id": 0.5, "title": "Tin", "body": padding}, ensure_ascii=False)
        handle.writelines(line + "\n" for _ in range(100_000))
    assert path.stat().st_size > 30 * 1024 * 1024
    list(read_file(write_jsonl(tmp_path / "warm.jsonl", [{"id": "a", "title": "T", "body": "B"}])))
    counted = [0]

    def read() -> None:
        counted[0] = sum(1 for _ in read_file(path))

    peak = traced_peak(read)
    assert counted[0] == 100_000
    assert peak < 1024 * 1024, peak


def test_huge_files_and_lines_are_skipped_without_being_held(tmp_path: Path) -> None:
    """A 50 MB capture, a 50 MB JSON line and an over-long article are skipped with reasons
    while the rest is indexed; the whole build allocates under MAX_DOCUMENT_BYTES (16 MB, the
    most of one file ever read) + 32 MB. Before these limits a 5 MB bulletin alone took 1 GB
    and 26 s to index, so a 50 MB one could not finish."""
    folder = tmp_path / "in"
    folder.mkdir()
    paragraph = "Sáng nay UBND xã Tân Phú tổ chức hội nghị cải cách hành chính. " * 8
    with (folder / "huge.txt").open("w", encoding="utf-8") as handle:
        handle.write("Hội nghị cải cách hành chính\n\n")
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(paragraph + "\n\n")
    with (folder / "lines.jsonl").open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "ok", "title": "Tin ngắn", "body": "Nội dung tin."}) + "\n")
        handle.write('{"id": "huge", "title": "Tin", "body": "')
        for _ in range(50 * 1024):
            handle.write("x" * 1024)
        handle.write('"}\n')
        handle.write(
            json.dumps({"id": "after", "title": "Tin sau", "body": "Vẫn đọc được."}) + "\n"
        )
    long_text = (paragraph + "\n\n") * (MAX_BULLETIN_CHARS // len(paragraph) + 10)
    (folder / "long.txt").write_text("Bài rất dài\n\n" + long_text, encoding="utf-8")
    build_index([write_jsonl(tmp_path / "warm.jsonl", [{"id": "w", "title": "T", "body": "B"}])],
                tmp_path / "warm-ix")  # fmt: skip
    reports = []

    def build() -> None:
        reports.append(build_index([folder], tmp_path / "ix"))

    peak = traced_peak(build)
    (report,) = reports
    assert report.indexed == 2
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert reasons == {
        "huge.txt": "file too large for one bulletin (over 16 MB)",
        "lines.jsonl:2": "line too long for one bulletin (over 16 MB)",
        "long.txt": reasons["long.txt"],
    }
    assert reasons["long.txt"].startswith("bulletin too long to index")
    assert peak < MAX_DOCUMENT_BYTES + 32 * 1024 * 1024, peak / 2**20  # measured: 33 MB
    with Searcher(tmp_path / "ix") as searcher:
        assert searcher.doc("after") is not None


# --- encodings, end to end ---------------------------------------------------------------------

_TONES = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese software writes it: base letters plus combining tones."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out += (base + "".join(c for c in parts if c in _TONES)).encode("cp1258")
    return bytes(out)


def to_tcvn3(text: str) -> bytes:
    table = {u: t for t, u in TCVN3_TABLE.items()}
    return "".join(table.get(c, table.get(c.lower(), c)) for c in text).encode("latin-1")


#: A capture typed with a VNI font (mark characters after the letters), saved as Windows-1252.
VNI_CAPTURE = (
    "UBND huyeän Taân Hoàng toå chöùc hoäi nghò sô keát coâng taùc caûi caùch haønh chính\n\n"
    "Saùng ngaøy 05/7/2022, UBND huyeän Taân Hoàng toå chöùc hoäi nghò sô keát coâng taùc "
    "caûi caùch haønh chính 6 thaùng ñaàu naêm.\n\nThanh Nghóa\n"
).encode("cp1252")


def capture(place: str) -> str:
    return (
        f"UBND huyện {place} tổ chức hội nghị sơ kết công tác cải cách hành chính\n\n"
        f"Sáng ngày 05/7/2022, UBND huyện {place} tổ chức hội nghị sơ kết công tác cải cách "
        "hành chính 6 tháng đầu năm và đề ra phương hướng nhiệm vụ 6 tháng cuối năm.\n\n"
        "Thanh Nghĩa\n"
    )


ENCODED = {
    "utf8-bom.txt": ("Tân Kỳ", lambda t: codecs.BOM_UTF8 + t.encode("utf-8")),
    "utf16-le-bom.txt": ("Lấp Vò", lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le")),
    "utf16-be-bom.txt": ("Hương Trà", lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be")),
    "utf16-be.txt": ("Cao Lãnh", lambda t: t.encode("utf-16-be")),
    "windows-1258.txt": ("Châu Thành", to_cp1258),
    "tcvn3.txt": ("Tháp Mười", to_tcvn3),
    "nfd.txt": ("Hồng Ngự", lambda t: unicodedata.normalize("NFD", t).encode("utf-8")),
}


@pytest.fixture(scope="module")
def encoded_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    folder = tmp_path_factory.mktemp("encodings")
    source = folder / "in"
    source.mkdir()
    for name, (place, encode) in ENCODED.items():
        (source / name).write_bytes(encode(capture(place)))
    (source / "vni.txt").write_bytes(VNI_CAPTURE)
    lines = "".join(
        json.dumps({"id": f"jsonl-{i}", "title": f"Tin {place} về chuyển đổi số", "body": "Tốt."})
        + "\n"
        for i, place in enumerate(["Lai Vung", "Thanh Bình"])
    )
    (source / "utf16-be.jsonl").write_bytes(codecs.BOM_UTF16_BE + lines.encode("utf-16-be"))
    (source / "utf8-bom.jsonl").write_bytes(
        codecs.BOM_UTF8 + lines.replace("jsonl-", "bom-").encode()
    )
    report = build_index([source], folder / "ix")
    return folder / "ix", report


@pytest.mark.parametrize("name", ENCODED)
def test_every_encoding_is_indexed_as_the_same_nfc_text(
    encoded_index: tuple[Path, Any], name: str
) -> None:
    index_dir, _report = encoded_index
    place, _encode = ENCODED[name]
    doc_id = name.removesuffix(".txt")
    expected_title = capture(place).split("\n", 1)[0]
    with Searcher(index_dir) as searcher:
        document = searcher.doc(doc_id)
        assert document is not None
        assert document.title == expected_title
        assert unicodedata.is_normalized("NFC", document.body)
        assert f"UBND huyện {place} tổ chức hội nghị" in document.body
        for query in (place, fold(place)):  # accented, and as typed without accents
            results = searcher.search(f'"{query}"')
            assert [hit.id for hit in results.hits] == [doc_id], query
            assert f"<mark>{place}</mark>" in results.hits[0].title_html


def test_json_lines_in_utf16_be_and_with_a_bom(encoded_index: tuple[Path, Any]) -> None:
    index_dir, _report = encoded_index
    with Searcher(index_dir) as searcher:
        for prefix in ("jsonl", "bom"):
            assert searcher.doc(f"{prefix}-0").title == "Tin Lai Vung về chuyển đổi số"
            assert searcher.doc(f"{prefix}-1").title == "Tin Thanh Bình về chuyển đổi số"


def test_vni_is_skipped_with_its_reason(encoded_index: tuple[Path, Any]) -> None:
    index_dir, report = encoded_index
    assert [(Path(s.source).name, s.reason) for s in report.skipped] == [("vni.txt", VNI)]
    with Searcher(index_dir) as searcher:
        assert searcher.doc("vni") is None


# --- fuzzed queries and requests ---------------------------------------------------------------

#: Pieces of query syntax, Vietnamese words and oddities, for queries with structure.
QUERY_PIECES = st.sampled_from(
    [
        "cải", "cách", "hành", "chính", "cai cach", "UBND", "Sa Đéc", "hoà", "hòa", "Ủy", "đ",
        "OR", "AND", "NOT", "-", "+", '"', "(", ")", "*", "?", "~2", "^3", "title:", "body:",
        ":", "\\", "/", "61/2018/NĐ-CP", "TP.HCM", "\x00", "\u200b", "\ufeff", "\u0301",
        "🙂", "𝔘", "\ud7ff", " ", "\n", "\t", "&amp;", "<mark>", "%00", "../",
    ]
)  # fmt: skip
QUERIES = st.one_of(
    st.text(max_size=300),
    st.lists(QUERY_PIECES, max_size=40).map(" ".join),
    st.lists(QUERY_PIECES, max_size=40).map("".join),
)
#: Anything a caller might pass for a filter or a number, right type or not.
LOOSE = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["2022", "Sa Đéc", "Đồng Tháp", "date", "relevance", "2022-07-05"]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=QUERIES,
    locality=LOOSE,
    province=LOOSE,
    year=LOOSE,
    date_from=LOOSE,
    date_to=LOOSE,
    sort=LOOSE,
    page=LOOSE,
    per_page=LOOSE,
)
@example(
    query="cải cách",
    locality=None,
    province=None,
    year=float("inf"),
    date_from=float("nan"),
    date_to=-1,
    sort=None,
    page=float("inf"),
    per_page=float("-inf"),
)
def test_the_python_api_takes_anything(searcher: Searcher, query: str, **params: Any) -> None:
    from searcher.searcher import MAX_PAGE, MAX_PER_PAGE

    results = searcher.search(query, **params)
    assert isinstance(results, Results)
    assert 1 <= results.page <= MAX_PAGE and 1 <= results.per_page <= MAX_PER_PAGE
    assert 0 <= len(results.hits) <= results.per_page <= MAX_PER_PAGE
    assert results.total >= len(results.hits)
    json.dumps(results.to_dict())
    assert isinstance(searcher.complete(query), list)
    document = searcher.doc(query)
    assert document is None or isinstance(document, Document)
    assert isinstance(searcher.highlight("Cải cách hành chính ở Sa Đéc", query), str)


@pytest.mark.parametrize("size", [10_000, 1_000_000])
@pytest.mark.parametrize("unit", ["cải cách ", '"(', "🙂", "a"])
def test_the_python_api_takes_huge_input(searcher: Searcher, size: int, unit: str) -> None:
    huge = unit * (size // len(unit))
    results = searcher.search(huge, locality=huge, province=huge, page=10**12, per_page=10**12)
    assert results.warnings and results.hits == []
    assert isinstance(searcher.complete(huge), list)
    assert searcher.doc(huge) is None


@pytest.fixture(scope="module")
def web(corpus_index: Path) -> Any:
    return create_app({"BANTIN_INDEX": str(corpus_index), "TESTING": True}).test_client()


ROUTES = ["/", "/api/search", "/api/suggest", "/feed", "/doc/001_43642a5dc4415f17", "/healthz"]
PARAMS = st.dictionaries(
    keys=st.sampled_from(
        ["q", "page", "per_page", "sort", "year", "locality", "province", "format", "x"]
    ),
    values=st.one_of(
        QUERIES,
        st.integers(min_value=-(10**25), max_value=10**25).map(str),
        st.sampled_from(["opensearch", "date", "2022", "Sa Đéc", "", " ", "1e3", "0x10"]),
    ),
    max_size=6,
)


def assert_answer_is_safe(response: Any, sent: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code < 500, body[:300]
    for leak in INTERNALS:
        assert leak not in body or leak in sent, leak  # unless the request itself said it


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(ROUTES), params=PARAMS)
def test_the_web_app_answers_anything_without_a_5xx(
    web: Any, route: str, params: dict[str, str]
) -> None:
    response = web.get(route, query_string=params)
    assert_answer_is_safe(response, json.dumps(params, ensure_ascii=False))
    if route.startswith("/api/") and response.status_code == 200:
        assert isinstance(response.get_json(), dict | list)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(ROUTES[:4]), raw=st.binary(max_size=200))
def test_undecodable_query_strings_are_not_errors(web: Any, route: str, raw: bytes) -> None:
    """Percent-encoded bytes that are not UTF-8 (%ff, %00, lone surrogates' bytes)."""
    encoded = "".join(f"%{byte:02X}" for byte in raw)
    response = web.get(f"{route}?q={encoded}&locality={encoded}&page={encoded}")
    assert_answer_is_safe(response, raw.decode("utf-8", "replace"))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc_id=st.text(min_size=1, max_size=300))
def test_any_document_id_is_found_or_a_404(web: Any, doc_id: str) -> None:
    response = web.get("/doc/" + quote(doc_id, safe=""))
    assert response.status_code in (200, 404)
    assert_answer_is_safe(response, doc_id)
    if response.status_code == 200:
        corpus = Path(__file__).resolve().parents[2] / "corpus"
        assert doc_id in {path.stem for path in corpus.glob("*.txt")}


@pytest.mark.parametrize(
    "path",
    [
        "/doc/..",
        "/doc/../../pyproject.toml",
        "/doc/..%2F..%2Fpyproject.toml",
        "/doc/%2E%2E%2F%2E%2E%2Fcorpus%2F001_43642a5dc4415f17.txt",
        "/doc/corpus%2F001_43642a5dc4415f17",
        "/doc/..%5C..%5Cpyproject.toml",
        "/doc/%00",
        "/doc/001_43642a5dc4415f17%00.txt",
        "/doc/%FF%FE%00",
        "/doc/%C0%AE%C0%AE%2F",  # overlong UTF-8 for '..'
        "/doc//etc/passwd",
        "/doc/%2Fetc%2Fpasswd",
        "/doc/file:%2F%2F%2Fetc%2Fpasswd",
        "/doc/" + "a" * 100_000,
        "/doc/" + "%2F" * 10_000,
        "/doc/*",
        "/doc/id:*",
    ],
)
def test_path_tricks_in_document_ids_find_nothing(web: Any, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert_answer_is_safe(response, "")
    assert "root:" not in body and "[project]" not in body and "Sa Đéc" not in body


def test_errors_never_show_internals_even_when_the_app_fails(corpus_index: Path) -> None:
    """An unexpected exception inside a view is a plain 500 page, not a traceback or debugger."""
    app = create_app({"BANTIN_INDEX": str(corpus_index)})  # production config: no TESTING

    class Exploding:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(f"internal detail {__file__}")

        def close(self) -> None:  # the app closes its searcher when it is collected
            pass

    app.extensions["bantin"]._searcher = Exploding()
    client = app.test_client()
    for path in (
        "/",
        "/?q=x",
        "/api/search?q=x",
        "/feed",
        "/doc/x",
        "/api/suggest?q=x",
        "/healthz",
    ):
        response = client.get(path)
        assert response.status_code in (200, 400, 404, 500, 503), path
        assert_answer_is_safe_body(response.get_data(as_text=True))


def assert_answer_is_safe_body(body: str) -> None:
    for leak in (*INTERNALS, "internal detail"):
        assert leak not in body, leak
