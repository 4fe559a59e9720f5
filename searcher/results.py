"""Plain result objects: what a search returns, with ``to_dict()`` giving the JSON contract.

No Whoosh type crosses this boundary: the searcher builds these before its Whoosh searcher
closes, so callers can keep them as long as they like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked bulletin, with HTML-safe highlighted title and snippet."""

    id: str
    title: str
    title_html: str
    snippet: str
    date: str | None
    locality: str | None
    province: str | None
    author: str | None
    url: str | None
    score: float
    explanation: str | None = None  # filled when the search was asked to explain

    def to_dict(self) -> dict[str, Any]:
        """The hit as in the JSON contract (the explanation only when present)."""
        data = {
            "id": self.id,
            "title": self.title,
            "title_html": self.title_html,
            "snippet": self.snippet,
            "date": self.date,
            "locality": self.locality,
            "province": self.province,
            "author": self.author,
            "url": self.url,
            "score": round(self.score, 4),
        }
        if self.explanation is not None:
            data["explanation"] = self.explanation
        return data


@dataclass(frozen=True, slots=True)
class FacetValue:
    """One value of a facet and how many matching bulletins carry it."""

    value: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count}


@dataclass(frozen=True, slots=True)
class Results:
    """One page of results, the facets of the whole result set, and notes for the user."""

    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    suggestion: str | None
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    #: Human-readable notes (in Vietnamese) about how the query was understood: ignored syntax,
    #: a partial-match fallback, a query cut to the length limit. Not part of the JSON contract.
    warnings: list[str] = field(default_factory=list)
    #: True when no bulletin held every word and the best partial matches are shown.
    partial: bool = False

    @property
    def pages(self) -> int:
        """Number of pages at this page size."""
        return max(1, -(-self.total // self.per_page))

    def to_dict(self) -> dict[str, Any]:
        """Exactly the JSON object of the search contract."""
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "took_ms": round(self.took_ms, 2),
            "suggestion": self.suggestion,
            "hits": [hit.to_dict() for hit in self.hits],
            "facets": {
                name: [value.to_dict() for value in values] for name, values in self.facets.items()
            },
        }


@dataclass(frozen=True, slots=True)
class Document:
    """One whole bulletin: cleaned text and metadata."""

    id: str
    title: str
    body: str
    date: str | None
    locality: str | None
    province: str | None
    province_current: str | None
    author: str | None
    source_unit: str | None
    url: str | None
    source: str | None
    #: Photo captions, one string each, in the order of the page.
    captions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "captions": list(self.captions),
            "date": self.date,
            "locality": self.locality,
            "province": self.province,
            "province_current": self.province_current,
            "author": self.author,
            "source_unit": self.source_unit,
            "url": self.url,
            "source": self.source,
        }
