"""One crawl run: discover, fetch what is new or changed, store it, update the index.

Portals on different hosts are crawled in parallel threads (one connection per host, so this
is no harder on any portal); portals sharing a host share one thread and one pace.
"""

from __future__ import annotations

import os
import ssl
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
from index.crawl.politeness import Clock, Stopped, SystemClock, stop_on_interrupt
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
#: A broken link (404/410 or no article, never stored or removed) that stays linked is asked
#: for again after this long, doubled each time it is still broken, up to the cap.
BROKEN_BACKOFF = 24 * 3600.0
MAX_BROKEN_BACKOFF = 32 * 24 * 3600.0
#: Statuses of links that gave no bulletin: asked for again with the backoff above.
_BROKEN = ("failed", "no-article", "removed")
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
    verify: ssl.SSLContext | bool | None = None,
) -> CrawlReport:
    """Crawl every portal of ``config`` into the store, then update ``index_dir`` from it.

    ``index_dir=None`` leaves the index alone. ``verify`` replaces the certificate check the
    file asks for (tests trust their own authority with it; it is never switched off by the
    crawler itself). Ctrl-C stops the run between requests: what was fetched is kept, the
    report says ``interrupted``, the index is left for the next run, which resumes.
    """
    started = time.perf_counter()
    clock = clock or SystemClock()
    store = Store(store_dir)
    report = CrawlReport(store_dir=store.root)
    reports = {p.name: PortalReport(p.name) for p in config.portals}
    stop = threading.Event()
    if verify is None:
        verify = config.ssl_context()
    with CrawlState(store.state_path) as state:
        run, unfinished = state.start_run(clock.now())
        groups = _by_host(config.portals)
        fetching = Fetcher(config.user_agent, clock, stop=stop, verify=verify)
        with fetching as fetcher, stop_on_interrupt(stop):

            def crawl_group(portals: list[Portal]) -> None:
                with CrawlState(store.state_path) as own:
                    for p in portals:
                        crawler = PortalCrawl(p, fetcher, own, store, clock, run, unfinished)
                        crawler.progress, crawler.report = progress, reports[p.name]
                        crawler.run()

            try:
                if workers <= 1 or len(groups) == 1:
                    for group in groups:
                        crawl_group(group)
                else:
                    with ThreadPoolExecutor(min(workers, len(groups))) as pool:
                        futures = [pool.submit(crawl_group, g) for g in groups]
                        try:
                            for future in futures:
                                future.result()
                        except BaseException:
                            stop.set()  # Ctrl-C: the threads stop at their next wait
                            raise
            except KeyboardInterrupt:
                stop.set()
                report.interrupted = True
        report.portals = list(reports.values())
        if not report.interrupted:
            state.finish_run(run, clock.now())
    for portal in report.portals:
        if report.interrupted and not portal.started:
            portal.error = "not reached: the run was interrupted"
    if report.interrupted:
        report.index_note = "not updated: the run was interrupted (the next run updates it)"
    elif index_dir is not None:
        update_index_from_store(store, Path(index_dir), report)
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


