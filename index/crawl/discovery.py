"""Finding articles: sitemaps (with ``<lastmod>``), RSS/Atom feeds, listing pages and their
pagination. Pure functions over bytes already fetched, so each is tested on strings.
"""

from __future__ import annotations

import datetime
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from index.crawl.urls import clean_url, page_number

#: A sitemap is read up to this size uncompressed (the sitemaps protocol's own limit is 50 MB).
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Found:
    """A URL that may be an article, and what its source says of its date."""

    url: str
    lastmod: str | None = None  # the sitemap's <lastmod> as written: compared between runs
    date: datetime.date | None = None  # the sitemap's or feed's date: the fallback date


@dataclass(frozen=True)
class Sitemap:
    """A sitemap's pages, or the further sitemaps of a sitemap index."""

    pages: list[Found]
    sitemaps: list[str]


def parse_sitemap(content: bytes) -> Sitemap:
    """Pages and child sitemaps of a sitemap (plain or gzipped XML); empty when unreadable."""
    if content[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(content)) as inner:
                content = inner.read(MAX_SITEMAP_BYTES)
        except (OSError, EOFError, zlib.error):
            return Sitemap([], [])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return Sitemap([], [])
    pages: list[Found] = []
    sitemaps: list[str] = []
    for entry in root:
        if not isinstance(entry.tag, str):
            continue
        fields = {etree.QName(child).localname: (child.text or "").strip() for child in entry}
        loc = fields.get("loc")
        if not loc:
            continue
        kind = etree.QName(entry).localname
        if kind == "sitemap":
            sitemaps.append(loc)
        elif kind == "url":
            lastmod = fields.get("lastmod") or None
            pages.append(Found(loc, lastmod, day_of(lastmod)))
    return Sitemap(pages, sitemaps)


def parse_feed(content: bytes) -> list[Found]:
    """The items of an RSS or Atom feed, with their published (else updated) date."""
    import feedparser  # only feeds need it

    parsed = feedparser.parse(content)
    found = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        date = datetime.date(*stamp[:3]) if stamp else None
        found.append(Found(link, None, date))
    return found


def page_links(content: bytes, base_url: str) -> list[str]:
    """Every http(s) link of an HTML page, absolute, in page order, each once."""
    try:
        root = lxml_html.document_fromstring(content)
    except (etree.ParserError, ValueError):
        return []
    base = root.find(".//base[@href]")
    base_url = urljoin(base_url, base.get("href")) if base is not None else base_url
    links: dict[str, None] = {}
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        url = urljoin(base_url, href)
        if urlsplit(url).scheme in ("http", "https"):
            links[url] = None
    return list(links)


def next_page(listing_url: str, links: list[str]) -> str | None:
    """The link to the page after ``listing_url`` in the same listing, if the page has one.

    Understands Liferay's ``_<portlet>_cur=N``, ``?page=N``, ``?trang=N``, ``/trang-N`` and
    ``/page/N``; other parameters Liferay adds (``delta``, ``resetCur``) are ignored.
    """
    listing, number = page_number(listing_url)
    for link in links:
        other, other_number = page_number(link)
        if other == listing and other_number == number + 1:
            return clean_url(link)
    return None


def day_of(value: str | None) -> datetime.date | None:
    """The day of an ISO date or timestamp (a sitemap's lastmod); None when it is not one."""
    match = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value or "")
    if not match:
        return None
    try:
        return datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None
