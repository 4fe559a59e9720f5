"""The query plan: how the typed units of a parsed query become Whoosh clauses.

One place answers "how do typed words become Whoosh clauses?": each unit matches any of its
alternatives in the folded fields (and, for an accented query, the accented fields too); groups
are required together, or any of them when nothing matches all; adjacent syllables the index
holds as compound words, adjacent words standing side by side, and a run of typed words
standing whole in a title add optional boosts; excluded units are subtracted.
``PlanOptions`` names the choices the relevance benchmark switches off (its ablations) instead
of patching.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise, product

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
    #: The any-word match of a query typed with accents searches the accented fields only
    #: (its folded look-alikes only add noise once any one word is enough).
    fallback_accent_exact: bool = True
    #: Queries of more units than this match any of them (0: never): a long question or a
    #: pasted sentence is rarely held whole by one bulletin, and the few that hold all its
    #: words through folded look-alikes must not hide the one that answers it.
    any_word_above: int = 12
    #: Boost of the optional phrase clause of each pair of adjacent query words (0: none): a
    #: bulletin holding them side by side and in order ranks above one that scatters them.
    proximity: float = 1.0
    #: Factors on ``proximity`` for the pairs of a query matched any word (more than
    #: ``any_word_above`` units), in the title and in the other fields: a question sharing a
    #: phrase or two with an article's short title says little about the answer, its words
    #: side by side in the article's text say more (ALQAC: docs/relevance.md).
    any_word_title_proximity: float = 0.0
    any_word_text_proximity: float = 2.0
    #: Boost of the optional phrase clause, in the title, of each run of three or more words
    #: typed side by side (0: none): a fragment of a title, or the whole title, ranks its
    #: bulletin above those holding most of its pairs apart.
    title_run: float = 2.0


#: The product's plan.
PRODUCT_PLAN = PlanOptions()


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """Builds the Whoosh queries of one parsed query under ``options``."""

    parsed: ParsedQuery
    options: PlanOptions = PRODUCT_PLAN

    def required(self) -> wq.Query:
        """Every group must match (a group: any of its units)."""
        if self.any_word():
            return self.loose()
        return wq.And([self._group(group) for group in self.parsed.groups])

    def loose(self) -> wq.Query:
        """Any group may match: the fallback when no bulletin holds every group."""
        options = self.options
        if options.fallback_accent_exact and self.parsed.accented:
            options = replace(options, accent_exact=True)
        return wq.Or([self._group(group, options) for group in self.parsed.groups])

    def finish(self, matching: wq.Query, boosts: list[wq.Query]) -> wq.Query:
        """``matching`` with the optional ``boosts`` and without the excluded units."""
        query: wq.Query = wq.AndMaybe(matching, wq.Or(boosts)) if boosts else matching
        if self.parsed.excluded:
            excluded = wq.Or([unit_query(u, False, self.options) for u in self.parsed.excluded])
            query = wq.AndNot(query, excluded)
        return query

    def boosts(self, known: TermLookup) -> list[wq.Query]:
        """Every optional clause: compound words, the proximity of adjacent words, the runs of
        words standing whole in a title."""
        return self.compound_boosts(known) + self.proximity_boosts(known) + self.run_boosts(known)

    def any_word(self) -> bool:
        """Whether the query is long enough to match any of its units from the start."""
        limit = self.options.any_word_above
        return bool(limit) and len(self.parsed.groups) > limit

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

    def proximity_boosts(self, known: TermLookup) -> list[wq.Query]:
        """Optional phrase clauses, one per pair of adjacent typed words and field (Solr's
        ``pf2``): each adds ``proximity`` times the pair's term scores where the two stand side
        by side. An accented query's pairs are matched as typed, in the accented fields; an
        unaccented one's in the folded fields. Pairs inside an acronym's expansion are left
        out: "ủy ban nhân dân" must not outrank "UBND" for the same query. A query matched any
        word weighs its pairs by ``any_word_title_proximity`` / ``any_word_text_proximity``.
        """
        options = self.options
        if options.proximity <= 0:
            return []
        boosts = dict.fromkeys(TEXT_FIELDS, options.proximity)
        if self.any_word():
            boosts = {
                name: options.proximity
                * (
                    options.any_word_title_proximity
                    if name == "title"
                    else options.any_word_text_proximity
                )
                for name in TEXT_FIELDS
            }
        parsed = self.parsed
        expansions = {
            pair
            for unit in parsed.positive_units()
            if len(unit.alternatives) > 1
            for words in unit.alternatives
            for pair in pairwise(words)
        }
        accented = parsed.accented or not self.options.folding
        clauses: list[wq.Query] = []
        for words in dict.fromkeys(parsed.compound_candidates):
            if len(words) != 2 or words in expansions:
                continue
            for name, boost in boosts.items():
                field = name if accented else folded_name(name)
                pair = list(words) if accented else [fold(w) for w in words]
                if boost > 0 and all(known(field, w) for w in pair):
                    clauses.append(wq.Phrase(field, pair, boost=boost))
        return clauses

    def run_boosts(self, known: TermLookup) -> list[wq.Query]:
        """An optional phrase clause, in the title, of each run of three or more words typed
        side by side (boost ``title_run``): where the title holds the run whole, it adds
        ``title_run`` times the run's term scores. Matched as typed for an accented query,
        folded otherwise, like the pairs."""
        boost = self.options.title_run
        if boost <= 0:
            return []
        accented = self.parsed.accented or not self.options.folding
        field = "title" if accented else folded_name("title")
        swaps = {
            tuple(fold(w) for w in words): other
            for unit in self.parsed.positive_units()
            for words, other in zip(unit.alternatives, unit.alternatives[::-1], strict=True)
            if len(unit.alternatives) == 2
        }
        clauses: list[wq.Query] = []
        for run in self.parsed.runs:
            for form in dict.fromkeys(_acronym_forms(run, swaps)):
                words = list(form) if accented else [fold(w) for w in form]
                if len(words) >= 3 and all(known(field, w) for w in words):
                    clauses.append(wq.Phrase(field, words, boost=boost))
        return clauses

    def _group(self, group: tuple[Unit, ...], options: PlanOptions | None = None) -> wq.Query:
        options = options or self.options
        queries = [unit_query(unit, self.parsed.accented, options) for unit in group]
        return queries[0] if len(queries) == 1 else wq.Or(queries)


def _acronym_forms(
    run: tuple[str, ...], swaps: dict[tuple[str, ...], tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """``run`` with any of the acronyms or expansions in it written in their other form
    ("ủy ban nhân dân tỉnh" → "ubnd tỉnh"): a title may write either, and the pairs inside an
    expansion are not scored, so the run is its only phrase signal. Every combination for up
    to three of them ("thành phố HCM" is also "TP HCM" and "thành phố Hồ Chí Minh"), else
    the run as typed and with all swapped."""
    lengths = sorted({len(k) for k in swaps}, reverse=True)  # the longest match first
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(run):
        n = next((n for n in lengths if tuple(fold(w) for w in run[i : i + n]) in swaps), 0)
        if n:
            spans.append((i, n))
        i += n or 1
    if len(spans) <= 3:
        chosen = list(product((False, True), repeat=len(spans)))
    else:
        chosen = [(False,) * len(spans), (True,) * len(spans)]
    forms: list[tuple[str, ...]] = []
    for swapped in chosen:
        words: list[str] = []
        at = 0
        for (start, n), swap in zip(spans, swapped, strict=True):
            words.extend(run[at:start])
            part = run[start : start + n]
            words.extend(swaps[tuple(fold(w) for w in part)] if swap else part)
            at = start + n
        forms.append(tuple(words + list(run[at:])))
    return forms


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
