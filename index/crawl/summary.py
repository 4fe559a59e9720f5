"""What a crawl did, per portal, and its printed summary (see docs/crawling.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from index.build import BuildReport


@dataclass
class PortalReport:
    """One portal's run."""

    name: str
    requests: int = 0  # every HTTP request, robots.txt, retries and redirect hops included
    discovery: int = 0  # sitemaps, feeds and listing pages read
    articles: int = 0  # article pages asked for
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_modified: int = 0  # of the unchanged: answered 304 to a conditional request
    not_asked: int = 0  # of the unchanged: not requested (same sitemap lastmod, or resumed)
    removed: int = 0
    missing: int = 0  # answered 404/410 for the first time: removed if again next run
    deferred: int = 0  # left for the next run: max_pages reached
    disallowed: int = 0  # article links robots.txt forbids: never requested
    waiting: int = 0  # broken links (404, no article) not asked this run: backing off
    reextracted: int = 0  # raw pages read again by --reextract
    started: bool = False  # the run reached this portal (false: interrupted before it)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    error: str | None = None  # the portal could not be crawled at all this run
    seconds: float = 0.0


@dataclass
class CrawlReport:
    """The whole run."""

    store_dir: Path
    portals: list[PortalReport] = field(default_factory=list)
    index: BuildReport | None = None
    index_note: str | None = None  # why the index was not updated, or how it failed
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C: stopped early, everything fetched kept
    reextract: bool = False  # --reextract: bulletins rebuilt from the raw pages, no request


def summary_lines(report: CrawlReport) -> list[str]:
    """The lines `bantin crawl` prints."""
    lines = []
    for p in report.portals:
        if p.error:
            lines.append(f"{p.name}: not crawled: {p.error} ({p.seconds:.1f} s)")
        elif report.reextract:
            lines.append(
                f"{p.name}: {p.reextracted} raw pages re-extracted, no request; {p.new} new, "
                f"{p.changed} changed, {p.unchanged} unchanged, {len(p.failed)} failed "
                f"({p.seconds:.1f} s)"
            )
        else:
            lines.append(
                f"{p.name}: {p.requests} requests ({p.discovery} listing/sitemap/feed, "
                f"{p.articles} articles); {p.new} new, {p.changed} changed, {p.unchanged} "
                f"unchanged ({p.not_modified} not modified, {p.not_asked} not asked), "
                f"{p.removed} removed, {len(p.failed)} failed ({p.seconds:.1f} s)"
            )
        if p.missing:
            lines.append(f"  {p.missing} answered 404/410 once: removed if they do again next run")
        if p.disallowed:
            lines.append(f"  {p.disallowed} article links disallowed by robots.txt (not fetched)")
        if p.waiting:
            lines.append(
                f"  {p.waiting} broken links not asked this run (404 or no article before; "
                "asked again after 1, 2, 4 … 32 days)"
            )
        if p.deferred:
            lines.append(f"  {p.deferred} articles left for the next run (max_pages reached)")
        lines.extend(f"  failed: {url}: {reason}" for url, reason in p.failed)
    index = report.index
    if index is not None:
        lines.append(
            f"Index {index.index_dir}: {index.added} added, {index.updated} changed, "
            f"{index.removed} removed, {index.unchanged} unchanged; {index.indexed} bulletins "
            f"({index.seconds:.1f} s)."
        )
        lines.extend(f"  skipped: {s.source}: {s.reason}" for s in index.skipped)
    if report.index_note:
        lines.append(f"Index: {report.index_note}")
    if report.interrupted:
        lines.append(
            "Interrupted: everything fetched so far is kept; the next run resumes from there."
        )
    lines.append(f"Store {report.store_dir} ({report.seconds:.1f} s in all).")
    return lines
