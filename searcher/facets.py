"""Facets and filters over one generation: province, locality and year as integer codes.

Each facet column is read once per generation into a numpy array of codes (code 0: no value),
so a filter is a boolean mask over document numbers and counting the matches' facets is a
gather and a ``bincount``, not a pass over Whoosh's stored columns per search.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from searcher.analysis import fold
from searcher.results import FacetValue
from searcher.schema import FACET_FIELDS

#: Facet values listed per facet (the rest are summed up by nobody; the UI shows the top ones).
FACET_LIMIT = 50


@dataclass
class FacetColumns:
    """Every bulletin's facet codes, and each code's value, for one generation."""

    codes: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, list[str | None]] = field(default_factory=dict)
    _ranks: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def read(cls, reader: Any) -> FacetColumns:
        """The facet columns of a Whoosh reader, with their combinations computed now rather
        than by the first search."""
        columns = cls()
        size = reader.doc_count_all()
        for name in FACET_FIELDS:
            column = reader.column_reader(name, translate=True)
            codes = np.zeros(size, dtype=np.int32)
            values: list[str | None] = [None]
            code_of: dict[str, int] = {}
            for docnum in range(size):
                value = column[docnum]
                if not value:
                    continue
                code = code_of.get(value)
                if code is None:
                    code = code_of[value] = len(values)
                    values.append(value)
                codes[docnum] = code
            columns.codes[name] = codes
            columns.values[name] = values
        _ = columns.combinations
        return columns

    def rank(self, name: str) -> np.ndarray:
        """Each facet code's place in the alphabetical order of the values (code 0: none)."""
        rank = self._ranks.get(name)
        if rank is None:
            values = self.values[name]
            order = sorted(range(1, len(values)), key=lambda code: values[code] or "")
            rank = np.zeros(len(values), dtype=np.int64)
            rank[order] = np.arange(1, len(values))
            self._ranks[name] = rank
        return rank

    @cached_property
    def combinations(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Each bulletin's combination of facet codes (province, locality, year) as one code,
        and each combination's code per facet. Counting the matches' combinations is one
        gather and one ``bincount`` over the match set instead of one per facet: a few
        thousand combinations stand for the whole index."""
        names = list(self.codes)
        if not names:
            return np.zeros(0, dtype=np.int32), {}
        key = np.zeros(self.codes[names[0]].size, dtype=np.int64)
        for name in names:
            key = key * len(self.values[name]) + self.codes[name]
        unique, combination = np.unique(key, return_inverse=True)
        per_facet: dict[str, np.ndarray] = {}
        for name in reversed(names):
            unique, per_facet[name] = np.divmod(unique, len(self.values[name]))
        return combination.astype(np.int32).ravel(), per_facet

    def count(self, matched: np.ndarray) -> dict[str, list[FacetValue]]:
        """The most frequent values of each facet among the ``matched`` documents."""
        facets: dict[str, list[FacetValue]] = {}
        combination, per_facet = self.combinations
        combinations = len(next(iter(per_facet.values()), ()))
        matches_of = np.bincount(combination[matched], minlength=combinations)
        for name in FACET_FIELDS:
            values = self.values[name]
            counts = np.bincount(per_facet[name], weights=matches_of, minlength=len(values))
            counts = counts.astype(np.int64)
            # Most bulletins first; ties by value (years newest first), all in numpy.
            present = np.flatnonzero(counts[1:]) + 1
            rank = self.rank(name)[present]
            tie = -rank if name == "year" else rank
            listed = present[np.lexsort((tie, -counts[present]))][:FACET_LIMIT]
            facets[name] = [
                FacetValue(str(values[code]), count)
                for code, count in zip(listed.tolist(), counts[listed].tolist(), strict=True)
            ]
        return facets


def filter_mask(
    columns: FacetColumns,
    reader: Any,
    locality: str | None,
    province: str | None,
    year: str | int | None,
    date_from: dt.date | str | None,
    date_to: dt.date | str | None,
) -> tuple[np.ndarray | None, list[str]]:
    """A boolean mask over document numbers (None when nothing filters), and warnings."""
    warnings: list[str] = []
    mask: np.ndarray | None = None

    def narrow(selected: np.ndarray) -> None:
        nonlocal mask
        mask = selected if mask is None else (mask & selected)

    for name, wanted in (("locality", locality), ("province", province)):
        if wanted is None or not str(wanted).strip():
            continue
        codes = matching_codes(columns.values[name], str(wanted))
        if not codes:
            warnings.append(f"Không có địa bàn nào khớp với “{wanted}”.")
        narrow(np.isin(columns.codes[name], codes))
    if year is not None and str(year).strip():
        codes = [i for i, v in enumerate(columns.values["year"]) if v == str(year).strip()]
        narrow(np.isin(columns.codes["year"], codes))
    if date_from is not None or date_to is not None:
        narrow(_date_mask(reader, date_from, date_to))
    return mask, warnings


def _date_mask(
    reader: Any, date_from: dt.date | str | None, date_to: dt.date | str | None
) -> np.ndarray:
    low = str(date_from)[:10] if date_from else ""
    high = str(date_to)[:10] if date_to else "9999-12-31"
    column = reader.column_reader("date", translate=True)
    size = reader.doc_count_all()
    return np.fromiter(
        (bool(column[d]) and low <= column[d] <= high for d in range(size)),
        dtype=bool,
        count=size,
    )


def matching_codes(values: list[str | None], wanted: str) -> list[int]:
    """Codes of facet values matching ``wanted``: exactly, else as a run of folded words."""
    exact = [i for i, v in enumerate(values) if v is not None and v.casefold() == wanted.casefold()]
    if exact:
        return exact
    target = fold(wanted).split()
    found: list[int] = []
    for code, value in enumerate(values):
        if value is None:
            continue
        words = fold(value).split()
        if any(words[i : i + len(target)] == target for i in range(len(words) - len(target) + 1)):
            found.append(code)
    return found
