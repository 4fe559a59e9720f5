"""Vietnamese text analysis: the Whoosh tokenizer over pyvi's segmentation, with exact offsets.

The normalisations (NFC with offsets, tone placement, folding) live in :mod:`searcher.text` and
are re-exported here. The Whoosh tokenizer segments with pyvi's model (through
:class:`searcher.segmentation.Segmenter`) and emits, for every syllable, a token whose
``startchar``/``endchar`` point into the original string; compound words and protected forms
(document numbers, dates) are extra tokens at the position of their first syllable, and so
are the canonical forms of numbers ("1.500" → "1500"; see ``canonical_number``).

This module's import path is part of the on-disk index format (Whoosh pickles the analyzer into
the schema): keep the class names and module stable.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from whoosh.analysis import Composable, Token, Tokenizer

from searcher.text import (
    canonical_syllable,
    fold,
    has_diacritics,
    nfc_with_offsets,
    retone,
    segmenter_input,
    to_segmenter_style,
)

if TYPE_CHECKING:
    from searcher.segmentation import Segmentation

__all__ = [
    "AnalyzedToken",
    "IndexTerms",
    "PresegmentedText",
    "VietnameseAnalyzer",
    "VietnameseTokenizer",
    "analyze",
    "analyze_for_index",
    "canonical_date",
    "canonical_number",
    "canonical_syllable",
    "date_form",
    "default_segmenter",
    "fold",
    "has_diacritics",
    "index_terms",
    "nfc_with_offsets",
    "normalize_query_text",
    "number_form",
    "retone",
    "segmenter_input",
    "to_segmenter_style",
]

# Tokens pyvi leaves whole or splits that users type as one unit: dates, document numbers
# ("1822/QĐ-UBND", "61/2018/NĐ-CP"), standards ("ISO 9001:2015" → "9001:2015"), and
# abbreviations with dots ("TP.HCM"). They are indexed whole, in addition to their syllables.
_PROTECTED = re.compile(
    r"""
    \d{1,4}(?:[/.\-]\d{1,4}){1,2}(?:/[^\W_][\w\-]*)*(?<![\-.])   # 05/7/2022, 61/2018/NĐ-CP
    | \d+/[^\W\d_][\w]*(?:-[^\W_][\w]*)+                         # 1822/QĐ-UBND, 313/QĐ-UBND-HC
    | \d+(?::\d+)+                                               # 9001:2015
    | [^\W\d_]{1,4}(?:\.[^\W\d_]{1,5})+(?![\w.])                 # TP.HCM, Q.1
    """,
    re.VERBOSE,
)
_WORD_CHARS = re.compile(r"[^\W_]+(?:[.,][0-9]+)*", re.UNICODE)


def normalize_query_text(text: str) -> str:
    """NFC, canonical tone placement and lower case for a whole string of words.

    Used for protected forms ("1822/QĐ-UBND"); it calls this module's ``canonical_syllable``
    so that whatever replaces it (the relevance benchmark's "no tone" system) reaches every
    token of an analysis.
    """
    nfc = unicodedata.normalize("NFC", text)
    return re.sub(r"[^\W_]+", lambda m: canonical_syllable(m.group(0)), nfc)


# --- Numbers as Vietnamese writes them ------------------------------------------------------
#
# A number token (one syllable: digits with "." or "," inside) has one canonical form, indexed
# as an extra token at its position and span, and searched in its place, so every written form
# finds the others: "1.500" → "1500", "7.5" → "7,5", "06" → "6". The rules (docs/design.md):
#   * "." followed by groups of exactly three digits is a thousands separator ("10.000"), the
#     Vietnamese convention, which wins over the English decimal reading of "1.500";
#   * "," is the decimal mark ("7,5"), except in "1,500,000" (two or more groups of three);
#   * "." before one, two or four and more digits is an English decimal point ("7.5" → "7,5");
#   * leading zeros go from integers of at most three digits ("06" → "6"); longer runs are
#     codes ("0277" area codes) and keep them;
#   * anything else ("1.2.3", "9001:2015", "covid19") is no number and stays as written.
# Dates and ranges protected whole ("05/07/2022") also get a form without leading zeros
# ("5/7/2022"); document numbers ("61/2018/NĐ-CP") stay exactly as written.

_THOUSANDS_DOT = re.compile(r"(\d{1,3}(?:\.\d{3})+)(?:,(\d+))?")
_THOUSANDS_COMMA = re.compile(r"(\d{1,3}(?:,\d{3}){2,})(?:\.(\d+))?")
_DECIMAL = re.compile(r"(\d+)[.,](\d+)")
_SHORT_INTEGER = re.compile(r"0\d{1,2}")
_NUMERIC_DATE = re.compile(r"\d{1,4}(?:[/\-]\d{1,4}){1,2}")


def canonical_number(syllable: str) -> str | None:
    """The canonical form of a number written as ``syllable``, or None when it is already
    canonical or no number ("1.500" → "1500", "7.5" → "7,5", "06" → "6", "2022" → None)."""
    if not syllable[:1].isdigit():
        return None
    if syllable.isdigit():
        return str(int(syllable)) if _SHORT_INTEGER.fullmatch(syllable) else None
    if m := _THOUSANDS_DOT.fullmatch(syllable):
        whole, fraction = str(int(m.group(1).replace(".", ""))), m.group(2)
    elif m := _THOUSANDS_COMMA.fullmatch(syllable):
        whole, fraction = str(int(m.group(1).replace(",", ""))), m.group(2)
    elif m := _DECIMAL.fullmatch(syllable):
        whole, fraction = str(int(m.group(1))), m.group(2)
    else:
        return None
    form = f"{whole},{fraction}" if fraction is not None else whole
    return form if form != syllable else None


def number_form(syllable: str) -> str:
    """What a syllable is searched as: its canonical number form, else itself."""
    return canonical_number(syllable) or syllable


def canonical_date(protected: str) -> str | None:
    """A protected date or numeric range without leading zeros ("05/07/2022" → "5/7/2022"),
    or None when it has none or is not all digits (document numbers stay as written)."""
    if not _NUMERIC_DATE.fullmatch(protected):
        return None
    form = re.sub(r"\d+", lambda m: str(int(m.group(0))), protected)
    return form if form != protected else None


def date_form(protected: str) -> str:
    """What a protected form is searched as: without leading zeros when it is a date."""
    return canonical_date(protected) or protected


# --- Analysis into tokens ------------------------------------------------------------------


class AnalyzedToken(NamedTuple):
    """One indexable unit of a text, before it becomes a Whoosh token.

    A named tuple: the indexer makes one per token of every text, and a tuple is several
    times cheaper to make than a frozen dataclass and transposes to columns in one ``zip``.
    """

    text: str  # canonical lower-case accented form; compounds joined with "_"
    position: int  # syllable position (compounds share their first syllable's)
    startchar: int  # offsets into the string as given
    endchar: int
    kind: str  # "syllable", "compound", "protected" or "number"
    length: int = 1  # syllables covered


def _syllable_tokens(nfc: str, segmentation: Segmentation | None) -> list[tuple[int, int]]:
    """Syllable spans in ``nfc``: pyvi's syllables, split further into word characters."""
    spans: list[tuple[int, int]] = []
    append = spans.append
    size = len(nfc)
    combining = unicodedata.combining
    pieces = segmentation.syllables if segmentation is not None else [(0, size)]
    for start, end in pieces:
        if nfc[start:end].isalnum():
            # The common case: the whole piece is one run of word characters (what
            # ``_WORD_CHARS`` would match, since ``[^\W_]`` is exactly ``str.isalnum``).
            stop = end
            while stop < size and combining(nfc[stop]):
                stop += 1
            append((start, stop))
            continue
        for match in _WORD_CHARS.finditer(nfc, start, end):
            stop = match.end()
            # A mark that NFC could not compose still belongs to the letter before it.
            while stop < size and combining(nfc[stop]):
                stop += 1
            append((match.start(), stop))
    return spans


SYLLABLE, COMPOUND, PROTECTED, NUMBER = "syllable", "compound", "protected", "number"
#: An AnalyzedToken from a row tuple, without a Python-level call per token.
_token_of_row = functools.partial(tuple.__new__, AnalyzedToken)


def analyze(
    text: str,
    segmentation: Segmentation | None = None,
    *,
    segment: bool = True,
) -> list[AnalyzedToken]:
    """Analyse ``text`` into syllable, compound and protected tokens with exact offsets.

    ``segmentation`` is pyvi's segmentation of ``NFC(text)`` when the caller has it already
    (the indexer segments in batches); otherwise the shared :class:`Segmenter` runs here.
    With ``segment=False`` no compound tokens are made (cheap re-analysis for highlighting).

    Token order: by position; at a position the syllable first, then its canonical number form
    (if any), then compound and protected tokens by the number of syllables they cover,
    compounds before protected forms on ties, a date's form without leading zeros last.
    The indexer analyses every text of every bulletin, so the syllables are made in one pass
    and the few other tokens spliced in between them (no sort of the whole list).
    """
    if not text:
        return []
    nfc, starts = nfc_with_offsets(text)
    if segmentation is None and segment:
        segmentation = default_segmenter().segment(to_segmenter_style(nfc))
    spans = _syllable_tokens(nfc, segmentation if segment else None)
    syllable_texts = [canonical_syllable(nfc[start:end]) for start, end in spans]
    syllables = list(
        map(
            _token_of_row,
            zip(
                syllable_texts,
                range(len(spans)),
                [starts[start] for start, _ in spans],
                [starts[end] for _, end in spans],
                itertools.repeat(SYLLABLE),
                itertools.repeat(1),
            ),
        )
    )
    extras: list[AnalyzedToken] = []  # numbers, compounds, then protected forms
    for i, syllable in enumerate(syllable_texts):
        if syllable[:1].isdigit() and (number := canonical_number(syllable)):
            token = syllables[i]
            extras.append(AnalyzedToken(number, i, token.startchar, token.endchar, NUMBER, 1))
    if segment and segmentation is not None:
        for start, end, is_compound in segmentation.words:
            if not is_compound:
                continue
            first, last = _covered_positions(spans, start, end)
            if first is None or last is None or last <= first:
                continue
            compound = "_".join(syllable_texts[first : last + 1])
            startchar, endchar = starts[spans[first][0]], starts[spans[last][1]]
            extras.append(
                AnalyzedToken(compound, first, startchar, endchar, COMPOUND, last - first + 1)
            )
    for match in _PROTECTED.finditer(nfc):
        first, last = _covered_positions(spans, *match.span())
        if first is None or last is None or last == first:
            continue
        protected = normalize_query_text(match.group(0))
        startchar, endchar = starts[match.start()], starts[match.end()]
        extras.append(
            AnalyzedToken(protected, first, startchar, endchar, PROTECTED, last - first + 1)
        )
        if date := canonical_date(protected):
            extras.append(AnalyzedToken(date, first, startchar, endchar, NUMBER, last - first + 1))
    if not extras:
        return syllables
    extras.sort(key=lambda token: (token.position, token.length))  # stable: compounds first
    tokens: list[AnalyzedToken] = []
    done = 0  # syllables already in ``tokens``
    for extra in extras:
        if extra.position >= done:
            tokens.extend(syllables[done : extra.position + 1])
            done = extra.position + 1
        tokens.append(extra)
    tokens.extend(syllables[done:])
    return tokens


def _covered_positions(
    spans: list[tuple[int, int]], start: int, end: int
) -> tuple[int | None, int | None]:
    """First and last syllable positions lying inside ``[start, end)``."""
    first = bisect.bisect_left(spans, (start, -1))
    last = first - 1
    while last + 1 < len(spans) and spans[last + 1][1] <= end:
        last += 1
    if last < first:
        return None, None
    return first, last


# --- The shared segmenter ------------------------------------------------------------------

_segmenter: Any = None


def default_segmenter() -> Any:
    """The process-wide :class:`Segmenter`; pyvi's model loads on first use, not at import."""
    global _segmenter
    if _segmenter is None:
        from searcher.segmentation import Segmenter

        _segmenter = Segmenter()
    return _segmenter


# --- Whoosh glue ---------------------------------------------------------------------------


class PresegmentedText(str):
    """A field value that carries its segmentation, so the indexer segments once per text.

    The indexer segments titles and bodies in batches (in worker processes) and passes the
    result along with the text; the tokenizer uses it instead of segmenting again. The value
    also keeps its :class:`IndexTerms` once computed, so the accented and the folded field
    analyse it once between them. Never stored: the writer stores the plain ``str`` through
    ``_stored_<field>``.
    """

    __slots__ = ("index_terms", "segmentation")

    def __new__(cls, text: str, segmentation: Segmentation | None = None) -> PresegmentedText:
        value = super().__new__(cls, text)
        value.segmentation = segmentation
        value.index_terms = None
        return value


@dataclass(frozen=True, slots=True)
class IndexTerms:
    """A text's tokens as the text fields emit them: parallel tuples in token order."""

    accented: tuple[str, ...]
    folded: tuple[str, ...]
    positions: tuple[int, ...]
    startchars: tuple[int, ...]
    endchars: tuple[int, ...]

    @classmethod
    def of(cls, tokens: tuple[AnalyzedToken, ...]) -> IndexTerms:
        if not tokens:
            return cls((), (), (), (), ())
        accented, positions, startchars, endchars, _kinds, _lengths = zip(*tokens, strict=True)
        return cls(
            accented=accented,
            folded=tuple(map(fold, accented)),
            positions=positions,
            startchars=startchars,
            endchars=endchars,
        )


@lru_cache(maxsize=8)
def _analyze_cached(text: str) -> tuple[AnalyzedToken, ...]:
    return tuple(analyze(text))


def analyze_for_index(text: str) -> tuple[AnalyzedToken, ...]:
    """Analysis of a field value, reusing a segmentation carried by the value."""
    segmentation = getattr(text, "segmentation", None)
    if segmentation is not None:
        return tuple(analyze(str(text), segmentation))
    return _analyze_cached(str(text))


@lru_cache(maxsize=8)
def _index_terms_cached(text: str) -> IndexTerms:
    return IndexTerms.of(analyze_for_index(text))


def index_terms(value: str) -> IndexTerms:
    """The tokens of a field value; accented and folded fields analyse the same value back to
    back, so the work is done once (kept on a :class:`PresegmentedText`, else in a small cache).
    """
    if isinstance(value, PresegmentedText):
        if value.index_terms is None:
            value.index_terms = IndexTerms.of(analyze_for_index(value))
        return value.index_terms
    return _index_terms_cached(value)


class VietnameseTokenizer(Tokenizer):
    """Whoosh tokenizer over :func:`analyze`: accented (``folded=False``) or folded terms.

    Positions are syllable positions; compound and protected tokens sit at the position of
    their first syllable, so phrase queries over syllables work and compounds are extra terms.
    """

    def __init__(self, folded: bool = False) -> None:
        self.folded = folded

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VietnameseTokenizer) and other.folded == self.folded

    def __hash__(self) -> int:
        return hash((type(self), self.folded))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        terms = index_terms(value)
        texts = terms.folded if self.folded else terms.accented
        if positions and not chars and not keeporiginal and not start_pos:
            # The indexing path (Whoosh's Positions format): only text and position change.
            for text, pos in zip(texts, terms.positions, strict=True):
                token.text = text
                token.pos = pos
                token.boost = 1.0
                token.stopped = False
                yield token
            return
        for i, text in enumerate(texts):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + terms.positions[i]
            if chars:
                token.startchar = start_char + terms.startchars[i]
                token.endchar = start_char + terms.endchars[i]
            yield token


def VietnameseAnalyzer(folded: bool = False) -> Composable:
    """The analyzer of bantin's text fields: accented or folded terms with exact offsets."""
    return VietnameseTokenizer(folded=folded)
