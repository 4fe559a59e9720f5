"""One crawl run: discover, fetch what is new or changed, store it, update the index.

Portals on different hosts are crawled in parallel threads (one connection per host, so this
is no harder on any portal); portals sharing a host share one thread and one pace.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from index import update_index
from index.build import NothingIndexedError
from index.bulletin import Skipped
from index.crawl.config import CrawlConfig, Portal
from index.crawl.discovery import Found, day_of, next_page, page_links, parse_feed, parse_sitemap
from index.crawl.fetcher import Fetcher, HostUnavailable, Page
from index.crawl.politeness import Clock, Stopped, SystemClock
from index.crawl.state import Article, CrawlState
from index.crawl.store import Store, bulletin_record, record_hash
from index.crawl.summary import CrawlReport, PortalReport
from index.crawl.urls import bulletin_id, canonical_url, clean_url, host_of, page_number
from searcher.errors import BantinError

#: A known article nobody links to any more is asked for again (conditionally) after this
#: long, so removals are noticed; one that answered 404 is asked again on the next run.
RECHECK_AFTER = 7 * 24 * 3600.0
#: Sitemaps read per portal (a sitemap index may list many).
MAX_SITEMAPS = 50
#: Answers that count as an article's removal, on two separate runs.
MISSES_TO_REMOVE = 2
#: Parallel portal threads at most.
MAX_WORKERS = 8

Progress = Callable[[int], None]


def crawl(
    config: CrawlConfig,
    store_dir: str | os.PathLike[str],
    *,
    index_dir: str | os.PathLike[str] | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
    workers: int = MAX_WORKERS,
) -> CrawlReport:
    """Crawl every portal of ``config`` into the store, then update ``index_dir`` from it.

    ``index_dir=None`` leaves the index alone. Ctrl-C stops the run between requests; what
    was fetched is kept and the next run resumes.
    """
    started = time.perf_counter()
    clock = clock or SystemClock()
    store = Store(store_dir)
    report = CrawlReport(store_dir=store.root)
    stop = threading.Event()
    with CrawlState(store.state_path) as state:
        run, unfinished = state.start_run(clock.now())
        groups = _by_host(config.portals)
        with Fetcher(config.user_agent, clock, stop=stop) as fetcher:

            def crawl_group(portals: list[Portal]) -> list[PortalReport]:
                with CrawlState(store.state_path) as own:
                    return [
                        PortalCrawl(p, fetcher, own, store, clock, run, unfinished, progress).run()
                        for p in portals
                    ]

            if workers <= 1 or len(groups) == 1:
                results = [crawl_group(g) for g in groups]
            else:
                with ThreadPoolExecutor(min(workers, len(groups))) as pool:
                    futures = [pool.submit(crawl_group, g) for g in groups]
                    try:
                        results = [f.result() for f in futures]
                    except BaseException:
                        stop.set()  # Ctrl-C: the threads stop at their next wait
                        raise
        report.portals = [r for group in results for r in group]
        state.finish_run(run, clock.now())
    if index_dir is not None:
        _update_index(store, Path(index_dir), report)
    report.seconds = time.perf_counter() - started
    return report


def _by_host(portals: tuple[Portal, ...]) -> list[list[Portal]]:
    """Portals grouped so that no two groups share a host."""
    groups: list[tuple[set[str], list[Portal]]] = []
    for portal in portals:
        joined = [g for g in groups if g[0] & portal.hosts]
        hosts, members = set(portal.hosts), [portal]
        for g in joined:
            hosts |= g[0]
            members = g[1] + members
            groups.remove(g)
        groups.append((hosts, members))
    return [members for _hosts, members in groups]


def _update_index(store: Store, index_dir: Path, report: CrawlReport) -> None:
    if not store.pending(index_dir):
        report.index_note = "up to date (nothing new, changed or removed)"
        return
    try:
        report.index = update_index([store.bulletins_dir], index_dir)
    except NothingIndexedError:
        report.index_note = "no bulletin in the store yet; the index was not touched"
        return
    except (BantinError, OSError) as error:
        report.index_note = f"could not be updated: {error}"
        return
    store.clear_pending(index_dir)


@dataclass
class _Candidate:
    """An article URL found this run."""

    key: str
    url: str
    found: Found


class PortalCrawl:
    """One portal's run."""

    def __init__(
        self,
        portal: Portal,
        fetcher: Fetcher,
        state: CrawlState,
        store: Store,
        clock: Clock,
        run: int,
        unfinished: int | None,
        progress: Progress | None,
    ) -> None:
        self.portal = portal
        self.fetcher = fetcher
        self.state = state
        self.store = store
        self.clock = clock
        self.run_id = run
        self.unfinished = unfinished
        self.progress = progress
        self.report = PortalReport(portal.name)
        self.known = {a.key: a for a in state.articles(portal.name)}
        self.found: dict[str, _Candidate] = {}
        self.discovered = False  # a sitemap, feed or listing page answered this run
        self.disallowed: set[str] = set()

    def run(self) -> PortalReport:
        started = time.perf_counter()
        try:
            self._crawl()
        except HostUnavailable as error:
            self.report.error = str(error)
        except Stopped:
            raise KeyboardInterrupt from None
        finally:
            self.report.seconds = time.perf_counter() - started
        return self.report

    @property
    def budget(self) -> int:
        return self.portal.max_pages - self.report.requests

    def _crawl(self) -> None:
        hosts = sorted({host_of(u): u for u in self._seeds()}.values())
        robots = [self.fetcher.open_host(u, self.portal.delay) for u in hosts]
        self.report.requests += len(hosts)  # robots.txt
        sitemaps = list(self.portal.sitemap)
        for host in robots:
            if host.robots is not None:
                sitemaps += [u for u in host.robots.sitemaps() if host_of(u) in self.portal.hosts]
        self._read_sitemaps(sitemaps)
        for url in self.portal.feed:
            page = self._discovery_page(url)
            if page is not None:
                self._add(parse_feed(page.content))
        for url in self.portal.start:
            self._read_listing(url)
        self._fetch_articles()

    def _seeds(self) -> list[str]:
        return [*self.portal.start, *self.portal.sitemap, *self.portal.feed]

    # --- discovery ---------------------------------------------------------------------

    def _discovery_page(self, url: str) -> Page | None:
        if self.budget <= 0 or self.portal.is_denied(url):
            return None
        page = self.fetcher.get(clean_url(url))
        self.report.requests += page.requests
        self.report.discovery += 1
        if not page.ok:
            self.report.failed.append((url, page.error or f"HTTP {page.status}"))
            return None
        self.discovered = True
        return page

    def _read_sitemaps(self, sitemaps: list[str]) -> None:
        queue, seen = list(dict.fromkeys(sitemaps)), set()
        while queue and len(seen) < MAX_SITEMAPS:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            page = self._discovery_page(url)
            if page is None:
                continue
            sitemap = parse_sitemap(page.content)
            queue += [u for u in sitemap.sitemaps if host_of(u) in self.portal.hosts]
            self._add(sitemap.pages)

    def _read_listing(self, start: str) -> None:
        """Page through a listing until a page brings no article we do not know yet."""
        url: str | None = start
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            page = self._discovery_page(url)
            if page is None:
                return
            links = page_links(page.content, page.final_url)
            listing = page_number(url)[0]
            articles = [u for u in links if page_number(u)[0] != listing]
            if not self._add([Found(u) for u in articles]):
                return
            url = next_page(url, links)

    def _add(self, found: list[Found]) -> bool:
        """Record article URLs; whether any was unknown (neither stored nor seen this run)."""
        unknown = False
        for item in found:
            if not self.portal.is_article(item.url):
                continue
            key = canonical_url(item.url)
            if not self._robots_allow(item.url):
                self.disallowed.add(key)
                continue
            if key in self.found:
                old = self.found[key].found
                if item.lastmod or item.date:  # a sitemap's or feed's dates beat a listing's none
                    lastmod = item.lastmod or old.lastmod
                    self.found[key].found = Found(old.url, lastmod, item.date or old.date)
                continue
            self.found[key] = _Candidate(key, clean_url(item.url), item)
            # a link seen on an earlier run (even a broken one) is known: it must not keep
            # the listing paging on every run
            unknown = unknown or key not in self.known
        return unknown

    # --- articles ----------------------------------------------------------------------

    def _robots_allow(self, url: str) -> bool:
        robots = self.fetcher.host(url).robots
        return robots is None or robots.allowed(url)

    def _fetch_articles(self) -> None:
        self.report.disallowed = len(self.disallowed)
        now = self.clock.now()
        new, revisit = [], []
        for candidate in self.found.values():
            known = self.known.get(candidate.key)
            if known is None or known.status in ("failed", "removed"):
                new.append(candidate)
            elif self._fresh(known, candidate.found.lastmod, now):
                self.report.unchanged += 1
                self.report.not_asked += 1
            else:
                revisit.append(candidate)
        for known in self.known.values():
            if known.key in self.found or known.status not in ("stored", "missing"):
                continue
            due = known.status == "missing" or now - (known.last_checked or 0) > RECHECK_AFTER
            # removals are only ever noticed while the portal works
            if not (due and self.discovered):
                self.report.unchanged += 1  # stored, not linked now, not due: as it was
                self.report.not_asked += 1
            else:
                again = Found(known.url, known.lastmod, day_of(known.lastmod))
                revisit.append(_Candidate(known.key, known.url, again))
        queue = new + revisit
        for done, candidate in enumerate(queue):
            if self.budget <= 0:
                self.report.deferred += len(queue) - done
                return
            self._fetch_article(candidate)
            if self.progress:
                self.progress(1)

    def _fresh(self, known: Article, lastmod: str | None, now: float) -> bool:
        """Whether a known article need not be asked for at all this run."""
        if self.unfinished is not None and known.checked_run == self.unfinished:
            return True  # the interrupted run just did it
        return (
            known.status == "stored"
            and lastmod is not None
            and lastmod == known.lastmod
            and now - (known.last_checked or 0) <= RECHECK_AFTER
        )

    def _fetch_article(self, candidate: _Candidate) -> None:
        known = self.known.get(candidate.key)
        valid = known is not None and known.status in ("stored", "missing", "no-article")
        page = self.fetcher.get(
            candidate.url,
            etag=known.etag if valid and known else None,
            last_modified=known.last_modified if valid and known else None,
        )
        self.report.requests += page.requests
        self.report.articles += 1
        now = self.clock.now()
        article = known or Article(
            key=candidate.key,
            portal=self.portal.name,
            url=candidate.url,
            bulletin_id=bulletin_id(candidate.key),
            status="failed",
        )
        article.url = candidate.url
        article.last_checked = now
        article.checked_run = self.run_id
        article.http_status = page.status or None
        if page.not_modified:
            self._unchanged(article, candidate.found)
            self.report.not_modified += 1
        elif page.ok:
            self._store(article, candidate.found, page)
        elif page.gone and self.discovered and known is not None and valid:
            self._missing(article, page)
        else:
            reason = page.error or f"HTTP {page.status}"
            if page.gone and known is not None and valid:
                reason += " (not counted as a removal: the portal's listings failed this run)"
            self.report.failed.append((candidate.url, reason))
            if known is None or article.status == "failed":
                article.status, article.reason = "failed", reason
        self.state.save(article)

    def _unchanged(self, article: Article, found: Found) -> None:
        if article.status == "no-article":
            self.report.failed.append((article.url, f"{article.reason} (unchanged)"))
        else:
            article.status = "stored"
            self.report.unchanged += 1
        article.misses = 0
        article.lastmod = found.lastmod or article.lastmod

    def _store(self, article: Article, found: Found, page: Page) -> None:
        result = self.store.extract(article.bulletin_id, page.content, page.content_type)
        if isinstance(result, Skipped):
            self.report.failed.append((article.url, result.reason))
            if article.status != "stored":  # a stored bulletin is kept until it is gone
                self.store.remove(article.bulletin_id)  # nor its raw page
                article.status, article.reason = "no-article", result.reason
                article.etag, article.last_modified = page.etag, page.last_modified
            return
        record = bulletin_record(
            result,
            bulletin_id=article.bulletin_id,
            url=canonical_url(page.final_url),
            locality=self.portal.locality,
            province=self.portal.province,
            fallback_date=found.date or day_of(found.lastmod),
        )
        digest = record_hash(record)
        if article.status in ("stored", "missing") and article.content_hash == digest:
            self.report.unchanged += 1
        else:
            if article.status in ("stored", "missing"):
                self.report.changed += 1
            else:
                self.report.new += 1
            self.store.mark_pending()
            self.store.write_bulletin(record)
        article.status, article.reason = "stored", None
        article.etag, article.last_modified = page.etag, page.last_modified
        article.lastmod = found.lastmod or article.lastmod
        article.content_hash = digest
        article.misses = 0
        article.last_fetched = article.last_checked

    def _missing(self, article: Article, page: Page) -> None:
        if article.last_miss_run != self.run_id:
            article.misses += 1
            article.last_miss_run = self.run_id
        if article.misses >= MISSES_TO_REMOVE:
            self.store.mark_pending()
            self.store.remove(article.bulletin_id)
            article.status, article.reason = "removed", f"HTTP {page.status} on two runs"
            self.report.removed += 1
        else:
            article.status, article.reason = "missing", f"HTTP {page.status}"
            self.report.missing += 1
