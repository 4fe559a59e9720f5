"""What the crawler knows between runs, in SQLite inside the crawl store.

One row per article URL (keyed by its canonical form): the validators to ask for it
conditionally (ETag, Last-Modified), the sitemap's lastmod, the hash of the bulletin extracted
from it, its status, how many separate runs it has answered 404/410, and for a broken link
(never stored, or removed) when it is worth asking for again. Each row is committed
as soon as its page is handled (WAL journal), so a crash or Ctrl-C loses nothing already
fetched. A ``runs`` table tells a resumed run which articles the interrupted one already did.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    key TEXT PRIMARY KEY,          -- canonical URL
    portal TEXT NOT NULL,
    url TEXT NOT NULL,             -- the URL requested
    bulletin_id TEXT NOT NULL,
    status TEXT NOT NULL,          -- stored | no-article | failed | missing | removed | queued
    reason TEXT,                   -- why, for no-article and failed
    http_status INTEGER,
    etag TEXT,
    last_modified TEXT,
    lastmod TEXT,                  -- the sitemap's <lastmod> when last handled
    content_hash TEXT,             -- hash of the extracted bulletin
    misses INTEGER NOT NULL DEFAULT 0,  -- separate runs answered 404/410 in a row
    last_miss_run INTEGER,
    last_fetched REAL,             -- last 200
    last_checked REAL,             -- last answer of any kind
    checked_run INTEGER,
    strikes INTEGER NOT NULL DEFAULT 0, -- runs in a row a broken link stayed broken
    next_check REAL                -- a broken link is not asked for before this
);
CREATE INDEX IF NOT EXISTS articles_portal ON articles (portal, last_checked);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL
);
"""


@dataclass
class Article:
    """One row of ``articles``."""

    key: str
    portal: str
    url: str
    bulletin_id: str
    status: str
    reason: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    lastmod: str | None = None
    content_hash: str | None = None
    misses: int = 0
    last_miss_run: int | None = None
    last_fetched: float | None = None
    last_checked: float | None = None
    checked_run: int | None = None
    strikes: int = 0
    next_check: float | None = None


_COLUMNS = [f.name for f in fields(Article)]


class CrawlState:
    """The crawl database; one connection per thread (open one per portal worker)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CrawlState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add_missing_columns(self) -> None:
        """A store written by an older bantin lacks the newer columns: add them, keep the rows."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(articles)")}
        for name, kind in (("strikes", "INTEGER NOT NULL DEFAULT 0"), ("next_check", "REAL")):
            if name not in have:
                self._db.execute(f"ALTER TABLE articles ADD COLUMN {name} {kind}")

    # --- runs --------------------------------------------------------------------------

    def start_run(self, now: float) -> tuple[int, int | None]:
        """A new run's id, and the id of the previous run if it never finished."""
        row = self._db.execute("SELECT id, finished FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        unfinished = row[0] if row is not None and row[1] is None else None
        run = self._db.execute("INSERT INTO runs (started) VALUES (?)", (now,)).lastrowid
        assert run is not None
        return run, unfinished

    def finish_run(self, run: int, now: float) -> None:
        self._db.execute("UPDATE runs SET finished = ? WHERE id = ?", (now, run))

    # --- articles ----------------------------------------------------------------------

    def article(self, key: str) -> Article | None:
        row = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM articles WHERE key = ?", (key,)
        ).fetchone()
        return Article(*row) if row is not None else None

    def articles(self, portal: str) -> list[Article]:
        """The portal's known articles, least recently checked first."""
        rows = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM articles WHERE portal = ? "
            "ORDER BY last_checked IS NOT NULL, last_checked, key",
            (portal,),
        )
        return [Article(*row) for row in rows]

    def save(self, article: Article) -> None:
        """Write one article's row and commit it at once."""
        values = [getattr(article, name) for name in _COLUMNS]
        self._db.execute(
            f"INSERT OR REPLACE INTO articles ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_COLUMNS))})",
            values,
        )
