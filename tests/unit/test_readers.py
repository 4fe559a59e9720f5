"""Reading files into bulletins: the shipped corpus, JSON Lines, HTML, encodings, bad input."""

from __future__ import annotations

import codecs
import datetime
import gzip
import json
import os
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from index import encoding, jsonl, readers
from index.bulletin import Bulletin, Skipped
from index.readers import document_id, is_bulletin_file, read_bulletins, read_file

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
D = datetime.date

SA_DEC = "UBND thành phố Sa Đéc tổ chức hội nghị sơ kết công tác cải cách hành chính"
LEAD = (
    "Sáng ngày 05/7/2022, UBND thành phố Sa Đéc tổ chức hội nghị sơ kết công tác cải cách "
    "hành chính 6 tháng đầu năm. Người dân được phục vụ tốt hơn."
)


def bulletins(records: list[Bulletin | Skipped]) -> list[Bulletin]:
    return [r for r in records if isinstance(r, Bulletin)]


def skipped(records: list[Bulletin | Skipped]) -> list[Skipped]:
    return [r for r in records if isinstance(r, Skipped)]


def only(records: list[Bulletin | Skipped]) -> Bulletin | Skipped:
    assert len(records) == 1, records
    return records[0]


# ---------------------------------------------------------------------------------------
# The shipped corpus

CORPUS_METADATA = {
    "000_1681178b9a7a6dd1": (
        "THÀNH PHỒ CAO LÃNH: Nâng cao chất lượng công tác cải cách hành chính năm 2021",
        None,  # "Vừa qua, …": the capture states no date
        "Phương Thoa, Như Phương",
        "Trung tâm Văn hóa -Thể thao và Truyền thanh TP.Cao Lãnh",
        "Thành phố Cao Lãnh",
        "Đồng Tháp",
        "Đồng Tháp",
    ),
    "001_43642a5dc4415f17": (
        SA_DEC + " 6 tháng đầu năm",
        D(2022, 7, 5),
        "Thanh Nghĩa",
        None,
        "Thành phố Sa Đéc",
        "Đồng Tháp",
        "Đồng Tháp",
    ),
    "002_205483f94943f1e4": (
        "Tân Kỳ: Bàn về giải pháp khắc phục công tác cải cách hành chính năm 2022",
        D(2022, 4, 29),
        "Như Lành",
        "Trung tâm VHTT-TT Tân Kỳ",
        "Huyện Tân Kỳ",
        "Nghệ An",
        "Nghệ An",
    ),
    "003_fec1c17d3eb0cf44": (
        "Thành phố Sa Đéc: Cam kết thực hiện công tác cải cách hành chính năm 2021",
        D(2021, 3, 19),  # not 30/12/2020, the date of the decision it cites
        "Thế Vũ",
        "Phòng Nội vụ thành phố Sa Đéc",
        "Thành phố Sa Đéc",
        "Đồng Tháp",
        "Đồng Tháp",
    ),
    "004_19503b7e49f52df0": (
        "Hương Trà xây dựng Kế hoạch cải cách hành chính năm 2021",
        D(2021, 1, 11),  # "Ngày cập nhật", not 22/12/2020 of the cited decision
        "Phan Hoàng Minh",
        "Nội vụ",
        "Thị xã Hương Trà",
        "Thừa Thiên Huế",
        "Huế",
    ),
}


@pytest.fixture(scope="module")
def corpus() -> dict[str, Bulletin]:
    records = list(read_bulletins([CORPUS]))
    assert skipped(records) == []
    return {b.id: b for b in bulletins(records)}


def test_corpus_is_read_whole_and_in_order(corpus: dict[str, Bulletin]) -> None:
    assert list(corpus) == sorted(CORPUS_METADATA)  # and corpus/__init__.py is ignored


@pytest.mark.parametrize(("doc_id", "expected"), CORPUS_METADATA.items())
def test_corpus_metadata(corpus: dict[str, Bulletin], doc_id: str, expected: tuple) -> None:
    b = corpus[doc_id]
    got = (b.title, b.date, b.author, b.source_unit, b.locality, b.province, b.province_current)
    assert got == expected
    assert b.url is None
    assert b.source == str(CORPUS / f"{doc_id}.txt")


