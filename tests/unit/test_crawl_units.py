"""The crawler's pure parts: the portals file, URLs, pagination, Retry-After, sitemaps, feeds."""

from __future__ import annotations

import datetime
import os
import re
import signal
import threading

import pytest

from index.crawl.config import PortalsFileError, parse_portals
from index.crawl.discovery import next_page, page_links, parse_feed, parse_sitemap
from index.crawl.politeness import Robots, product_token, retry_after, stop_on_interrupt
from index.crawl.urls import bulletin_id, canonical_url

AGENT = "bantin (+mailto:cntt@example.gov.vn)"
SADEC = "https://sadec.example.gov.vn"


def portal(**keys: object) -> dict[str, object]:
    return {"user_agent": AGENT, "portal": [{"name": "Sa Đéc", "start": [SADEC], **keys}]}


def test_portals_file_read_with_defaults() -> None:
    config = parse_portals(portal(allow=["/-/"], deny=[r"\.pdf$"], province="Đồng Tháp"))
    (sadec,) = config.portals
    assert (config.user_agent, sadec.delay, sadec.max_pages) == (AGENT, 5.0, 2000)
    assert sadec.is_article(f"{SADEC}/tin-tuc/-/bai-1")
    assert not sadec.is_article(f"{SADEC}/gioi-thieu")
    assert not sadec.is_article(f"{SADEC}/-/van-ban.pdf")
    assert not sadec.is_article("https://other.example.gov.vn/-/bai-1")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"portal": [{"name": "x", "start": [SADEC]}]}, "user_agent is required"),
        ({"user_agent": "bantin", "portal": [{"name": "x", "start": [SADEC]}]}, "no contact"),
        ({"user_agent": AGENT}, "no [[portal]]"),
        (portal(sitemaps=["x"]), "unknown key(s): sitemaps"),
        ({"user_agent": AGENT, "portal": [{"name": "x"}]}, "at least one of start"),
        (portal(delay=-1), "delay must be"),
        (portal(max_pages=0), "max_pages must be"),
        (portal(allow=["(unclosed"]), "not a regular expression"),
        (portal(sitemap=["ftp://x/s.xml"]), "not an http(s) URL"),
    ],
)
def test_portals_file_mistakes_are_named(data: dict, message: str) -> None:
    with pytest.raises(PortalsFileError, match=re.escape(message)):
        parse_portals(data)


def test_liferay_url_variants_are_one_bulletin() -> None:
    variants = [
        f"{SADEC}/tin-tuc/-/ubnd-sa-dec-so-ket",
        f"{SADEC}/tin-tuc/-/asset_publisher/aBc123/content/ubnd-sa-dec-so-ket"
        "?redirect=%2Ftin-tuc&_com_liferay_INSTANCE_aBc123_assetEntryId=77",
        "HTTPS://SADEC.example.gov.vn:443/tin-tuc/-/ubnd-sa-dec-so-ket?utm_source=zalo#binh-luan",
        f"{SADEC}/tin-tuc/-/ubnd-sa-dec-so-ket?fbclid=IwAR0&p_p_id=x&p_p_lifecycle=0",
    ]
    assert {canonical_url(v) for v in variants} == {f"{SADEC}/tin-tuc/-/ubnd-sa-dec-so-ket"}
    ids = {bulletin_id(canonical_url(v)) for v in variants}
    assert len(ids) == 1
    assert ids.pop().startswith("sadec.example.gov.vn_")


def test_query_string_articles_keep_their_ids() -> None:
    hue = "https://huongtra.example.gov.vn/"
    assert canonical_url(f"{hue}?tc=4521&cn=28&gd=1&utm_medium=rss") == f"{hue}?cn=28&gd=1&tc=4521"
    assert canonical_url(f"{hue}?gd=1&cn=28&tc=4521") != canonical_url(f"{hue}?gd=1&cn=28&tc=4522")
    # courlan would drop these as trackers; portals use them as ids
    assert canonical_url(f"{hue}?cid=7&source=3") == f"{hue}?cid=7&source=3"


CUR = "_com_liferay_asset_publisher_web_portlet_AssetPublisherPortlet_INSTANCE_aBc_cur"


