"""Highlights and snippets from syllables stored at index time: no re-analysis per hit.

The reference (:func:`searcher.highlight.find_matches`) re-reads a stored text into syllables
(offsets and folded forms) and compares the query's folded syllable sequences with them. Those
syllables depend only on the text, so the indexer stores them once, beside each segment: per
document, the syllables of its title then of its body, each as its folded form's id in the
segment's vocabulary, its accented form's id in another, where it starts and its length. A
page's marks are then a few numpy comparisons over all its titles and bodies at once, and its
snippet windows one matrix; the spans are the reference's, so the marks and snippets are
character for character the same (:func:`searcher.highlight.render`,
:func:`~searcher.highlight.cut`).

``<generation>/passages/<segment id>/`` holds ``ptr`` (int64 per document + 1: its syllables),
``split`` (int32: how many are the title's), ``ids`` and ``accents`` (uint16, or int32 for a
large vocabulary), ``starts`` (uint16) and ``lengths`` (uint8) per syllable, ``ok`` (a byte per
document), ``folded.txt`` and ``accented.txt`` (a syllable per line, in id order) and
``meta.json`` with :data:`VERSION`. A document whose title or body is not NFC, is longer than
65,535 characters or holds a syllable longer than 255 is not ``ok`` and takes the per-hit path
(:mod:`searcher.fastpath.snippets`); so does every document of a generation without these
files (an index written before them).
"""

from __future__ import annotations

import bisect
import json
import shutil
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from searcher.analysis import _syllable_tokens, canonical_syllable, fold
from searcher.fastpath.snippets import highlight_fast, snippet_fast
from searcher.highlight import (
    SNIPPET_CHARS,
    WINDOW_SPANS,
    Pattern,
    Span,
    cut,
    render,
    window_around,
)
from searcher.highlight import best_window as reference_window

#: Bump whenever what the folders hold or mean changes; other versions are ignored.
VERSION = 1
PASSAGES_DIR = "passages"
#: The stored text fields whose marks a page shows, in the order they are stored.
TEXTS = ("title", "body")
_ARRAYS = ("ptr", "split", "ids", "accents", "starts", "lengths", "ok")
_VOCABULARIES = ("folded", "accented")


def passages_dir(generation_path: Path) -> Path:
    return Path(generation_path) / PASSAGES_DIR


# --- writing --------------------------------------------------------------------------------


@dataclass
class _Vocabulary:
    """Ids of folded and of accented (canonical) syllables, in order of first sight; ``raw``
    caches each written form's pair (most recur; folding is the cost)."""

    folded: dict[str, int] = field(default_factory=dict)
    accented: dict[str, int] = field(default_factory=dict)
    raw: dict[str, tuple[int, int]] = field(default_factory=dict)

    def ids(self, syllable: str) -> tuple[int, int]:
        """The ids of the reference's ``fold(t.text)`` and ``t.text`` for this syllable."""
        pair = self.raw.get(syllable)
        if pair is None:
            text = canonical_syllable(syllable)
            pair = self.raw[syllable] = (
                self.folded.setdefault(fold(text), len(self.folded)),
                self.accented.setdefault(text, len(self.accented)),
            )
        return pair


@dataclass
class _Columns:
    """A segment's arrays, appended document by document."""

    ptr: list[int] = field(default_factory=lambda: [0])
    split: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    accents: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    ok: list[bool] = field(default_factory=list)

    def add(self, texts: list[str], vocab: _Vocabulary) -> None:
        """One document's texts (title, body): the reference's syllables of each."""
        spans = [_syllable_tokens(text, None) if text else [] for text in texts]
        ok = all(
            len(text) < 1 << 16
            and unicodedata.is_normalized("NFC", text)
            and all(end - start < 256 for start, end in text_spans)
            for text, text_spans in zip(texts, spans, strict=True)
        )
        if ok:
            for text, text_spans in zip(texts, spans, strict=True):
                for start, end in text_spans:
                    folded, accented = vocab.ids(text[start:end])
                    self.ids.append(folded)
                    self.accents.append(accented)
                    self.starts.append(start)
                    self.lengths.append(end - start)
        self.split.append(len(spans[0]) if ok else 0)
        self.ok.append(ok)
        self.ptr.append(len(self.ids))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "ptr": np.array(self.ptr, dtype=np.int64),
            "split": np.array(self.split, dtype=np.int32),
            "ids": _smallest(self.ids),
            "accents": _smallest(self.accents),
            "starts": np.array(self.starts, dtype=np.uint16),
            "lengths": np.array(self.lengths, dtype=np.uint8),
            "ok": np.array(self.ok, dtype=np.uint8),
        }


