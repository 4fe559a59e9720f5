"""Search behaviour on the shipped corpus, through the public Searcher API."""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from html import unescape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import build_index
from searcher import Searcher
from searcher.analysis import fold
from searcher.suggest import Vocabulary, plausible_correction

SA_DEC = {"001_43642a5dc4415f17", "003_fec1c17d3eb0cf44"}
_MARK = re.compile(r"<mark>(.*?)</mark>")


def ids(searcher: Searcher, query: str, **filters: object) -> set[str]:
    return {hit.id for hit in searcher.search(query, per_page=100, **filters).hits}


# --- query forms find what their accented, new-style, spelled-out form finds -----------------


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("cai cach hanh chinh", "cải cách hành chính"),
        ("CẢI CÁCH HÀNH CHÍNH", "cải cách hành chính"),
        (unicodedata.normalize("NFD", "cải cách hành chính"), "cải cách hành chính"),
        ("Uỷ ban nhân dân", "Ủy ban nhân dân"),
        ("uy ban nhan dan", "Ủy ban nhân dân"),
        ("UBND", "Ủy ban nhân dân"),
        ("CCHC", "cải cách hành chính"),
        ("TTHC", "thủ tục hành chính"),
        ("sa dec", "Sa Đéc"),
        ("huong tra", "Hương Trà"),
    ],
)
def test_query_forms_find_the_same_bulletins(
    searcher: Searcher, variant: str, canonical: str
) -> None:
    expected = ids(searcher, canonical)
    assert expected
    assert ids(searcher, variant) == expected


def test_acronym_and_spelled_out_form_find_each_other(searcher: Searcher) -> None:
    results = searcher.search("CCHC")
    marked = {fold(unescape(m)) for hit in results.hits for m in _MARK.findall(hit.snippet)}
    assert "cai cach hanh chinh" in marked or "cchc" in marked


# --- syntax ------------------------------------------------------------------------------


def test_quoted_phrase_requires_adjacent_words(searcher: Searcher) -> None:
    assert ids(searcher, '"sơ kết công tác cải cách"') == {"001_43642a5dc4415f17"}
    assert ids(searcher, '"hành chính cải cách"') == set()


def test_minus_excludes(searcher: Searcher) -> None:
    everything = ids(searcher, "cải cách")
    assert ids(searcher, "cải cách -Đéc") == everything - SA_DEC


def test_or_between_words_and_phrases(searcher: Searcher) -> None:
    either = ids(searcher, '"Tân Kỳ"') | ids(searcher, '"Hương Trà"')
    assert ids(searcher, '"Tân Kỳ" OR "Hương Trà"') == either
    # OR binds the items next to it: Tân AND (Kỳ OR Hương) AND Trà
    assert ids(searcher, "Kỳ OR Trà") == ids(searcher, "Kỳ") | ids(searcher, "Trà")


def test_title_field_search(searcher: Searcher) -> None:
    in_title = ids(searcher, "title:Đéc")
    assert in_title == {"001_43642a5dc4415f17", "003_fec1c17d3eb0cf44"}


def test_partial_match_fallback_when_no_bulletin_has_every_word(searcher: Searcher) -> None:
    results = searcher.search("cải cách zzqxw")
    assert results.partial
    assert results.total > 0
    assert results.warnings


@pytest.mark.parametrize(
    "odd",
    ['"', "(", ")", "title:", "*", '"cải cách', "((a OR", "-", "OR", "\x00\x07", "a" * 10_000],
)
def test_odd_input_never_raises(searcher: Searcher, odd: str) -> None:
    results = searcher.search(odd)
    assert results.total > 0 or results.warnings, "an empty result must say why"
    json.dumps(results.to_dict())


@pytest.mark.parametrize("field_only", ["title:", "body:", "TieuDe:", "title: noidung:"])
def test_a_field_name_with_nothing_after_it_is_dropped_with_a_note(
    searcher: Searcher, field_only: str
) -> None:
    results = searcher.search(field_only)
    assert results.total == searcher.search("").total > 0
    assert any(field_only.split()[0] in warning for warning in results.warnings)


