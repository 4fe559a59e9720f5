"""A page's highlighted titles and snippets from the syllables stored at index time.

:mod:`~searcher.fastpath.passages` keeps every title's and body's syllables as ids; here the
page's ten documents are gathered in one pass, one table lookup finds the syllables that are
some pattern's, every pattern is matched over those few at once (a patterns × syllables
matrix), and the ten snippet windows are cumulative sums over the page's spans. The spans and
windows are :mod:`searcher.highlight`'s, and each text is escaped once with the marks standing
in as private-use characters, so the HTML is character for character the same
(:func:`~searcher.highlight.render`, :func:`~searcher.highlight.cut`); documents the files do
not cover go through :mod:`~searcher.fastpath.snippets`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import accumulate
from typing import Any, NamedTuple

import numpy as np

from searcher.fastpath.passages import TEXTS, Passages, SegmentPassages
from searcher.fastpath.snippets import best_window, find_matches_fast, highlight_fast, snippet_fast
from searcher.highlight import (
    SNIPPET_CHARS,
    WINDOW_SPANS,
    Pattern,
    Span,
    cut,
    passage,
    render,
    window_around,
    word_bounds,
)
from searcher.schema import split_captions


def document_spans(
    passages: Passages, docnums: Sequence[int], patterns: list[Pattern]
) -> list[dict[str, list[Span]] | None]:
    """Per document, :func:`searcher.highlight.find_matches`'s spans in each text field
    (of its stored text), or None for a document the files do not cover."""
    page = match_page(passages, docnums, patterns)
    found: list[dict[str, list[Span]] | None] = [None] * len(docnums)
    for p, (i, name) in enumerate(page.pieces):
        found_i = found[i] = found[i] or {}
        found_i[name] = page.piece_spans(p)
    return found


def match_page(passages: Passages, docnums: Sequence[int], patterns: list[Pattern]) -> PageSpans:
    """The spans of every pattern in the covered documents' titles and bodies, the whole
    page in one pass."""
    return _match(passages.chunks(docnums), patterns)


@dataclass
class PageSpans:
    """A page's match spans: ``pieces`` are (document, field) pairs; the arrays hold every
    span, sorted by (piece, start, end, pattern) — each piece's spans in the reference's
    order — and ``bounds[p]:bounds[p + 1]`` are piece ``p``'s."""

    pieces: list[tuple[int, str]]
    owner: np.ndarray
    begin: np.ndarray
    end: np.ndarray
    kind: np.ndarray
    bounds: list[int]

    def piece_spans(self, p: int) -> list[Span]:
        """Piece ``p``'s spans."""
        first, last = self.bounds[p], self.bounds[p + 1]
        begin, end, kind = self.begin[first:last], self.end[first:last], self.kind[first:last]
        return list(zip(begin.tolist(), end.tolist(), kind.tolist(), strict=True))

    @classmethod
    def none(cls, pieces: list[tuple[int, str]]) -> PageSpans:
        """The answer for pieces without a span."""
        empty = np.zeros(0, dtype=np.int64)
        return cls(pieces, empty, empty, empty, empty, [0] * (len(pieces) + 1))

    def longest(self) -> int:
        """The length of the longest span (0 without spans)."""
        return int((self.end - self.begin).max()) if self.end.size else 0

    def all_spans(self) -> list[list[Span]]:
        """Every piece's spans, in piece order."""
        spans = list(zip(self.begin.tolist(), self.end.tolist(), self.kind.tolist(), strict=True))
        bounds = self.bounds
        return [spans[bounds[p] : bounds[p + 1]] for p in range(len(self.pieces))]


def _codes(patterns: list[Pattern]) -> tuple[dict[str, int], dict[str, int]]:
    """A small code (from 1) for every distinct folded, and accented, syllable of the
    patterns: each segment maps its ids to these, so the page compares as one array."""
    folded: dict[str, int] = {}
    accented: dict[str, int] = {}
    for pattern in patterns:
        for syllable in pattern.folded:
            folded.setdefault(syllable, len(folded) + 1)
        for syllable in pattern.accented or ():
            accented.setdefault(syllable, len(accented) + 1)
    return folded, accented


def _table(vocab: dict[str, int], codes: dict[str, int]) -> np.ndarray:
    """Id → code (0: none of the patterns' syllables) for one segment's vocabulary."""
    table = np.zeros(len(vocab) + 1, dtype=np.uint8 if len(codes) < 255 else np.int32)
    for syllable, code in codes.items():
        key = vocab.get(syllable)
        if key is not None:
            table[key] = code
    return table


