"""Highlights and snippets equal to :mod:`searcher.highlight`'s, without re-analysing the text.

The reference re-reads the whole stored text with :func:`searcher.analysis.analyze` to find the
query's syllable sequences; on a news body that costs milliseconds per hit. Here the stored
text is folded letter by letter through one lookup table (numpy, offsets kept), each pattern
is one literal regular expression over that folded copy, and only the few places it hits are
tokenized, with the reference's own syllable rule, to confirm a hit exactly as the reference
would see it. The result is the same list of spans, so marks and snippet windows are
character-for-character the same.

Texts the shortcut cannot vouch for (not NFC, or holding a character whose folding is not one
character, such as a combining mark) go through the reference.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from searcher.analysis import _WORD_CHARS, canonical_syllable, fold, nfc_with_offsets
from searcher.highlight import (
    SNIPPET_CHARS,
    WINDOW_SPANS,
    Pattern,
    Span,
    find_matches,
    passage,
    render,
    window_around,
)
from searcher.highlight import best_window as reference_window

#: Characters after which the syllable scanner starts afresh (not a letter, digit, "." or ",").
_RESET = re.compile(r"[^\w.,]|_")
_DIGITS = frozenset("0123456789")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W_]")
_AFTER = r"(?:(?![^\W_])|(?<=[0-9]))"
#: Above this many spans the snippet window is chosen with numpy (same rule, same result).
_VECTOR_SPANS = 64
#: Fold-table entry of a character the shortcut cannot vouch for.
_UNSAFE = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Alphabet:
    """What the shortcut knows about characters: how each folds, and the unsafe ones."""

    #: Characters some safe character folds to (what a pattern may hold).
    known: frozenset[str]
    #: Per BMP code point, the code point of its folded letter (itself when it does not fold
    #: to a letter), or ``_UNSAFE``: a text folded through it keeps every offset.
    table: np.ndarray


def _is_safe_char(char: str) -> bool:
    """Folding this character alone gives one character and nothing composes with it.

    Then folding a syllable is folding its characters one at a time, and a text made of such
    characters is already NFC, so its offsets are the reference's offsets.
    """
    if char in "Σς" or unicodedata.category(char).startswith(("M", "Cs")):
        return False
    if "\u1100" <= char <= "\u11ff":  # conjoining jamo compose with their neighbours
        return False
    if unicodedata.decomposition(char) and unicodedata.normalize("NFC", char) != char:
        return False
    return len(fold(char)) == 1


@lru_cache(maxsize=1)
def _alphabet() -> _Alphabet:
    known: set[str] = set()
    table = np.full(0x10000, _UNSAFE, dtype=np.uint32)
    for code in range(0x10000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        plain = char.lower() == char and not unicodedata.decomposition(char) and char not in "đĐ"
        if plain and not unicodedata.category(char).startswith(("M", "Cs")):
            folded = char  # folds to itself: no need to ask
        elif _is_safe_char(char):
            folded = fold(char)
        else:
            continue
        if folded.isalpha() and not _LETTER.match(char):
            continue  # would split a syllable where the pattern expects one
        known.add(folded)
        table[code] = ord(folded) if folded.isalpha() else code
    return _Alphabet(frozenset(known), table)


@lru_cache(maxsize=4096)
def _pattern_regex(folded: tuple[str, ...]) -> tuple[re.Pattern[str], bool] | None:
    """A regex over the *folded* text (see :func:`_folded`) matching (at least) every
    occurrence of the folded syllable sequence, one group per syllable; and whether its
    syllables are all letters (then a hit needs little checking). None: a character the
    shortcut does not know.

    Letters of the folded text are the letters of the text (the fold table maps a letter to a
    letter, anything else to itself), so the bounds below read the same on either.
    """
    known = _alphabet().known
    for syllable in folded:
        if not syllable or any(char not in known for char in syllable):
            return None
    parts = [re.escape(syllable) for syllable in folded]
    # Syllables are runs of letters and digits, except that "2.5x" is "2.5" then "x": a syllable
    # ending in a digit may touch the next one. Candidates are confirmed by the reference
    # tokenization, so these bounds only need to let every true occurrence through.
    # The start bound is checked after the whole first syllable (a lookbehind over it) so that
    # the regex engine scans for that syllable as a literal prefix, not for its first letter.
    first = parts[0]
    start = rf"(?:(?<![^\W_]{first})|(?<=[0-9]{first}))"
    regex = "(" + first + start + ")"
    for k, part in enumerate(parts[1:], 1):
        regex += r"[\W_]*" if folded[k - 1][-1].isdigit() else r"[\W_]+"
        regex += "(" + part + ")"
    letters = all(syllable.isalpha() for syllable in folded)
    return re.compile(regex + _AFTER), letters


def _folded(text: str) -> str | None:
    """``text`` with every letter folded and every offset kept, or None when it holds a
    character the shortcut cannot vouch for. One table lookup per character, in numpy."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    if codes.size and int(codes.max()) > 0xFFFF:
        return None
    mapped = _alphabet().table[codes]
    if codes.size and int(mapped.max()) == _UNSAFE:
        return None
    return mapped.astype("<u4", copy=False).tobytes().decode("utf-32-le")


