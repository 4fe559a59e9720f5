"""Per-segment side folders written from the segments' stored records, in one pass.

The passages (a hit's syllables) and the page files (a hit's fields) are both derived from
Whoosh's stored record of every document of a segment. Reading a record costs more than using
it (inflating and unpickling, ~50 µs), so each segment's records are read once and handed to
every kind of folder the segment lacks. A segment never changes, so its folders are written
once and shared by the generations that follow; folders are staged under a temporary name and
renamed into place, so a reader sees a whole folder or none.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class RecordSink(Protocol):
    """Writes one segment's folder from its stored records, given in document order."""

    def add(self, stored: dict[str, Any] | None) -> None:
        """The next document's stored fields (None: a deleted document)."""

    def close(self) -> None:
        """Write what is left, ``meta.json`` included, into the staging folder."""


@dataclass(frozen=True)
class SegmentFolders:
    """One kind of per-segment folder: where its folders live, whether one is current
    (``valid(folder, doc count)``), and the sink that writes one
    (``writer(staging folder, segment id, doc count)``)."""

    root: Path
    valid: Callable[[Path, int], Any]
    writer: Callable[[Path, str, int], RecordSink]


def write_segment_folders(generation_path: str | Path, kinds: Sequence[SegmentFolders]) -> int:
    """Write, for each segment of a generation, the folders of ``kinds`` it lacks, reading
    its stored records once; folders of vanished segments, and those ``valid`` rejects, are
    removed first. Returns the segments that had something written."""
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(generation_path))
    written = 0
    try:
        with ix.reader() as reader:
            leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
            wanted = {leaf.segment().segment_id(): leaf for leaf in leaves}
            for kind in kinds:
                kind.root.mkdir(parents=True, exist_ok=True)
                for entry in kind.root.iterdir():
                    leaf = wanted.get(entry.name)
                    if leaf is None or not kind.valid(entry, leaf.doc_count_all()):
                        shutil.rmtree(entry, ignore_errors=True)
            for segment_id, leaf in wanted.items():
                missing = [kind for kind in kinds if not (kind.root / segment_id).is_dir()]
                if missing:
                    _write_segment(segment_id, leaf, missing)
                    written += 1
    finally:
        ix.close()
    return written


def _write_segment(segment_id: str, leaf: Any, kinds: list[SegmentFolders]) -> None:
    doc_count = leaf.doc_count_all()
    staged: list[tuple[Path, Path]] = []
    sinks: list[RecordSink] = []
    for kind in kinds:
        staging = kind.root / f".tmp-{segment_id}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        staged.append((staging, kind.root / segment_id))
        sinks.append(kind.writer(staging, segment_id, doc_count))
    for docnum in range(doc_count):
        stored = None if leaf.is_deleted(docnum) else leaf.stored_fields(docnum)
        for sink in sinks:
            sink.add(stored)
    for sink in sinks:
        sink.close()
    for staging, final in staged:
        staging.rename(final)


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def segment_meta(folder: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """A segment folder's ``meta.json`` when it holds every item of ``expected`` (version,
    document count…), else None: another version, a stale folder or an unreadable one."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in expected.items()):
        return None
    return meta