def _match(
    chunks: list[tuple[SegmentPassages, np.ndarray, list[int]]], patterns: list[Pattern]
) -> PageSpans:
    """See :meth:`Passages.match`: ``chunks`` are (segment, local document numbers, the
    documents' places on the page). Pieces are each document's title then its body.

    Only the page's syllables that are some pattern's ("candidates", a few hundred of its
    thousands) are looked at past one table lookup: a run of a pattern is a run of candidates
    at consecutive places of one text.
    """
    folded_codes, accented_codes = _codes(patterns)
    pieces: list[tuple[int, str]] = []
    found: list[tuple[np.ndarray, ...]] = []
    for segment, local, covered in chunks:
        first_piece = len(pieces)
        pieces += [(i, name) for i in covered for name in TEXTS]
        candidates = _candidates(segment, local, folded_codes, accented_codes)
        if candidates is not None:
            where, piece, codes, accents, begin, end = candidates
            found.append((where, piece + first_piece, codes, accents, begin, end))
    if not found:
        return PageSpans.none(pieces)
    candidates = [
        np.concatenate(column) if len(found) > 1 else column[0]
        for column in zip(*found, strict=True)
    ]
    where, piece, codes, accents, starts, ends = candidates
    # One row per pattern, one column per candidate: does the pattern's run start there?
    kept = [index for index, pattern in enumerate(patterns) if pattern.folded]
    longest = max((len(patterns[index].folded) for index in kept), default=0)
    if not kept:
        return PageSpans.none(pieces)
    firsts = [folded_codes[patterns[index].folded[0]] for index in kept]
    if longest == 1 and len(set(firsts)) == len(firsts):
        return _single_syllables(pieces, patterns, kept, firsts, candidates, accented_codes)
    folded = np.zeros((len(kept), longest), dtype=np.int64)  # 0: past the pattern's end
    accented = np.zeros((len(kept), longest), dtype=np.int64)  # 0: any accents
    for row, index in enumerate(kept):
        pattern = patterns[index]
        folded[row, : len(pattern.folded)] = [folded_codes[s] for s in pattern.folded]
        if pattern.accented is not None:
            accented[row, : len(pattern.accented)] = [accented_codes[s] for s in pattern.accented]
    hit = folded[:, :1] == codes
    exact = (accented[:, :1] == 0) | (accented[:, :1] == accents)
    for k in range(1, longest):
        # The candidate k places on, where it is the next syllables of the same text.
        follows = np.zeros(codes.size, dtype=bool)
        follows[:-k] = (where[k:] == where[:-k] + k) & (piece[k:] == piece[:-k])
        next_codes, next_accents = np.full((2, codes.size), -1, dtype=np.int64)
        next_codes[:-k] = codes[k:]
        next_accents[:-k] = accents[k:]
        next_codes[~follows] = -1
        hit &= (folded[:, k : k + 1] == 0) | (folded[:, k : k + 1] == next_codes)
        exact &= (accented[:, k : k + 1] == 0) | (accented[:, k : k + 1] == next_accents)
    rows, at = np.nonzero(hit)
    if not at.size:
        return PageSpans.none(pieces)
    sizes = np.array([len(patterns[index].folded) for index in kept])
    kind = np.array(kept, dtype=np.int64)[rows]
    last = at + sizes[rows] - 1
    owner = piece[at]
    if accented_codes:
        keep = _exact_win(exact[rows, at], owner, kind, len(pieces), len(patterns))
        at, kind, last, owner = at[keep], kind[keep], last[keep], owner[keep]
    begin, end = starts[at], ends[last]
    order = np.lexsort((kind, end, begin, owner))
    owner, begin, end, kind = owner[order], begin[order], end[order], kind[order]
    bounds = np.searchsorted(owner, np.arange(len(pieces) + 1)).tolist()
    return PageSpans(pieces, owner, begin, end, kind, bounds)