def update_index_from_store(store: Store, index_dir: Path, report: CrawlReport) -> None:
    """Update ``index_dir`` from the store's bulletins, unless it already holds them."""
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
        progress: Progress | None = None,
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
        self.report.started = True
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
        queued, new, revisit = [], [], []
        for candidate in self.found.values():
            known = self.known.get(candidate.key)
            if known is None:
                new.append(candidate)
            elif known.status == "queued":
                queued.append(candidate)
            elif known.status in _BROKEN:
                if known.next_check is not None and now < known.next_check:
                    self.report.waiting += 1  # still linked, still broken: back off
                else:
                    new.append(candidate)
            elif self._fresh(known, candidate.found.lastmod, now):
                self.report.unchanged += 1
                self.report.not_asked += 1
            else:
                revisit.append(candidate)
        for known in self.known.values():
            if known.key in self.found:
                continue
            again = _Candidate(known.key, known.url, Found(known.url, known.lastmod))
            if known.status == "queued":  # left by a run that reached max_pages
                queued.append(again)
                continue
            if known.status not in ("stored", "missing"):
                continue
            due = known.status == "missing" or now - (known.last_checked or 0) > RECHECK_AFTER
            # removals are only ever noticed while the portal works
            if not (due and self.discovered):
                self.report.unchanged += 1  # stored, not linked now, not due: as it was
                self.report.not_asked += 1
            else:
                revisit.append(again)
        queue = queued + new + revisit
        for done, candidate in enumerate(queue):
            if self.budget <= 0:
                self._defer(queue[done:])
                return
            self._fetch_article(candidate)
            if self.progress:
                self.progress(1)

    def _defer(self, left: list[_Candidate]) -> None:
        """max_pages reached: remember the new articles, so the next run asks for them first
        (they may no longer be on the listing pages it reads)."""
        self.report.deferred += len(left)
        for candidate in left:
            if candidate.key not in self.known:
                self.state.save(self._new_article(candidate, status="queued"))

    def _new_article(self, candidate: _Candidate, status: str) -> Article:
        return Article(
            key=candidate.key,
            portal=self.portal.name,
            url=candidate.url,
            bulletin_id=bulletin_id(candidate.key),
            status=status,
            lastmod=candidate.found.lastmod,
        )

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
        stored = known is not None and known.status in ("stored", "missing")
        page = self.fetcher.get(
            candidate.url,
            etag=known.etag if known else None,
            last_modified=known.last_modified if known else None,
        )
        self.report.requests += page.requests
        self.report.articles += 1
        now = self.clock.now()
        article = known or self._new_article(candidate, status="failed")
        article.url = candidate.url
        article.last_checked = now
        article.checked_run = self.run_id
        article.http_status = page.status or None
        if page.not_modified and stored:
            self.report.unchanged += 1
            self.report.not_modified += 1
            article.status, article.misses = "stored", 0
            article.lastmod = candidate.found.lastmod or article.lastmod
        elif page.not_modified:  # a broken link's page, as it was
            self._broken(article, page, f"{article.reason or 'no article found'} (unchanged)")
        elif page.ok:
            self._store(article, candidate.found, page)
        elif page.gone and self.discovered and stored:
            self._missing(article, page)
        elif _permanent(page) and not stored:
            self._broken(article, page, page.error or f"HTTP {page.status}")
        else:
            reason = page.error or f"HTTP {page.status}"
            if page.gone and stored:
                reason += " (not counted as a removal: the portal's listings failed this run)"
            self.report.failed.append((candidate.url, reason))
            if not stored and article.status in ("failed", "queued"):
                article.status, article.reason = "failed", reason
                article.next_check = None  # a passing failure: asked again next run
        self.state.save(article)

    def _broken(self, article: Article, page: Page, reason: str) -> None:
        """A link that gives no bulletin, for good: ask again after 1, 2, 4 … days, not daily."""
        self.report.failed.append((article.url, reason))
        if article.status not in ("removed", "no-article"):
            article.status = "failed"
        article.reason = reason.removesuffix(" (unchanged)")
        article.etag, article.last_modified = page.etag, page.last_modified
        article.strikes += 1
        backoff = min(BROKEN_BACKOFF * 2 ** (article.strikes - 1), MAX_BROKEN_BACKOFF)
        article.next_check = self.clock.now() + backoff

    def _store(self, article: Article, found: Found, page: Page) -> None:
        result = self.store.extract(article.bulletin_id, page.content, page.content_type)
        if isinstance(result, Skipped):
            if article.status in ("stored", "missing"):  # a stored bulletin is kept until gone
                self.report.failed.append((article.url, result.reason))
                return
            article.status = "no-article"  # its raw page is kept for a later --reextract
            self._broken(article, page, result.reason)
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
        article.misses = article.strikes = 0
        article.next_check = None
        article.last_fetched = article.last_checked

    def _missing(self, article: Article, page: Page) -> None:
        if article.last_miss_run != self.run_id:
            article.misses += 1
            article.last_miss_run = self.run_id
        if article.misses >= MISSES_TO_REMOVE:
            self.store.mark_pending()
            self.store.remove(article.bulletin_id)
            article.status, article.reason = "removed", f"HTTP {page.status} on two runs"
            article.etag = article.last_modified = article.content_hash = None
            article.strikes, article.next_check = 1, self.clock.now() + BROKEN_BACKOFF
            self.report.removed += 1
        else:
            article.status, article.reason = "missing", f"HTTP {page.status}"
            self.report.missing += 1


def _permanent(page: Page) -> bool:
    """Whether a failure says the link is broken (not a passing trouble worth asking again
    next run): 4xx other than 408/429, or a page too large to read."""
    if page.status == 200:
        return page.error is not None
    return 400 <= page.status < 500 and page.status not in (408, 429)