@pytest.mark.parametrize("doc_id", CORPUS_METADATA)
def test_corpus_body_is_clean_nfc_paragraphs(corpus: dict[str, Bulletin], doc_id: str) -> None:
    body = corpus[doc_id].body
    assert unicodedata.is_normalized("NFC", body)
    assert "\n\n\n" not in body and not body.startswith("\n") and not body.endswith("\n")
    for paragraph in body.split("\n\n"):
        assert paragraph == paragraph.strip() and "\n" not in paragraph
    for furniture in ("Xuất bản thông tin", "Có thể bạn quan tâm", "image", "Truy câp", "ảnh:"):
        assert furniture not in body


def test_corpus_file_read_alone_keeps_the_path_as_given() -> None:
    path = os.path.relpath(CORPUS / "001_43642a5dc4415f17.txt")
    b = only(list(read_file(path)))
    assert isinstance(b, Bulletin)
    assert (b.id, b.source) == ("001_43642a5dc4415f17", path)


# ---------------------------------------------------------------------------------------
# Walking files and folders


def test_folders_are_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    for rel in ("b/2.txt", "a/z.txt", "a/sub/y.txt", "0.txt", ".hidden/x.txt", "a/.x.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Tiêu đề {rel}\n\nNội dung {rel}.", encoding="utf-8")
    (tmp_path / "a" / "notes.md").write_text("# not a bulletin", encoding="utf-8")
    (tmp_path / "a" / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    records = list(read_bulletins([tmp_path]))
    assert [r.id for r in bulletins(records)] == ["0", "y", "z", "2"]
    assert skipped(records) == []
    assert records == list(read_bulletins([tmp_path]))  # deterministic


def test_each_file_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")
    records = list(read_bulletins([tmp_path, path, str(path)]))
    assert len(records) == 1


def test_a_missing_path_is_skipped_and_the_run_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")
    missing = str(tmp_path / "nope")
    records = list(read_bulletins([missing, good]))
    assert records[0] == Skipped(missing, "no such file or directory")
    assert isinstance(records[1], Bulletin)


@pytest.mark.parametrize(
    ("name", "supported"),
    [
        ("a.txt", True),
        ("a.TXT", True),
        ("a.jsonl", True),
        ("a.jsonl.gz", True),
        ("a.ndjson", True),
        ("a.html", True),
        ("a.htm", True),
        ("README", True),
        ("__init__.py", False),
        ("a.pdf", False),
        ("a.gz", False),
        (".hidden.txt", False),
    ],
)
def test_is_bulletin_file(name: str, supported: bool) -> None:
    assert is_bulletin_file(name) is supported


def test_an_unsupported_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "__init__.py"
    path.write_text('"""The bulletins shipped with bantin."""\n', encoding="utf-8")
    assert list(read_file(path)) == [
        Skipped(str(path), "not a bulletin file (unsupported type '.py')")
    ]


@pytest.mark.parametrize(
    ("path", "doc_id"),
    [
        ("corpus/001_43642a5dc4415f17.txt", "001_43642a5dc4415f17"),
        ("x/page.html", "page"),
        ("x/page.HTM", "page"),
        ("a.b.txt", "a.b"),
        ("noext", "noext"),
        ("data.jsonl.gz", "data"),
    ],
)
def test_document_id(path: str, doc_id: str) -> None:
    assert document_id(path) == doc_id


# ---------------------------------------------------------------------------------------
# JSON Lines


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_jsonl_minimal_record_infers_metadata(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"id": "x1", "title": SA_DEC, "body": LEAD + "\nThanh Nghĩa"}]
    )
    b = only(list(read_file(path)))
    assert b == Bulletin(
        id="x1",
        title=SA_DEC,
        body=LEAD + "\n\nThanh Nghĩa",
        date=D(2022, 7, 5),
        author="Thanh Nghĩa",
        source_unit=None,
        locality="Thành phố Sa Đéc",
        province="Đồng Tháp",
        province_current="Đồng Tháp",
        url=None,
        source=f"{path}:1",
    )


