"""What every reader shares: the size limits, text cleaning, and the making of a `Bulletin`.

A reader finds a title, paragraphs and whatever metadata its format states (`Given`);
`make_bulletin` infers the rest from the text (`index.extract`), the stated values winning.
"""

from __future__ import annotations

import datetime
import gzip
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from index.bulletin import Bulletin, Skipped
from index.extract import (
    extract_author,
    extract_date,
    extract_locality,
    extract_province_of,
    parse_date,
    same_name,
)
from index.gazetteer import load as load_gazetteer

Record = Bulletin | Skipped

# One article (a file, or a JSON line) is read whole; past this it is not a bulletin but a
# mistake, and reading it would cost several times its size in memory.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
# Text (title and body) of one bulletin, 10x the longest of 95,000 real ones: indexing holds a
# few hundred bytes per character while it segments and inverts one, so a longer text is
# skipped rather than allowed to take gigabytes.
MAX_BULLETIN_CHARS = 500_000

# What a portal or an exporter puts where a photo is, instead of a caption: "Anh-tin-bai",
# "image advertisement", "ảnh", a file name ("IMG_0231.JPG").
_IMAGE_PLACEHOLDER = re.compile(
    r"^(?:image(?: advertisement| banner)?|ảnh|hình|hình ảnh|anh[-_ ]?tin[-_ ]?bai"
    r"|[\w\-. ]+\.(?:jpe?g|png|gif|webp|bmp|svg|tiff?))$",
    re.IGNORECASE,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def io_reason(exc: BaseException) -> str:
    """Why a file could not be read, in the words of the rebuild summary."""
    if isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error):
        return f"corrupt gzip file: {exc}"
    strerror = getattr(exc, "strerror", None)
    return f"cannot read file: {strerror or exc}"


def refuse_too_long(where: str, title: str, paragraphs: Sequence[str]) -> Skipped | None:
    """A `Skipped` when the text is past `MAX_BULLETIN_CHARS`, else None."""
    chars = len(title) + sum(len(p) for p in paragraphs)
    if chars <= MAX_BULLETIN_CHARS:
        return None
    return Skipped(
        where,
        f"bulletin too long to index ({chars:,} characters; the limit is {MAX_BULLETIN_CHARS:,})",
    )


def optional_str(value: Any) -> str | None:
    """A stated metadata value, cleaned; None unless it is a non-blank string."""
    if not isinstance(value, str):
        return None
    value = clean_inline(value)
    return value or None


def iso_date(value: Any) -> datetime.date | None:
    """A date from "YYYY-MM-DD" (a time after it is ignored); None when it is not one."""
    if not isinstance(value, str):
        return None
    m = re.match(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T\s])", value)
    if not m:
        return None
    return parse_date(m.group(3), m.group(2), m.group(1))


def _clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return _CONTROLS.sub(lambda m: "\n" if m.group() in "\r\x0c\x0b" else "", text)


def clean_inline(text: str) -> str:
    return " ".join(_clean_text(text).split())


def clean_paragraphs(text: str) -> list[str]:
    lines = (" ".join(line.split()) for line in _clean_text(text).split("\n"))
    return [line for line in lines if line]


def is_image_placeholder(text: str) -> bool:
    """Whether a would-be caption only stands for the image ("Anh-tin-bai", a file name)."""
    return bool(_IMAGE_PLACEHOLDER.match(text.strip(" .:()[]")))


def clean_captions(values: Any) -> tuple[str, ...]:
    """Captions as one line each, placeholders and repeats left out, in their order.

    Anything but a list of strings (a JSON ``"captions": "…"``, numbers) gives no captions.
    """
    if not isinstance(values, list | tuple):
        return ()
    captions: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        caption = clean_inline(value)
        if caption and not is_image_placeholder(caption) and caption not in captions:
            captions.append(caption)
    return tuple(captions)


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
    captions: Sequence[str] = (),
) -> Bulletin:
    """A `Bulletin` with what was given, and the rest inferred from title and text.

    Captions take no part in the inference: a name under a photo is not the author."""
    given = given or Given()
    body = "\n\n".join(paragraphs)
    date = given.date if given.has_date else extract_date("\n".join([*meta, body]))
    author, unit = extract_author(body)
    if given.author:
        if author is not None and not same_name(author, given.author):
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
        captions=clean_captions(list(captions)),
    )


def _place(title: str, body: str, given: Given) -> tuple[str | None, str | None, str | None]:
    if given.locality:
        province, current = extract_province_of(given.locality, title, body)
        if given.province:
            province = given.province
            current = _current_of(given.province)
        return given.locality, province, current
    if given.province:
        known = load_gazetteer().province(given.province)
        if known is None:
            return None, given.province, None
        locality, _province, _current = extract_locality(title, body, province_hint=given.province)
        return locality, given.province, known.current
    return extract_locality(title, body)


def _current_of(province: str) -> str | None:
    known = load_gazetteer().province(province)
    return known.current if known else None
