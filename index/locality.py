"""Which district-level unit and province a bulletin is about, from the places it mentions.

:mod:`index.gazetteer` finds the mentions (with their weights); this module weighs them: a
district name shared by several provinces is settled by the provinces the text points at, and
the unit with the most weight wins if it has enough.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.gazetteer import District, Mention, Province, load


@dataclass(frozen=True, slots=True)
class Resolution:
    locality: str | None = None
    province: str | None = None
    province_current: str | None = None


_MIN_LOCALITY_SCORE = 1.0  # a typed mention anywhere, or a bare one in the lead or title
_HINT_WEIGHT = 100.0  # a province the record states outweighs any the text suggests


def province_evidence(
    mentions: Iterable[Mention], province_hint: Province | None = None
) -> dict[Province, float]:
    """How strongly the mentions point at each province.

    The weight of each province mention, plus that of each district mention whose name
    exists in one province only, plus a strong hint (a JSONL record's "province").
    """
    evidence: dict[Province, float] = defaultdict(float)
    if province_hint is not None:
        evidence[province_hint] += _HINT_WEIGHT
    for m in mentions:
        if m.province is not None:
            evidence[m.province] += m.weight
        elif len({d.province for d in m.districts}) == 1:
            evidence[m.districts[0].province] += m.weight
    return evidence


def resolve_mentions(
    mentions: Sequence[Mention], province_hint: Province | None = None
) -> tuple[str | None, Province | None]:
    """(locality, province) the mentions are mostly about.

    A district name found in several provinces ("Huyện Châu Thành") goes to the province
    with the most evidence (see `province_evidence`); with none, its province stays unknown
    rather than guessed. Then the unit with the highest total weight wins, ties going to
    the earliest mention, then to the more specific unit (a thị xã or thành phố over the
    huyện of the same name), then by name: never to set order, which varies with
    PYTHONHASHSEED. It must weigh at least a typed mention in the body, so a name met
    once in passing is not taken for the subject. With no locality, the province is the
    one with the most evidence, unless two tie.
    """
    evidence = province_evidence(mentions, province_hint)
    scores: dict[tuple[str, Province | None], float] = defaultdict(float)
    first_seen: dict[tuple[str, Province | None], int] = {}
    for m in mentions:
        candidates = m.districts
        if len({d.province for d in candidates}) > 1:
            best = max(evidence.get(d.province, 0.0) for d in candidates)
            if best > 0:
                candidates = tuple(d for d in candidates if evidence.get(d.province) == best)
        if province_hint is not None:
            candidates = tuple(d for d in candidates if d.province == province_hint)
        if not candidates:
            continue
        provinces = {d.province for d in candidates}
        province = provinces.pop() if len(provinces) == 1 else None
        names = sorted({_named(d, m.named_type, m.written) for d in candidates})
        for name in names:  # "Cao Lãnh" alone: half to the city, half to the district
            unit = (name, province)
            scores[unit] += m.weight / len(names)
            first_seen.setdefault(unit, m.start)

    if scores:
        unit = max(scores, key=lambda u: (scores[u], -first_seen[u], _specificity(u[0]), u[0]))
        if scores[unit] >= _MIN_LOCALITY_SCORE:
            return unit
    if province_hint is not None:
        return None, province_hint
    if evidence:
        ranked = sorted(evidence.values(), reverse=True)
        if len(ranked) == 1 or ranked[0] > ranked[1]:
            return None, max(evidence, key=lambda p: evidence[p])
    return None, None


# Which of two units that tie on a bare name ("Cai Lậy" is a huyện and a thị xã) wins: the
# town, the smaller and more specific unit, which the bare name most often means in the news.
_SPECIFICITY = (("thành phố", 3), ("thị xã", 2), ("quận", 2), ("huyện", 1))


def _specificity(name: str) -> int:
    """How specific a unit's type is, for breaking ties deterministically (never by hash)."""
    lowered = name.lower()
    return next((rank for prefix, rank in _SPECIFICITY if lowered.startswith(prefix)), 0)


def _named(d: District, named_type: str | None, written: str | None = None) -> str:
    """The unit as the bulletin names it: "thị xã Hồng Ngự" stays a thị xã."""
    if written is not None:
        return f"{named_type} {written}"
    if named_type is None or named_type == d.type:
        return d.name
    return f"{named_type} {d.short}"


def resolve(
    sections: Iterable[tuple[str, float]], *, province_hint: str | None = None
) -> Resolution:
    """The locality and province that weighted pieces of text (title, lead, body) are about."""
    gaz = load()
    hint = gaz.province(province_hint) if province_hint else None
    mentions: list[Mention] = []
    offset = 0
    for text, weight in sections:
        for m in gaz.mentions(text, weight):
            mentions.append(dataclasses.replace(m, start=m.start + offset))
        offset += len(text) + 1
    locality, province = resolve_mentions(mentions, hint)
    if province is None:
        return Resolution(locality=locality)
    return Resolution(locality, province.name, province.current)


def province_of(name: str, sections: Iterable[tuple[str, float]] = ()) -> Province | None:
    """The province of a district given by name; text mentions settle a shared name."""
    gaz = load()
    candidates = gaz.districts_named(name)
    provinces = {d.province.code: d.province for d in candidates}
    if len(provinces) <= 1:
        return next(iter(provinces.values()), None)
    mentions = [m for text, weight in sections for m in gaz.mentions(text, weight)]
    evidence = province_evidence(mentions)
    scored = sorted(((evidence.get(p, 0.0), p.code) for p in provinces.values()), reverse=True)
    if scored[0][0] > 0 and scored[0][0] > scored[1][0]:
        return provinces[scored[0][1]]
    return None
