"""Photo captions are content: their own searchable field, shown as captions, snippets from them.

Each shipped bulletin's caption, typed without accents, finds that bulletin first; image
placeholders are searchable nowhere; JSON Lines and HTML captions are read and indexed; the
crawler's records carry them through to the index.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from index import build_index
from index.bulletin import Bulletin
from index.crawl.store import bulletin_record
from index.readers import read_file
from index.records import clean_captions, is_image_placeholder
from searcher import Searcher

#: (bulletin, one of its captions typed without accents, the caption as published)
SHIPPED_CAPTIONS = [
    (
        "000_1681178b9a7a6dd1",
        "quang canh ky ket thuc hien nhiem vu",
        "(Quang cảnh ký kết thực hiện nhiệm vụ CCHC năm 2021)",
    ),
    ("001_43642a5dc4415f17", "quang canh hoi nghi", "ảnh: Quang cảnh hội nghị"),
    (
        "001_43642a5dc4415f17",
        "ong nguyen van hon pho bi thu thanh uy phat bieu ket luan",
        "ảnh: Ông Nguyễn Văn Hon- Phó Bí thư Thành ủy/ Chủ tịch UBND thành phố phát biểu kết "
        "luận hội nghị",
    ),
    (
        "002_205483f94943f1e4",
        "d/c phan van giap ct ubnd huyen chu tri hoi nghi",
        "Đ/c Phan Văn Giáp, CT UBND huyện chủ trì Hội nghị",
    ),
    ("003_fec1c17d3eb0cf44", "quang canh buoi lam viec", "Quang cảnh buổi làm việc"),
]


@pytest.mark.parametrize(("doc_id", "query", "caption"), SHIPPED_CAPTIONS)
def test_the_caption_of_each_shipped_bulletin_finds_it_first(
    searcher: Searcher, doc_id: str, query: str, caption: str
) -> None:
    document = searcher.doc(doc_id)
    assert document is not None
    assert caption in document.captions
    assert caption not in document.body  # a caption is not prose of the body
    results = searcher.search(query)
    assert not results.partial
    assert results.hits[0].id == doc_id


@pytest.mark.parametrize("fast", [True, False])
def test_a_caption_that_matches_best_is_the_snippet(corpus_index: Path, fast: bool) -> None:
    with Searcher(corpus_index, fast=fast) as opened:
        hit = opened.search("quang canh buoi lam viec").hits[0]
        assert hit.snippet == "<mark>Quang cảnh buổi làm việc</mark>"
        # A query the body answers better keeps its snippet in the body.
        body_hit = opened.search("cam ket thuc hien cong tac cai cach hanh chinh").hits[0]
        assert "Quang cảnh" not in body_hit.snippet


@pytest.mark.parametrize("query", ["Anh-tin-bai", "tin-bai", "image advertisement", "image"])
def test_image_placeholders_are_not_searchable(searcher: Searcher, query: str) -> None:
    assert searcher.search(query).total == 0
    document = searcher.doc("002_205483f94943f1e4")
    assert document is not None
    stored = " ".join([document.title, document.body, *document.captions]).lower()
    assert "anh-tin-bai" not in stored and "image" not in stored


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("Anh-tin-bai", True),
        ("anh tin bai", True),
        ("image advertisement", True),
        ("IMG_0231.JPG", True),
        ("(ảnh)", True),
        ("ảnh: Quang cảnh hội nghị", False),
        ("Quang cảnh buổi làm việc", False),
    ],
)
def test_is_image_placeholder(value: str, placeholder: bool) -> None:
    assert is_image_placeholder(value) is placeholder


def test_clean_captions_keeps_real_captions_once_in_order() -> None:
    given = ["  Đoàn công tác\n thăm mô hình ", "IMG_1.png", 3, "", "Đoàn công tác thăm mô hình"]
    assert clean_captions(given) == ("Đoàn công tác thăm mô hình",)
    assert clean_captions("not a list") == ()


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


JSONL_RECORDS = [
    {
        "id": "ca-tra",
        "title": "Huyện Châu Thành phát triển kinh tế nông nghiệp",
        "body": "Năm 2022, huyện tập trung chuyển đổi cơ cấu cây trồng, vật nuôi.",
        "captions": ["Đoàn công tác thăm mô hình nuôi cá tra", "IMG_0231.JPG", "Anh-tin-bai"],
    },
    {
        "id": "khong-anh",
        "title": "Hội nghị tổng kết công tác nông nghiệp",
        "body": "Hội nghị tổng kết công tác nông nghiệp năm 2022 của huyện.",
    },
]


def test_jsonl_captions_are_indexed(tmp_path: Path) -> None:
    build_index([_jsonl(tmp_path / "a.jsonl", JSONL_RECORDS)], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as opened:
        results = opened.search("nuoi ca tra")
        assert [hit.id for hit in results.hits] == ["ca-tra"]
        assert results.hits[0].snippet == "Đoàn công tác thăm mô hình <mark>nuôi cá tra</mark>"
        document = opened.doc("ca-tra")
        assert document is not None
        assert document.captions == ("Đoàn công tác thăm mô hình nuôi cá tra",)
        assert document.to_dict()["captions"] == ["Đoàn công tác thăm mô hình nuôi cá tra"]
        assert opened.search("IMG_0231").total == 0
        assert opened.doc("khong-anh").captions == ()  # type: ignore[union-attr]


def test_captions_weigh_less_than_the_body(tmp_path: Path) -> None:
    """Two bulletins that swap a sentence between body and caption: the body one ranks first."""
    fish, news = "Mô hình nuôi cá tra của xã", "Tin hoạt động của xã trong tuần"
    records = [
        {"id": "in-body", "title": "Tin tức", "body": f"{fish}. Lúa.", "captions": [news]},
        {"id": "in-caption", "title": "Tin tức", "body": f"{news}. Lúa.", "captions": [fish]},
    ]
    build_index([_jsonl(tmp_path / "a.jsonl", records)], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as opened:
        assert [hit.id for hit in opened.search("nuoi ca tra").hits] == ["in-body", "in-caption"]


def test_html_figcaptions_are_captions(tmp_path: Path) -> None:
    paragraph = (
        "<p>UBND huyện Tân Kỳ tổ chức hội nghị sơ kết công tác cải cách hành chính sáu tháng "
        "đầu năm, đánh giá kết quả đạt được và đề ra nhiệm vụ trọng tâm thời gian tới.</p>"
    )
    page = tmp_path / "tin.html"
    page.write_text(
        "<html><head><title>Tân Kỳ sơ kết cải cách hành chính</title></head><body><article>"
        "<h1>Tân Kỳ sơ kết cải cách hành chính</h1>"
        + paragraph
        * 3
        + '<figure><img src="/anh/anh-tin-bai.jpg" alt="Anh-tin-bai">'
        "<figcaption>Đồng chí Phan Văn Giáp phát biểu tại hội nghị</figcaption></figure>"
        + paragraph
        + "</article></body></html>",
        encoding="utf-8",
    )
    (bulletin,) = list(read_file(page))
    assert isinstance(bulletin, Bulletin)
    assert bulletin.captions == ("Đồng chí Phan Văn Giáp phát biểu tại hội nghị",)
    assert "Phan Văn Giáp" not in bulletin.body
    assert "anh-tin-bai" not in bulletin.body.lower()


def test_crawled_captions_reach_the_index(tmp_path: Path) -> None:
    """The crawler's record keeps a bulletin's captions; the indexer reads them back."""
    crawled = Bulletin(
        id="x",
        title="Hội nghị tổng kết công tác nông nghiệp",
        body="Hội nghị tổng kết công tác nông nghiệp năm 2022 của huyện.",
        captions=("Đoàn công tác thăm mô hình nuôi cá tra",),
    )
    record = bulletin_record(
        crawled,
        bulletin_id="portal/1",
        url="https://example.gov.vn/tin/1",
        locality=None,
        province=None,
        fallback_date=datetime.date(2022, 7, 5),
    )
    assert record["captions"] == ["Đoàn công tác thăm mô hình nuôi cá tra"]
    (read,) = list(read_file(_jsonl(tmp_path / "store.jsonl", [record])))
    assert isinstance(read, Bulletin)
    assert read.captions == crawled.captions


def test_the_document_page_shows_the_captions_highlighted(client: FlaskClient) -> None:
    page = client.get("/doc/001_43642a5dc4415f17?q=quang+canh+hoi+nghi").get_data(as_text=True)
    assert 'class="doc-captions"' in page
    assert "<figcaption>ảnh: <mark>Quang cảnh hội nghị</mark></figcaption>" in page
    assert page.count("<figcaption>") == 2
    plain = client.get("/doc/004_19503b7e49f52df0").get_data(as_text=True)
    assert "<figcaption>" not in plain  # a bulletin without captions shows no section
