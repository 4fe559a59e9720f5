"""Vietnamese text normalisation shared by indexing, querying and the gazetteer.

Layers, each a small function (as in underthesea): Unicode NFC with an offset map back to the
string as given; lower-casing; per-syllable tone placement (:func:`retone`,
:func:`canonical_syllable`); folding to unaccented text (:func:`fold`: marks removed, đ→d).

Canonical tone placement is the *traditional* style ("hòa", "thủy", "khỏe", "Ủy ban"): it is the
form most Vietnamese administrative text uses. Documents, queries and place names all go
through it, so "hoà"/"hòa" and "Uỷ"/"Ủy" are one term. pyvi is written in the new style
(:func:`to_segmenter_style`).

Nothing here imports Whoosh or the segmenter: the index's metadata extraction uses these
functions without the search-time analysis.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Combining marks of Vietnamese: five tones and three vowel modifiers.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aăâeêioôơuưy")
_MODIFIED_VOWELS = frozenset("ăâêôơư")

# A run of letters: the unit tone placement works on.
LETTER_RUN = re.compile(r"[^\W\d_]+")


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


# --- Case, tone placement and folding ------------------------------------------------------


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


def _lower_char(char: str) -> str:
    low = char.lower()
    return low if len(low) == 1 else char


def lower_same_length(text: str) -> str:
    """``text`` lower-cased ("Đ" → "đ") with one character per character of ``text``.

    A few letters lower-case to two characters ("İ"); they are kept as they are, so offsets
    computed on the result hold for ``text``.
    """
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(map(_lower_char, text))


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
    return LETTER_RUN.sub(lambda m: retone(m.group(0), new_style=True), nfc)


def segmenter_input(text: str) -> str:
    """What to give the segmenter for ``text``: its NFC form in pyvi's tone style.

    Spans of the segmentation of this string are spans into ``NFC(text)``, which is what
    :func:`searcher.analysis.analyze` expects when handed a segmentation.
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
