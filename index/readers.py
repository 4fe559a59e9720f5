"""Read bulletin files of every supported kind into `Bulletin` records.

`read_bulletins` walks files and folders in a fixed order and yields one `Bulletin` per
article or one `Skipped` per unreadable file or line: a bad input never stops the run.
JSON Lines are streamed line by line, so a million-line file takes the memory of one line.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import os
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from index import encoding, extract, gazetteer, portal
from index.bulletin import Bulletin, Skipped

Record = Bulletin | Skipped

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
HTML_SUFFIXES = (".html", ".htm")
TEXT_SUFFIXES = (".txt", ".text")
# The files we read; a file without an extension is read too, its kind told by content.
SUPPORTED_SUFFIXES = JSONL_SUFFIXES + HTML_SUFFIXES + TEXT_SUFFIXES
# One article (a file, or a JSON line) is read whole; past this it is not a bulletin but a
# mistake, and reading it would cost several times its size in memory.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
# Text (title and body) of one bulletin, 10x the longest of 95,000 real ones: indexing holds a
# few hundred bytes per character while it segments and inverts one, so a longer text is
# skipped rather than allowed to take gigabytes.
MAX_BULLETIN_CHARS = 500_000

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 4096
_HTML_START = re.compile(r"^<(?:!doctype\s+html|html|head|body|meta|title|div|article)\b", re.I)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


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
            yield from _read_jsonl(source, compressed)
            return
        data = _read_whole(source, compressed)
    except (OSError, EOFError, zlib.error) as exc:
        yield Skipped(source, _io_reason(exc))
        return
    if isinstance(data, Skipped):
        yield data
        return
    try:
        text = encoding.decode_bytes(data)
    except encoding.DecodeError as exc:
        yield Skipped(source, exc.reason)
        return
    finally:
        del data  # a large file: keep one copy of it, the text, not two
    if kind == "html":
        yield from _read_html(source, text)
    else:
        yield _read_capture(source, text)


def _io_reason(exc: BaseException) -> str:
    if isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error):
        return f"corrupt gzip file: {exc}"
    strerror = getattr(exc, "strerror", None)
    return f"cannot read file: {strerror or exc}"


def _kind(source: str, head: bytes) -> str:
    name = source.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    codec = encoding.sniff_bom(head[:4])
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
    article = portal.extract_article(text)
    if article is None:
        return Skipped(source, "no article found")
    if too_long := _too_long(source, article.title, article.paragraphs):
        return too_long
    return make_bulletin(
        id=document_id(source),
        title=article.title,
        paragraphs=article.paragraphs,
        meta=article.meta,
        source=source,
    )


# ---------------------------------------------------------------------------------------
# HTML pages


def _read_html(source: str, text: str) -> Iterator[Record]:
    try:
        import trafilatura  # heavy; only HTML needs it
    except ImportError as exc:
        yield Skipped(source, f"cannot read HTML: trafilatura is unavailable ({exc})")
        return
    doc = trafilatura.bare_extraction(
        text,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None or not (doc.text or "").strip():
        yield Skipped(source, "no article found")
        return
    paragraphs, _captions = portal.clean_paragraphs(doc.text.splitlines())
    title = extract.clean_title(doc.title or "") or (paragraphs[0] if paragraphs else None)
    if paragraphs and title and extract.clean_title(paragraphs[0]) == title:
        paragraphs = paragraphs[1:]
    if not title or not paragraphs:
        yield Skipped(source, "no article found")
        return
    if too_long := _too_long(source, title, paragraphs):
        yield too_long
        return
    author, unit = extract.extract_author("\n".join(paragraphs))
    if author is None:
        author, unit = _byline_from_html(text, doc.author)
    date = _iso_date(doc.date)
    yield make_bulletin(
        id=document_id(source),
        title=title,
        paragraphs=paragraphs,
        source=source,
        given=Given(
            date=date,
            has_date=date is not None,
            author=author,
            source_unit=unit,
            url=doc.url or None,
        ),
    )


def _byline_from_html(html: str, meta_author: str | None) -> tuple[str | None, str | None]:
    """Author and unit from the page's byline, which trafilatura keeps out of the text.

    trafilatura's author field splits a byline at dashes and commas ("Minh Tâm; Thể thao
    …"), so we find the line it came from in the page and read that line ourselves.
    """
    names = [n.strip() for n in (meta_author or "").split(";") if n.strip()]
    if not names or not extract.is_person_name(names[0]):
        return None, None
    from lxml import html as lxml_html  # trafilatura's own dependency

    try:
        root = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return names[0], None
    for element in root.iter("p", "div", "span", "em", "strong", "b", "i", "td", "address"):
        line = " ".join(element.text_content().split())
        if line.startswith(names[0]) and len(line) <= 200:
            found, unit = extract.parse_byline(line)
            if found:
                return ", ".join(found), unit
    return names[0], None


# ---------------------------------------------------------------------------------------
# JSON Lines


def _open_lines(source: str, compressed: bool) -> AbstractContextManager[IO[bytes]]:
    return gzip.open(source, "rb") if compressed else open(source, "rb")


def _read_jsonl(source: str, compressed: bool) -> Iterator[Record]:
    records = 0
    with _open_lines(source, compressed) as raw:
        codec = encoding.sniff_bom(raw.read(4))
        raw.seek(0)
        if codec and codec != "utf-8-sig":
            lines: IO[Any] = io.TextIOWrapper(raw, encoding=codec)
        else:
            lines = raw
        lineno = 0
        try:
            for lineno, line in enumerate(_bounded_lines(lines, MAX_DOCUMENT_BYTES), 1):
                if line is None:
                    records += 1
                    limit = MAX_DOCUMENT_BYTES // (1024 * 1024)
                    yield Skipped(
                        f"{source}:{lineno}", f"line too long for one bulletin (over {limit} MB)"
                    )
                    continue
                if lineno == 1 and isinstance(line, bytes):
                    line = line.removeprefix(b"\xef\xbb\xbf")
                if not line.strip():
                    continue
                records += 1
                yield _jsonl_record(source, lineno, line)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            reason = (
                _io_reason(exc)
                if not isinstance(exc, UnicodeDecodeError)
                else (f"undecodable bytes ({codec}) after line {lineno}")
            )
            yield Skipped(source, reason)
            return
    if records == 0:
        yield Skipped(source, encoding.EMPTY)


def _bounded_lines(stream: IO[Any], limit: int) -> Iterator[Any]:
    """The lines of ``stream`` (bytes or text); None for a line longer than ``limit``, which
    is skipped in pieces rather than held whole."""
    while line := stream.readline(limit + 1):
        newline = "\n" if isinstance(line, str) else b"\n"
        if len(line) <= limit or line.endswith(newline):
            yield line
            continue
        while line and not line.endswith(newline):
            line = stream.readline(1 << 20)
        yield None


def _too_long(where: str, title: str, paragraphs: Sequence[str]) -> Skipped | None:
    chars = len(title) + sum(len(p) for p in paragraphs)
    if chars <= MAX_BULLETIN_CHARS:
        return None
    return Skipped(
        where,
        f"bulletin too long to index ({chars:,} characters; the limit is {MAX_BULLETIN_CHARS:,})",
    )


def _jsonl_record(source: str, lineno: int, line: bytes | str) -> Record:
    where = f"{source}:{lineno}"
    try:
        text = encoding.decode_line(line) if isinstance(line, bytes) else line
    except encoding.DecodeError as exc:
        return Skipped(where, f"{exc.reason} on line {lineno}")
    try:
        obj = json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return Skipped(where, f"broken JSON on line {lineno}: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return Skipped(where, f"broken JSON on line {lineno}: nested too deeply")
    return bulletin_from_record(obj, where)


def bulletin_from_record(obj: Any, where: str) -> Record:
    """A bulletin from one decoded JSON record; given metadata wins over inferred."""
    if not isinstance(obj, dict):
        return Skipped(where, f"not a JSON object (a JSON {type(obj).__name__})")
    for field in ("id", "title", "body"):
        if obj.get(field) is None:
            return Skipped(where, f"missing required field '{field}'")
    raw_id = obj["id"]
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)  # numeric ids are common in exports; they are still ids
    if not isinstance(raw_id, str):
        return Skipped(where, "field 'id' must be a string")
    if not raw_id.strip():
        return Skipped(where, "field 'id' is empty")
    for field in ("title", "body"):
        if not isinstance(obj[field], str):
            return Skipped(where, f"field '{field}' must be a string")
    title = _clean_inline(obj["title"])
    paragraphs = _clean_paragraphs(obj["body"])
    if not title:
        return Skipped(where, "field 'title' is empty")
    if not paragraphs:
        return Skipped(where, "field 'body' is empty")
    if too_long := _too_long(where, title, paragraphs):
        return too_long
    kind = encoding.legacy_encoding(title + "\n" + "\n".join(paragraphs[:20]))
    if kind == "vni":
        return Skipped(where, encoding.VNI)
    if kind == "tcvn3":
        title = encoding.convert_tcvn3(title)
        paragraphs = [encoding.convert_tcvn3(p) for p in paragraphs]
    has_date = obj.get("date") not in (None, "")
    return make_bulletin(
        id=raw_id,
        title=title,
        paragraphs=paragraphs,
        source=_optional_str(obj.get("source")) or where,
        given=Given(
            date=_iso_date(obj.get("date")) if has_date else None,
            has_date=has_date,
            author=_optional_str(obj.get("author")),
            locality=_optional_str(obj.get("locality")),
            province=_optional_str(obj.get("province")),
            url=_optional_str(obj.get("url")),
        ),
    )


def _optional_str(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = _clean_inline(value)
    return value or None


def _iso_date(value: Any) -> datetime.date | None:
    """A date from "YYYY-MM-DD" (a time after it is ignored); None when it is not one."""
    if not isinstance(value, str):
        return None
    m = re.match(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T\s])", value)
    if not m:
        return None
    return extract.parse_date(m.group(3), m.group(2), m.group(1))


def _clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return _CONTROLS.sub(lambda m: "\n" if m.group() in "\r\x0c\x0b" else "", text)


def _clean_inline(text: str) -> str:
    return " ".join(_clean_text(text).split())


def _clean_paragraphs(text: str) -> list[str]:
    lines = (" ".join(line.split()) for line in _clean_text(text).split("\n"))
    return [line for line in lines if line]


# ---------------------------------------------------------------------------------------
# Assembling a bulletin


@dataclass(frozen=True, slots=True)
class Given:
    """Metadata a record states itself; it wins over what the text suggests."""

    date: datetime.date | None = None
    has_date: bool = False  # a "date" was given, even if unreadable: then it stays None
    author: str | None = None
    source_unit: str | None = None
    locality: str | None = None
    province: str | None = None
    url: str | None = None


def make_bulletin(
    *,
    id: str,
    title: str,
    paragraphs: Sequence[str],
    source: str,
    meta: Sequence[str] = (),
    given: Given | None = None,
) -> Bulletin:
    """A `Bulletin` with what was given, and the rest inferred from title and text."""
    given = given or Given()
    body = "\n\n".join(paragraphs)
    date = given.date if given.has_date else extract.extract_date("\n".join([*meta, body]))
    author, unit = extract.extract_author(body)
    if given.author:
        if author is not None and not extract.same_name(author, given.author):
            unit = None  # the byline in the text is someone else's
        author = given.author
    unit = given.source_unit or unit
    locality, province, current = _place(title, body, given)
    return Bulletin(
        id=id,
        title=title,
        body=body,
        date=date,
        author=author,
        source_unit=unit,
        locality=locality,
        province=province,
        province_current=current,
        url=given.url,
        source=source,
    )


def _place(title: str, body: str, given: Given) -> tuple[str | None, str | None, str | None]:
    if given.locality:
        province, current = extract.extract_province_of(given.locality, title, body)
        if given.province:
            province = given.province
            current = _current_of(given.province)
        return given.locality, province, current
    if given.province:
        known = gazetteer.load().province(given.province)
        if known is None:
            return None, given.province, None
        locality, _province, _current = extract.extract_locality(
            title, body, province_hint=given.province
        )
        return locality, given.province, known.current
    return extract.extract_locality(title, body)


def _current_of(province: str) -> str | None:
    known = gazetteer.load().province(province)
    return known.current if known else None
