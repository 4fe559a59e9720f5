"""The index schema: which fields exist, how each is analysed, and the schema version.

Text fields come in pairs: the accented field keeps canonical accented terms (so a query typed
with accents can prefer "bán" to "bạn"), the folded field holds the same tokens without marks
(so "cai cach" finds "cải cách"). Facet fields are sortable columns so facet counts read arrays
instead of stored documents.
"""

from __future__ import annotations

from whoosh import fields

from searcher.analysis import VietnameseAnalyzer

#: Bump when fields or analysis change in a way an old index cannot serve; the searcher refuses
#: an index with another version and asks for a rebuild.
#: 2: photo captions in their own fields; canonical number tokens ("1.500" → "1500").
SCHEMA_VERSION = 2

TITLE_BOOST = 2.5
#: Captions weigh less than the body: a few words under a photo, often names, should not
#: outrank the article's prose, yet a query that is the caption still finds its bulletin.
CAPTION_BOOST = 0.8

#: Fields searched for free text, with their per-field BM25F boost.
TEXT_FIELDS = {
    "title": TITLE_BOOST,
    "body": 1.0,
    "captions": CAPTION_BOOST,
}

#: Between the captions of one bulletin in the stored ``captions`` value (one caption a line).
CAPTION_SEPARATOR = "\n"

#: Facets shown to users, in display order, and the stored field each reads.
FACET_FIELDS = ("province", "locality", "year")


def folded_name(field: str) -> str:
    """The folded companion of a text field."""
    return f"{field}_folded"


def build_schema() -> fields.Schema:
    """A fresh schema; the analyzers are pickled into the index with it."""
    accented = VietnameseAnalyzer(folded=False)
    folded = VietnameseAnalyzer(folded=True)
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=accented, stored=True, field_boost=TITLE_BOOST),
        title_folded=fields.TEXT(analyzer=folded, field_boost=TITLE_BOOST),
        body=fields.TEXT(analyzer=accented, stored=True),
        body_folded=fields.TEXT(analyzer=folded),
        captions=fields.TEXT(analyzer=accented, stored=True, field_boost=CAPTION_BOOST),
        captions_folded=fields.TEXT(analyzer=folded, field_boost=CAPTION_BOOST),
        date=fields.ID(stored=True, sortable=True),
        year=fields.ID(stored=True, sortable=True),
        locality=fields.ID(stored=True, sortable=True),
        province=fields.ID(stored=True, sortable=True),
        province_current=fields.STORED(),
        author=fields.STORED(),
        source_unit=fields.STORED(),
        url=fields.STORED(),
        source=fields.STORED(),
        source_path=fields.ID(stored=True),
        content_hash=fields.STORED(),
    )


def split_captions(stored: str | None) -> tuple[str, ...]:
    """The captions of a stored ``captions`` value (None in an index without them)."""
    return tuple(line for line in (stored or "").split(CAPTION_SEPARATOR) if line)