def test_jsonl_given_metadata_wins(tmp_path: Path) -> None:
    record = {
        "id": "x2",
        "title": SA_DEC,
        "body": LEAD,
        "date": "2020-01-02",
        "locality": "Huyện Tân Kỳ",
        "province": "Nghệ An",
        "url": "https://example.vn/a?b=1&c=2",
        "author": "Ngọc Hân",
        "source": "crawl-2022",
        "captions": ["ảnh"],
        "mentions_local_gov": True,
    }
    b = only(list(read_file(write_jsonl(tmp_path / "a.jsonl", [record]))))
    assert isinstance(b, Bulletin)
    assert (b.date, b.locality, b.province, b.province_current) == (
        D(2020, 1, 2),
        "Huyện Tân Kỳ",
        "Nghệ An",
        "Nghệ An",
    )
    assert (b.url, b.author, b.source) == ("https://example.vn/a?b=1&c=2", "Ngọc Hân", "crawl-2022")


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        (None, ("Thanh Nghĩa", "Nội vụ")),
        ("THANH NGHĨA", ("THANH NGHĨA", "Nội vụ")),  # the same person: the unit is theirs
        ("Ngọc Hân", ("Ngọc Hân", None)),  # someone else: the text's unit is not theirs
    ],
)
def test_jsonl_given_author_and_the_byline(
    tmp_path: Path, author: str | None, expected: tuple[str, str | None]
) -> None:
    body = "Nội dung.\nThanh Nghĩa - Nội vụ"
    record = {"id": "a", "title": "Tin", "body": body, "author": author}
    b = only(list(read_file(write_jsonl(tmp_path / "a.jsonl", [record]))))
    assert isinstance(b, Bulletin)
    assert (b.author, b.source_unit) == expected


def test_jsonl_province_without_locality_is_kept(tmp_path: Path) -> None:
    records = [
        {"id": "a", "title": "Tin tức", "body": "Nội dung.", "province": "Bến Tre"},
        {
            "id": "b",
            "title": "Huyện Châu Thành ra quân",
            "body": "Nội dung.",
            "province": "Bến Tre",
        },
        {"id": "c", "title": SA_DEC, "body": LEAD, "province": "Tỉnh Bến Tre"},
        {"id": "d", "title": "Tin tức", "body": "Nội dung.", "province": "Xứ Sở Thần Tiên"},
    ]
    got = [
        (b.locality, b.province, b.province_current)
        for b in bulletins(list(read_file(write_jsonl(tmp_path / "a.jsonl", records))))
    ]
    assert got == [
        (None, "Bến Tre", "Vĩnh Long"),
        ("Huyện Châu Thành", "Bến Tre", "Vĩnh Long"),
        (None, "Tỉnh Bến Tre", "Vĩnh Long"),  # Sa Đéc is not in Bến Tre: no locality
        (None, "Xứ Sở Thần Tiên", None),
    ]


def test_jsonl_locality_without_province_gets_one(tmp_path: Path) -> None:
    records = [
        {"id": "a", "title": "Tin tức", "body": "Nội dung.", "locality": "Sa Đéc"},
        {"id": "b", "title": "Tin tức", "body": "Nội dung.", "locality": "Huyện Châu Thành"},
        {"id": "c", "title": "Tin", "body": "Tỉnh Trà Vinh.", "locality": "Huyện Châu Thành"},
    ]
    got = [
        (b.locality, b.province, b.province_current)
        for b in bulletins(list(read_file(write_jsonl(tmp_path / "a.jsonl", records))))
    ]
    assert got == [
        ("Sa Đéc", "Đồng Tháp", "Đồng Tháp"),
        ("Huyện Châu Thành", None, None),
        ("Huyện Châu Thành", "Trà Vinh", "Vĩnh Long"),
    ]


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2022-07-05", D(2022, 7, 5)),
        ("2022-07-05T08:30:00+07:00", D(2022, 7, 5)),
        ("2022-02-30", None),
        ("05/07/2022", None),
        ("yesterday", None),
        (20220705, None),
        (None, D(2022, 7, 5)),  # not given: inferred from the lead
        ("", D(2022, 7, 5)),
    ],
)
def test_jsonl_date(tmp_path: Path, date: Any, expected: datetime.date | None) -> None:
    record = {"id": "a", "title": SA_DEC, "body": LEAD, "date": date}
    b = only(list(read_file(write_jsonl(tmp_path / "a.jsonl", [record]))))
    assert isinstance(b, Bulletin)
    assert b.date == expected


