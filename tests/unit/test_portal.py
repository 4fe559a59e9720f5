"""Cutting the article out of portal captures: one test per layout, plus the shipped five."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import portal

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

# Words that only the portals' furniture contains; none may reach an article.
FURNITURE = [
    "Xuất bản thông tin",
    "Chi tiết bài viết",
    "null",
    "SD_TINTUC",
    "Có thể bạn quan tâm",
    "image",
    "ĐĂNG NHẬP",
    "BẢN ĐỒ HÀNH CHÍNH",
    "Quê Chung",
    "•",
    "Các tin khác",
    "Xem tin theo ngày",
    "Thống kê truy cập",
    "Truy câp",
    "6.407.456",
    "Tìm kiếm thông tin",
    "Anh-tin-bai",
    "Ngày cập nhật",
]


def read(name: str) -> str:
    return next(CORPUS.glob(f"{name}_*.txt")).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------
# The shipped corpus

CORPUS_ARTICLES = [
    (
        "000",
        "xuat-ban-thong-tin",
        "THÀNH PHỒ CAO LÃNH: Nâng cao chất lượng công tác cải cách hành chính năm 2021",
        "Vừa qua, Ủy ban nhân dân thành phố Cao Lãnh tổ chức Hội nghị",
        "(Trung tâm Văn hóa -Thể thao và Truyền thanh TP.Cao Lãnh)",
        ["(Quang cảnh ký kết thực hiện nhiệm vụ CCHC năm 2021)"],
        6,
    ),
    (
        "001",
        "xuat-ban-thong-tin",
        "UBND thành phố Sa Đéc tổ chức hội nghị sơ kết công tác cải cách hành chính 6 tháng "
        "đầu năm",
        "Sáng ngày 05/7/2022, UBND thành phố Sa Đéc tổ chức hội nghị sơ kết",
        "Thanh Nghĩa",
        [
            "ảnh: Quang cảnh hội nghị",
            "ảnh: Ông Nguyễn Văn Hon- Phó Bí thư Thành ủy/ Chủ tịch UBND thành phố phát biểu "
            "kết luận hội nghị",
        ],
        5,
    ),
    (
        "002",
        "dang-nhap-banner",
        "Tân Kỳ: Bàn về giải pháp khắc phục công tác cải cách hành chính năm 2022",
        "Ngày 29/4/2022, UBND huyện Tân Kỳ tổ chức hội nghị",
        "Trung tâm VHTT-TT Tân Kỳ",
        ["Đ/c Phan Văn Giáp, CT UBND huyện chủ trì Hội nghị"],
        6,
    ),
    (
        "003",
        "xuat-ban-thong-tin",
        "Thành phố Sa Đéc: Cam kết thực hiện công tác cải cách hành chính năm 2021",
        "Sáng ngày 19/3/2021, Ủy ban nhân dân thành phố Sa Đéc tổ chức Hội nghị",
        "Thế Vũ, phòng Nội vụ thành phố Sa Đéc",
        ["Quang cảnh buổi làm việc"],
        4,
    ),
    (
        "004",
        "tim-kiem-thong-tin",
        "Hương Trà xây dựng Kế hoạch cải cách hành chính năm 2021",
        "Nhằm thực hiện có hiệu quả cải cách hành chính (CCHC) năm 2021",
        "Phan Hoàng Minh - Nội vụ",
        [],
        21,
    ),
]


@pytest.mark.parametrize(
    ("name", "layout", "title", "first", "last", "captions", "paragraphs"), CORPUS_ARTICLES
)
def test_corpus_article(
    name: str,
    layout: str,
    title: str,
    first: str,
    last: str,
    captions: list[str],
    paragraphs: int,
) -> None:
    article = portal.extract_article(read(name))
    assert article is not None
    assert article.layout == layout
    assert article.title == title
    assert article.paragraphs[0].startswith(first)
    assert article.paragraphs[-1] == last
    assert list(article.captions) == captions
    assert len(article.paragraphs) == paragraphs
    for caption in captions:
        assert caption not in article.body
    for word in FURNITURE:
        assert word not in article.body, word
        assert word not in article.title, word
    assert "  " not in article.body and "\u00a0" not in article.body


def test_corpus_004_keeps_the_publication_line_as_metadata() -> None:
    article = portal.extract_article(read("004"))
    assert article is not None
    assert article.meta == ("Ngày cập nhật 11/01/2021",)


# ---------------------------------------------------------------------------------------
# Each layout, on a small capture


def test_layout_xuat_ban_thong_tin() -> None:
    text = (
        "Xuất bản thông tin\n\nnull Tiêu đề ở đầu trang\n\nChi tiết bài viết Tin tức\n\n"
        "Tiêu đề bài viết\n\nĐoạn một.\n\nảnh: Quang cảnh\n\nĐoạn hai.\n\nThanh Nghĩa\n\n"
        "Có thể bạn quan tâm\n\nTin cũ một\n\nTin cũ hai"
    )
    article = portal.extract_article(text)
    assert article is not None
    assert (article.layout, article.title) == ("xuat-ban-thong-tin", "Tiêu đề bài viết")
    assert article.paragraphs == ("Đoạn một.", "Đoạn hai.", "Thanh Nghĩa")


def test_layout_xuat_ban_thong_tin_without_breadcrumb_uses_the_null_line() -> None:
    text = "Xuất bản thông tin\n\nnull Tiêu đề bài viết\n\nĐoạn một."
    article = portal.extract_article(text)
    assert article is not None
    assert (article.title, article.paragraphs) == ("Tiêu đề bài viết", ("Đoạn một.",))


def test_layout_dang_nhap_banner() -> None:
    text = (
        "ĐĂNG NHẬP \u00a0\nimage banner\nTiêu đề bài viết\n\nĐoạn một.\n\nAnh-tin-bai\n\n"
        "Chú thích ảnh\n\nĐoạn hai.\n\nBẢN ĐỒ HÀNH CHÍNH HUYỆN X\n \nimage\n\nTin tức\n"
        "  • Tin khác\n1 \nimage advertisement\nimage advertisement"
    )
    article = portal.extract_article(text)
    assert article is not None
    assert (article.layout, article.title) == ("dang-nhap-banner", "Tiêu đề bài viết")
    assert article.paragraphs == ("Đoạn một.", "Đoạn hai.")
    assert article.captions == ("Chú thích ảnh",)


def test_layout_tim_kiem_thong_tin() -> None:
    text = (
        "Tìm kiếm thông tin\nTiêu đề bài viết\nNgày cập nhật\u00a0 11/01/2021\n\nĐoạn một.\n\n"
        " \n\nPhan Hoàng Minh - Nội vụ\nCác tin khác\nXem tin theo ngày  \n"
        "Thống kê truy cập\nTruy câp tổng 6.407.456\nTruy câp hiện tại 1.131"
    )
    article = portal.extract_article(text)
    assert article is not None
    assert (article.layout, article.title) == ("tim-kiem-thong-tin", "Tiêu đề bài viết")
    assert article.meta == ("Ngày cập nhật 11/01/2021",)
    assert article.paragraphs == ("Đoạn một.", "Phan Hoàng Minh - Nội vụ")


def test_generic_layout_is_title_then_body() -> None:
    article = portal.extract_article("Tiêu đề\n\nĐoạn một.\nĐoạn hai.\n\nTin liên quan\nTin cũ")
    assert article is not None
    assert article.layout == "generic"
    assert (article.title, article.paragraphs) == ("Tiêu đề", ("Đoạn một.", "Đoạn hai."))


def test_text_without_a_title_line_keeps_all_its_prose() -> None:
    prose = "Sáng ngày 05/7/2022, UBND thành phố tổ chức hội nghị. " + "Nội dung dài. " * 30
    article = portal.extract_article(prose + "\n\nĐoạn hai.")
    assert article is not None
    assert article.title == "Sáng ngày 05/7/2022, UBND thành phố tổ chức hội nghị."
    assert article.paragraphs == (prose.strip(), "Đoạn hai.")


def test_menus_and_breadcrumbs_above_the_title_are_furniture() -> None:
    text = (
        "Trang chủ\nGiới thiệu\nTin tức\nLiên hệ\nTrang chủ > Tin tức > Cải cách hành chính\n"
        "Tiêu đề bài viết\n\nĐoạn một.\n\nVăn bản\n\nĐoạn hai."
    )
    article = portal.extract_article(text)
    assert article is not None
    assert article.title == "Tiêu đề bài viết"
    assert article.paragraphs == ("Đoạn một.", "Văn bản", "Đoạn hai.")  # a heading, in a body


def test_a_sixth_layout_is_one_more_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    sixth = portal.Layout(
        name="trang-chu-menu",
        signature=portal.patterns(r"^Trang chủ \| Giới thiệu"),
        title_after=portal.patterns(r"^Tin tức › "),
        end=portal.patterns(r"^Ý kiến bạn đọc$"),
        furniture=portal.patterns(r"^Lượt xem: \d+$"),
    )
    monkeypatch.setattr(portal, "LAYOUTS", (*portal.LAYOUTS, sixth))
    text = (
        "Trang chủ | Giới thiệu | Liên hệ\nTin tức › Cải cách hành chính\nTiêu đề bài viết\n"
        "Đoạn một.\nLượt xem: 42\nĐoạn hai.\nÝ kiến bạn đọc\nHọ tên"
    )
    article = portal.extract_article(text)
    assert article is not None
    assert (article.layout, article.title) == ("trang-chu-menu", "Tiêu đề bài viết")
    assert article.paragraphs == ("Đoạn một.", "Đoạn hai.")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n \n\u00a0\n",
        "Xuất bản thông tin\n\nChi tiết bài viết Tin tức\n\nCó thể bạn quan tâm",
        "image banner\nimage advertisement",
        "Chỉ có tiêu đề",
        "Tiêu đề\n\nCó thể bạn quan tâm\n\nTin khác dài dòng",
        "Tiêu đề\n\nảnh: Quang cảnh hội nghị",
    ],
)
def test_no_article(text: str) -> None:
    assert portal.extract_article(text) is None


def test_markup_in_a_capture_is_kept_as_text() -> None:
    article = portal.extract_article("Tiêu đề <b>đậm</b>\n\n<script>alert('x')</script> là chữ.")
    assert article is not None
    assert article.title == "Tiêu đề <b>đậm</b>"
    assert article.paragraphs == ("<script>alert('x')</script> là chữ.",)


@pytest.mark.parametrize(
    ("line", "caption"),
    [
        ("ảnh: Quang cảnh hội nghị", True),
        ("Ảnh: Thanh Nghĩa", True),
        ("(Ảnh minh họa)", True),
        ("Ảnh minh hoạ", True),
        ("(Ảnh: Quang cảnh)", True),
        ("Quang cảnh buổi làm việc", True),
        ("(Quang cảnh ký kết thực hiện nhiệm vụ CCHC năm 2021)", True),
        ("Toàn cảnh hội nghị", True),
        ("Hình ảnh: Đoàn kiểm tra làm việc tại xã", True),
        ("Quang cảnh " + "rất dài " * 20 + "là một đoạn văn.", False),
        ("Hội nghị được tổ chức tại hội trường.", False),
        ("Ảnh hưởng của dịch bệnh đến sản xuất", False),
    ],
)
def test_is_caption(line: str, caption: bool) -> None:
    assert portal.is_caption(line) is caption
