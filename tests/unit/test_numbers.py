"""Numbers as Vietnamese writes them: every written form of a number finds the others.

Unit tests of the canonicaliser (examples and properties), the analysis invariants it must keep
(offsets slice the text as written, index and query agree), and searches over a small index
where each form must find its bulletin without the partial-match fallback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index import build_index
from searcher import Searcher
from searcher.analysis import analyze, canonical_date, canonical_number, number_form


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("1.500", "1500"),  # "." before groups of three digits: thousands
        ("10.000", "10000"),
        ("6.407.456", "6407456"),
        ("1.500,5", "1500,5"),  # thousands and a decimal comma
        ("7,5", None),  # "," is the decimal mark: already canonical
        ("7.5", "7,5"),  # "." before one or two digits: an English decimal point
        ("12.25", "12,25"),
        ("3.14159", "3,14159"),
        ("1,500,000", "1500000"),  # two or more comma groups of three: English thousands
        ("1,500,000.25", "1500000,25"),
        ("06", "6"),  # leading zeros of short integers go
        ("007", "7"),
        ("00", "0"),
        ("0277", None),  # a code keeps its zeros
        ("2022", None),
        ("1500", None),
        ("0", None),
        ("1.2.3", None),  # a version or section number is no number
        ("1.2.300", None),
        ("9001:2015", None),
        ("covid19", None),
        ("hộ", None),
        ("", None),
    ],
)
def test_canonical_number(written: str, canonical: str | None) -> None:
    assert canonical_number(written) == canonical


@pytest.mark.parametrize(
    ("protected", "canonical"),
    [
        ("05/07/2022", "5/7/2022"),
        ("05/7/2022", "5/7/2022"),
        ("5/7/2022", None),
        ("01-2021", "1-2021"),
        ("61/2018/nđ-cp", None),  # document numbers stay as written
        ("313/qđ-ubnd-hc", None),
        ("9001:2015", None),
        ("tp.hcm", None),
    ],
)
def test_canonical_date(protected: str, canonical: str | None) -> None:
    assert canonical_date(protected) == canonical


@given(st.integers(min_value=0, max_value=10**12))
def test_every_thousands_form_of_an_integer_is_the_integer(value: int) -> None:
    plain = str(value)
    dotted = f"{value:,}".replace(",", ".")
    assert number_form(dotted) == plain
    assert number_form(plain) == plain
    if value >= 10**6:  # "1,500,000"; a single comma group is the Vietnamese decimal mark
        assert number_form(f"{value:,}") == plain


@given(
    st.integers(min_value=0, max_value=10**6),
    st.text(alphabet="0123456789", min_size=1, max_size=6).filter(lambda d: len(d) != 3),
)
def test_decimal_point_and_decimal_comma_agree(whole: int, fraction: str) -> None:
    assert number_form(f"{whole}.{fraction}") == number_form(f"{whole},{fraction}")


@given(st.integers(min_value=0, max_value=999))
def test_leading_zeros_of_short_integers(value: int) -> None:
    for written in {str(value), str(value).zfill(2), str(value).zfill(3)}:
        assert number_form(written) == str(value)


@given(st.text(alphabet="0123456789.,:/-", max_size=20))
def test_canonical_forms_are_fixed_points(text: str) -> None:
    form = number_form(text)
    assert number_form(form) == form


@pytest.mark.parametrize(
    "text",
    [
        "Có 1.500 hộ dân, tăng 7,5% (7.5%) so với 06 tháng trước.",
        "Sáng ngày 05/07/2022, theo Nghị định 61/2018/NĐ-CP và ISO 9001:2015.",
        "Tổng cộng 1,500,000 đồng; phiên bản 1.2.3.",
    ],
)
def test_number_tokens_slice_the_number_as_written(text: str) -> None:
    tokens = analyze(text)
    numbers = [t for t in tokens if t.kind == "number"]
    assert numbers
    at = {(t.position, t.startchar, t.endchar) for t in tokens if t.kind != "number"}
    for token in numbers:
        assert (token.position, token.startchar, token.endchar) in at  # beside its source
        written = text[token.startchar : token.endchar]
        assert token.text in (number_form(written), canonical_date(written.lower()))
    # Query-mode analysis (no segmentation) makes the same number tokens.
    assert [t.text for t in analyze(text, segment=False) if t.kind == "number"] == [
        t.text for t in numbers
    ]


BULLETINS = [
    {
        "id": "ho-dan",
        "title": "Hỗ trợ 1.500 hộ dân vùng lũ",
        "body": "Huyện đã hỗ trợ 1.500 hộ dân bị ảnh hưởng, tổng kinh phí 10.000 triệu đồng.",
    },
    {
        "id": "hai-nghin",
        "title": "Cấp nước sạch cho 2500 hộ dân",
        "body": "Công trình cấp nước sạch phục vụ 2500 hộ dân ở ba xã.",
    },
    {
        "id": "tang-truong",
        "title": "Tốc độ tăng trưởng kinh tế đạt 7,5%",
        "body": "Tốc độ tăng trưởng kinh tế năm 2022 ước đạt 7,5%, vượt kế hoạch đề ra.",
    },
    {
        "id": "so-ket",
        "title": "Sơ kết 06 tháng đầu năm",
        "body": "Ngày 05/07/2022, UBND huyện sơ kết công tác 06 tháng đầu năm.",
    },
    {
        "id": "quyet-dinh",
        "title": "Triển khai Quyết định 313/QĐ-UBND-HC",
        "body": "Thực hiện Nghị định 61/2018/NĐ-CP và Quyết định số 313/QĐ-UBND-HC của UBND tỉnh.",
    },
]


@pytest.fixture(scope="module")
def numbers_searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    import json

    folder = tmp_path_factory.mktemp("numbers")
    path = folder / "numbers.jsonl"
    path.write_text(
        "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in BULLETINS), encoding="utf-8"
    )
    build_index([path], folder / "ix")
    with Searcher(folder / "ix") as opened:
        yield opened


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1500 hộ dân", "ho-dan"),
        ("1.500 hộ dân", "ho-dan"),
        ("1500 ho dan", "ho-dan"),
        ("2.500 hộ dân", "hai-nghin"),  # and back: the document wrote "2500"
        ("10000 triệu", "ho-dan"),
        ("7.5%", "tang-truong"),
        ("7,5%", "tang-truong"),
        ("tăng trưởng 7.5", "tang-truong"),
        ("6 tháng", "so-ket"),
        ("06 tháng", "so-ket"),
        ("6 thang dau nam", "so-ket"),
        ("5/7/2022", "so-ket"),
        ("05/07/2022", "so-ket"),
        ("05/7/2022", "so-ket"),
        ("313/QĐ-UBND-HC", "quyet-dinh"),  # document numbers as written
        ("61/2018/NĐ-CP", "quyet-dinh"),
        ("61/2018/nd-cp", "quyet-dinh"),
    ],
)
def test_each_written_form_finds_the_bulletin(
    numbers_searcher: Searcher, query: str, expected: str
) -> None:
    results = numbers_searcher.search(query)
    assert not results.partial, f"{query!r} fell back to partial matching"
    assert [hit.id for hit in results.hits] == [expected]


@pytest.mark.parametrize(
    ("query", "marked"),
    [
        ("1500 hộ dân", "<mark>1.500 hộ dân</mark>"),
        ("7.5%", "<mark>7,5</mark>%"),
        ("6 tháng", "<mark>06 tháng</mark>"),
    ],
)
def test_highlights_land_on_the_number_as_written(
    numbers_searcher: Searcher, query: str, marked: str
) -> None:
    hit = numbers_searcher.search(query).hits[0]
    assert marked in hit.snippet
    assert marked in numbers_searcher.highlight(numbers_searcher.doc(hit.id).body, query)


@pytest.mark.parametrize("query", ["1600", "1.600", "7,6%", "16", "0.5", "150"])
def test_a_number_does_not_find_a_different_number(numbers_searcher: Searcher, query: str) -> None:
    assert numbers_searcher.search(query).total == 0


def test_fast_path_and_whoosh_agree_on_numbers() -> None:
    """The fast path's snippets defer to the reference for digits; both mark the same."""
    from searcher.fastpath.snippets import snippet_fast
    from searcher.highlight import snippet
    from searcher.plan import highlight_patterns
    from searcher.query import parse_query

    text = "Hỗ trợ 1.500 hộ dân; 06 tháng; tăng 7.5%; ngày 05/07/2022."
    for query in ("1500 hộ dân", "6 tháng", "7,5", "5/7/2022"):
        patterns = highlight_patterns(parse_query(query))
        assert snippet_fast(text, patterns) == snippet(text, patterns)
        assert "<mark>" in snippet(text, patterns)
