"""The records the readers hand to the index builder.

Plain frozen dataclasses, so the Whoosh side depends on nothing but these names.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bulletin:
    """One clean bulletin: the article only, with the metadata we found or were given."""

    id: str
    title: str
    body: str  # article paragraphs joined by "\n\n", NFC, no portal furniture
    date: datetime.date | None = None
    author: str | None = None  # the person: "Thanh Nghĩa"
    source_unit: str | None = None  # the unit in the signature or source line: "Nội vụ"
    locality: str | None = None  # district-level unit, full name: "Thành phố Sa Đéc"
    province: str | None = None  # its province in the 63-province system: "Đồng Tháp"
    province_current: str | None = None  # the province after the July 2025 merger
    url: str | None = None
    source: str | None = None  # file path as given, "path:lineno", or the JSON "source"
    #: Photo captions, each one line ("Quang cảnh hội nghị"): searchable, shown apart from
    #: the body. Image placeholders ("Anh-tin-bai", file names) are never among them.
    captions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input we could not turn into a bulletin, with a reason a person can act on."""

    source: str  # file path, or "path:lineno"
    reason: str