def _syllables_around(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The reference's syllable spans in the stretch of ``text`` that holds [start, end)."""
    left = start
    while left > 0 and not _RESET.match(text, left - 1):
        left -= 1
    reset = _RESET.search(text, end)
    right = reset.start() if reset else len(text)
    return [m.span() for m in _WORD_CHARS.finditer(text, left, right)]


def _clean(text: str, begin: int, finish: int) -> bool:
    """A hit of letter-only syllables is exactly those syllables unless a digit precedes it
    ("x.5nam": "nam" may then be a syllable or not) or ".5"/",5" follows (a decimal tail)."""
    if begin and text[begin - 1] in _DIGITS:
        return False
    return not (finish + 1 < len(text) and text[finish] in ".," and text[finish + 1] in _DIGITS)


def find_matches_fast(text: str, patterns: list[Pattern]) -> list[Span]:
    """Exactly :func:`searcher.highlight.find_matches`, found by regex and confirmed locally."""
    if not text or not patterns or any(_DIGIT.search(w) for p in patterns for w in p.folded):
        # A number matches its other written forms ("1500" marks "1.500"): the reference's.
        return find_matches(text, patterns)
    folded = _folded(text)
    if folded is not None:
        found = _find(text, folded, patterns)
    else:  # decomposed accents: match on the NFC text, as the reference does, and map back
        nfc, starts = nfc_with_offsets(text)
        folded = None if nfc is text else _folded(nfc)
        if folded is None:
            return find_matches(text, patterns)
        found = [(starts[s], starts[e], index) for s, e, index in _find(nfc, folded, patterns)]
        found.sort()
    return found


def _find(text: str, folded_text: str, patterns: list[Pattern]) -> list[Span]:
    found: list[Span] = []
    for index, pattern in enumerate(patterns):
        size = len(pattern.folded)
        if not size:
            continue
        compiled = _pattern_regex(pattern.folded)
        if compiled is None:
            return find_matches(text, patterns)  # a character the classes do not know
        regex, letters = compiled
        # Each hit as the spans of its syllables (a match's groups when it needs no check).
        runs: list[tuple[tuple[int, int], ...]] = []
        for match in _candidates(regex, folded_text, pattern.folded, letters):
            begin, finish = match.span()
            if letters and _clean(text, begin, finish):
                runs.append(match.regs[1:])  # one group per syllable, nothing else
                continue
            spans = _syllables_around(text, begin, finish)
            first = next((i for i, span in enumerate(spans) if span[0] == begin), None)
            if first is None or first + size > len(spans):
                continue
            run = tuple(spans[first : first + size])
            if all(fold(text[s:e]) == pattern.folded[k] for k, (s, e) in enumerate(run)):
                runs.append(run)
        if pattern.accented is not None:
            accented = pattern.accented
            if size == 1:
                only = accented[0]
                exact = [run for run in runs if canonical_syllable(text[slice(*run[0])]) == only]
            else:
                exact = [
                    run
                    for run in runs
                    if all(
                        canonical_syllable(text[s:e]) == accented[k] for k, (s, e) in enumerate(run)
                    )
                ]
            runs = exact or runs
        found.extend((run[0][0], run[-1][1], index) for run in runs)
    found.sort()
    return found


def _candidates(
    regex: re.Pattern[str], text: str, folded: tuple[str, ...], letters: bool
) -> Iterator[re.Match[str]]:
    """Every match of ``regex`` that may start an occurrence, overlapping ones included.

    Occurrences overlap only when the pattern's end repeats its start ("ha ha" in "ha ha ha");
    otherwise none starts inside another's span and one scan finds them all.
    """
    if letters and not _self_overlapping(folded):
        return regex.finditer(text)
    return _overlapping(regex, text, letters)


def _overlapping(regex: re.Pattern[str], text: str, letters: bool) -> Iterator[re.Match[str]]:
    position = 0
    while (match := regex.search(text, position)) is not None:
        yield match
        # None starts inside a run of letters matched by the first syllable.
        position = match.end(1) if letters else match.start() + 1


@lru_cache(maxsize=4096)
def _self_overlapping(folded: tuple[str, ...]) -> bool:
    return any(folded[k:] == folded[: len(folded) - k] for k in range(1, len(folded)))


def highlight_fast(text: str, patterns: list[Pattern]) -> str:
    """Exactly :func:`searcher.highlight.highlight`."""
    return render(text, find_matches_fast(text, patterns))


def snippet_fast(
    text: str, patterns: list[Pattern], size: int = SNIPPET_CHARS, captions: Sequence[str] = ()
) -> str:
    """Exactly :func:`searcher.highlight.snippet`."""
    return passage(text, captions, patterns, size, find=find_matches_fast, window=best_window)


def best_window(text: str, spans: list[Span], size: int) -> tuple[int, int]:
    """The reference's snippet window (most distinct patterns, then most matches, then first).

    The reference compares up to 400 × 64 span pairs in Python; with many matches that alone
    costs milliseconds, so large cases run the same comparison as numpy arrays.
    """
    candidates = spans[:WINDOW_SPANS]
    if len(candidates) <= _VECTOR_SPANS or max(s[2] for s in candidates) >= 62:
        return reference_window(text, spans, size)
    lead = size // 5
    return window_around(text, _best_start_vectorized(candidates, size - lead), size)


def _best_start_vectorized(candidates: list[Span], reach: int) -> int:
    array = np.array(candidates, dtype=np.int64)
    starts, ends, kinds = array[:, 0], array[:, 1], array[:, 2]
    count = len(candidates)
    # Spans starting beyond a window's end cannot be inside it: only look that far ahead.
    last = np.searchsorted(starts, starts + reach, side="right")
    width = int(min(64, (last - np.arange(count)).max()))
    rows = np.arange(count)[:, None] + np.arange(width)[None, :]
    valid = rows < count
    rows = np.minimum(rows, count - 1)
    inside = valid & (ends[rows] <= (starts + reach)[:, None])
    bits = np.where(inside, np.left_shift(np.int64(1), kinds[rows]), 0)
    union = np.bitwise_or.reduce(bits, axis=1)
    distinct = np.array([int(value).bit_count() for value in union.tolist()])
    matches = inside.sum(axis=1)
    # The first row with the largest (distinct, matches, -start): lexsort's last key is primary.
    order = np.lexsort((np.arange(count), starts, -matches, -distinct))
    return int(starts[order[0]])
