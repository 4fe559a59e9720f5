"""Read bulletin files of every supported kind into `Bulletin` records.

`read_bulletins` walks files and folders in a fixed order and yields one `Bulletin` per
article or one `Skipped` per unreadable file or line: a bad input never stops the run.
`read_file` tells a file's kind and hands it to its reader: a portal text capture (here, with
`index.portal`), an HTML page (`index.html_page`) or JSON Lines (`index.jsonl`, streamed).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import PurePath

from index.bulletin import Skipped
from index.encoding import DecodeError, decode_bytes, sniff_bom
from index.html_page import read_html
from index.jsonl import read_jsonl
from index.portal import extract_article
from index.records import (
    MAX_BULLETIN_CHARS,
    MAX_DOCUMENT_BYTES,
    Record,
    io_reason,
    make_bulletin,
    refuse_too_long,
)

__all__ = [
    "MAX_BULLETIN_CHARS",
    "MAX_DOCUMENT_BYTES",
    "SUPPORTED_SUFFIXES",
    "Record",
    "bulletin_files",
    "document_id",
    "is_bulletin_file",
    "read_bulletins",
    "read_file",
]

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
HTML_SUFFIXES = (".html", ".htm")
TEXT_SUFFIXES = (".txt", ".text")
# The files we read; a file without an extension is read too, its kind told by content.
SUPPORTED_SUFFIXES = JSONL_SUFFIXES + HTML_SUFFIXES + TEXT_SUFFIXES
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 4096
_HTML_START = re.compile(r"^<(?:!doctype\s+html|html|head|body|meta|title|div|article)\b", re.I)


# ---------------------------------------------------------------------------------------
# Walking


def read_bulletins(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Record]:
    """Bulletins from files and folders (recursively, in sorted order), each file once."""
    for item in bulletin_files(paths):
        if isinstance(item, Skipped):
            yield item
        else:
            yield from read_file(item)


def bulletin_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str | Skipped]:
    """The files to read under ``paths``, each once, in a fixed order; a missing path is
    a `Skipped`. Files named directly are read whatever their kind (and refused with a reason
    if unsupported); in folders, only files that may hold bulletins are listed."""
    seen: set[str] = set()
    for path in paths:
        for item in _expand(os.fspath(path)):
            if isinstance(item, Skipped):
                yield item
                continue
            real = os.path.realpath(item)
            if real not in seen:
                seen.add(real)
                yield item


def _expand(path: str) -> Iterator[str | Skipped]:
    if os.path.isdir(path):
        yield from _walk(path)
    elif os.path.exists(path):
        yield path
    else:
        yield Skipped(path, "no such file or directory")


def _walk(folder: str) -> Iterator[str | Skipped]:
    """Supported files under `folder` in sorted path order.

    Hidden entries are left out and links to folders are not followed (no loops).
    """
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        yield Skipped(folder, f"cannot read folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path)
        elif is_bulletin_file(entry.name) and entry.is_file():
            yield entry.path


def is_bulletin_file(path: str | os.PathLike[str]) -> bool:
    """Whether a file's name says it may hold bulletins: a supported extension, or none."""
    name = PurePath(path).name.lower()
    if name.startswith("."):
        return False
    return name.endswith(SUPPORTED_SUFFIXES) or "." not in name


def document_id(path: str) -> str:
    """A file's bulletin id: its name without the extension ("001_43642a5dc4415f17")."""
    name = PurePath(path).name
    for suffix in (*JSONL_SUFFIXES, *HTML_SUFFIXES, *TEXT_SUFFIXES, ".gz"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return PurePath(name).stem or name


# ---------------------------------------------------------------------------------------
# One file


def read_file(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Every bulletin in one file; the kind is told by extension, then by content."""
    source = os.fspath(path)
    if not is_bulletin_file(source):
        suffix = PurePath(source).suffix or PurePath(source).name
        yield Skipped(source, f"not a bulletin file (unsupported type {suffix!r})")
        return
    try:
        with open(source, "rb") as raw:
            head = raw.read(_SNIFF_BYTES)
        compressed = head.startswith(_GZIP_MAGIC)
        if compressed:
            with gzip.open(source, "rb") as inner:
                head = inner.read(_SNIFF_BYTES)
        kind = _kind(source, head)
        if kind == "jsonl":
            yield from read_jsonl(source, compressed)
            return
        data = _read_whole(source, compressed)
    except (OSError, EOFError, zlib.error) as exc:
        yield Skipped(source, io_reason(exc))
        return
    if isinstance(data, Skipped):
        yield data
        return
    try:
        text = decode_bytes(data)
    except DecodeError as exc:
        yield Skipped(source, exc.reason)
        return
    finally:
        del data  # a large file: keep one copy of it, the text, not two
    if kind == "html":
        yield from read_html(source, text, document_id(source))
    else:
        yield _read_capture(source, text)


def _kind(source: str, head: bytes) -> str:
    name = source.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    codec = sniff_bom(head[:4])
    start = head.decode(codec or "latin-1", errors="ignore").lstrip("\ufeff \t\r\n")
    if re.match(r'\{\s*"', start):  # a JSON object: JSON Lines whatever the name
        return "jsonl"
    if _HTML_START.match(start):
        return "html"
    return "text"


def _read_whole(source: str, compressed: bool) -> bytes | Skipped:
    opener = gzip.open if compressed else open
    with opener(source, "rb") as f:
        data = f.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        limit = MAX_DOCUMENT_BYTES // (1024 * 1024)
        return Skipped(source, f"file too large for one bulletin (over {limit} MB)")
    return data


# ---------------------------------------------------------------------------------------
# Portal text captures


def _read_capture(source: str, text: str) -> Record:
    article = extract_article(text)
    if article is None:
        return Skipped(source, "no article found")
    if too_long := refuse_too_long(source, article.title, article.paragraphs):
        return too_long
    return make_bulletin(
        id=document_id(source),
        title=article.title,
        paragraphs=article.paragraphs,
        meta=article.meta,
        source=source,
        captions=article.captions,
    )