@pytest.mark.parametrize(
    ("listing", "links", "expected"),
    [
        (
            f"{SADEC}/tin-tuc",
            [f"{SADEC}/tin-tuc/-/bai-1", f"{SADEC}/tin-tuc?{CUR}=1", f"{SADEC}/tin-tuc?{CUR}=2"],
            f"{SADEC}/tin-tuc?{CUR}=2",
        ),
        (
            f"{SADEC}/tin-tuc?{CUR}=2&p_p_id=x",
            [f"{SADEC}/tin-tuc?{CUR}=3&p_p_id=x&_x_delta=20"],
            f"{SADEC}/tin-tuc?{CUR}=3&p_p_id=x&_x_delta=20",
        ),
        (
            "https://h.vn/?cn=28",
            ["https://h.vn/?cn=28&page=2", "https://h.vn/?cn=29&page=2"],
            "https://h.vn/?cn=28&page=2",
        ),
        (
            "https://h.vn/tin-tuc/trang-2",
            ["https://h.vn/tin-tuc/trang-3"],
            "https://h.vn/tin-tuc/trang-3",
        ),
        ("https://h.vn/tin/page/4", ["https://h.vn/tin/page/3"], None),
        ("https://h.vn/?p=12", ["https://h.vn/?p=13"], None),  # WordPress article ids
    ],
)
def test_next_listing_page(listing: str, links: list[str], expected: str | None) -> None:
    assert next_page(listing, links) == expected


def test_page_links_are_absolute_and_unique() -> None:
    page = b"""<html><body><a href="/a">1</a><a href='b?x=1'>2</a><a href="/a">again</a>
    <a href="javascript:void(0)">js</a><a href="mailto:x@y.vn">m</a><a href="#top">top</a>
    </body></html>"""
    assert page_links(page, f"{SADEC}/tin-tuc/") == [f"{SADEC}/a", f"{SADEC}/tin-tuc/b?x=1"]


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime.datetime(2024, 5, 1, 8, 0, tzinfo=datetime.UTC).timestamp()
    assert retry_after("120", now) == 120
    assert retry_after("Wed, 01 May 2024 08:01:30 GMT", now) == 90
    assert retry_after("Wed, 01 May 2024 07:00:00 GMT", now) == 0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def test_robots_wildcards_delay_and_sitemaps() -> None:
    robots = Robots.parse(
        "User-agent: *\nDisallow: /*?*print=\nDisallow: /admin\nCrawl-delay: 8\n"
        f"Sitemap: {SADEC}/sitemap.xml\n",
        "bantin/1.0 (+mailto:cntt@example.gov.vn)",
    )
    assert robots.allowed(f"{SADEC}/tin-tuc/-/bai-1")
    assert not robots.allowed(f"{SADEC}/tin-tuc/-/bai-1?print=1")
    assert not robots.allowed(f"{SADEC}/admin/x")
    assert robots.crawl_delay() == 8
    assert robots.sitemaps() == [f"{SADEC}/sitemap.xml"]
    assert product_token("bantin/1.0 (+mailto:a@b.vn)") == "bantin"


def test_sitemap_with_lastmod_and_index() -> None:
    urlset = f"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc>{SADEC}/-/a</loc><lastmod>2023-05-01T08:00:00+07:00</lastmod></url>
    <url><loc>{SADEC}/-/b</loc></url></urlset>""".encode()
    sitemap = parse_sitemap(urlset)
    assert [(p.url, p.lastmod, p.date) for p in sitemap.pages] == [
        (f"{SADEC}/-/a", "2023-05-01T08:00:00+07:00", datetime.date(2023, 5, 1)),
        (f"{SADEC}/-/b", None, None),
    ]
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://h.vn/s1.xml</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(index).sitemaps == ["https://h.vn/s1.xml"]
    assert parse_sitemap(b"<html>not xml").pages == []


def test_feed_items_with_dates() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>A</title><link>https://h.vn/?tc=1</link>
    <pubDate>Tue, 02 May 2023 07:00:00 +0700</pubDate></item>
    <item><title>B</title><link>https://h.vn/?tc=2</link></item></channel></rss>"""
    assert [(f.url, f.date) for f in parse_feed(rss)] == [
        ("https://h.vn/?tc=1", datetime.date(2023, 5, 2)),
        ("https://h.vn/?tc=2", None),
    ]


def test_ctrl_c_sets_the_stop_even_when_its_exception_is_swallowed() -> None:
    """A KeyboardInterrupt caught by library code must not make the crawl go on."""
    # Python's own handler, as in `bantin crawl` run from a terminal (a suite started in the
    # background inherits SIGINT ignored)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stop = threading.Event()
        with stop_on_interrupt(stop):
            try:
                os.kill(os.getpid(), signal.SIGINT)
                threading.Event().wait(1.0)  # the handler runs here at the latest
            except KeyboardInterrupt:
                pass  # what a careless library would do
        assert stop.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)
