"""Which bulletin each document of a generation is: id, content hash and source file.

An update compares every input bulletin's content hash with the indexed one. Reading that from
Whoosh's stored fields unpickles every stored document, bodies included (a second per 5,000
bulletins); the catalog keeps just the three values, one small JSON file per segment in
``<generation>/catalog/``, written once when the segment appears and shared by later
generations like the segment itself (a segment never changes; Whoosh records deletions in the
table of contents, which :func:`indexed_bulletins` applies).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

CATALOG_DIR = "catalog"
#: The input files' signatures, in the catalog folder (see :func:`file_signature`).
INPUTS = "inputs.json"
#: Bump when the files' content changes; files of another version are rewritten.
CATALOG_VERSION = 1


def _leaves(reader: Any) -> list[Any]:
    return [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]


def _path(folder: Path, segment_id: str) -> Path:
    return folder / CATALOG_DIR / f"{segment_id}.json"


def write_catalog(generation_path: Path, ix: Any) -> int:
    """Write the catalog files the segments of an open index lack, remove those of segments
    it no longer has; returns how many were written."""
    folder = Path(generation_path) / CATALOG_DIR
    folder.mkdir(exist_ok=True)
    written = 0
    with ix.reader() as reader:
        leaves = {leaf.segment().segment_id(): leaf for leaf in _leaves(reader)}
        for entry in folder.iterdir():
            if entry.name != INPUTS and entry.name.removesuffix(".json") not in leaves:
                entry.unlink()
        for segment_id, leaf in leaves.items():
            if _read(_path(generation_path, segment_id), leaf.doc_count_all()) is not None:
                continue
            rows = _stored_rows(leaf)
            _replace(_path(generation_path, segment_id), {"version": CATALOG_VERSION, "rows": rows})
            written += 1
    return written


def _replace(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to a new file renamed over ``path``: never into a file that
    another generation may share."""
    temporary = path.parent / f".tmp-{uuid.uuid4().hex[:8]}.json"
    temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def file_signature(path: str) -> list[int] | None:
    """What tells an input file unchanged without reading it (size, inode, modification and
    change times, as make and rsync judge), or None if it cannot be read."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_ino, info.st_mtime_ns, info.st_ctime_ns]


def read_signatures(generation_path: Path) -> dict[str, list[int]]:
    """The signatures of the input files the generation's bulletins were read from."""
    try:
        data = json.loads((Path(generation_path) / CATALOG_DIR / INPUTS).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if data.get("version") == CATALOG_VERSION else {}


def write_signatures(generation_path: Path, signatures: dict[str, list[int]]) -> None:
    folder = Path(generation_path) / CATALOG_DIR
    folder.mkdir(exist_ok=True)
    _replace(folder / INPUTS, {"version": CATALOG_VERSION, "files": signatures})


def indexed_bulletins(generation_path: Path, ix: Any) -> dict[str, tuple[str | None, str]]:
    """Every live document's id with its (content hash, source file), from the catalog where
    it has the segment, else from the stored documents."""
    found: dict[str, tuple[str | None, str]] = {}
    with ix.reader() as reader:
        for leaf in _leaves(reader):
            count = leaf.doc_count_all()
            rows = _read(_path(generation_path, leaf.segment().segment_id()), count)
            if rows is None:
                rows = _stored_rows(leaf)
            deleted = set(leaf.segment().deleted_docs()) if leaf.has_deletions() else set()
            for docnum, (doc_id, content_hash, source_path) in enumerate(rows):
                if docnum not in deleted:
                    found[doc_id] = (content_hash, source_path)
    return found


def _stored_rows(leaf: Any) -> list[list[Any]]:
    """A segment's rows read from its stored documents (every document, deleted or not)."""
    rows = []
    for docnum in range(leaf.doc_count_all()):
        stored = leaf.stored_fields(docnum)
        rows.append([stored["id"], stored.get("content_hash"), stored.get("source_path", "")])
    return rows


def _read(path: Path, doc_count: int) -> list[list[Any]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = data.get("rows") if data.get("version") == CATALOG_VERSION else None
    return rows if isinstance(rows, list) and len(rows) == doc_count else None