@pytest.mark.parametrize(
    "doc_id",
    ["a b", "a,b", "tin@xa", "2022/07/05/tin-1", "  spaced  ", "ümlaut/ü", "<b>id</b>", "42"],
)
def test_jsonl_ids_are_kept_exactly(tmp_path: Path, doc_id: str) -> None:
    record = {"id": doc_id, "title": "Tin", "body": "Nội dung."}
    b = only(list(read_file(write_jsonl(tmp_path / "a.jsonl", [record]))))
    assert isinstance(b, Bulletin)
    assert b.id == doc_id


def test_jsonl_numeric_id_becomes_a_string(tmp_path: Path) -> None:
    b = only(
        list(read_file(write_jsonl(tmp_path / "a.jsonl", [{"id": 7, "title": "T", "body": "B"}])))
    )
    assert isinstance(b, Bulletin)
    assert b.id == "7"


def test_jsonl_markup_is_kept_as_text(tmp_path: Path) -> None:
    record = {
        "id": "x",
        "title": "<script>alert('t')</script> Tin <b>mới</b>",
        "body": "Đoạn <img src=x onerror=alert(1)> một.\n<p>Đoạn hai</p>",
    }
    b = only(list(read_file(write_jsonl(tmp_path / "a.jsonl", [record]))))
    assert isinstance(b, Bulletin)
    assert b.title == "<script>alert('t')</script> Tin <b>mới</b>"
    assert b.body == "Đoạn <img src=x onerror=alert(1)> một.\n\n<p>Đoạn hai</p>"


def test_jsonl_text_is_normalised(tmp_path: Path) -> None:
    record = {
        "id": "x",
        "title": unicodedata.normalize("NFD", "  Hội   nghị\ttổng kết \n"),
        "body": "Dòng một \u00a0 có  khoảng trắng\r\n\r\n\n  Dòng hai\x00\x07 \u2028",
    }
    b = only(list(read_file(write_jsonl(tmp_path / "a.jsonl", [record]))))
    assert isinstance(b, Bulletin)
    assert b.title == "Hội nghị tổng kết"
    assert b.body == "Dòng một có khoảng trắng\n\nDòng hai"


def test_jsonl_bad_lines_are_skipped_with_reasons(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"id": "ok1", "title": "Tin", "body": "Nội dung."},
            '{"id": "broken", "title": ',
            "",
            "   ",
            "[1, 2]",
            {"title": "T", "body": "B"},
            {"id": "x", "body": "B"},
            {"id": "x", "title": "T"},
            {"id": "", "title": "T", "body": "B"},
            {"id": "x", "title": "T", "body": None},
            {"id": ["x"], "title": "T", "body": "B"},
            {"id": "x", "title": 5, "body": "B"},
            {"id": "x", "title": "  ", "body": "B"},
            {"id": "x", "title": "T", "body": " \n "},
            {"id": "ok2", "title": "Tin", "body": "Nội dung."},
        ],
    )
    records = list(read_file(path))
    assert [b.id for b in bulletins(records)] == ["ok1", "ok2"]
    assert [(s.source.rsplit(":", 1)[1], s.reason) for s in skipped(records)] == [
        ("2", "broken JSON on line 2: Expecting value (column 27)"),
        ("5", "not a JSON object (a JSON list)"),
        ("6", "missing required field 'id'"),
        ("7", "missing required field 'title'"),
        ("8", "missing required field 'body'"),
        ("9", "field 'id' is empty"),
        ("10", "missing required field 'body'"),
        ("11", "field 'id' must be a string"),
        ("12", "field 'title' must be a string"),
        ("13", "field 'title' is empty"),
        ("14", "field 'body' is empty"),
    ]
    assert all(s.source.startswith(f"{path}:") for s in skipped(records))


