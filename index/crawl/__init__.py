"""``bantin crawl``: fetch bulletins from the portals themselves, politely and incrementally.

Modules, one job each: `config` (the portals file), `urls` (canonical URLs, stable ids,
pagination), `politeness` (robots.txt, pacing, Retry-After, the injected clock), `fetcher`
(HTTP), `discovery` (sitemaps, feeds, listing pages), `state` (SQLite), `store` (raw pages
and bulletins on disk), `run` (the orchestration), `reextract` (bulletins again from the raw
pages, no request), `summary` (the report).
"""

from index.crawl.config import CrawlConfig, Portal, PortalsFileError, load_portals
from index.crawl.politeness import Clock, SystemClock
from index.crawl.reextract import reextract
from index.crawl.run import crawl
from index.crawl.summary import CrawlReport, PortalReport, summary_lines

__all__ = [
    "Clock",
    "CrawlConfig",
    "CrawlReport",
    "Portal",
    "PortalReport",
    "PortalsFileError",
    "SystemClock",
    "crawl",
    "load_portals",
    "reextract",
    "summary_lines",
]