def _single_syllables(
    pieces: list[tuple[int, str]],
    patterns: list[Pattern],
    kept: list[int],
    firsts: list[int],
    candidates: list[np.ndarray],
    accented_codes: dict[str, int],
) -> PageSpans:
    """:func:`_match`'s answer when every pattern is one syllable, each a different folded
    one (most queries): each candidate is one pattern's match, and the candidates are
    already in the order of the spans (by text, then start)."""
    _where, piece, codes, accents, begin, end = candidates
    kinds = np.zeros(max(firsts) + 1, dtype=np.int64)
    kinds[firsts] = kept
    kind = kinds.take(codes)
    if accented_codes:
        wanted = np.zeros(max(firsts) + 1, dtype=np.int64)
        for code, index in zip(firsts, kept, strict=True):
            accented = patterns[index].accented
            wanted[code] = accented_codes[accented[0]] if accented is not None else 0
        want = wanted.take(codes)
        exact = (want == 0) | (want == accents)
        keep = np.flatnonzero(_exact_win(exact, piece, kind, len(pieces), len(patterns)))
        piece, begin, end, kind = (
            piece.take(keep),
            begin.take(keep),
            end.take(keep),
            kind.take(keep),
        )
    bounds = np.searchsorted(piece, np.arange(len(pieces) + 1)).tolist()
    return PageSpans(pieces, piece, begin, end, kind, bounds)


def _exact_win(
    exact: np.ndarray, piece: np.ndarray, kind: np.ndarray, pieces: int, patterns: int
) -> np.ndarray:
    """Which matches to keep: exact accented occurrences win within each text, as in the
    reference (a pattern's folded matches count only in texts where it has no exact one)."""
    group = piece * patterns + kind
    has_exact = np.zeros(pieces * patterns, dtype=bool)
    has_exact[group[exact]] = True
    return exact | ~has_exact.take(group)


def _candidates(
    segment: SegmentPassages,
    local: np.ndarray,
    folded_codes: dict[str, int],
    accented_codes: dict[str, int],
) -> tuple[np.ndarray, ...] | None:
    """The syllables of these documents whose folded form is some pattern's, in page order:
    their places in the segment, pieces (from 0 for this chunk), folded and accented codes,
    and where each starts and ends in its text; None when there are none."""
    arrays = segment.arrays
    ptr = arrays["ptr"]
    ends: list[int] = []  # where each piece (title, body) ends among the chunk's syllables
    shifts: list[int] = []  # a piece's first syllable's place in the segment, less its own
    texts: list[slice] = []
    size = 0
    for lo, split, hi in zip(
        ptr.take(local).tolist(),
        arrays["split"].take(local).tolist(),
        ptr.take(local + 1).tolist(),
        strict=True,
    ):
        texts.append(slice(lo, hi))
        ends += (size + split, size + hi - lo)
        shifts += (lo - size, lo - size)
        size += hi - lo
    ids = arrays["ids"]
    codes = _table(segment.vocab("folded"), folded_codes).take(
        np.concatenate([ids[text] for text in texts])
    )
    at = np.flatnonzero(codes != 0)
    if not at.size:
        return None
    piece = np.searchsorted(ends, at, side="right")
    where = at + np.take(shifts, piece)
    if accented_codes:
        table = _table(segment.vocab("accented"), accented_codes)
        accents = table.take(arrays["accents"].take(where))
    else:
        accents = np.zeros(at.size, dtype=np.uint8)
    begin = arrays["starts"].take(where).astype(np.int64)
    end = begin + arrays["lengths"].take(where)
    return where, piece, codes.take(at), accents, begin, end


def page_marks(
    passages: Passages | None,
    docnums: Sequence[int],
    stored: Sequence[dict[str, Any]],
    patterns: list[Pattern],
) -> list[tuple[str, str]]:
    """The highlighted title and the snippet of each document of a page: from the stored
    syllables where ``passages`` covers it, else by :mod:`~searcher.fastpath.snippets`
    (both equal to :mod:`searcher.highlight`'s)."""
    marks: list[tuple[str, str] | None] = [None] * len(docnums)
    if passages is not None:
        page = match_page(passages, docnums, patterns)
        spans = page.all_spans()
        longest = page.longest()
        bodies = [(i, p) for p, (i, name) in enumerate(page.pieces) if name == "body"]
        texts = [stored[i].get("body") or "" for i, _ in bodies]
        windows = _windows(page, [p for _, p in bodies], texts)
        # Pieces are each document's title, then its body.
        plain: list[_Marked] = []
        for (i, p), body, window in zip(bodies, texts, windows, strict=True):
            fields = stored[i]
            title = fields.get("title") or ""
            captions = split_captions(fields.get("captions"))
            if captions:
                snippet = _caption_snippet(body, spans[p], window, captions, patterns)
                marks[i] = (render(title, spans[p - 1]), snippet)
            else:
                plain.append(_Marked(i, title, spans[p - 1], body, spans[p], window))
        for item, title_html, snippet_html in zip(
            plain, *_render_page(plain, longest), strict=True
        ):
            marks[item.document] = (title_html, snippet_html)
    for i, fields in enumerate(stored):
        if marks[i] is None:
            title, body = fields.get("title") or "", fields.get("body") or ""
            captions = split_captions(fields.get("captions"))
            marks[i] = (
                highlight_fast(title, patterns),
                snippet_fast(body, patterns, captions=captions),
            )
    return marks  # type: ignore[return-value]


