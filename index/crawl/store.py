"""The crawl store: raw pages, extracted bulletins, and the crawl database, in one folder.

    STORE/crawl.sqlite                  what the crawler knows between runs
    STORE/raw/<host>/<id>.html.gz       each article page as fetched, compressed
    STORE/bulletins/<host>/<id>.jsonl   each extracted bulletin, one JSON line

The index is updated from ``bulletins/`` (a removed bulletin is a removed file), and the raw
pages let a later, better extraction run without fetching anything again. Files are written
to a hidden temporary name and renamed, so a crash never leaves half a file where the indexer
looks (it skips hidden files).
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from index.bulletin import Bulletin, Skipped
from index.readers import read_file
from searcher.storage import current_stamp

_HTML_TYPES = ("text/html", "application/xhtml+xml")


class Store:
    """Paths and atomic writes under one store folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.state_path = self.root / "crawl.sqlite"
        self.bulletins_dir = self.root / "bulletins"
        self.raw_dir = self.root / "raw"

    def raw_path(self, bulletin_id: str) -> Path:
        return self.raw_dir / _folder(bulletin_id) / f"{bulletin_id}.html.gz"

    def bulletin_path(self, bulletin_id: str) -> Path:
        return self.bulletins_dir / _folder(bulletin_id) / f"{bulletin_id}.jsonl"

    def extract(self, bulletin_id: str, content: bytes, content_type: str) -> Bulletin | Skipped:
        """Keep the raw page and extract its bulletin with the reader `bantin index` uses."""
        kind = content_type.split(";")[0].strip().lower()
        if kind and kind not in _HTML_TYPES:
            return Skipped(bulletin_id, f"not an HTML page ({kind})")
        path = self.raw_path(bulletin_id)
        _write_atomic(path, gzip.compress(content, mtime=0))
        return self.read_raw(bulletin_id)

    def read_raw(self, bulletin_id: str) -> Bulletin | Skipped:
        """The bulletin of a stored raw page, by the HTML reader of `bantin index`.

        The reader takes files by name; the page goes to an ``.html`` file in a temporary
        folder for the time of the reading.
        """
        with tempfile.TemporaryDirectory(prefix="bantin-crawl-") as folder:
            page = Path(folder) / f"{bulletin_id}.html"
            page.write_bytes(gzip.decompress(self.raw_path(bulletin_id).read_bytes()))
            for record in read_file(page):
                return record
        return Skipped(bulletin_id, "no article found")

    def write_bulletin(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        _write_atomic(self.bulletin_path(record["id"]), line.encode("utf-8"))

    # --- which index folders already hold the store as it is ---------------------------

    def mark_pending(self) -> None:
        """The bulletins are about to change: every index must be updated again."""
        self._synced_path.unlink(missing_ok=True)

    def pending(self, index_dir: str | os.PathLike[str]) -> bool:
        """Whether ``index_dir`` may lack what the store holds (a crash mid-run included)."""
        if current_stamp(Path(index_dir)) is None:
            return True
        return _key(index_dir) not in self._synced()

    def clear_pending(self, index_dir: str | os.PathLike[str]) -> None:
        synced = sorted({*self._synced(), _key(index_dir)})
        _write_atomic(self._synced_path, json.dumps(synced).encode("utf-8"))

    @property
    def _synced_path(self) -> Path:
        return self.root / "indexed.json"

    def _synced(self) -> list[str]:
        try:
            return list(json.loads(self._synced_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return []

    def remove(self, bulletin_id: str) -> None:
        """Drop a bulletin and its raw page (the next index update drops it from the index)."""
        for path in (self.bulletin_path(bulletin_id), self.raw_path(bulletin_id)):
            path.unlink(missing_ok=True)


def bulletin_record(
    bulletin: Bulletin,
    *,
    bulletin_id: str,
    url: str,
    locality: str | None,
    province: str | None,
    fallback_date: datetime.date | None,
) -> dict[str, Any]:
    """The JSON line of a crawled bulletin (the format `bantin index` reads).

    The date found on the page wins; the sitemap's or feed's date is the fallback. Locality
    and province are written only when the portals file gives them: otherwise the indexer
    infers them from the text, as it does for any file.
    """
    record: dict[str, Any] = {
        "id": bulletin_id,
        "title": bulletin.title,
        "body": bulletin.body,
        "url": url,
    }
    date = bulletin.date or fallback_date
    if date is not None:
        record["date"] = date.isoformat()
    if bulletin.author:
        record["author"] = bulletin.author
    if locality:
        record["locality"] = locality
    if province:
        record["province"] = province
    captions = getattr(bulletin, "captions", None)  # when the reader keeps them
    if captions:
        record["captions"] = list(captions)
    return record


def record_hash(record: dict[str, Any]) -> str:
    """What decides "changed": the bulletin as it would be indexed, not the page's bytes
    (portal pages change on every view: counters, tokens)."""
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key(index_dir: str | os.PathLike[str]) -> str:
    return str(Path(index_dir).resolve())


def _folder(bulletin_id: str) -> str:
    return bulletin_id.rsplit("_", 1)[0] or "portal"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "wb") as f:
        f.write(data)
    os.replace(temp, path)
