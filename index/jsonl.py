"""Read JSON Lines: one bulletin per line, streamed, so a huge file takes the memory of a line."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, Any

from index.bulletin import Skipped
from index.encoding import (
    EMPTY,
    VNI,
    DecodeError,
    convert_tcvn3,
    decode_line,
    legacy_encoding,
    sniff_bom,
)
from index.records import (
    MAX_DOCUMENT_BYTES,
    Given,
    Record,
    clean_captions,
    clean_inline,
    clean_paragraphs,
    io_reason,
    iso_date,
    make_bulletin,
    optional_str,
    refuse_too_long,
)


def open_lines(source: str, compressed: bool) -> AbstractContextManager[IO[bytes]]:
    """The file as a binary stream, read lazily (gzip decompressed on the fly)."""
    return gzip.open(source, "rb") if compressed else open(source, "rb")


def read_jsonl(source: str, compressed: bool) -> Iterator[Record]:
    records = 0
    with open_lines(source, compressed) as raw:
        codec = sniff_bom(raw.read(4))
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
                io_reason(exc)
                if not isinstance(exc, UnicodeDecodeError)
                else (f"undecodable bytes ({codec}) after line {lineno}")
            )
            yield Skipped(source, reason)
            return
    if records == 0:
        yield Skipped(source, EMPTY)


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


def _jsonl_record(source: str, lineno: int, line: bytes | str) -> Record:
    where = f"{source}:{lineno}"
    try:
        text = decode_line(line) if isinstance(line, bytes) else line
    except DecodeError as exc:
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
    title = clean_inline(obj["title"])
    paragraphs = clean_paragraphs(obj["body"])
    if not title:
        return Skipped(where, "field 'title' is empty")
    if not paragraphs:
        return Skipped(where, "field 'body' is empty")
    if too_long := refuse_too_long(where, title, paragraphs):
        return too_long
    kind = legacy_encoding(title + "\n" + "\n".join(paragraphs[:20]))
    if kind == "vni":
        return Skipped(where, VNI)
    if kind == "tcvn3":
        title = convert_tcvn3(title)
        paragraphs = [convert_tcvn3(p) for p in paragraphs]
    has_date = obj.get("date") not in (None, "")
    captions = clean_captions(obj.get("captions"))
    if kind == "tcvn3":
        captions = tuple(convert_tcvn3(c) for c in captions)
    return make_bulletin(
        id=raw_id,
        title=title,
        paragraphs=paragraphs,
        source=optional_str(obj.get("source")) or where,
        given=Given(
            date=iso_date(obj.get("date")) if has_date else None,
            has_date=has_date,
            author=optional_str(obj.get("author")),
            locality=optional_str(obj.get("locality")),
            province=optional_str(obj.get("province")),
            url=optional_str(obj.get("url")),
        ),
        captions=captions,
    )