def _caption_snippet(
    body: str,
    spans: list[Span],
    window: tuple[int, int],
    captions: Sequence[str],
    patterns: list[Pattern],
) -> str:
    """The reference's :func:`~searcher.highlight.passage` given the body's spans and window
    (a caption that holds more distinct matches is still found and cut the reference's way)."""

    def find(text: str, text_patterns: list[Pattern]) -> list[Span]:
        return spans if text is body else find_matches_fast(text, text_patterns)

    def choose(text: str, text_spans: list[Span], size: int) -> tuple[int, int]:
        return window if text is body else best_window(text, text_spans, size)

    return passage(body, captions, patterns, SNIPPET_CHARS, find=find, window=choose)


class _Marked(NamedTuple):
    """A document of the page whose snippet is its body's window (it has no caption)."""

    document: int
    title: str
    title_spans: list[Span]
    body: str
    body_spans: list[Span]
    window: tuple[int, int]


#: Any space but " ".
_SPACE = re.compile(r"[^\S ]")
#: Private-use characters that stand for the marks, and for the end of a text, while the
#: page's texts are escaped together.
_OPEN, _CLOSE, _END = "\ue000", "\ue001", "\ue002"


def _render_page(items: list[_Marked], longest: int) -> tuple[list[str], list[str]]:
    """:func:`searcher.highlight.render` of every title and :func:`~searcher.highlight.cut`
    of every body's window, the page's titles (and its snippets) escaped as one string: the
    marks and the ends of texts go in as private-use characters, swapped after escaping (a
    page whose texts hold any of them takes the reference). ``longest`` bounds the spans'
    lengths: only those that can reach a window are merged."""
    titles: list[str] = []
    bodies: list[str] = []
    bounds: list[tuple[int, int]] = []
    title_marks = body_marks = 0
    for item in items:
        title_marks += _mark(item.title, item.title_spans, 0, len(item.title), longest, titles)
        lo, hi = word_bounds(item.body, *item.window)
        body_marks += _mark(item.body, item.body_spans, lo, hi, longest, bodies)
        bounds.append((lo, hi))
    title_html = _escape(titles, title_marks, len(items))
    body_html = _escape(bodies, body_marks, len(items))
    if title_html is None or body_html is None:
        return [render(item.title, item.title_spans) for item in items], [
            cut(item.body, item.body_spans, SNIPPET_CHARS, lambda *_, w=item.window: w)
            for item in items
        ]
    # A window has no space at either end, so " ".join(html.split()) of each is making every
    # run of spaces one " "; none runs across the end of a text.
    body_html = _SPACE.sub(" ", body_html)
    while "  " in body_html:
        body_html = body_html.replace("  ", " ")
    snippets = body_html.split(_END)[:-1]
    return title_html.split(_END)[:-1], [
        ("… " if lo > 0 else "") + snippet + (" …" if hi < len(item.body) else "")
        for item, snippet, (lo, hi) in zip(items, snippets, bounds, strict=True)
    ]


def _mark(text: str, spans: list[Span], lo: int, hi: int, longest: int, out: list[str]) -> int:
    """Add ``text[lo:hi]`` to ``out`` with the stand-ins around the spans merged as
    ``searcher.highlight._merge`` merges them, then the end of the text; return how
    many marks."""
    marks = 0
    if spans:
        first = bisect_left(spans, (lo - longest,)) if lo else 0
        cursor = lo
        mark_start = mark_end = -1
        for start, end, _ in spans[first : bisect_left(spans, (hi,), first)]:
            if end <= lo:
                continue
            if start < lo:
                start = lo
            if end > hi:
                end = hi
            if mark_end >= 0 and (start <= mark_end or not text[mark_end:start].strip(" \t")):
                if end > mark_end:
                    mark_end = end
                continue
            if mark_end >= 0:
                out += (text[cursor:mark_start], _OPEN, text[mark_start:mark_end], _CLOSE)
                cursor = mark_end
                marks += 1
            mark_start, mark_end = start, end
        if mark_end >= 0:
            out += (text[cursor:mark_start], _OPEN, text[mark_start:mark_end], _CLOSE)
            cursor = mark_end
            marks += 1
        lo = cursor
    out += (text[lo:hi], _END)
    return marks


