"""Vietnamese text analysis: normalization, tone placement, folding, and the Whoosh analyzers.

Layers, each a small function (as in underthesea): Unicode NFC with an offset map back to the
string as given, then a per-syllable tone-placement canonicalizer and lower-casing, then folding
to unaccented ASCII-like text. The Whoosh tokenizer segments with pyvi's model (through
:class:`searcher.segmentation.Segmenter`) and emits, for every syllable, a token whose
``startchar``/``endchar`` point into the original string; compound words and protected forms
(document numbers, dates) are extra tokens at the position of their first syllable.

Canonical tone placement is the *traditional* style ("hòa", "thủy", "khỏe", "Ủy ban"): it is the
form most Vietnamese administrative text uses. Documents and queries both go through it, so
"hoà"/"hòa" and "Uỷ"/"Ủy" are one term.

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

if TYPE_CHECKING:
    from searcher.segmentation import Segmentation

# Combining marks of Vietnamese: five tones and three vowel modifiers.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_BREVE, _CIRCUMFLEX, _HORN = "\u0306", "\u0302", "\u031b"
_VOWELS = frozenset("aăâeêioôơuưy")
_MODIFIED_VOWELS = frozenset("ăâêôơư")

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
_SYLLABLE = re.compile(r"[^\W\d_]+")
_WORD_CHARS = re.compile(r"[^\W_]+(?:[.,][0-9]+)*", re.UNICODE)


# --- Unicode -------------------------------------------------------------------------------


def nfc_with_offsets(text: str) -> tuple[str, list[int]]:
    """NFC-normalize ``text`` and map every NFC index back to an index into ``text``.

    Returns ``(nfc, starts)`` where ``starts[i]`` is where NFC character ``i`` begins in
    ``text`` and ``starts[len(nfc)] == len(text)``, so ``text[starts[s]:starts[e]]`` is the
    original source of ``nfc[s:e]``.
    """
    if unicodedata.is_normalized("NFC", text):
        return text, list(range(len(text) + 1))
    pieces: list[str] = []
    starts: list[int] = []
    cluster_start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or unicodedata.combining(text[i]) == 0:
            cluster = text[cluster_start:i]
            composed = unicodedata.normalize("NFC", cluster)
            pieces.append(composed)
            if composed == cluster:  # nothing composed (e.g. a mark no letter takes)
                starts.extend(range(cluster_start, i))
            else:
                starts.extend([cluster_start] * len(composed))
            cluster_start = i
    starts.append(len(text))
    return "".join(pieces), starts


# --- Tone placement and folding --------------------------------------------------------------


def _split_marks(char: str) -> tuple[str, str, str]:
    """Decompose one NFC letter into (base letter, vowel modifiers, tone mark)."""
    decomposed = unicodedata.normalize("NFD", char)
    base, modifiers, tone = decomposed[0], "", ""
    for mark in decomposed[1:]:
        if mark in TONE_MARKS:
            tone = mark
        else:
            modifiers += mark
    return base, modifiers, tone


@lru_cache(maxsize=200_000)
def canonical_syllable(syllable: str) -> str:
    """Lower-case one syllable and put its tone mark where the traditional style puts it.

    Only syllables with exactly one tone mark on Latin vowels are moved; anything else (foreign
    words, numbers, garbage) is only lower-cased, so the function never invents letters.
    """
    return retone(unicodedata.normalize("NFC", syllable.lower()), new_style=False)


@lru_cache(maxsize=200_000)
def retone(syllable: str, new_style: bool) -> str:
    """``syllable`` (NFC, any case) with its tone mark moved to the chosen style's vowel.

    Case is kept and the length never changes (every Vietnamese toned vowel is one NFC
    character), so offsets computed on the result hold for the input.
    """
    if not syllable.isalpha() or syllable.isascii():
        return syllable
    letters: list[str] = []  # toneless NFC letters, case kept
    tone = ""
    for char in syllable:
        base, modifiers, mark = _split_marks(char)
        if mark:
            if tone:
                return syllable  # two tone marks: not a Vietnamese syllable
            tone = mark
        letters.append(unicodedata.normalize("NFC", base + modifiers))
    if not tone:
        return syllable
    target = _tone_position([letter.lower() for letter in letters], new_style)
    if target is None:
        return syllable
    letters[target] = unicodedata.normalize("NFC", letters[target] + tone)
    result = "".join(letters)
    return result if len(result) == len(syllable) else syllable


def to_segmenter_style(nfc: str) -> str:
    """The text with tones in the new style ("hoà", "thuỷ", "uỷ"), same length.

    pyvi's dictionary and model are written in that style; giving it one style makes "Uỷ ban"
    and "Ủy ban" segment alike.
    """
    return _SYLLABLE.sub(lambda m: retone(m.group(0), new_style=True), nfc)


def segmenter_input(text: str) -> str:
    """What to give the segmenter for ``text``: its NFC form in pyvi's tone style.

    Spans of the segmentation of this string are spans into ``NFC(text)``, which is what
    :func:`analyze` expects when handed a segmentation.
    """
    return to_segmenter_style(nfc_with_offsets(text)[0])


_NEW_STYLE_RIMES = frozenset({("o", "a"), ("o", "e"), ("u", "y")})


def _tone_position(letters: list[str], new_style: bool = False) -> int | None:
    """Index of the (lower-case) letter that carries the tone in the chosen style, or None."""
    start = 0
    word = "".join(letters)
    # "qu" and "gi" + vowel: the u / i belongs to the initial consonant.
    if (word.startswith("qu") and len(word) > 2) or (
        word.startswith("gi") and len(word) > 2 and word[2] in _VOWELS
    ):
        start = 2
    while start < len(letters) and letters[start] not in _VOWELS:
        start += 1
    end = start
    while end < len(letters) and letters[end] in _VOWELS:
        end += 1
    cluster = range(start, end)
    if not cluster:
        return None
    modified = [i for i in cluster if letters[i] in _MODIFIED_VOWELS]
    if modified:
        return modified[-1]
    has_final_consonant = end < len(letters)
    if has_final_consonant or len(cluster) == 1:
        return cluster[-1]
    if len(cluster) == 2:
        if new_style and (letters[cluster[0]], letters[cluster[1]]) in _NEW_STYLE_RIMES:
            return cluster[1]  # new style: hoà, thuỷ, khoẻ
        return cluster[0]  # traditional: hòa, thủy, khỏe, mái, mùi
    return cluster[1]  # ngoài, xoáy


_FOLD_TABLE = str.maketrans({"đ": "d", "Đ": "d"})


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Remove every tone and vowel mark and map đ→d, lower-cased: "Ủy ban" → "uy ban"."""
    decomposed = unicodedata.normalize("NFD", text.lower().translate(_FOLD_TABLE))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def has_diacritics(text: str) -> bool:
    """True when ``text`` carries any Vietnamese mark or đ (then it is an accented query)."""
    return fold(text) != text.lower()


def normalize_query_text(text: str) -> str:
    """NFC, canonical tone placement and lower case for a whole string of words."""
    nfc = unicodedata.normalize("NFC", text)
    return re.sub(r"[^\W_]+", lambda m: canonical_syllable(m.group(0)), nfc)


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
    kind: str  # "syllable", "compound" or "protected"
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


SYLLABLE, COMPOUND, PROTECTED = "syllable", "compound", "protected"
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

    Token order: by position; at a position the syllable first, then compound and protected
    tokens by the number of syllables they cover, compounds before protected forms on ties.
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
    extras: list[AnalyzedToken] = []  # compounds, then protected forms
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
