"""What a query typed without accents meant: its suggestion and the words to highlight.

With the generation's language model (:mod:`searcher.lm`) the whole query is restored by the
trigram model, names keep the bulletins' capitals, and, when the restoration is confident,
titles and snippets mark the restored words instead of every syllable that folds to the same
letters. Without one (an index built before the model existed) the vocabulary restorer of
:mod:`searcher.suggest` answers as it always did, and highlighting stays folded.
"""

from __future__ import annotations

from collections.abc import Callable

from searcher.analysis import fold
from searcher.highlight import Pattern
from searcher.lm import LanguageModel
from searcher.plan import highlight_patterns
from searcher.query import ParsedQuery
from searcher.schema import TEXT_FIELDS
from searcher.suggest import Vocabulary, plausible_correction

#: The old restorer's limit: above it a query gets no suggestion without a language model.
VOCABULARY_WORDS = 12
#: Longest compound word looked up when grouping restored syllables into words.
LONGEST_COMPOUND = 4

#: Whether the index holds a term: ``known(field, term)``.
TermLookup = Callable[[str, str], bool]
#: Whether some bulletin holds every one of these folded words.
Counter = Callable[[list[str]], int]


def query_words(parsed: ParsedQuery) -> list[str]:
    """The typed syllables of the positive units, in order (what a suggestion restores)."""
    return [w for unit in parsed.positive_units() for w in unit.alternatives[0]]


def suggest(
    parsed: ParsedQuery,
    restorer: LanguageModel | Vocabulary,
    nothing_matched: bool,
    found_together: Counter,
) -> str | None:
    """A spelling correction when nothing (or only part) matched, else the query with its
    accents restored when it was typed without them; None when there is nothing to say."""
    words = query_words(parsed)
    if not words or (isinstance(restorer, Vocabulary) and len(words) > VOCABULARY_WORDS):
        return None
    folded = [fold(w) for w in words]
    if nothing_matched:
        corrected = restorer.correct(folded)
        if (
            corrected is not None
            and plausible_correction(folded, corrected)
            and found_together(corrected)
        ):
            # Words typed with accents and left alone by the correction keep their accents.
            kept = [w if fold(w) == c else c for w, c in zip(words, corrected, strict=True)]
            return " ".join(restorer.restore(kept))
    if parsed.accented:
        return None
    suggestion = " ".join(restorer.restore(folded))
    return suggestion if suggestion.lower() != " ".join(words) else None


def meant_patterns(
    parsed: ParsedQuery, model: LanguageModel | None, known: TermLookup
) -> list[Pattern]:
    """What to mark for ``parsed``: the restored words when the model is confident of an
    unaccented query ("hoi nghi so ket" marks "hội nghị sơ kết", not "số", "sổ" or "hồ sơ"),
    else the query's own words (folded, or as typed when accented)."""
    words = query_words(parsed)
    if parsed.accented or model is None or not words:
        return highlight_patterns(parsed)
    restoration = model.decode([fold(w) for w in words])
    if not restoration.confident:
        return highlight_patterns(parsed)
    restored = [w.lower() for w in restoration.words]
    return highlight_patterns(parsed, meant=group_words(restored, known))


def group_words(syllables: list[str], known: TermLookup) -> list[tuple[str, ...]]:
    """Restored syllables grouped into the words the index holds (longest compound first), so
    "sơ" is marked inside "sơ kết" but not inside "hồ sơ"."""
    groups: list[tuple[str, ...]] = []
    start = 0
    while start < len(syllables):
        for size in range(min(LONGEST_COMPOUND, len(syllables) - start), 0, -1):
            words = tuple(syllables[start : start + size])
            if size == 1 or any(known(name, "_".join(words)) for name in TEXT_FIELDS):
                groups.append(words)
                start += size
                break
    return groups