def _escape(parts: list[str], marks: int, texts: int) -> str | None:
    """The escaped texts with their marks, or None when a text holds a stand-in itself."""
    joined = "".join(parts)
    if not (joined.count(_OPEN) == joined.count(_CLOSE) == marks and joined.count(_END) == texts):
        return None
    return escape(joined).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


def page_windows(
    texts: list[str], spans: list[list[Span]], size: int = SNIPPET_CHARS
) -> list[tuple[int, int]]:
    """:func:`searcher.highlight.best_window` of each text, all computed in one numpy pass."""
    rows = [(t, *span) for t, text_spans in enumerate(spans) for span in text_spans]
    array = np.array(rows, dtype=np.int64).reshape(-1, 4)
    bounds = np.searchsorted(array[:, 0], np.arange(len(texts) + 1)).tolist()
    page = PageSpans([], array[:, 0], array[:, 1], array[:, 2], array[:, 3], bounds)
    return _windows(page, list(range(len(texts))), texts, size)


def _windows(
    page: PageSpans, pieces: list[int], texts: list[str], size: int = SNIPPET_CHARS
) -> list[tuple[int, int]]:
    """The reference's snippet window of each of ``pieces`` (whose texts are ``texts``).

    The reference tries each of a text's first matches as a window start and keeps the first
    with the most distinct patterns, then the most matches. A span is inside the windows that
    start at a span from the first starting late enough for the span to end inside (the
    window's end grows with its start), up to itself, and at most 63 spans back: one interval
    of starts per span, so the counts for every start of the page are cumulative sums.
    """
    windows: list[tuple[int, int]] = [(0, min(len(t), size)) for t in texts]  # no match
    bounds = page.bounds
    firsts = [bounds[p] for p in pieces]
    counts = [min(bounds[p + 1] - bounds[p], WINDOW_SPANS) for p in pieces]
    if not any(counts):
        return windows
    # Each text's first spans, in page order: row r of text t is span firsts[t] + r.
    owner = np.repeat(np.arange(len(pieces)), counts)
    rows = np.arange(owner.size) + np.repeat(np.array(firsts) - np.cumsum(counts) + counts, counts)
    starts, ends, kinds = page.begin.take(rows), page.end.take(rows), page.kind.take(rows)
    count = rows.size
    key = owner << 40  # rows are sorted by (text, start)
    here = np.arange(count)
    first = np.searchsorted(key + starts, key + ends - (size - size // 5))
    first = np.maximum(first, here - 63)
    spans = first <= here  # a span too long for any window counts nowhere
    if not spans.all():
        spans = np.flatnonzero(spans)
        kinds, first, here = kinds.take(spans), first.take(spans), here.take(spans)
    stride = count + 1
    cells = int(kinds.max()) * stride + stride
    cover = np.bincount(kinds * stride + first, minlength=cells)
    cover -= np.bincount(kinds * stride + here + 1, minlength=cells)
    cover = cover.reshape(-1, stride).cumsum(axis=1)[:, :count]
    distinct = (cover > 0).sum(axis=0)
    matches = cover.sum(axis=0)
    # Each text's best row has the most distinct patterns, then the most matches, then the
    # earliest start; a text's rows are in order of start, so it is the first of its rows
    # with the best (distinct, matches): the least of one key per text.
    score = distinct * (int(matches.max()) + 1) + matches
    key = (int(score.max()) - score) * count + np.arange(count)
    texts_with_spans = [t for t, n in enumerate(counts) if n]
    began = [r - n for r, n in zip(accumulate(counts), counts, strict=True) if n]
    best = np.minimum.reduceat(key, began) % count
    for t, start in zip(texts_with_spans, starts.take(best).tolist(), strict=True):
        windows[t] = window_around(texts[t], start, size)
    return windows
