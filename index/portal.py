"""Cut the article out of a plain-text capture of a portal page.

Each portal software wraps the article in its own furniture (menus, breadcrumbs, banners,
"Có thể bạn quan tâm" lists, visitor counters). A `Layout` describes one of them as data:
how to recognise it, where the title starts, which lines after the title are metadata, and
which line starts the furniture after the article. Lines that are furniture in every layout
and photo captions are shared. Supporting a new portal means appending one `Layout`.

Captions ("ảnh: Quang cảnh hội nghị") are dropped from the body: they are not prose, and
their words (names under photos) would otherwise compete with the article in ranking. The
signature lines at the end are kept: they are part of the article as published.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from index.extract import clean_title, headline

_I = re.IGNORECASE


def patterns(*regexes: str, flags: int = 0) -> tuple[re.Pattern[str], ...]:
    """Compiled line patterns, for a `Layout`'s fields."""
    return tuple(re.compile(r, flags) for r in regexes)


@dataclass(frozen=True)
class Layout:
    """One portal's page shape, as data."""

    name: str
    # A line near the top that identifies this portal software.
    signature: tuple[re.Pattern[str], ...]
    # The title is the first real line after the last of these markers (breadcrumbs).
    title_after: tuple[re.Pattern[str], ...] = ()
    # Metadata lines right under the title ("Ngày cập nhật …"): kept out of the body but
    # handed to the metadata extractors.
    meta: tuple[re.Pattern[str], ...] = ()
    # The first line matching one of these ends the article.
    end: tuple[re.Pattern[str], ...] = ()
    # Lines that are furniture wherever they appear.
    furniture: tuple[re.Pattern[str], ...] = ()
    # An image placeholder line; the line right after it is the photo's caption.
    image: tuple[re.Pattern[str], ...] = ()


# Furniture shared by all portals (whole lines, after whitespace is collapsed).
COMMON_FURNITURE = patterns(
    r"^image( advertisement| banner)?$",
    r"^(đăng nhập|đăng xuất|đăng ký)$",
    r"^(xuất bản thông tin|tìm kiếm thông tin|chi tiết bài viết\b.*)$",
    r"^(trang chủ|in bài viết|bản in|gửi email|chia sẻ|quay lại|về đầu trang)$",
    r"^(lượt xem|số lượt xem|lượt truy cập)\s*:?\s*[\d.,]*$",
    flags=_I,
)

# Menu items and breadcrumbs above the title: furniture there, possible headings in a body.
HEAD_FURNITURE = patterns(
    r"^(tin tức|tin tức - sự kiện|tin tức sự kiện|giới thiệu|liên hệ|hỏi đáp|văn bản|"
    r"thủ tục hành chính|sơ đồ (cổng|trang|site)|tìm kiếm|menu|danh mục)$",
    r"^trang chủ\s*[>»/|›]",
    flags=_I,
)

# Lines that start the furniture after the article on any portal.
COMMON_END = patterns(
    r"^(có thể bạn quan tâm|các tin khác|tin khác|tin liên quan|bài viết liên quan)\s*:?$",
    r"^(tin cùng chuyên mục|các tin đã đưa|tin đã đưa|xem thêm)\s*:?$",
    r"^(xem tin theo ngày|thống kê truy cập)$",
    r"^truy c[aâậ]p (tổng|hiện tại|trong ngày|hôm nay)\b",
    flags=_I,
)

# Photo captions: "ảnh: …", "(Ảnh: …)", "Quang cảnh hội nghị", "(Toàn cảnh …)".
_CAPTION_PREFIX = re.compile(
    r"^\(?\s*(ảnh|hình|hình ảnh|ảnh minh (họa|hoạ))\s*:|^\(?\s*(quang cảnh|toàn cảnh)\b"
    r"|^\(\s*(ảnh|hình)\b[^()]*\)\.?$|^ảnh minh (họa|hoạ)\b",
    _I,
)
_CAPTION_MAX_WORDS = 30

LAYOUTS: tuple[Layout, ...] = (
    # "Xuất bản thông tin" portals (Đồng Tháp): a "null <title>" line, a breadcrumb
    # "Chi tiết bài viết <category>", then the title again and the article.
    Layout(
        name="xuat-ban-thong-tin",
        signature=patterns(r"^xuất bản thông tin$", flags=_I),
        title_after=patterns(r"^chi tiết bài viết\b", flags=_I),
    ),
    # Portals with a login link and a banner above the title (Nghệ An district sites);
    # the article is followed by the district map, a news list and advertisements.
    Layout(
        name="dang-nhap-banner",
        signature=patterns(r"^đăng nhập$", r"^image banner$", flags=_I),
        end=patterns(r"^bản đồ hành chính\b", r"^tin tức$", flags=_I),
        furniture=patterns(r"^[•·]\s", flags=_I),
        image=patterns(r"^anh[-_ ]tin[-_ ]bai$", flags=_I),
    ),
    # "Tìm kiếm thông tin" portals (Thừa Thiên Huế): title, then "Ngày cập nhật <date>".
    Layout(
        name="tim-kiem-thong-tin",
        signature=patterns(r"^tìm kiếm thông tin$", flags=_I),
        meta=patterns(r"^(ngày cập nhật|ngày đăng|cập nhật lúc|ngày xuất bản)\b", flags=_I),
    ),
)

