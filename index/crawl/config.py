"""The portals file: which portals to crawl, and how, as typed and checked data.

The file is TOML (see docs/crawling.md). Every mistake is reported with the portal and key it
concerns, before any request is made, so a cron job fails loudly on a typo instead of quietly
crawling nothing.
"""

from __future__ import annotations

import os
import re
import ssl
import tomllib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from searcher.errors import BantinError

DEFAULT_DELAY = 5.0
DEFAULT_MAX_PAGES = 2000

_PORTAL_KEYS = {
    "name",
    "start",
    "sitemap",
    "feed",
    "allow",
    "deny",
    "locality",
    "province",
    "delay",
    "max_pages",
}
# A User-Agent must tell the portal's administrator how to reach whoever is crawling.
_CONTACT = re.compile(r"@|https?://", re.I)


class PortalsFileError(BantinError):
    """The portals file cannot be read or says something we cannot act on."""


@dataclass(frozen=True)
class Portal:
    """One portal to crawl: where to discover articles, which URLs are articles, how fast."""

    name: str
    start: tuple[str, ...] = ()
    sitemap: tuple[str, ...] = ()
    feed: tuple[str, ...] = ()
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    locality: str | None = None
    province: str | None = None
    delay: float = DEFAULT_DELAY
    max_pages: int = DEFAULT_MAX_PAGES
    hosts: frozenset[str] = field(default_factory=frozenset)

    def is_article(self, url: str) -> bool:
        """Whether ``url`` may be an article of this portal: on its hosts, allowed, not denied."""
        if urlsplit(url).netloc.lower() not in self.hosts:
            return False
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)

    def is_denied(self, url: str) -> bool:
        """Whether the file says never to fetch ``url``."""
        return any(p.search(url) for p in self.deny)


@dataclass(frozen=True)
class CrawlConfig:
    """The whole portals file."""

    user_agent: str
    portals: tuple[Portal, ...]
    ca_bundle: str | None = None  # a PEM file of authorities to trust instead of the default

    def ssl_context(self) -> ssl.SSLContext | bool:
        """How certificates are checked: always verified, against ``ca_bundle`` if given."""
        if self.ca_bundle is None:
            return True
        return ssl.create_default_context(cafile=self.ca_bundle)


def load_portals(path: str | os.PathLike[str]) -> CrawlConfig:
    """Read and check a portals file; `PortalsFileError` says what is wrong and where."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise PortalsFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PortalsFileError(f"{path} is not valid TOML: {exc}") from None
    return parse_portals(data)


def parse_portals(data: dict[str, Any]) -> CrawlConfig:
    """Check the decoded TOML of a portals file and build the config."""
    unknown = set(data) - {"user_agent", "ca_bundle", "portal"}
    if unknown:
        raise PortalsFileError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    agent = data.get("user_agent")
    if not isinstance(agent, str) or not agent.strip():
        raise PortalsFileError(
            "user_agent is required: who is crawling and how to reach them, e.g. "
            'user_agent = "bantin (+mailto:cntt@example.gov.vn)"'
        )
    if not _CONTACT.search(agent):
        raise PortalsFileError(
            f"user_agent {agent!r} gives no contact: add an email address or a URL"
        )
    tables = data.get("portal")
    if not isinstance(tables, list) or not tables:
        raise PortalsFileError("no [[portal]] table: name at least one portal to crawl")
    portals = tuple(_portal(table, number) for number, table in enumerate(tables, 1))
    names = [p.name for p in portals]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PortalsFileError(f"portal name(s) used twice: {', '.join(duplicates)}")
    return CrawlConfig(
        user_agent=" ".join(agent.split()), portals=portals, ca_bundle=_ca_bundle(data)
    )


def _ca_bundle(data: dict[str, Any]) -> str | None:
    """The ``ca_bundle`` file, checked now so a cron job fails on the path, not on each page."""
    value = data.get("ca_bundle")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PortalsFileError("ca_bundle must be the path of a PEM file of certificates")
    try:
        ssl.create_default_context(cafile=value)
    except (OSError, ssl.SSLError) as exc:
        raise PortalsFileError(f"ca_bundle {value!r} cannot be used: {exc}") from None
    return value


def _portal(table: Any, number: int) -> Portal:
    where = f"portal #{number}"
    if not isinstance(table, dict):
        raise PortalsFileError(f"{where} is not a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PortalsFileError(f"{where} needs a name")
    where = f"portal {name!r}"
    unknown = set(table) - _PORTAL_KEYS
    if unknown:
        raise PortalsFileError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    start, sitemap, feed = (_urls(table, key, where) for key in ("start", "sitemap", "feed"))
    if not (start or sitemap or feed):
        raise PortalsFileError(f"{where} needs at least one of start, sitemap or feed")
    delay = table.get("delay", DEFAULT_DELAY)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise PortalsFileError(f"{where}: delay must be a number of seconds, 0 or more")
    max_pages = table.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise PortalsFileError(f"{where}: max_pages must be a whole number, 1 or more")
    return Portal(
        name=" ".join(name.split()),
        start=start,
        sitemap=sitemap,
        feed=feed,
        allow=_patterns(table, "allow", where),
        deny=_patterns(table, "deny", where),
        locality=_text(table, "locality", where),
        province=_text(table, "province", where),
        delay=float(delay),
        max_pages=max_pages,
        hosts=frozenset(urlsplit(u).netloc.lower() for u in (*start, *sitemap, *feed)),
    )


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PortalsFileError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _urls(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    urls = _strings(table, key, where)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PortalsFileError(f"{where}: {key} URL {url!r} is not an http(s) URL")
    return urls


def _patterns(table: dict[str, Any], key: str, where: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in _strings(table, key, where):
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise PortalsFileError(
                f"{where}: {key} pattern {pattern!r} is not a regular expression: {exc}"
            ) from None
    return tuple(compiled)


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PortalsFileError(f"{where}: {key} must be a string")
    return " ".join(value.split()) or None
