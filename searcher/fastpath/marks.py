"""A page's highlighted titles and snippets from the syllables stored at index time.

:mod:`~searcher.fastpath.passages` keeps every title's and body's syllables as ids; here the
page's ten documents are gathered in one pass, every query pattern is a comparison of small
codes over all of them at once, and the ten snippet windows are one numpy matrix. The spans
and windows are :mod:`searcher.highlight`'s, so the HTML is character for character the same
(:func:`~searcher.highlight.render`, :func:`~searcher.highlight.cut`); documents the files do
not cover go through :mod:`~searcher.fastpath.snippets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
)
from searcher.highlight import best_window as reference_window
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
    documents' places on the page). Pieces are each document's title then its body."""
    folded_codes, accented_codes = _codes(patterns)
    pieces: list[tuple[int, str]] = []
    codes, accents, where_all, piece_sizes = [], [], [], []
    base = 0
    for segment, local, covered in chunks:
        arrays = segment.arrays
        lo, hi = arrays["ptr"][local], arrays["ptr"][local + 1]
        split = arrays["split"][local]
        sizes = hi - lo
        ends = np.cumsum(sizes)
        where = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(lo - ends + sizes, sizes)
        pieces += [(i, name) for i in covered for name in TEXTS]
        codes.append(_table(segment.vocab("folded"), folded_codes)[arrays["ids"][where]])
        if accented_codes:
            table = _table(segment.vocab("accented"), accented_codes)
            accents.append(table[arrays["accents"][where]])
        where_all.append((segment, where, base))
        piece_sizes.append(np.stack([split, sizes - split], axis=1).ravel())
        base += where.size
    empty = np.zeros(0, dtype=np.int64)
    if not pieces:
        return PageSpans(pieces, empty, empty, empty, empty, [0])
    all_codes = np.concatenate(codes)
    all_accents = np.concatenate(accents) if accents else all_codes
    piece_of = np.repeat(np.arange(len(pieces)), np.concatenate(piece_sizes))
    hits, kinds, lasts = [], [], []
    exacts: list[np.ndarray | None] = []
    for index, pattern in enumerate(patterns):
        size = len(pattern.folded)
        count = base - size + 1
        if not size or count <= 0:
            continue
        hit = all_codes[:count] == folded_codes[pattern.folded[0]]
        for k in range(1, size):
            hit &= all_codes[k : k + count] == folded_codes[pattern.folded[k]]
        if size > 1:  # a run must not cross from one text into the next
            hit &= piece_of[:count] == piece_of[size - 1 :]
        at = np.flatnonzero(hit)
        if not at.size:
            continue
        exact = None
        if pattern.accented is not None:
            exact = all_accents[at] == accented_codes[pattern.accented[0]]
            for k in range(1, size):
                exact &= all_accents[at + k] == accented_codes[pattern.accented[k]]
        hits.append(at)
        kinds.append(np.full(at.size, index, dtype=np.int64))
        lasts.append(at + size - 1)
        exacts.append(exact)
    if not hits:
        return PageSpans(pieces, empty, empty, empty, empty, [0] * (len(pieces) + 1))
    at, kind, last = np.concatenate(hits), np.concatenate(kinds), np.concatenate(lasts)
    owner = piece_of[at]
    if any(e is not None for e in exacts):
        # Exact accented occurrences win within each text, as in the reference.
        exact = np.concatenate(
            [np.ones(h.size, bool) if e is None else e for h, e in zip(hits, exacts, strict=True)]
        )
        group = owner * len(patterns) + kind
        has_exact = np.zeros(len(pieces) * len(patterns), dtype=bool)
        has_exact[group[exact]] = True
        keep = exact | ~has_exact[group]
        at, kind, last, owner = at[keep], kind[keep], last[keep], owner[keep]
    begin, end = _offsets(where_all, at, last)
    order = np.lexsort((kind, end, begin, owner))
    owner, begin, end, kind = owner[order], begin[order], end[order], kind[order]
    bounds = np.searchsorted(owner, np.arange(len(pieces) + 1)).tolist()
    return PageSpans(pieces, owner, begin, end, kind, bounds)


