"""The query plan: how the typed units of a parsed query become Whoosh clauses.

One place answers "how do typed words become Whoosh clauses?": each unit matches any of its
alternatives in the folded fields (and, for an accented query, the accented fields too); groups
are required together, or any of them when nothing matches all; adjacent syllables the index
holds as compound words add optional boosts; excluded units are subtracted. ``PlanOptions``
names the choices the relevance benchmark switches off (its ablations) instead of patching.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from whoosh import query as wq

from searcher.analysis import analyze, fold
from searcher.highlight import Pattern
from searcher.query import ParsedQuery, Unit
from searcher.schema import TEXT_FIELDS, folded_name

#: Whether the index holds a term: ``known(field, term)``.
TermLookup = Callable[[str, str], bool]


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Choices of the plan; the defaults are the product, the others are experiments."""

    #: Query the folded fields (accent-insensitive matching). False: accented fields only,
    #: with the words as typed, so an unaccented query matches only unaccented words.
    folding: bool = True
    #: Add optional boosts for adjacent syllables the index holds as compound words.
    compound_boosts: bool = True
    #: A query typed with accents searches the accented fields only (a what-if variant).
    accent_exact: bool = False


#: The product's plan.
PRODUCT_PLAN = PlanOptions()


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """Builds the Whoosh queries of one parsed query under ``options``."""

    parsed: ParsedQuery
    options: PlanOptions = PRODUCT_PLAN

    def required(self) -> wq.Query:
        """Every group must match (a group: any of its units)."""
        return wq.And([self._group(group) for group in self.parsed.groups])

    def loose(self) -> wq.Query:
        """Any group may match: the fallback when no bulletin holds every group."""
        return wq.Or([self._group(group) for group in self.parsed.groups])

    def finish(self, matching: wq.Query, boosts: list[wq.Query]) -> wq.Query:
        """``matching`` with the optional ``boosts`` and without the excluded units."""
        query: wq.Query = wq.AndMaybe(matching, wq.Or(boosts)) if boosts else matching
        if self.parsed.excluded:
            excluded = wq.Or([unit_query(u, False, self.options) for u in self.parsed.excluded])
            query = wq.AndNot(query, excluded)
        return query

    def compound_boosts(self, known: TermLookup) -> list[wq.Query]:
        """Optional terms for adjacent query syllables that the index holds as compound words.

        pyvi leaves unaccented or lower-cased queries unsegmented, so candidates come from
        every adjacent pair and triple, kept when the index has them; an accented query's own
        segmentation adds its compounds too.
        """
        if not self.options.compound_boosts:
            return []
        parsed = self.parsed
        candidates = {tuple(c) for c in parsed.compound_candidates}
        if parsed.accented:
            candidates |= {
                tuple(t.text.split("_")) for t in analyze(parsed.text) if t.kind == "compound"
            }
        folding = self.options.folding
        boosts: list[wq.Query] = []
        for words in sorted(candidates):
            accented_term = "_".join(words)
            folded_term = fold(accented_term)
            for name in TEXT_FIELDS:
                if folding and known(folded_name(name), folded_term):
                    boosts.append(wq.Term(folded_name(name), folded_term))
                if (parsed.accented or not folding) and known(name, accented_term):
                    boosts.append(wq.Term(name, accented_term))
        return boosts

    def _group(self, group: tuple[Unit, ...]) -> wq.Query:
        queries = [unit_query(unit, self.parsed.accented, self.options) for unit in group]
        return queries[0] if len(queries) == 1 else wq.Or(queries)


def unit_query(unit: Unit, accented: bool, options: PlanOptions = PRODUCT_PLAN) -> wq.Query:
    """A unit matches any of its alternatives in any of its fields, folded or exact."""
    if not options.folding or (accented and options.accent_exact):
        return _accented_only(unit)
    fields = [unit.field] if unit.field else list(TEXT_FIELDS)
    clauses: list[wq.Query] = []
    for words in unit.alternatives:
        folded = [fold(w) for w in words]
        for name in fields:
            if len(words) == 1:
                clauses.append(wq.Term(folded_name(name), folded[0]))
                if accented:
                    clauses.append(wq.Term(name, words[0]))
            else:
                clauses.append(wq.Phrase(folded_name(name), folded))
                if accented:
                    clauses.append(wq.Phrase(name, list(words)))
    if unit.protected:
        for name in fields:
            clauses.append(wq.Term(folded_name(name), fold(unit.protected)))
    return clauses[0] if len(clauses) == 1 else wq.Or(clauses)


def _accented_only(unit: Unit) -> wq.Query:
    """A unit's words as typed, in the accented fields only."""
    names = [unit.field] if unit.field else list(TEXT_FIELDS)
    clauses: list[wq.Query] = []
    for words in unit.alternatives:
        for name in names:
            if len(words) == 1:
                clauses.append(wq.Term(name, words[0]))
            else:
                clauses.append(wq.Phrase(name, list(words)))
    if unit.protected:
        clauses.extend(wq.Term(name, unit.protected) for name in names)
    return clauses[0] if len(clauses) == 1 else wq.Or(clauses)


def all_words_query(folded_words: list[str], options: PlanOptions = PRODUCT_PLAN) -> wq.Query:
    """Every folded word somewhere in a bulletin (to check a spelling correction)."""
    return wq.And([unit_query(Unit(((w,),)), False, options) for w in folded_words])


def highlight_patterns(parsed: ParsedQuery, meant: Sequence[tuple[str, ...]] = ()) -> list[Pattern]:
    """What to mark in titles and snippets: every alternative of every positive unit.

    ``meant``, the accented words an unaccented query was restored to with confidence (see
    :mod:`searcher.restore`), replaces the typed words' first alternatives: those words are
    marked, not every look-alike that folds to the same letters.
    """
    patterns = [Pattern(tuple(fold(w) for w in words), words) for words in meant]
    for unit in parsed.positive_units():
        for words in unit.alternatives[1:] if meant else unit.alternatives:
            patterns.append(
                Pattern(tuple(fold(w) for w in words), tuple(words) if parsed.accented else None)
            )
    return patterns


def leaf_terms(query: wq.Query) -> list[wq.Query]:
    """The terms and phrases of ``query`` (each scored on its own by ``explain``)."""
    if isinstance(query, wq.Term | wq.Phrase):
        return [query]
    leaves: list[wq.Query] = []
    for child in query.children():
        leaves.extend(leaf_terms(child))
    return leaves