def test_query_operators_people_type(searcher: Searcher) -> None:
    assert ids(searcher, "title: Sa Đéc") == ids(searcher, "title:Sa Đéc")
    assert ids(searcher, "cải cách AND hành chính") == ids(searcher, "cải cách hành chính")
    assert ids(searcher, "cải cách NOT Đéc") == ids(searcher, "cải cách -Đéc")
    assert set(ids(searcher, "cải cách -Đéc")) < set(ids(searcher, "cải cách"))
    # Only the operators in capitals and the known field names are syntax.
    assert ids(searcher, "UBND: Sa Đéc") == ids(searcher, "UBND Sa Đéc")
    assert searcher.search("NOT").warnings


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(searcher: Searcher, text: str) -> None:
    results = searcher.search(text, page=2, per_page=3)
    assert results.page == 2
    assert searcher.complete(text) is not None


# --- ranking -------------------------------------------------------------------------------


def test_title_match_ranks_first(searcher: Searcher) -> None:
    assert searcher.search("Tân Kỳ").hits[0].id == "002_205483f94943f1e4"


def test_accented_query_prefers_exact_accents(tmp_path: Path, write_jsonl) -> None:  # type: ignore[no-untyped-def]
    path = write_jsonl(
        [
            {"id": "ban", "title": "Thông báo", "body": "Xã có bạn."},
            {"id": "ban2", "title": "Thông báo", "body": "Xã có bán."},
        ]
    )
    build_index([path], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as s:
        assert [h.id for h in s.search("bán").hits] == ["ban2", "ban"]
        assert [h.id for h in s.search("bạn").hits] == ["ban", "ban2"]
        plain = s.search("ban").hits
        assert {h.id for h in plain} == {"ban", "ban2"}
        assert plain[0].score == pytest.approx(plain[1].score)


def test_compound_match_ranks_above_scattered_syllables(tmp_path: Path, write_jsonl) -> None:  # type: ignore[no-untyped-def]
    path = write_jsonl(
        [
            {
                "id": "scattered",
                "title": "Tin",
                "body": "Hành lang rộng và chính quyền địa phương.",
            },
            {
                "id": "compound",
                "title": "Tin",
                "body": "Thủ tục hành chính được rút gọn ở địa phương.",
            },
        ]
    )
    build_index([path], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as s:
        assert s.search("hanh chinh").hits[0].id == "compound"


def test_explain_shows_term_contributions(searcher: Searcher) -> None:
    hit = searcher.search("cải cách", explain=True).hits[0]
    assert hit.explanation and "sum =" in hit.explanation and "body" in hit.explanation


# --- highlights ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["cai cach hanh chinh", "Uỷ ban", "UBND", "sa dec", "hoi nghi"])
def test_marks_cover_exactly_original_words(searcher: Searcher, query: str) -> None:
    results = searcher.search(query)
    assert results.hits
    for hit in results.hits:
        for fragment in (hit.title_html, hit.snippet):
            for marked in _MARK.findall(fragment):
                text = unescape(marked)
                source = hit.title if fragment is hit.title_html else searcher.doc(hit.id).body
                assert text in source
                assert re.fullmatch(r"[\w/.\-: ]+", text), text


def test_unaccented_query_marks_accented_words(searcher: Searcher) -> None:
    hit = searcher.search("cai cach hanh chinh").hits[0]
    assert "<mark>cải cách hành chính</mark>" in hit.title_html


def test_snippet_is_a_passage_with_matches_not_the_start(searcher: Searcher) -> None:
    hit = searcher.search("kiểm tra chấn chỉnh", locality="Sa Đéc").hits[0]
    assert "<mark>" in hit.snippet
    assert 80 <= len(unescape(re.sub("<[^>]+>", "", hit.snippet))) <= 320


def test_highlight_escapes_html(tmp_path: Path, write_jsonl) -> None:  # type: ignore[no-untyped-def]
    path = write_jsonl(
        [{"id": "x", "title": "<script>alert(1)</script> cải cách", "body": "<b>cải cách</b>"}]
    )
    build_index([path], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as s:
        hit = s.search("cải cách").hits[0]
        assert "<script>" not in hit.title_html and "&lt;script&gt;" in hit.title_html
        assert "<b>" not in hit.snippet


# --- facets, filters, pagination, sorting --------------------------------------------------


def test_facets_count_the_whole_result_set(searcher: Searcher) -> None:
    results = searcher.search("cải cách", per_page=1)
    assert len(results.hits) == 1
    assert sum(v.count for v in results.facets["province"]) == results.total == 5
    assert {v.value: v.count for v in results.facets["province"]} == {
        "Đồng Tháp": 3,
        "Nghệ An": 1,
        "Thừa Thiên Huế": 1,
    }


@pytest.mark.parametrize("locality", ["Thành phố Sa Đéc", "Sa Đéc", "sa dec", "SA DEC"])
def test_locality_filter_narrows_and_facets_agree(searcher: Searcher, locality: str) -> None:
    results = searcher.search("cải cách", locality=locality)
    assert {h.id for h in results.hits} == SA_DEC
    assert [v.to_dict() for v in results.facets["locality"]] == [
        {"value": "Thành phố Sa Đéc", "count": 2}
    ]


def test_province_and_year_filters(searcher: Searcher) -> None:
    assert ids(searcher, "cải cách", province="dong thap", year=2021) == {"003_fec1c17d3eb0cf44"}
    assert ids(searcher, "cải cách", province="Không Có") == set()


def test_date_range_filter(searcher: Searcher) -> None:
    found = ids(searcher, "cải cách", date_from="2022-01-01", date_to="2022-12-31")
    assert found == {"001_43642a5dc4415f17", "002_205483f94943f1e4"}


def test_pagination_is_stable(searcher: Searcher) -> None:
    whole = [h.id for h in searcher.search("cải cách", per_page=5).hits]
    pages = [h.id for p in (1, 2, 3) for h in searcher.search("cải cách", page=p, per_page=2).hits]
    assert pages == whole
    assert searcher.search("cải cách", page=99).hits == []


def test_sort_by_date_newest_first(searcher: Searcher) -> None:
    dates = [h.date for h in searcher.search("cải cách", sort="date").hits]
    known = [d for d in dates if d]
    assert known == sorted(known, reverse=True)
    assert all(isinstance(h.score, float) for h in searcher.search("cải cách", sort="date").hits)


# --- documents, suggestions, completion -----------------------------------------------------


def test_doc_returns_whole_bulletin_or_none(searcher: Searcher) -> None:
    doc = searcher.doc("001_43642a5dc4415f17")
    assert doc is not None and doc.title.startswith("UBND thành phố Sa Đéc")
    assert "2264 hồ sơ" in doc.body
    assert searcher.doc("nope") is None
    assert searcher.doc("../001_43642a5dc4415f17") is None


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("cai cach hanh chinh", "cải cách hành chính"),
        ("uy ban nhan dan", "ủy ban nhân dân"),
        ("hanh chin", "hành chính"),
    ],
)
def test_suggestion_restores_accents(searcher: Searcher, typed: str, suggested: str) -> None:
    assert searcher.search(typed).suggestion == suggested


def test_a_correction_never_rewrites_most_of_the_query(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Words of a shipped bulletin, three of them mistyped: a "correction" back to the bulletin
    # rewrites 3 of 10 words, too many to be a spelling fix, so accents are restored instead.
    found = ["day", "manh", "cong", "tac", "cchc", "trong", "tam", "la", "tiep", "tuc"]
    typed = ["dai", "manf", "congg", *found[3:]]
    assert searcher.search(" ".join(found)).total and searcher.search(" ".join(typed)).partial
    monkeypatch.setattr(Vocabulary, "correct", lambda self, words: found)
    suggestion = searcher.search(" ".join(typed)).suggestion
    assert suggestion is not None and fold(suggestion).split() == typed


def test_plausible_correction_allows_one_change_in_four_words() -> None:
    assert plausible_correction(["hanh", "chin"], ["hanh", "chinh"])
    assert not plausible_correction(["an", "banh", "keo"], ["van", "ban", "keo"])
    words = ["an", "banh", "keo", "cua", "nguoi", "la", "hoc", "sinh", "nhap", "vien"]
    assert plausible_correction(words, [*words[:-2], "nhan", "vien"])
    assert plausible_correction(words, ["van", *words[1:-2], "nhan", "vien"])
    assert not plausible_correction(words, ["van", "ban", *words[2:-2], "nhan", "vien"])


def test_no_suggestion_for_a_good_accented_query(searcher: Searcher) -> None:
    assert searcher.search("cải cách hành chính").suggestion is None


def test_completion_is_accent_insensitive(searcher: Searcher) -> None:
    assert "cải cách" in searcher.complete("cai c")
    assert any(c.startswith("hành chính") for c in searcher.complete("hanh ch"))


# --- embedding -----------------------------------------------------------------------------


def test_to_dict_matches_the_contract(searcher: Searcher) -> None:
    data = searcher.search("cai cach hanh chinh").to_dict()
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
    assert set(data["hits"][0]) == {
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


def test_searcher_moves_to_a_rebuilt_index(tmp_path: Path, write_jsonl) -> None:  # type: ignore[no-untyped-def]
    first = write_jsonl([{"id": "a", "title": "Cải cách", "body": "một"}], "a.jsonl")
    build_index([first], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as s:
        assert s.doc_count() == 1
        second = write_jsonl(
            [
                {"id": "a", "title": "Cải cách", "body": "một"},
                {"id": "b", "title": "Hai", "body": "x"},
            ],
            "b.jsonl",
        )
        build_index([second], tmp_path / "ix")
        assert s.doc_count() == 2
        assert s.doc("b") is not None


def test_searcher_is_safe_from_several_threads(searcher: Searcher) -> None:
    errors: list[BaseException] = []
    expected = ids(searcher, "cải cách")

    def work() -> None:
        try:
            for query in ("cải cách", "cai cach", "UBND", "sa dec") * 5:
                results = searcher.search(query)
                if query == "cải cách":
                    assert {h.id for h in results.hits} == expected
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 9), st.integers(0, 3)), min_size=1, max_size=80
    ),
    st.data(),
)
def test_facet_counts_by_combination_equal_counting_each_facet(
    rows: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    """Facets are counted over combinations of codes; each count must equal a plain count of
    that facet's code over the matching bulletins (code 0 = no value, never listed)."""
    import numpy as np

    from searcher.facets import FacetColumns

    values = {
        "province": [None, "An Giang", "Bến Tre", "Cà Mau", "Đồng Tháp"],
        "locality": [None] + [f"Huyện {i}" for i in range(1, 10)],
        "year": [None, "2020", "2021", "2022"],
    }
    columns = FacetColumns()
    for k, name in enumerate(values):
        columns.codes[name] = np.array([row[k] for row in rows], dtype=np.int32)
        columns.values[name] = values[name]
    matched = np.array(sorted(data.draw(st.sets(st.integers(0, len(rows) - 1)))), dtype=np.int64)
    facets = columns.count(matched)
    for k, name in enumerate(values):
        expected: dict[str, int] = {}
        for d in matched.tolist():
            if rows[d][k]:
                label = values[name][rows[d][k]]
                expected[label] = expected.get(label, 0) + 1
        assert {f.value: f.count for f in facets[name]} == expected
