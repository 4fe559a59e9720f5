"""Search arguments: read from a query string, validated, and written back into URLs.

Pure: the limits come in as a mapping (the app's config), so this is testable without a
request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from werkzeug.datastructures import MultiDict

#: Filters in display order; each is also a facet of the results.
FILTERS = ("province", "locality", "year")
SORTS = {"relevance": "Liên quan nhất", "date": "Mới nhất"}
MAX_FILTER_LENGTH = 200


class ArgumentError(ValueError):
    """A request argument the strict surfaces (API, feed) refuse with a 400."""


@dataclass(frozen=True, slots=True)
class SearchArgs:
    """The validated arguments of a search, and how to write them back into a URL."""

    q: str = ""
    province: str | None = None
    locality: str | None = None
    year: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 10
    #: The app's page size: a ``per_page`` equal to it is left out of URLs.
    default_per_page: int = field(default=10, compare=False)

    @property
    def filters(self) -> dict[str, str]:
        """The active filters, in display order."""
        return {name: value for name in FILTERS if (value := getattr(self, name))}

    def params(self, **changes: Any) -> dict[str, Any]:
        """Query-string parameters for these arguments with ``changes``; defaults left out."""
        args = replace(self, **changes)
        params: dict[str, Any] = {}
        if args.q:
            params["q"] = args.q
        params.update(args.filters)
        if args.sort != "relevance":
            params["sort"] = args.sort
        if args.page != 1:
            params["page"] = args.page
        if args.per_page != args.default_per_page:
            params["per_page"] = args.per_page
        return params


def _int_arg(raw: str | None, name: str, low: int, high: int, default: int, strict: bool) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        if strict:
            raise ArgumentError(f"'{name}' must be an integer from {low} to {high}") from None
        return default
    if low <= value <= high:
        return value
    if strict:
        raise ArgumentError(f"'{name}' must be an integer from {low} to {high}")
    return min(max(value, low), high)


def parse_search_args(
    raw: MultiDict[str, str],
    config: Mapping[str, Any],
    *,
    strict: bool,
    default_sort: str = "relevance",
) -> tuple[SearchArgs, list[str]]:
    """Read search arguments from a query string, within the limits of ``config``.

    ``strict`` (API, feed): anything invalid raises ArgumentError, for a 400. Otherwise (HTML
    pages) invalid values fall back to defaults, an over-long query is cut, and the returned
    notes tell the visitor. Unknown parameters are ignored either way.
    """
    notes: list[str] = []
    q = (raw.get("q") or "").strip()
    max_length = config["MAX_QUERY_LENGTH"]
    if len(q) > max_length:
        if strict:
            raise ArgumentError(f"'q' is longer than {max_length} characters")
        q = q[:max_length].strip()
        notes.append(f"Câu tìm kiếm quá dài nên chỉ dùng {max_length} ký tự đầu tiên.")

    filters: dict[str, str | None] = {}
    for name in FILTERS:
        value = (raw.get(name) or "").strip() or None
        if value is not None and len(value) > MAX_FILTER_LENGTH:
            if strict:
                raise ArgumentError(f"'{name}' is longer than {MAX_FILTER_LENGTH} characters")
            value = None
        if name == "year" and value is not None and not re.fullmatch(r"\d{4}", value):
            if strict:
                raise ArgumentError("'year' must be a four-digit year")
            value = None
        filters[name] = value

    sort = (raw.get("sort") or "").strip() or default_sort
    if sort not in SORTS:
        if strict:
            raise ArgumentError(f"'sort' must be one of: {', '.join(SORTS)}")
        sort = default_sort

    page = _int_arg(raw.get("page"), "page", 1, config["MAX_PAGE"], 1, strict)
    default_per_page = config["PER_PAGE"]
    per_page = _int_arg(
        raw.get("per_page"), "per_page", 1, config["MAX_PER_PAGE"], default_per_page, strict
    )
    args = SearchArgs(
        q=q,
        sort=sort,
        page=page,
        per_page=per_page,
        default_per_page=default_per_page,
        **filters,
    )
    return args, notes
