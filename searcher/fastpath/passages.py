"""Highlights and snippets from syllables stored at index time: no re-analysis per hit.

The reference (:func:`searcher.highlight.find_matches`) re-reads a stored text into syllables
(offsets and folded forms) and compares the query's folded syllable sequences with them. Those
syllables depend only on the text, so the indexer stores them once, beside each segment: per
document, the syllables of its title then of its body, each as its folded form's id in the
segment's vocabulary, its accented form's id in another, where it starts and its length. A
page's marks are then a few numpy comparisons over all its titles and bodies at once
(:mod:`~searcher.fastpath.marks`), with the reference's spans, so the marks and snippets are
character for character the same.

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
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from searcher.analysis import _syllable_tokens, canonical_syllable, fold, number_form
from searcher.fastpath.segment_files import SegmentFolders, segment_meta, write_meta

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
        """The ids of the reference's folded and searched forms of this syllable (its
        canonical form, numbers in their canonical number form)."""
        pair = self.raw.get(syllable)
        if pair is None:
            text = number_form(canonical_syllable(syllable))
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


def passage_folders(generation_path: str | Path) -> SegmentFolders:
    """The syllable folders of a generation's segments, for
    :func:`~searcher.fastpath.segment_files.write_segment_folders`."""
    return SegmentFolders(passages_dir(Path(generation_path)), _meta, _SegmentWriter)


class _Syllables:
    """The arrays and vocabularies of documents' stored fields, document by document."""

    def __init__(self) -> None:
        self.vocab = _Vocabulary()
        self.columns = _Columns()

    def add(self, stored: dict[str, Any] | None) -> None:
        self.columns.add([(stored or {}).get(name) or "" for name in TEXTS], self.vocab)

    def result(self) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
        vocabularies = {"folded": list(self.vocab.folded), "accented": list(self.vocab.accented)}
        return self.columns.arrays(), vocabularies


def syllable_arrays(
    documents: Iterable[dict[str, Any] | None],
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """The arrays (see the module docstring) of the documents' stored fields (None: a deleted
    document), and the vocabularies: the folded and the accented syllable of each id."""
    syllables = _Syllables()
    for stored in documents:
        syllables.add(stored)
    return syllables.result()


class _SegmentWriter(_Syllables):
    """A segment's folder (:class:`~searcher.fastpath.segment_files.RecordSink`)."""

    def __init__(self, staging: Path, segment_id: str, doc_count: int) -> None:
        super().__init__()
        self.staging = staging
        self.meta = {"version": VERSION, "segment": segment_id, "doc_count": doc_count}

    def close(self) -> None:
        arrays, vocabularies = self.result()
        for key, values in arrays.items():
            np.save(self.staging / f"{key}.npy", values)
        for name, words in vocabularies.items():
            # A syllable holds no newline (it is word characters): one per line, in id order.
            (self.staging / f"{name}.txt").write_text("\n".join(words), encoding="utf-8")
        write_meta(self.staging, self.meta)


def _meta(folder: Path, doc_count: int) -> dict[str, Any] | None:
    return segment_meta(folder, {"version": VERSION, "doc_count": doc_count})


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


def _consistent(arrays: dict[str, np.ndarray], doc_count: int) -> bool:
    """The arrays have the sizes the meta and each other promise (a truncated or mixed-up
    file would otherwise index out of bounds mid-search)."""
    per_doc = arrays["ok"].size == arrays["split"].size == doc_count
    ptr = arrays["ptr"]
    syllables = int(ptr[-1]) if ptr.size == doc_count + 1 else -1
    sizes = {arrays[key].size for key in ("ids", "accents", "starts", "lengths")}
    return per_doc and sizes == {syllables}


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
            if not _consistent(arrays, doc_count):
                return None
            loaded.append(SegmentPassages(arrays, folder))
        return cls(loaded, list(offsets))

    def chunks(self, docnums: Sequence[int]) -> list[tuple[SegmentPassages, np.ndarray, list[int]]]:
        """The covered documents of a page by segment: (segment, local document numbers,
        their places in ``docnums``)."""
        chunks: list[tuple[SegmentPassages, np.ndarray, list[int]]] = []
        by_segment: dict[int, list[int]] = {}
        for i, docnum in enumerate(docnums):
            segment = bisect.bisect_right(self.offsets, docnum) - 1
            by_segment.setdefault(segment, []).append(i)
        for segment_index, members in by_segment.items():
            segment = self.segments[segment_index]
            offset = self.offsets[segment_index]
            ok = segment.arrays["ok"].take([docnums[i] - offset for i in members]).tolist()
            covered = [i for i, good in zip(members, ok, strict=True) if good]
            if covered:
                local = np.array([docnums[i] - offset for i in covered], dtype=np.int64)
                chunks.append((segment, local, covered))
        return chunks
