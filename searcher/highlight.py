"""Highlights and snippets from the stored text: ``<mark>`` on the original accented words.

The stored text is re-read with the same syllable analysis as the index (offsets into exactly
the stored string), query sequences are matched on folded syllables, and only the text between
offsets is escaped, so a mark always covers an original word and nothing can inject HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from searcher.analysis import analyze, fold, number_form

#: Target snippet length in characters.
SNIPPET_CHARS = 240
#: Matches considered when choosing the passage (enough for a good one in a very long text).
WINDOW_SPANS = 400

Span = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Pattern:
    """A syllable sequence to mark; ``accented`` (if set) is preferred when the text has it."""

    folded: tuple[str, ...]
    accented: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Syllable:
    start: int
    end: int
    text: str
    folded: str


def _syllables(text: str) -> list[_Syllable]:
    """The syllables as searched (numbers in canonical form), with their spans as written."""
    syllables: list[_Syllable] = []
    for t in analyze(text, segment=False):
        if t.kind == "syllable":
            searched = number_form(t.text)
            syllables.append(_Syllable(t.startchar, t.endchar, searched, fold(searched)))
    return syllables


def find_matches(text: str, patterns: list[Pattern]) -> list[tuple[int, int, int]]:
    """Spans ``(start, end, pattern_index)`` of every pattern occurrence in ``text``.

    A pattern typed with accents marks only its exact accented occurrences when the text has
    any, else its folded ones: "bán" marks "bán", not "bạn", in a text that has both.
    """
    syllables = _syllables(text)
    found: list[tuple[int, int, int]] = []
    for index, pattern in enumerate(patterns):
        size = len(pattern.folded)
        if not size:
            continue
        folded_hits = [
            i
            for i in range(len(syllables) - size + 1)
            if all(syllables[i + k].folded == pattern.folded[k] for k in range(size))
        ]
        hits = folded_hits
        if pattern.accented is not None:
            exact = [
                i
                for i in folded_hits
                if all(syllables[i + k].text == pattern.accented[k] for k in range(size))
            ]
            hits = exact or folded_hits
        found.extend((syllables[i].start, syllables[i + size - 1].end, index) for i in hits)
    found.sort()
    return found


def _merge(text: str, spans: list[tuple[int, int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Union of spans within [lo, hi), joining neighbours separated only by spaces."""
    merged: list[tuple[int, int]] = []
    for start, end, _ in spans:
        if end <= lo or start >= hi:
            continue
        start, end = max(start, lo), min(end, hi)
        if merged and (start <= merged[-1][1] or text[merged[-1][1] : start].strip(" \t") == ""):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def render(text: str, spans: list[tuple[int, int, int]], lo: int = 0, hi: int | None = None) -> str:
    """Escape ``text[lo:hi]`` with ``<mark>`` around the spans."""
    hi = len(text) if hi is None else hi
    out: list[str] = []
    cursor = lo
    for start, end in _merge(text, spans, lo, hi):
        out.append(escape(text[cursor:start]))
        out.append("<mark>" + escape(text[start:end]) + "</mark>")
        cursor = end
    out.append(escape(text[cursor:hi]))
    return "".join(out)


def highlight(text: str, patterns: list[Pattern]) -> str:
    """The whole text, escaped, with every match marked."""
    return render(text, find_matches(text, patterns))


def snippet(
    text: str, patterns: list[Pattern], size: int = SNIPPET_CHARS, captions: Sequence[str] = ()
) -> str:
    """The passage of about ``size`` characters holding the most distinct query matches.

    Cut at word boundaries with an ellipsis; newlines become spaces. Without matches, the start
    of the text. A photo caption is the snippet when it holds more distinct matches than the
    body's best passage (see :func:`passage`).
    """
    return passage(text, captions, patterns, size)


Finder = Callable[[str, list[Pattern]], list[Span]]
Window = Callable[[str, list[Span], int], tuple[int, int]]


def passage(
    body: str,
    captions: Sequence[str],
    patterns: list[Pattern],
    size: int = SNIPPET_CHARS,
    find: Finder | None = None,
    window: Window | None = None,
) -> str:
    """The snippet from the body, or from the first caption holding more distinct patterns
    than the body's chosen window: a query that is a caption shows that caption.

    ``find`` and ``window`` are this module's matcher and window rule or exact equivalents
    (the fast path's), so both paths pick the same text and cut it the same way.
    """
    find = find or find_matches
    window = window or best_window
    spans = find(body, patterns)
    lo, hi = window(body, spans, size)
    best = len({kind for start, end, kind in spans if lo <= start and end <= hi})
    chosen: tuple[str, list[Span]] | None = None
    for caption in captions:
        caption_spans = find(caption, patterns)
        distinct = len({kind for _, _, kind in caption_spans})
        if distinct > best:
            chosen, best = (caption, caption_spans), distinct
    if chosen is not None:
        return cut(chosen[0], chosen[1], size, window)
    return cut(body, spans, size, window=lambda _text, _spans, _size: (lo, hi))


def cut(
    text: str,
    spans: list[Span],
    size: int = SNIPPET_CHARS,
    window: Callable[[str, list[Span], int], tuple[int, int]] | None = None,
) -> str:
    """The snippet of ``text`` for its match ``spans`` (any ``window`` giving best_window's
    answer, faster)."""
    lo, hi = (window or best_window)(text, spans, size)
    lo, hi = word_bounds(text, lo, hi)
    body = render(text, spans, lo, hi)
    body = " ".join(body.split())
    prefix = "… " if lo > 0 else ""
    suffix = " …" if hi < len(text) else ""
    return prefix + body + suffix


def best_window(text: str, spans: list[Span], size: int) -> tuple[int, int]:
    """[lo, hi) of the passage with the most distinct patterns, then most matches, then first."""
    if not spans:
        return 0, min(len(text), size)
    best_key: tuple[int, int, int] | None = None
    best_start = 0
    lead = size // 5  # some context before the first match
    candidates = spans[:WINDOW_SPANS]
    count = len(candidates)
    for i, (start, _end, _p) in enumerate(candidates):
        window_end = start + size - lead
        kinds: set[int] = set()
        inside = 0
        # The window holds spans among the next 64 that end by its end. Spans are sorted by
        # start, and one starting past the end also ends past it: stop at the first such.
        for j in range(i, min(i + 64, count)):
            span_start, span_end, kind = candidates[j]
            if span_start > window_end:
                break
            if span_end <= window_end:
                inside += 1
                kinds.add(kind)
        key = (len(kinds), inside, -start)
        if best_key is None or key > best_key:
            best_key, best_start = key, start
    return window_around(text, best_start, size)


def window_around(text: str, best_start: int, size: int) -> tuple[int, int]:
    """The ``size`` characters from a little before ``best_start``, kept inside the text."""
    lo = max(0, best_start - size // 5)
    hi = min(len(text), lo + size)
    if hi - lo < size:
        lo = max(0, hi - size)
    return lo, hi


def word_bounds(text: str, lo: int, hi: int) -> tuple[int, int]:
    """Move ``lo`` forward and ``hi`` backward to whitespace so no word is cut."""
    if lo > 0 and not text[lo - 1].isspace():
        space = text.find(" ", lo, min(hi, lo + 30))
        if space != -1:
            lo = space + 1
    if hi < len(text) and not text[hi].isspace():
        space = text.rfind(" ", max(lo, hi - 30), hi)
        if space != -1:
            hi = space
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi
