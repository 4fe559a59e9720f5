"""``bantin crawl --reextract``: rebuild the store's bulletins from the raw pages it keeps.

When extraction improves (a better reader, a new furniture rule) or the portals file changes a
portal's locality or province, the bulletins are rebuilt from ``STORE/raw`` without a single
request to the portals; the index is then updated as after a crawl. A page that gave no
article before is tried again (its raw page is kept for this); a stored bulletin whose page no
longer gives one is kept and reported, since removal is the portal's call (404/410), not ours.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

from index.bulletin import Skipped
from index.crawl.config import CrawlConfig, Portal
from index.crawl.discovery import day_of
from index.crawl.run import Progress, update_index_from_store
from index.crawl.state import Article, CrawlState
from index.crawl.store import Store, bulletin_record, record_hash
from index.crawl.summary import CrawlReport, PortalReport

#: Rows whose raw page may give a bulletin.
_READABLE = ("stored", "missing", "no-article")


def reextract(
    config: CrawlConfig,
    store_dir: str | os.PathLike[str],
    *,
    index_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> CrawlReport:
    """Re-extract every portal of ``config`` from its raw pages, then update ``index_dir``."""
    started = time.perf_counter()
    store = Store(store_dir)
    report = CrawlReport(store_dir=store.root, reextract=True)
    with CrawlState(store.state_path) as state:
        for portal in config.portals:
            report.portals.append(_portal(portal, state, store, progress))
    if index_dir is not None:
        update_index_from_store(store, Path(index_dir), report)
    report.seconds = time.perf_counter() - started
    return report


def _portal(
    portal: Portal, state: CrawlState, store: Store, progress: Progress | None
) -> PortalReport:
    started = time.perf_counter()
    report = PortalReport(portal.name, started=True)
    for article in state.articles(portal.name):
        if article.status not in _READABLE or not store.raw_path(article.bulletin_id).exists():
            continue
        report.reextracted += 1
        _article(portal, article, store, report)
        state.save(article)
        if progress:
            progress(1)
    report.seconds = time.perf_counter() - started
    return report


def _article(portal: Portal, article: Article, store: Store, report: PortalReport) -> None:
    stored = article.status in ("stored", "missing")
    result = store.read_raw(article.bulletin_id)
    if isinstance(result, Skipped):
        note = " (the stored bulletin is kept)" if stored else ""
        report.failed.append((article.url, result.reason + note))
        return
    previous = _stored_record(store, article.bulletin_id)
    fallback = day_of(article.lastmod) or day_of(previous.get("date"))
    record = bulletin_record(
        result,
        bulletin_id=article.bulletin_id,
        url=previous.get("url") or article.key,
        locality=portal.locality,
        province=portal.province,
        fallback_date=fallback if isinstance(fallback, datetime.date) else None,
    )
    digest = record_hash(record)
    if stored and digest == article.content_hash:
        report.unchanged += 1
        return
    if stored:
        report.changed += 1
    else:
        report.new += 1
        article.status, article.reason = "stored", None
        article.strikes, article.next_check = 0, None
    store.mark_pending()
    store.write_bulletin(record)
    article.content_hash = digest


def _stored_record(store: Store, bulletin_id: str) -> dict[str, str]:
    try:
        record = json.loads(store.bulletin_path(bulletin_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