def _offsets(
    where_all: list[tuple[SegmentPassages, np.ndarray, int]], first: np.ndarray, last: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Start of each run's first syllable and end of its last (page positions → offsets)."""
    begin = np.zeros(first.size, dtype=np.int64)
    end = np.zeros(first.size, dtype=np.int64)
    for segment, where, base in where_all:
        mine = (first >= base) & (first < base + where.size)
        if not mine.any():
            continue
        arrays = segment.arrays
        a, z = where[first[mine] - base], where[last[mine] - base]
        begin[mine] = arrays["starts"][a]
        end[mine] = arrays["starts"][z].astype(np.int64) + arrays["lengths"][z]
    return begin, end


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
        bodies = [(i, p) for p, (i, name) in enumerate(page.pieces) if name == "body"]
        texts = [stored[i].get("body") or "" for i, _ in bodies]
        windows = _windows(page, [p for _, p in bodies], texts)
        # Pieces are each document's title, then its body.
        for (i, p), body, window in zip(bodies, texts, windows, strict=True):
            fields = stored[i]
            snippet = _snippet(
                body, spans[p], window, split_captions(fields.get("captions")), patterns
            )
            marks[i] = (render(fields.get("title") or "", spans[p - 1]), snippet)
    for i, fields in enumerate(stored):
        if marks[i] is None:
            title, body = fields.get("title") or "", fields.get("body") or ""
            captions = split_captions(fields.get("captions"))
            marks[i] = (
                highlight_fast(title, patterns),
                snippet_fast(body, patterns, captions=captions),
            )
    return marks  # type: ignore[return-value]


def _snippet(
    body: str,
    spans: list[Span],
    window: tuple[int, int],
    captions: Sequence[str],
    patterns: list[Pattern],
) -> str:
    """The reference's :func:`~searcher.highlight.passage` given the body's spans and window
    (a caption that holds more distinct matches is still found and cut the reference's way).
    Most bulletins have no caption: their snippet is the body's window, cut."""
    if not captions:
        return cut(body, spans, SNIPPET_CHARS, window=lambda _text, _spans, _size: window)

    def find(text: str, text_patterns: list[Pattern]) -> list[Span]:
        return spans if text is body else find_matches_fast(text, text_patterns)

    def choose(text: str, text_spans: list[Span], size: int) -> tuple[int, int]:
        return window if text is body else best_window(text, text_spans, size)

    return passage(body, captions, patterns, SNIPPET_CHARS, find=find, window=choose)


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
    with the most distinct patterns, then the most matches; here every (start, next 64 spans)
    pair of the page is one cell of a matrix.
    """
    windows: list[tuple[int, int]] = [(0, min(len(t), size)) for t in texts]  # no match
    take = [
        np.arange(page.bounds[p], min(page.bounds[p + 1], page.bounds[p] + WINDOW_SPANS))
        for p in pieces
    ]
    rows = np.concatenate(take) if take else np.zeros(0, dtype=np.int64)
    if not rows.size:
        return windows
    owner = np.repeat(np.arange(len(pieces)), [t.size for t in take])
    starts, ends, kinds = page.begin[rows], page.end[rows], page.kind[rows]
    wide = np.zeros(len(pieces), dtype=bool)
    wide[owner[kinds >= 62]] = True  # more patterns than bits: the reference's loop
    count = owner.size
    reach = starts + size - size // 5
    # Spans starting beyond a window's end cannot be inside it: only look that far ahead.
    key = owner << 40  # rows are sorted by (text, start)
    last = np.searchsorted(key + starts, key + reach, side="right")
    width = int(min(64, (last - np.arange(count)).max()))
    cells = np.arange(count)[:, None] + np.arange(width)[None, :]
    valid = cells < count
    cells = np.minimum(cells, count - 1)
    inside = valid & (owner[cells] == owner[:, None]) & (ends[cells] <= reach[:, None])
    bits = np.where(inside, np.left_shift(np.int64(1), np.minimum(kinds[cells], 62)), 0)
    distinct = np.bitwise_count(np.bitwise_or.reduce(bits, axis=1))
    matches = inside.sum(axis=1)
    order = np.lexsort((np.arange(count), starts, -matches, -distinct, owner))
    first = order[np.flatnonzero(np.diff(owner[order], prepend=-1))]
    for t, start in zip(owner[first].tolist(), starts[first].tolist(), strict=True):
        windows[t] = window_around(texts[t], start, size)
    for t in np.flatnonzero(wide).tolist():
        text_spans = page.piece_spans(pieces[t])
        windows[t] = reference_window(texts[t], text_spans, size)
    return windows
