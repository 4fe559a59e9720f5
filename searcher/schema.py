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
SCHEMA_VERSION = 1

TITLE_BOOST = 2.5

#: Fields searched for free text, with their per-field BM25F boost.
TEXT_FIELDS = {
    "title": TITLE_BOOST,
    "body": 1.0,
}

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
