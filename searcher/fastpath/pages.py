"""The stored fields a page shows, readable by document number without Whoosh's records.

Whoosh keeps a document's stored fields as one zlib-compressed pickle, found through its own
lookup table: about 50 µs per hit, most of it inflating and looking up. A page needs only the
fields of a hit (:data:`FIELDS`: what ``Hit`` and the snippets read), so the indexer writes
them once more, beside each segment, as plain UTF-8: a hit's fields are then a few slices of a
memory-mapped file. They are not compressed: zlib alone costs about twice what decoding the
UTF-8 does (17 against 9 µs for a 3 KB body), for half the bytes.

``<generation>/fastpath/pages/<segment id>/`` holds ``offsets.npy`` (int64, ``doc_count *
len(FIELDS) + 1``: field ``f`` of local document ``d`` is ``blob[offsets[d * F + f] :
offsets[d * F + f + 1]]``), ``ok.npy`` (a byte per document: 0 for a deleted document or one
with a value that is not a string, which Whoosh then reads), ``blob.bin`` and ``meta.json``
with :data:`VERSION` and the fields. An empty value and a missing one are both empty here;
every reader of a hit's fields treats them alike (``fields.get(name) or default``). A
generation without these files, or with unreadable ones, is read through Whoosh as before.
"""

from __future__ import annotations

import bisect
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searcher.fastpath.segment_files import SegmentFolders, segment_meta, write_meta

#: Bump whenever what the folders hold or mean changes; other versions are ignored.
VERSION = 1
PAGES_DIR = "pages"
#: The stored fields of a hit: its JSON fields, and the captions its snippet may come from.
FIELDS = ("id", "title", "body", "captions", "date", "locality", "province", "author", "url")


def pages_dir(side_root: Path) -> Path:
    """The page files' folder inside the fast path's folder of a generation."""
    return Path(side_root) / PAGES_DIR


# --- writing --------------------------------------------------------------------------------


def page_folders(side_root: Path) -> SegmentFolders:
    """The page folders of a generation's segments, for
    :func:`~searcher.fastpath.segment_files.write_segment_folders`."""
    return SegmentFolders(pages_dir(side_root), _meta, _SegmentWriter)


def _encoded(stored: dict[str, Any] | None) -> list[bytes] | None:
    """A document's fields as UTF-8 (None when one is not a string: Whoosh serves it)."""
    if stored is None:
        return None
    values: list[bytes] = []
    for name in FIELDS:
        value = stored.get(name)
        if value is None:
            values.append(b"")
        elif isinstance(value, str):
            try:
                values.append(value.encode("utf-8"))
            except UnicodeEncodeError:  # a lone surrogate: keep Whoosh's own value
                return None
        else:
            return None
    return values


class _SegmentWriter:
    """A segment's folder (:class:`~searcher.fastpath.segment_files.RecordSink`): the blob is
    written as the records come, the offsets and flags at the end."""

    def __init__(self, staging: Path, segment_id: str, doc_count: int) -> None:
        self.staging = staging
        self.meta = {"version": VERSION, "segment": segment_id, "doc_count": doc_count}
        self.meta["fields"] = list(FIELDS)
        self.offsets = np.zeros(doc_count * len(FIELDS) + 1, dtype=np.int64)
        self.ok = np.zeros(doc_count, dtype=np.uint8)
        self.blob = open(staging / "blob.bin", "wb")  # noqa: SIM115 (closed by close())
        self.position = 0
        self.docnum = 0

    def add(self, stored: dict[str, Any] | None) -> None:
        values = _encoded(stored)
        base = self.docnum * len(FIELDS)
        self.docnum += 1
        if values is None:
            self.offsets[base + 1 : base + len(FIELDS) + 1] = self.position
            return
        self.ok[self.docnum - 1] = 1
        for i, value in enumerate(values):
            self.blob.write(value)
            self.position += len(value)
            self.offsets[base + i + 1] = self.position

    def close(self) -> None:
        self.blob.close()
        np.save(self.staging / "offsets.npy", self.offsets)
        np.save(self.staging / "ok.npy", self.ok)
        write_meta(self.staging, self.meta)


def _meta(folder: Path, doc_count: int) -> dict[str, Any] | None:
    expected = {"version": VERSION, "doc_count": doc_count, "fields": list(FIELDS)}
    return segment_meta(folder, expected)


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """One segment's offsets, flags and text, memory-mapped."""

    offsets: np.ndarray
    ok: np.ndarray
    blob: mmap.mmap | bytes


def _open_segment(folder: Path, doc_count: int) -> _Segment | None:
    """The segment's files, or None when they are missing, stale or inconsistent (a truncated
    or mixed-up file would otherwise give other text, silently)."""
    if _meta(folder, doc_count) is None:
        return None
    try:
        offsets = np.load(folder / "offsets.npy", mmap_mode="r").view(np.ndarray)
        ok = np.load(folder / "ok.npy", mmap_mode="r").view(np.ndarray)
        with open(folder / "blob.bin", "rb") as file:
            size = file.seek(0, 2)
            # An empty file cannot be mapped; a segment of empty records has nothing to read.
            blob = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    except (OSError, ValueError):
        return None
    shaped = offsets.dtype == np.int64 and offsets.shape == (doc_count * len(FIELDS) + 1,)
    if not shaped or ok.shape != (doc_count,) or offsets[0] != 0 or offsets[-1] != size:
        return None
    if np.any(np.diff(offsets) < 0):
        return None
    return _Segment(offsets, ok, blob)


@dataclass(frozen=True)
class PageFields:
    """The page files of a generation (see the module docstring): one ``_Segment`` per Whoosh
    segment, and the document number each starts at."""

    segments: list[_Segment]
    offsets: list[int]

    @classmethod
    def open(
        cls, side_root: Path, segments: Sequence[tuple[str, int]], offsets: list[int]
    ) -> PageFields | None:
        """The page files of ``segments`` ((id, document count) pairs, the first numbered
        ``offsets``), or None when those of any segment are missing, stale or inconsistent:
        a generation's hits are then all read through Whoosh."""
        root = pages_dir(side_root)
        loaded = [_open_segment(root / segment_id, count) for segment_id, count in segments]
        if any(segment is None for segment in loaded):
            return None
        return cls([segment for segment in loaded if segment is not None], list(offsets))

    def get(self, docnum: int) -> dict[str, str] | None:
        """The page's fields of a document (its non-empty ones), or None when Whoosh must
        read them: a document the files do not hold, or bytes that do not decode."""
        index = bisect.bisect_right(self.offsets, docnum) - 1
        segment = self.segments[index]
        local = docnum - self.offsets[index]
        if not segment.ok[local]:
            return None
        base = local * len(FIELDS)
        bounds = segment.offsets[base : base + len(FIELDS) + 1].tolist()
        blob = segment.blob
        try:
            return {
                name: blob[start:end].decode("utf-8")
                for name, start, end in zip(FIELDS, bounds, bounds[1:], strict=False)
                if end > start
            }
        except UnicodeDecodeError:  # damaged bytes cost the speed, never the answer
            return None
