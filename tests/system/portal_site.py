"""A test web server that plays district portals, for the crawler's tests.

`PortalSite` is a real ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) serving one portal:
`liferay_portal()` builds a Liferay "Asset Publisher" portal (Đồng Tháp style) and
`hue_portal()` a query-string portal (Thừa Thiên Huế style), from the shipped bulletins plus
generated ones. Every request is recorded (path, validators sent, the injected clock's time),
and a test changes the site between runs: edit or delete an article, take the site down.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import html
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from index import portal

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
PORTLET = "_com_liferay_asset_publisher_web_portlet_AssetPublisherPortlet_INSTANCE_aBc123"


@dataclass
class Post:
    """One article of a test portal."""

    key: str  # Liferay slug or Huế article number
    title: str
    paragraphs: list[str]
    meta: str = ""  # a line under the title ("Ngày cập nhật 11/01/2021")
    lastmod: str = "2023-01-01"
    version: int = 1
    listed: bool = True  # shown in listings, sitemap and feed


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    time: float | None
    status: int = 0


@dataclass
class PortalSite:
    """One portal on its own port; `url` is its root."""

    kind: str  # "liferay" or "hue"
    posts: list[Post]
    robots: str | None = None  # None: /robots.txt answers 404
    per_page: int = 5
    clock: Callable[[], float] | None = None
    requests: list[Request] = field(default_factory=list)
    down: int | None = None  # every request answers this status (a portal in trouble)
    throttle: set[str] = field(default_factory=set)  # paths answered 429 once
    extra: dict[str, tuple[int, dict[str, str], str]] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)  # more links on the first listing page
    visits: int = 0
    tls: ssl.SSLContext | None = None  # serve HTTPS with this server context
    connections: int = 0  # TCP connections accepted (TLS handshakes tried, when tls is set)
    #: After this many articles, further article requests wait for `released`: a crawl
    #: interrupted by a test is then still running however fast or loaded the machine is.
    hold_after: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    articles_answered: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def get_request(self) -> tuple[socket.socket, Any]:
                connection, address = self.socket.accept()
                site.connections += 1
                if site.tls is None:
                    return connection, address
                try:  # a failed handshake is an OSError: the server goes on
                    return site.tls.wrap_socket(connection, server_side=True), address
                except OSError:
                    connection.close()
                    raise

        self.server = Server(("127.0.0.1", 0), Handler)
        scheme = "https" if self.tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PortalSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    # --- what tests look at and change --------------------------------------------------

    def article_url(self, post: Post) -> str:
        if self.kind == "liferay":
            return f"{self.url}/tin-tuc/-/{post.key}"
        return f"{self.url}/?gd=1&cn=28&tc={post.key}"

    def post(self, key: str) -> Post:
        return next(p for p in self.posts if p.key == key)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def edit(self, key: str, paragraph: str) -> None:
        post = self.post(key)
        post.paragraphs = [*post.paragraphs, paragraph]
        post.version += 1
        post.lastmod = "2024-06-01"

    def delete(self, key: str) -> None:
        self.posts.remove(self.post(key))

    # --- serving ------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        request = Request(handler.path, headers, self.clock() if self.clock else None)
        with self._lock:
            self.requests.append(request)
            self.visits += 1
        status, out_headers, body = self._answer(handler.path, headers)
        request.status = status
        data = body.encode("utf-8")
        handler.send_response(status)
        for name, value in out_headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if self.down:
            return self.down, {}, "<h1>Lỗi máy chủ</h1>"
        if path in self.throttle:
            self.throttle.discard(path)
            return 429, {"Retry-After": "7"}, "Too many requests"
        if path in self.extra:
            return self.extra[path]
        parts = urlsplit(path)
        query = dict(parse_qsl(parts.query))
        if parts.path == "/robots.txt":
            if self.robots is None:
                return 404, {}, "not found"
            return 200, {"Content-Type": "text/plain"}, self.robots
        if parts.path == "/sitemap.xml":
            return 200, {"Content-Type": "application/xml"}, self._sitemap()
        if parts.path == "/rss":
            return 200, {"Content-Type": "application/rss+xml"}, self._feed()
        post = self._find(parts.path, query)
        if post is not None:
            self._hold()
            return self._article(post, headers)
        if self._is_listing(parts.path, query):
            return 200, HTML, self._listing(query)
        return 404, HTML, "<html><body><h1>Không tìm thấy trang</h1></body></html>"

    def _hold(self) -> None:
        with self._lock:
            self.articles_answered += 1
            held = self.hold_after is not None and self.articles_answered > self.hold_after
        if held:
            self.released.wait(20)

    def _find(self, path: str, query: dict[str, str]) -> Post | None:
        if self.kind == "liferay":
            slug = path.rsplit("/", 1)[-1]
            if "/-/" not in path:
                return None
        else:
            slug = query.get("tc", "")
        return next((p for p in self.posts if p.key == slug), None)

    def _is_listing(self, path: str, query: dict[str, str]) -> bool:
        if self.kind == "liferay":
            return path == "/tin-tuc"
        return path == "/" and query.get("cn") == "28" and "tc" not in query

    def _article(self, post: Post, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        etag = '"' + hashlib.sha1(f"{post.key}/{post.version}".encode()).hexdigest()[:12] + '"'
        stamp = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
            days=post.version
        )
        modified = email.utils.format_datetime(stamp, usegmt=True)
        if self.kind == "liferay":
            validators = {"ETag": etag}
            if headers.get("if-none-match") == etag:
                return 304, validators, ""
        else:
            validators = {"Last-Modified": modified}
            if headers.get("if-modified-since") == modified:
                return 304, validators, ""
        return 200, {**HTML, **validators}, self._page(post)

    # --- pages --------------------------------------------------------------------------

    def _page(self, post: Post) -> str:
        paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in post.paragraphs)
        meta = f'<div class="meta">{html.escape(post.meta)}</div>' if post.meta else ""
        others = "".join(
            f'<li><a href="{self._listing_link(p)}">{html.escape(p.title)}</a></li>'
            for p in self.posts[:3]
            if p is not post
        )
        if self.kind == "liferay":
            top = (
                "<div class='portlet-title'>Xuất bản thông tin</div>"
                "<div class='breadcrumb'>Chi tiết bài viết Tin tức</div>"
            )
        else:
            top = "<div class='search'>Tìm kiếm thông tin</div>"
        return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<title>{html.escape(post.title)}</title></head><body>
<div id="menu"><a href="/">Trang chủ</a> <a href="/lien-he">Liên hệ</a>
<a href="/tin-tuc">Tin tức</a></div>
{top}
<article class="journal-content-article"><h1>{html.escape(post.title)}</h1>{meta}
{paragraphs}
<a href="?print=1">In bài viết</a></article>
<div class="related"><h3>Có thể bạn quan tâm</h3><ul>{others}</ul></div>
<div id="footer"><p>Thống kê truy cập</p><p>Truy cập tổng {1000 + self.visits}</p></div>
</body></html>"""

    def _listing_link(self, post: Post) -> str:
        if self.kind == "liferay":
            return (
                f"/tin-tuc/-/asset_publisher/aBc123/content/{post.key}"
                f"?redirect=%2Ftin-tuc&{PORTLET}_assetEntryId=9{post.key[:3]}"
            )
        return f"/?gd=1&cn=28&tc={post.key}"

    def listed(self) -> list[Post]:
        return [p for p in self.posts if p.listed]

    def _listing(self, query: dict[str, str]) -> str:
        param = f"{PORTLET}_cur" if self.kind == "liferay" else "page"
        number = int(query.get(param, "1"))
        start = (number - 1) * self.per_page
        shown = self.listed()[start : start + self.per_page]
        hrefs = [self._listing_link(p) for p in shown] + (self.links if number == 1 else [])
        items = "".join(f'<li><a href="{html.escape(h)}">tin</a></li>' for h in hrefs)
        pages = ""
        for n in range(1, (len(self.listed()) + self.per_page - 1) // self.per_page + 1):
            if self.kind == "liferay":
                link = f"/tin-tuc?p_p_id={PORTLET[1:]}&{PORTLET}_delta=5&{PORTLET}_cur={n}"
            else:
                link = f"/?cn=28&page={n}"
            pages += f' <a href="{link}">{n}</a>'
        return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Tin tức</title>
</head><body><div id="menu"><a href="/lien-he">Liên hệ</a></div>
<ul class="asset-list">{items}</ul><div class="pagination">{pages}</div></body></html>"""

    def _sitemap(self) -> str:
        urls = "".join(
            f"<url><loc>{html.escape(self.article_url(p))}</loc>"
            f"<lastmod>{p.lastmod}</lastmod></url>"
            for p in self.listed()
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )

    def _feed(self) -> str:
        items = "".join(
            f"<item><title>{html.escape(p.title)}</title>"
            f"<link>{html.escape(_tracked(self.article_url(p)))}</link>"
            f"<pubDate>{email.utils.format_datetime(_day(p.lastmod))}</pubDate></item>"
            for p in self.listed()[:4]
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Tin tức</title><link>{self.url}</link>{items}</channel></rss>"
        )


HTML = {"Content-Type": "text/html; charset=utf-8"}


def _tracked(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "utm_source=rss&utm_medium=feed"


def _day(iso: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(iso).replace(tzinfo=datetime.UTC)


# --- the portals ----------------------------------------------------------------------


def _corpus_post(name: str, key: str, lastmod: str) -> Post:
    article = portal.extract_article((CORPUS / name).read_text(encoding="utf-8"))
    assert article is not None
    meta = article.meta[0] if article.meta else ""
    return Post(key, article.title, list(article.paragraphs), meta, lastmod)


_TOPICS = [
    ("ra quân chiến dịch vệ sinh môi trường", "thu gom rác thải, khơi thông cống rãnh"),
    ("tập huấn chuyển đổi số cho cán bộ cấp xã", "sử dụng dịch vụ công trực tuyến"),
    ("tổng kết công tác phòng chống thiên tai", "gia cố đê bao, di dời dân vùng trũng"),
    ("trao học bổng cho học sinh nghèo vượt khó", "trao 120 suất học bổng"),
    ("hội nghị đối thoại với doanh nghiệp", "tháo gỡ khó khăn về mặt bằng sản xuất"),
    ("khai mạc hội chợ nông sản", "giới thiệu sản phẩm OCOP của địa phương"),
    ("kiểm tra công tác phòng cháy chữa cháy", "rà soát phương tiện chữa cháy tại chỗ"),
    ("phát động phong trào hiến máu tình nguyện", "tiếp nhận 350 đơn vị máu"),
    ("giao ban công tác xây dựng nông thôn mới", "đánh giá tiêu chí nông thôn mới nâng cao"),
]


def _generated(place: str, unit: str, number: int, key: str, dated: bool = True) -> Post:
    topic, detail = _TOPICS[number % len(_TOPICS)]
    day = f"{number % 27 + 1:02d}/{number % 12 + 1:02d}/2023"
    opening = f"Sáng ngày {day}, " if dated else "Vừa qua, "
    return Post(
        key,
        f"{place}: {topic[0].upper()}{topic[1:]}",
        [
            f"{opening}{unit} tổ chức {topic}. Tham dự có lãnh đạo các phòng, ban chuyên môn "
            "và đại diện các xã, phường trên địa bàn.",
            f"Tại buổi làm việc, các đơn vị đã báo cáo kết quả thực hiện, trong đó tập trung "
            f"{detail}. Nhiều ý kiến đề xuất giải pháp khắc phục những hạn chế còn tồn tại.",
            f"Phát biểu kết luận, lãnh đạo {unit} đề nghị các ngành tiếp tục phối hợp chặt chẽ, "
            "triển khai quyết liệt các nhiệm vụ trong thời gian tới./.",
        ],
        lastmod=f"2023-{number % 12 + 1:02d}-{number % 27 + 1:02d}",
    )


LIFERAY_ROBOTS = """User-agent: *
Disallow: /tin-tuc/-/bi-mat
Disallow: /*?*print=
Crawl-delay: 3
Sitemap: {url}/sitemap.xml
"""


def liferay_portal(
    clock: Callable[[], float] | None = None, tls: ssl.SSLContext | None = None
) -> PortalSite:
    """Thành phố Sa Đéc on Liferay: 12 articles, 3 listing pages, sitemap, feed, robots
    (over HTTPS with ``tls``, a server context)."""
    posts = [
        _corpus_post(
            "001_43642a5dc4415f17.txt", "ubnd-sa-dec-so-ket-cai-cach-hanh-chinh", "2022-07-05"
        ),
        _corpus_post(
            "003_fec1c17d3eb0cf44.txt", "sa-dec-cam-ket-cai-cach-hanh-chinh", "2021-03-19"
        ),
    ]
    posts += [_generated("Sa Đéc", "UBND thành phố Sa Đéc", n, f"sa-dec-tin-{n}") for n in range(9)]
    posts.append(_generated("Sa Đéc", "UBND thành phố Sa Đéc", 9, "sa-dec-khong-ngay", False))
    moved = _generated("Sa Đéc", "UBND thành phố Sa Đéc", 10, "sa-dec-tin-chuyen")
    moved.listed = False
    posts.append(moved)
    site = PortalSite("liferay", posts, clock=clock, tls=tls)
    site.robots = LIFERAY_ROBOTS.format(url=site.url)
    site.links = [
        "/tin-tuc/-/tin-cu",  # moved: 301 to sa-dec-tin-chuyen
        "/tin-tuc/-/bai-da-xoa",  # 404
        "/tin-tuc/-/lich-tiep-cong-dan",  # a page with no article
        "/tin-tuc/-/bi-mat",  # disallowed by robots.txt
        "/lien-he",  # denied by the portals file
    ]
    site.extra["/tin-tuc/-/tin-cu"] = (301, {"Location": "/tin-tuc/-/sa-dec-tin-chuyen"}, "")
    site.extra["/tin-tuc/-/lich-tiep-cong-dan"] = (200, HTML, NO_ARTICLE)
    site.throttle.add("/tin-tuc/-/sa-dec-tin-3")
    return site


# The schedule is posted as a picture: a page with no article text at all.
NO_ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Lịch tiếp</title></head>
<body><div class="portlet-body"><img src="/lich-tiep.jpg" alt=""></div></body></html>"""


def hue_portal(clock: Callable[[], float] | None = None) -> PortalSite:
    """Thị xã Hương Trà, query-string layout: 6 articles, 2 listing pages, no robots.txt."""
    posts = [_corpus_post("004_19503b7e49f52df0.txt", "4521", "2021-01-11")]
    for n in range(5):
        post = _generated("Hương Trà", "UBND thị xã Hương Trà", n + 3, str(4600 + n))
        post.meta = f"Ngày cập nhật {n + 10}/02/2023"
        posts.append(post)
    return PortalSite("hue", posts, per_page=4, clock=clock)