def _smallest(ids: list[int]) -> np.ndarray:
    """Ids as uint16 when they fit (most segments' vocabularies do), else int32."""
    return np.array(ids, dtype=np.uint16 if max(ids, default=0) < 1 << 16 else np.int32)


def write_passages(generation_path: str | Path) -> int:
    """Write the syllable files of every segment of a generation that lacks them; returns the
    segments written. Folders of segments no longer in the index are removed."""
    from whoosh import index as whoosh_index

    root = passages_dir(Path(generation_path))
    root.mkdir(exist_ok=True)
    ix = whoosh_index.open_dir(str(generation_path))
    written = 0
    try:
        with ix.reader() as reader:
            leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
            wanted = {leaf.segment().segment_id(): leaf for leaf in leaves}
            for entry in root.iterdir():
                leaf = wanted.get(entry.name)
                if leaf is None or _meta(entry, leaf.doc_count_all()) is None:
                    shutil.rmtree(entry, ignore_errors=True)
            for segment_id, leaf in wanted.items():
                if not (root / segment_id).is_dir():
                    _write_segment(root, segment_id, leaf)
                    written += 1
    finally:
        ix.close()
    return written


def syllable_arrays(
    documents: Iterable[dict[str, Any] | None],
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """The arrays (see the module docstring) of the documents' stored fields (None: a deleted
    document), and the vocabularies: the folded and the accented syllable of each id."""
    vocab = _Vocabulary()
    columns = _Columns()
    for stored in documents:
        columns.add([(stored or {}).get(name) or "" for name in TEXTS], vocab)
    return columns.arrays(), {"folded": list(vocab.folded), "accented": list(vocab.accented)}


def _write_segment(root: Path, segment_id: str, leaf: Any) -> None:
    doc_count = leaf.doc_count_all()
    arrays, vocabularies = syllable_arrays(
        None if leaf.is_deleted(docnum) else leaf.stored_fields(docnum)
        for docnum in range(doc_count)
    )
    staging = root / f".tmp-{segment_id}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    for key, values in arrays.items():
        np.save(staging / f"{key}.npy", values)
    for name, words in vocabularies.items():
        # A syllable holds no newline (it is word characters): one per line, in id order.
        (staging / f"{name}.txt").write_text("\n".join(words), encoding="utf-8")
    meta = {"version": VERSION, "segment": segment_id, "doc_count": doc_count}
    (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    staging.rename(root / segment_id)


def _meta(folder: Path, doc_count: int) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("version") != VERSION or meta.get("doc_count") != doc_count:
        return None
    return meta


# --- reading --------------------------------------------------------------------------------


@dataclass
class SegmentPassages:
    """One segment's arrays, memory-mapped; the vocabularies are read at their first use."""

    arrays: dict[str, np.ndarray]
    #: Where the vocabularies are (None: ``_vocab`` is given).
    folder: Path | None = None
    _vocab: dict[str, dict[str, int]] | None = None

    @classmethod
    def of(cls, documents: Iterable[dict[str, Any] | None]) -> SegmentPassages:
        """The arrays of these stored documents, in memory (what a folder would hold)."""
        arrays, vocabularies = syllable_arrays(documents)
        return cls(arrays, None, {k: _ids(words) for k, words in vocabularies.items()})

    def vocab(self, name: str) -> dict[str, int]:
        """Syllable → id, for ``name`` "folded" or "accented"."""
        if self._vocab is None:
            assert self.folder is not None
            self._vocab = {
                key: _ids((self.folder / f"{key}.txt").read_text(encoding="utf-8").split("\n"))
                for key in _VOCABULARIES
            }
        return self._vocab[name]


def _ids(words: list[str]) -> dict[str, int]:
    ids = dict(zip(words, range(len(words)), strict=True))
    ids.pop("", None)  # what an empty file reads as; no syllable is empty
    return ids


class Passages:
    """The stored syllables of a generation's titles and bodies (see the module docstring)."""

    def __init__(self, segments: list[SegmentPassages], offsets: list[int]) -> None:
        self.segments = segments
        self.offsets = offsets

    @classmethod
    def open(
        cls, generation_path: Path, segments: Sequence[tuple[str, int]], offsets: list[int]
    ) -> Passages | None:
        """The files of ``segments`` ((id, document count) pairs starting at ``offsets``), or
        None when any is missing, stale or unreadable."""
        root = passages_dir(generation_path)
        loaded = []
        for segment_id, doc_count in segments:
            folder = root / segment_id
            if _meta(folder, doc_count) is None:
                return None
            try:
                arrays = {
                    key: np.load(folder / f"{key}.npy", mmap_mode="r").view(np.ndarray)
                    for key in _ARRAYS
                }
            except (OSError, ValueError):
                return None
            if arrays["ok"].size != doc_count or arrays["ptr"].size != doc_count + 1:
                return None
            loaded.append(SegmentPassages(arrays, folder))
        return cls(loaded, list(offsets))

    def spans(
        self, docnums: Sequence[int], patterns: list[Pattern]
    ) -> list[dict[str, list[Span]] | None]:
        """Per document, :func:`searcher.highlight.find_matches`'s spans in each text field
        (of its stored text), or None for a document the files do not cover."""
        page = self.match(docnums, patterns)
        found: list[dict[str, list[Span]] | None] = [None] * len(docnums)
        for p, (i, name) in enumerate(page.pieces):
            found_i = found[i] = found[i] or {}
            found_i[name] = page.piece_spans(p)
        return found

    def match(self, docnums: Sequence[int], patterns: list[Pattern]) -> PageSpans:
        """The spans of every pattern in the covered documents' titles and bodies, the whole
        page in one pass: each document's syllables are gathered from its segment's arrays
        and each pattern is a few comparisons of codes."""
        chunks: list[tuple[SegmentPassages, np.ndarray, list[int]]] = []
        by_segment: dict[int, list[int]] = {}
        for i, docnum in enumerate(docnums):
            segment = bisect.bisect_right(self.offsets, docnum) - 1
            by_segment.setdefault(segment, []).append(i)
        for segment_index, members in by_segment.items():
            segment = self.segments[segment_index]
            local = np.array([docnums[i] for i in members], dtype=np.int64)
            local -= self.offsets[segment_index]
            ok = segment.arrays["ok"][local] != 0
            if ok.any():
                covered = [i for i, good in zip(members, ok.tolist(), strict=True) if good]
                chunks.append((segment, local[ok], covered))
        return _match(chunks, patterns)


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
        page = passages.match(docnums, patterns)
        spans = page.all_spans()
        bodies = [(i, p) for p, (i, name) in enumerate(page.pieces) if name == "body"]
        texts = [stored[i].get("body") or "" for i, _ in bodies]
        windows = _windows(page, [p for _, p in bodies], texts)
        # Pieces are each document's title, then its body.
        for (i, p), body, window in zip(bodies, texts, windows, strict=True):
            title = stored[i].get("title") or ""
            snippet = cut(body, spans[p], SNIPPET_CHARS, window=lambda *_, w=window: w)
            marks[i] = (render(title, spans[p - 1]), snippet)
    for i, fields in enumerate(stored):
        if marks[i] is None:
            title, body = fields.get("title") or "", fields.get("body") or ""
            marks[i] = (highlight_fast(title, patterns), snippet_fast(body, patterns))
    return marks  # type: ignore[return-value]


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