def test_jsonl_undecodable_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    good = json.dumps({"id": "ok", "title": "Tin", "body": "Nội dung."}).encode()
    bad = b'{"id": "bad", "title": "T\xe0i", "body": "B"}'
    path.write_bytes(good + b"\n" + bad + b"\n" + good + b"\n")
    records = list(read_file(path))
    assert [type(r).__name__ for r in records] == ["Bulletin", "Skipped", "Bulletin"]
    assert records[1] == Skipped(f"{path}:2", "undecodable bytes (not UTF-8) at byte 25 on line 2")


@pytest.mark.parametrize("bom", [codecs.BOM_UTF8, b""])
def test_jsonl_utf8_with_or_without_bom(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(bom + json.dumps({"id": "a", "title": "Tin", "body": "Bé"}).encode() + b"\n")
    assert [b.id for b in bulletins(list(read_file(path)))] == ["a"]


def test_jsonl_utf16(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    lines = [json.dumps({"id": f"d{i}", "title": "Tin", "body": "Bé ngoan"}) for i in range(3)]
    path.write_bytes("\n".join(lines).encode("utf-16"))
    assert [b.id for b in bulletins(list(read_file(path)))] == ["d0", "d1", "d2"]


def test_jsonl_gz_and_jsonl_in_a_txt(tmp_path: Path) -> None:
    line = json.dumps({"id": "a", "title": "Tin", "body": "Nội dung."}, ensure_ascii=False)
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(line + "\n")
    (tmp_path / "b.txt").write_text(line + "\n", encoding="utf-8")
    records = list(read_bulletins([tmp_path]))
    assert [(b.id, b.source) for b in bulletins(records)] == [
        ("a", f"{tmp_path / 'a.jsonl.gz'}:1"),
        ("a", f"{tmp_path / 'b.txt'}:1"),
    ]


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"d{i}", "title": "Tin", "body": "x" * 200}) for i in range(300)]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    records = list(read_file(path))
    assert len(bulletins(records)) > 0
    last = records[-1]
    assert isinstance(last, Skipped) and last.source == str(path)
    assert last.reason.startswith("corrupt gzip file")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_jsonl(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(content)
    assert list(read_file(path)) == [Skipped(str(path), "empty file")]


def test_jsonl_legacy_font_records(tmp_path: Path) -> None:
    tcvn3 = "UBND huyÖn T©n Kú tæ chøc héi nghÞ c¶i c¸ch hµnh chÝnh"
    vni = "UBND huyeän Taân Kyø toå chöùc hoäi nghò caûi caùch haønh chính"
    records = list(
        read_file(
            write_jsonl(
                tmp_path / "a.jsonl",
                [
                    {"id": "t", "title": tcvn3, "body": tcvn3 + "."},
                    {"id": "v", "title": vni, "body": vni + "."},
                ],
            )
        )
    )
    b, s = records
    assert isinstance(b, Bulletin)
    assert b.title == "UBND huyện Tân Kỳ tổ chức hội nghị cải cách hành chính"
    assert (b.locality, b.province) == ("Huyện Tân Kỳ", "Nghệ An")
    assert s == Skipped(f"{tmp_path / 'a.jsonl'}:2", "legacy VNI font encoding (not converted)")


def test_jsonl_is_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(200):
            f.write(json.dumps({"id": f"d{i}", "title": "Tin", "body": "x " * 1000}) + "\n")
        f.write("{broken\n")
    opened: list[Any] = []
    real_open = jsonl.open_lines

    def spy(source: str, compressed: bool) -> Any:
        opened.append(real_open(source, compressed))
        return opened[-1]

    monkeypatch.setattr(jsonl, "open_lines", spy)
    records = read_file(path)
    first = next(records)
    assert isinstance(first, Bulletin) and first.id == "d0"
    # A buffer of the 400 kB file has been read, not the whole file.
    assert opened[0].raw.tell() < 64 * 1024 < path.stat().st_size
    rest = list(records)
    assert len(rest) == 200 and isinstance(rest[-1], Skipped)


# ---------------------------------------------------------------------------------------
# HTML pages


def test_html_page(tmp_path: Path) -> None:
    b = only(list(read_file(FIXTURES / "portal_page.html")))
    assert isinstance(b, Bulletin)
    assert b.id == "portal_page"
    assert b.title == "Huyện Lấp Vò ra quân chiến dịch vệ sinh môi trường"
    assert b.date == D(2023, 3, 18)
    assert (b.author, b.source_unit) == ("Minh Tâm", "Trung tâm Văn hóa, Thể thao và Truyền thanh")
    assert (b.locality, b.province, b.province_current) == (
        "Huyện Lấp Vò",
        "Đồng Tháp",
        "Đồng Tháp",
    )
    assert b.url == "https://lapvo.example.vn/tin-tuc/ra-quan-ve-sinh-moi-truong"
    assert b.body.startswith("Sáng ngày 18/3/2023, UBND huyện Lấp Vò tổ chức lễ ra quân")
    assert b.body.endswith("gắn với xây dựng nông thôn mới nâng cao./.")
    assert '"Ngày Chủ nhật xanh" <script> và' in b.body  # escaped text stays text
    furniture = ["Trang chủ", "Đăng nhập", "Có thể bạn quan tâm", "Thống kê truy cập",
                 "Truy cập", "tracker", "quảng cáo", "Quang cảnh", "Lượt xem", "color"]  # fmt: skip
    for word in furniture:
        assert word not in b.body, word


def test_html_date_from_text_when_the_page_has_no_date_markup(tmp_path: Path) -> None:
    path = tmp_path / "p.htm"
    paragraphs = "".join(f"<p>{LEAD} Đoạn {i} có thêm nội dung để đủ dài.</p>" for i in range(4))
    path.write_text(
        f"<html><head><title>{SA_DEC}</title></head><body><article><h1>{SA_DEC}</h1>"
        f"{paragraphs}</article></body></html>",
        encoding="utf-8",
    )
    b = only(list(read_file(path)))
    assert isinstance(b, Bulletin)
    assert (b.title, b.date, b.locality) == (SA_DEC, D(2022, 7, 5), "Thành phố Sa Đéc")
    assert b.body.count("\n\n") == 3


def test_html_saved_as_utf16_text(tmp_path: Path) -> None:
    path = tmp_path / "page"
    path.write_bytes((FIXTURES / "portal_page.html").read_text(encoding="utf-8").encode("utf-16"))
    b = only(list(read_file(path)))
    assert isinstance(b, Bulletin)
    assert (b.id, b.title) == ("page", "Huyện Lấp Vò ra quân chiến dịch vệ sinh môi trường")


def test_html_without_article(tmp_path: Path) -> None:
    path = tmp_path / "menu.html"
    path.write_text(
        "<html><body><nav><a href='/'>Trang chủ</a></nav><script>x=1</script></body></html>",
        encoding="utf-8",
    )
    assert list(read_file(path)) == [Skipped(str(path), "no article found")]


# ---------------------------------------------------------------------------------------
# Encodings and bad files

TEXT = f"{SA_DEC}\n\n{LEAD}\n\nThanh Nghĩa\n"
_TONES = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese software writes it: base letters plus combining tones."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out += (base + "".join(c for c in parts if c in _TONES)).encode("cp1258")
    return bytes(out)


def to_tcvn3(text: str) -> str:
    table = {u: t for t, u in encoding.TCVN3_TABLE.items()}
    return "".join(table.get(c, table.get(c.lower(), c)) for c in text)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(TEXT.encode("utf-8"), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode("utf-8"), id="utf-8-bom"),
        pytest.param(TEXT.encode("utf-16"), id="utf-16"),
        pytest.param(TEXT.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(TEXT.replace("\n", "\r\n").encode("utf-8"), id="crlf"),
        pytest.param(to_cp1258(TEXT), id="windows-1258"),
        pytest.param(to_tcvn3(TEXT).encode("latin-1"), id="tcvn3-bytes"),
        pytest.param(to_tcvn3(TEXT).encode("utf-8"), id="tcvn3-mojibake-in-utf-8"),
        pytest.param(unicodedata.normalize("NFD", TEXT).encode("utf-8"), id="nfd"),
    ],
)
def test_text_encodings(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(data)
    b = only(list(read_file(path)))
    assert isinstance(b, Bulletin)
    assert (b.title, b.body, b.date, b.author) == (
        SA_DEC,
        f"{LEAD}\n\nThanh Nghĩa",
        D(2022, 7, 5),
        "Thanh Nghĩa",
    )


def test_one_damaged_byte_in_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    data = TEXT.encode("utf-8")
    path.write_bytes(data[:200] + b"\xff" + data[200:])
    b = only(list(read_file(path)))
    assert isinstance(b, Bulletin)
    assert "\ufffd" in b.body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b" \r\n\t\n", "empty file"),
        (codecs.BOM_UTF8, "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00\x01\x02", "binary file"),
        (bytes(range(1, 32)) * 20, "binary file"),
        (b"\x81\x8d\x8f\x90\x9d tin \x81\x8d\x8f\x90\x9d", encoding.UNDECODABLE),
        ("中华人民共和国成立了，人民站起来了。".encode("gb18030"), encoding.UNDECODABLE),
        (
            "Vieät Nam ñaõ toå chöùc hoäi nghò caûi caùch haønh chính".encode("cp1252"),
            "legacy VNI font encoding (not converted)",
        ),
        ("Xuất bản thông tin\n\nCó thể bạn quan tâm".encode(), "no article found"),
        ("Chỉ một dòng".encode(), "no article found"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    assert list(read_file(path)) == [Skipped(str(path), reason)]


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(readers, "open", refuse, raising=False)  # as if mode 000, even as root
    assert list(read_file(path)) == [Skipped(str(path), "cannot read file: Permission denied")]


def test_a_folder_named_as_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "x.txt"
    folder.mkdir()
    assert list(read_file(folder)) == [Skipped(str(folder), "cannot read file: Is a directory")]


def test_a_capture_that_opens_with_a_brace_is_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("{Tin nóng} Tiêu đề\n\nNội dung.", encoding="utf-8")
    b = only(list(read_file(path)))
    assert isinstance(b, Bulletin)
    assert b.title == "{Tin nóng} Tiêu đề"


def test_a_bad_file_does_not_stop_the_run(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "001_43642a5dc4415f17.txt", tmp_path / "b.txt")
    (tmp_path / "a.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
    (tmp_path / "c.jsonl").write_text('{"id": 1\n', encoding="utf-8")
    records = list(read_bulletins([tmp_path]))
    assert [type(r).__name__ for r in records] == ["Skipped", "Bulletin", "Skipped"]
    assert records[1].id == "b"


def test_legacy_encoding_detection() -> None:
    assert encoding.legacy_encoding("UBND huyÖn T©n Kú tæ chøc héi nghÞ") == "tcvn3"
    assert encoding.legacy_encoding("UBND huyeän Taân Kyø toå chöùc hoäi nghò") == "vni"
    assert encoding.legacy_encoding("UBND huyện Tân Kỳ tổ chức hội nghị") is None
    assert encoding.legacy_encoding("Café déjà vu, © 2022 ®") is None
    assert encoding.legacy_encoding("") is None
    assert encoding.convert_tcvn3("HUYÖN T¢N Kú") == "HUYỆN TÂN KỲ"