# Anything else: the first real line is the title, the shared rules apply.
GENERIC = Layout(
    name="generic",
    signature=(),
    meta=patterns(r"^(ngày cập nhật|ngày đăng|cập nhật lúc|ngày xuất bản)\b", flags=_I),
)

MAX_TITLE_WORDS = 40  # a longer first line is the text itself, not its title
_HEAD_LINES = 200  # lines searched for the layout, the title and the metadata under it
_SIGNATURE_WINDOW = 6  # non-blank lines at the top searched for a layout's signature
_TITLE_MARKER_WINDOW = 25  # lines searched for a breadcrumb before the title


@dataclass(frozen=True)
class Article:
    """The article cut out of a capture: what the metadata extractors work on."""

    title: str
    paragraphs: tuple[str, ...]
    meta: tuple[str, ...] = ()  # metadata lines shown near the title ("Ngày cập nhật …")
    layout: str = GENERIC.name
    captions: tuple[str, ...] = field(default=(), compare=False)

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def normalize_line(line: str) -> str:
    """Collapse every run of whitespace (no-break spaces included) to one space."""
    return " ".join(line.split())


def _matches(patterns: Iterable[re.Pattern[str]], line: str) -> bool:
    return any(p.search(line) for p in patterns)


def detect_layout(lines: Sequence[str]) -> Layout:
    """The layout whose signature shows in the first few non-blank lines, else GENERIC."""
    head = [line for line in lines if line][:_SIGNATURE_WINDOW]
    for layout in LAYOUTS:
        if any(_matches(layout.signature, line) for line in head):
            return layout
    return GENERIC


def is_caption(line: str) -> bool:
    """A photo caption line: "ảnh: …", "(Quang cảnh …)" — short, not prose."""
    return bool(_CAPTION_PREFIX.search(line)) and len(line.split()) <= _CAPTION_MAX_WORDS


def _is_furniture(layout: Layout, line: str) -> bool:
    return _matches(COMMON_FURNITURE, line) or _matches(layout.furniture, line)


def _is_end(layout: Layout, line: str) -> bool:
    return _matches(COMMON_END, line) or _matches(layout.end, line)


def _title_start(layout: Layout, lines: Sequence[str]) -> int:
    start = 0
    if layout.title_after:
        for i, line in enumerate(lines[:_TITLE_MARKER_WINDOW]):
            if _matches(layout.title_after, line):
                start = i + 1
    return start


def clean_paragraphs(lines: Iterable[str], layout: Layout = GENERIC) -> tuple[list[str], list[str]]:
    """Body paragraphs and dropped captions from the lines after the title.

    Stops at the first end-of-article line; drops blank lines, furniture and captions.
    """
    paragraphs: list[str] = []
    captions: list[str] = []
    after_image = False
    for raw in lines:
        line = normalize_line(raw)
        if not line:
            continue
        if _is_end(layout, line):
            break
        if _matches(layout.image, line):
            after_image = True
            continue
        if _is_furniture(layout, line):
            continue
        if after_image or is_caption(line):
            captions.append(line)
            after_image = False
            continue
        paragraphs.append(line)
    return paragraphs, captions


def extract_article(text: str) -> Article | None:
    """The article in a portal capture, or None when there is no title and body."""
    raw = text.splitlines()
    # Only the top of the page is normalised here; the body is, line by line, below.
    lines = [normalize_line(line) for line in raw[:_HEAD_LINES]]
    layout = detect_layout(lines)
    i = _title_start(layout, lines)
    title = None
    while i < len(lines):  # the title is in the first _HEAD_LINES lines, or there is none
        line = lines[i]
        i += 1
        if not line or _is_furniture(layout, line) or _matches(layout.image, line):
            continue
        if _matches(HEAD_FURNITURE, line):
            continue
        if _is_end(layout, line):
            return None
        title = clean_title(line)
        if title:
            break
    if not title:
        return None
    if len(title.split()) > MAX_TITLE_WORDS:  # a paragraph of prose: no title line at all
        title = headline(title)
        i -= 1  # and the paragraph stays in the body
    meta: list[str] = []
    while i < len(lines) and (not lines[i] or _matches(layout.meta, lines[i])):
        if lines[i]:
            meta.append(lines[i])
        i += 1
    paragraphs, captions = clean_paragraphs(raw[i:], layout)
    if not paragraphs:
        return None
    return Article(
        title=title,
        paragraphs=tuple(paragraphs),
        meta=tuple(meta),
        layout=layout.name,
        captions=tuple(captions),
    )
